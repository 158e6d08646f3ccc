#include "link/session_usage.hpp"

#include <fstream>
#include <set>

#include "cgroup/cgroup_internal.hpp"

namespace ccjail::link {

nlohmann::json usage_json(const CgroupUsage& usage, std::uint64_t memory_bytes) {
    return {
        {"memory_bytes", memory_bytes},
        {"memory_peak_bytes", usage.memory_peak_bytes},
        {"oom_kills", usage.oom_kills},
        {"cpu_user_usec", usage.cpu_user_usec},
        {"cpu_system_usec", usage.cpu_system_usec},
        {"pids_peak", usage.pids_peak},
        {"nr_throttled", usage.nr_throttled},
        {"throttled_usec", usage.throttled_usec},
    };
}

std::vector<pid_t> cgroup_pids(const JailCgroup& cgroup) {
    // v1 has one directory per hierarchy, each listing the same processes: the union is taken
    // anyway, since a process being moved shows in one before the other.
    std::set<pid_t> pids;
    for (const auto& dir : cgroup_directories(cgroup)) {
        std::ifstream procs(dir / "cgroup.procs");
        for (pid_t pid; procs >> pid;) {
            pids.insert(pid);
        }
    }
    return {pids.begin(), pids.end()};
}

std::uint64_t cgroup_memory_bytes(const JailCgroup& cgroup) {
    for (const auto& dir : cgroup_directories(cgroup)) {
        for (const char* name : {"memory.current", "memory.usage_in_bytes"}) {
            std::ifstream file(dir / name);
            std::uint64_t bytes = 0;
            if (file >> bytes) {
                return bytes;
            }
        }
    }
    return 0;
}

}  // namespace ccjail::link
