#pragma once

#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"

namespace ccjail {

// The directories in which the monitors this process starts create their `jail-<id>` cgroups
// (one per v1 hierarchy; one on v2), as create_jail_cgroup places them for a child of ours.
std::vector<std::filesystem::path> jail_cgroup_parents(const CgroupOptions& options);

// What a sweep did, for the daemon's start-up log.
struct StaleCgroupSweep {
    std::vector<std::filesystem::path> removed;
    std::vector<std::filesystem::path> busy;  // still populated: left alone
};

// Removes every empty `jail-<id>` cgroup below `parents` whose id is not in `live_ids` and
// which was created more than `min_age` ago: what a monitor killed with SIGKILL leaves behind
// (its jail dies with it through PDEATHSIG, the directory does not). A populated one is never
// touched: rmdir of a cgroup fails while it has processes, so this cannot end a running jail.
// The age guards a jail another supervisor is building right now, whose cgroup is empty for a
// few milliseconds before its init moves in.
StaleCgroupSweep remove_stale_jail_cgroups(const std::vector<std::filesystem::path>& parents,
                                           const std::set<std::string>& live_ids,
                                           std::chrono::seconds min_age);

}  // namespace ccjail
