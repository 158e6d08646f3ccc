#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccjail {

enum class CgroupVersion { v1, v2 };
std::string_view to_string(CgroupVersion version);

struct CgroupLimits {
    std::uint64_t memory_bytes = 0;  // 0: no limit
    std::uint64_t swap_bytes = 0;
    double cpus = 0;         // 0: no limit
    std::uint32_t pids = 0;  // 0: no limit
};

// What the kernel accounted for one jail's cgroup. Fields a kernel does not provide stay 0.
struct CgroupUsage {
    std::uint64_t memory_peak_bytes = 0;
    std::uint64_t oom_kills = 0;
    std::uint64_t cpu_user_usec = 0;
    std::uint64_t cpu_system_usec = 0;
    std::uint64_t pids_peak = 0;
    std::uint64_t nr_throttled = 0;
    std::uint64_t throttled_usec = 0;
};

struct CgroupOptions {
    std::filesystem::path mount_root = "/sys/fs/cgroup";
    std::filesystem::path proc_self_cgroup = "/proc/self/cgroup";
    // Where jails are created. Unset: below this process's own cgroup (docs/architecture.md).
    std::optional<std::filesystem::path> parent;
};

// One jail's cgroup (v1: one directory per hierarchy; v2: one leaf). Removing it is the
// destructor's job: it kills whatever is left, waits for the cgroup to empty and rmdirs it, so
// no error path can leak a cgroup.
class JailCgroup {
  public:
    virtual ~JailCgroup() = default;
    virtual CgroupVersion version() const = 0;
    // Human-readable location(s), for reports and logs.
    virtual std::string describe() const = 0;
    // v2: an O_DIRECTORY fd of the leaf, for clone3(CLONE_INTO_CGROUP). v1: -1.
    virtual int clone_into_fd() const = 0;
    // Moves a process (host pid) into the cgroup (every hierarchy on v1).
    virtual void attach(pid_t pid) = 0;
    // Moves the calling process, which must be single-threaded, into the cgroup. v1 writes "0"
    // to each hierarchy's `tasks` file: moving only the calling thread skips the kernel's
    // threadgroup semaphore and the RCU grace period its writers wait for (7–15 ms per jail on
    // the development hosts, against 0.1 ms). v2 does nothing: CLONE_INTO_CGROUP placed the
    // process at fork. Throws JailError(Step::cgroup_attach).
    virtual void attach_self() const = 0;
    // True while any process is in the cgroup.
    virtual bool populated() const = 0;
    virtual CgroupUsage usage() const = 0;
    // Kills every process in the cgroup (v2: cgroup.kill; v1: freeze, SIGKILL each, thaw) and
    // waits up to `timeout` for it to be empty. Returns false if it did not empty in time.
    virtual bool kill_all(std::chrono::milliseconds timeout) = 0;
    // Waits up to `timeout` for the cgroup to become empty without killing anything.
    virtual bool wait_empty(std::chrono::milliseconds timeout) const = 0;
};

// Detects the hierarchy this machine uses for jails: v2 when mount_root is a cgroup2 mount with
// the memory and pids controllers available to us, else v1 (memory, cpu, cpuacct, pids, freezer).
CgroupVersion detect_cgroup_version(const CgroupOptions& options);

// Creates the cgroup `jail-<id>` and writes the limits; throws JailError(Step::cgroup).
std::unique_ptr<JailCgroup> create_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                               const CgroupOptions& options);

// Daemon start-up on cgroup v2, when no cgroup parent is configured: moves the calling
// process (ccjaild, still single-threaded) out of its own cgroup into a `supervisor` leaf
// below it, so that the own cgroup can enable controllers for jails that become siblings of
// that leaf (the kernel refuses controllers in a cgroup that holds processes). What systemd's
// DelegateSubgroup= does on systemd >= 254. Returns the leaf, or nullopt when nothing was to
// be done: cgroup v1, a configured parent, the root cgroup (jails go to <root>/ccjail), or
// already in a `supervisor` leaf. Throws JailError(Step::cgroup).
std::optional<std::filesystem::path> enter_supervisor_leaf(const CgroupOptions& options);

// A session's monitor, on cgroup v2 with a configured parent: moves the calling process into
// the parent's `monitors` leaf, beside the jails. There it outlives both a crash of ccjaild and
// `systemctl kill ccjaild` (which signals every process of ccjaild.service), so the session
// waits for the restarted daemon; the parent's unit (ccjail-sessions.service) ends it on stop.
// Does nothing on v1 or without a configured parent. Throws JailError(Step::cgroup).
void enter_monitors_leaf(const CgroupOptions& options);

// The body of `ccjaild --hold-cgroup` (systemd/ccjail-sessions.service): makes the calling
// process's own v2 cgroup a parent for jails: moves the process into a `holder` leaf and
// enables memory and pids (and cpu, io when available) for the children. Returns the parent.
// Throws JailError(Step::cgroup), e.g. ENOTSUP on cgroup v1 or without the controllers.
std::filesystem::path hold_cgroup_for_jails(const CgroupOptions& options);

// Parsers, public for the unit tests.
// /proc/<pid>/cgroup: "hierarchy-id:controllers:path" lines -> controller (or "" for v2) -> path.
std::map<std::string, std::string> parse_proc_cgroup(std::string_view text);
// "key value" lines (cpu.stat, memory.events, memory.oom_control, pids.events, cgroup.events).
std::map<std::string, std::uint64_t> parse_flat_keyed(std::string_view text);
// cpu.max value for a number of cores: "<quota> <period>" or "max <period>".
std::string cpu_max_value(double cpus, std::uint64_t period_usec = 100000);

}  // namespace ccjail
