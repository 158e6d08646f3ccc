#include <cerrno>
#include <sstream>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_files.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "cgroup/cgroup_mounts.hpp"
#include "common/error.hpp"

namespace ccjail {
namespace {

bool has_controllers(const std::string& list, std::initializer_list<std::string_view> wanted) {
    for (const auto name : wanted) {
        std::istringstream words(list);
        bool found = false;
        for (std::string word; words >> word;) {
            found = found || word == name;
        }
        if (!found) {
            return false;
        }
    }
    return true;
}

// A hybrid host mounts a cgroup2 at <root>/unified with no controllers, and a tmpfs at <root>:
// only a cgroup2 mount at the root itself that offers the controllers counts.
bool usable_v2(const CgroupOptions& options) {
    if (cgroup_fs::fs_magic(options.mount_root) != kCgroup2SuperMagic) {
        return false;
    }
    const auto controllers =
        cgroup_fs::read_file_if_exists(options.mount_root / "cgroup.controllers");
    return controllers && has_controllers(*controllers, {"memory", "pids"});
}

bool usable_v1(const CgroupOptions& options) {
    const auto hierarchies = find_v1_hierarchies({"memory"}, options);
    const auto memory = hierarchies.find("memory");
    return memory != hierarchies.end() && cgroup_fs::is_dir(memory->second.own_dir);
}

}  // namespace

CgroupVersion detect_cgroup_version(const CgroupOptions& options) {
    if (usable_v2(options)) {
        return CgroupVersion::v2;
    }
    if (usable_v1(options)) {
        return CgroupVersion::v1;
    }
    throw JailError(Step::cgroup, ENOENT,
                    "no usable cgroup hierarchy below " + options.mount_root.string() +
                        " (neither a cgroup2 mount with memory and pids nor a v1 memory "
                        "hierarchy)");
}

std::unique_ptr<JailCgroup> create_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                               const CgroupOptions& options) {
    switch (detect_cgroup_version(options)) {
        case CgroupVersion::v2:
            return create_v2_jail_cgroup(id, limits, options);
        case CgroupVersion::v1:
            return create_v1_jail_cgroup(id, limits, options);
    }
    throw JailError(Step::cgroup, EINVAL, "unknown cgroup version");
}

std::vector<std::filesystem::path> cgroup_directories(const JailCgroup& cgroup) {
    const auto* base = dynamic_cast<const JailCgroupBase*>(&cgroup);
    return base ? base->directories() : std::vector<std::filesystem::path>{};
}

}  // namespace ccjail
