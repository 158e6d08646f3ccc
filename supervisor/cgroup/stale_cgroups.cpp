#include "cgroup/stale_cgroups.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "cgroup/cgroup_mounts.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPrefix = "jail-";

std::vector<fs::path> v1_parents(const CgroupOptions& options) {
    std::vector<fs::path> parents;
    const auto hierarchies =
        find_v1_hierarchies({"memory", "cpu", "cpuacct", "pids", "freezer"}, options);
    for (const auto& [controller, hierarchy] : hierarchies) {
        const fs::path parent = options.parent
                                    ? resolve_parent(*options.parent, hierarchy.mount_point)
                                    : hierarchy.own_dir / "ccjail";
        if (std::find(parents.begin(), parents.end(), parent) == parents.end()) {
            parents.push_back(parent);
        }
    }
    return parents;
}

fs::path v2_parent(const CgroupOptions& options) {
    const fs::path& root = options.mount_root;
    if (options.parent) {
        return resolve_parent(*options.parent, root);
    }
    const fs::path own = own_v2_cgroup(options);
    if (own.lexically_normal() == "/") {
        return root / "ccjail";
    }
    const fs::path own_dir = resolve_parent(own, root);
    return own_dir.filename() == "supervisor" ? own_dir.parent_path() : own_dir;
}

}  // namespace

std::vector<fs::path> jail_cgroup_parents(const CgroupOptions& options) {
    if (detect_cgroup_version(options) == CgroupVersion::v2) {
        return {v2_parent(options)};
    }
    return v1_parents(options);
}

StaleCgroupSweep remove_stale_jail_cgroups(const std::vector<fs::path>& parents,
                                           const std::set<std::string>& live_ids,
                                           std::chrono::seconds min_age) {
    const auto now = std::chrono::system_clock::now();
    StaleCgroupSweep sweep;
    for (const auto& parent : parents) {
        std::error_code ec;
        for (const auto& entry : fs::directory_iterator(parent, ec)) {
            const std::string name = entry.path().filename().string();
            if (!name.starts_with(kPrefix) || !entry.is_directory(ec)) {
                continue;
            }
            if (live_ids.contains(name.substr(kPrefix.size()))) {
                continue;
            }
            struct stat st {};
            if (::stat(entry.path().c_str(), &st) != 0) {
                continue;
            }
            const auto created = std::chrono::system_clock::from_time_t(st.st_ctime);
            if (now - created < min_age) {
                continue;
            }
            if (::rmdir(entry.path().c_str()) == 0) {
                sweep.removed.push_back(entry.path());
            } else {
                sweep.busy.push_back(entry.path());
            }
        }
    }
    return sweep;
}

}  // namespace ccjail
