#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "cgroup/cgroup.hpp"

// Where each cgroup hierarchy is mounted and where this process sits in it.
namespace ccjail {

struct CgroupMount {
    std::filesystem::path root;  // the cgroup shown at the mount point ("/" unless bind-mounted)
    std::filesystem::path mount_point;
    std::string fstype;                      // "cgroup" (v1) or "cgroup2"
    std::vector<std::string> super_options;  // v1: the controllers, e.g. {"rw", "cpu", "cpuacct"}
};

// The cgroup and cgroup2 entries of /proc/<pid>/mountinfo; malformed lines are skipped.
std::vector<CgroupMount> parse_mountinfo_cgroups(std::string_view text);

// One v1 hierarchy: its mount point and this process's own cgroup directory in it.
struct V1Hierarchy {
    std::filesystem::path mount_point;
    std::filesystem::path own_dir;
};

// controller -> hierarchy for each of `controllers` that has a v1 hierarchy. Co-mounted
// controllers (cpu,cpuacct) map to the same mount point. Reads options.proc_self_cgroup and
// the mountinfo file next to it; without a mountinfo entry, falls back to
// `<mount_root>/<controller>` if that is a v1 cgroup file system.
std::map<std::string, V1Hierarchy> find_v1_hierarchies(const std::vector<std::string>& controllers,
                                                       const CgroupOptions& options);

// True if `path` is `base` or lies below it (lexically).
bool path_is_below(const std::filesystem::path& path, const std::filesystem::path& base);

// Where jails go when CgroupOptions::parent is set: a path below `hierarchy_root` is taken as
// is; anything else is a cgroup path relative to the hierarchy root ("/ccjail.slice").
std::filesystem::path resolve_parent(const std::filesystem::path& parent,
                                     const std::filesystem::path& hierarchy_root);

// This process's own cgroup on the unified hierarchy ("/..."), from options.proc_self_cgroup.
std::filesystem::path own_v2_cgroup(const CgroupOptions& options);

}  // namespace ccjail
