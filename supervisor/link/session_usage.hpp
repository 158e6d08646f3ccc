#pragma once

#include <sys/types.h>

#include <vector>

#include <nlohmann/json.hpp>

#include "cgroup/cgroup.hpp"

namespace ccjail::link {

// The body of the monitor's `usage` reply field: the cgroup's accounting plus the memory in use
// now (memory_bytes; 0 where the kernel does not say).
nlohmann::json usage_json(const CgroupUsage& usage, std::uint64_t memory_bytes);

// What the jail's cgroup holds now: its host pids (from cgroup.procs) and its current memory.
// Both empty/0 when the cgroup cannot be read (it is being removed).
std::vector<pid_t> cgroup_pids(const JailCgroup& cgroup);
std::uint64_t cgroup_memory_bytes(const JailCgroup& cgroup);

}  // namespace ccjail::link
