// The v1 hierarchies (Documentation/admin-guide/cgroup-v1/), the fallback for hosts without a
// usable unified hierarchy.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <optional>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup_files.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "cgroup/cgroup_mounts.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kControllers = {"memory", "cpu", "cpuacct", "pids", "freezer"};

constexpr std::chrono::milliseconds kFreezeTimeout{200};
constexpr std::chrono::milliseconds kSettleTimeout{50};

// One jail directory in one hierarchy (co-mounted controllers share it).
struct V1Dir {
    std::vector<std::string> controllers;
    fs::path leaf;
    std::optional<fs::path> intermediate;
};

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
    return b > std::numeric_limits<std::uint64_t>::max() - a
               ? std::numeric_limits<std::uint64_t>::max()
               : a + b;
}

class V1JailCgroup final : public JailCgroupBase {
  public:
    V1JailCgroup() = default;
    V1JailCgroup(const V1JailCgroup&) = delete;
    V1JailCgroup& operator=(const V1JailCgroup&) = delete;
    ~V1JailCgroup() override;

    void create(const std::string& id, const CgroupLimits& limits, const CgroupOptions& options);

    CgroupVersion version() const override { return CgroupVersion::v1; }
    std::string describe() const override;
    int clone_into_fd() const override { return -1; }
    void attach(pid_t pid) override;
    void attach_self() const override;
    bool populated() const override;
    CgroupUsage usage() const override;
    bool kill_all(std::chrono::milliseconds timeout) override;
    bool wait_empty(std::chrono::milliseconds timeout) const override;
    std::vector<fs::path> directories() const override;

  private:
    void make_dir_in(const V1Hierarchy& hierarchy, std::vector<std::string> controllers,
                     const std::string& id, const CgroupOptions& options);
    void write_limits(const CgroupLimits& limits) const;
    static void write_memory_limits(const fs::path& dir, const CgroupLimits& limits);
    std::optional<fs::path> dir_of(const std::string& controller) const;
    void kill_round(const std::optional<fs::path>& freezer) const;

    std::vector<V1Dir> dirs_;  // only directories we created, so only those are removed
};

void V1JailCgroup::create(const std::string& id, const CgroupLimits& limits,
                          const CgroupOptions& options) {
    const auto hierarchies = find_v1_hierarchies(kControllers, options);
    const auto require = [&](const std::string& controller, const char* why) {
        if (!hierarchies.contains(controller)) {
            throw JailError(Step::cgroup, ENOENT,
                            "no cgroup v1 " + controller + " hierarchy (" + why + ")");
        }
    };
    require("memory", "needed for every jail");
    if (limits.cpus > 0) {
        require("cpu", "the profile limits cpus");
    }
    if (limits.pids > 0) {
        require("pids", "the profile limits pids");
    }
    std::vector<std::pair<V1Hierarchy, std::vector<std::string>>> groups;
    for (const auto& controller : kControllers) {
        const auto found = hierarchies.find(controller);
        if (found == hierarchies.end()) {
            continue;
        }
        const auto same_mount = std::find_if(groups.begin(), groups.end(), [&](const auto& group) {
            return group.first.mount_point == found->second.mount_point;
        });
        if (same_mount != groups.end()) {
            same_mount->second.push_back(controller);
        } else {
            groups.push_back({found->second, {controller}});
        }
    }
    for (const auto& [hierarchy, controllers] : groups) {
        make_dir_in(hierarchy, controllers, id, options);
    }
    write_limits(limits);
}

void V1JailCgroup::make_dir_in(const V1Hierarchy& hierarchy, std::vector<std::string> controllers,
                               const std::string& id, const CgroupOptions& options) {
    std::optional<fs::path> intermediate;
    fs::path base;
    if (options.parent) {
        base = resolve_parent(*options.parent, hierarchy.mount_point);
        if (!cgroup_fs::is_dir(base)) {
            throw JailError(Step::cgroup, ENOENT,
                            "cgroup parent " + base.string() + " does not exist");
        }
    } else {
        // Never at the hierarchy root, even when our own cgroup is the root.
        base = hierarchy.own_dir / "ccjail";
        intermediate = base;
    }
    const fs::path leaf = base / ("jail-" + id);
    for (int attempt = 1;; ++attempt) {
        if (intermediate) {
            cgroup_fs::make_dir(*intermediate);
        }
        try {
            cgroup_fs::make_new_dir(leaf);
            break;
        } catch (const JailError& error) {
            // Another jail's destructor removed the shared `ccjail` directory meanwhile.
            if (error.err() != ENOENT || !intermediate || attempt == kCreateAttempts) {
                throw;
            }
        }
    }
    dirs_.push_back(V1Dir{std::move(controllers), leaf, intermediate});
}

std::optional<fs::path> V1JailCgroup::dir_of(const std::string& controller) const {
    for (const auto& dir : dirs_) {
        if (std::find(dir.controllers.begin(), dir.controllers.end(), controller) !=
            dir.controllers.end()) {
            return dir.leaf;
        }
    }
    return std::nullopt;
}

void V1JailCgroup::write_memory_limits(const fs::path& dir, const CgroupLimits& limits) {
    // A new memory cgroup inherits oom_kill_disable from its parent; with it set, a jail at its
    // limit would hang in the OOM path instead of being killed.
    if (cgroup_fs::read_key(dir / "memory.oom_control", "oom_kill_disable") != 0) {
        cgroup_fs::write_file(dir / "memory.oom_control", "0");
    }
    if (limits.memory_bytes == 0) {
        return;
    }
    // memsw.limit must never drop below limit: the kernel refuses it. A new cgroup starts with
    // both unlimited, so lowering limit first keeps that true at every step.
    cgroup_fs::write_file(dir / "memory.limit_in_bytes", std::to_string(limits.memory_bytes));
    cgroup_fs::write_file_if_exists(
        dir / "memory.memsw.limit_in_bytes",
        std::to_string(saturating_add(limits.memory_bytes, limits.swap_bytes)));
}

void V1JailCgroup::write_limits(const CgroupLimits& limits) const {
    write_memory_limits(*dir_of("memory"), limits);
    if (const auto quota = cpu_quota_usec(limits.cpus, kCpuPeriodUsec)) {
        const fs::path cpu = *dir_of("cpu");
        cgroup_fs::write_file(cpu / "cpu.cfs_period_us", std::to_string(kCpuPeriodUsec));
        cgroup_fs::write_file(cpu / "cpu.cfs_quota_us", std::to_string(*quota));
    }
    if (const auto pids = dir_of("pids")) {
        cgroup_fs::write_file(*pids / "pids.max",
                              limits.pids ? std::to_string(limits.pids) : "max");
    }
}

V1JailCgroup::~V1JailCgroup() {
    if (dirs_.empty()) {
        return;
    }
    try {
        kill_all(kDestroyKillTimeout);
    } catch (const std::exception& error) {
        spdlog::warn("cgroup {}: killing its processes failed: {}", describe(), error.what());
    }
    for (const auto& dir : dirs_) {
        if (!cgroup_fs::remove_dir(dir.leaf, kDestroyRmdirTimeout)) {
            spdlog::warn("cgroup {} could not be removed", dir.leaf.string());
        }
    }
    // The shared `ccjail` directory stays (cgroup_internal.hpp says why).
}

std::string V1JailCgroup::describe() const {
    std::string text;
    for (const auto& dir : dirs_) {
        text += text.empty() ? "" : " ";
        text += dir.leaf.string();
    }
    return text;
}

void V1JailCgroup::attach_self() const {
    for (const auto& dir : dirs_) {
        cgroup_fs::write_file(dir.leaf / "tasks", "0", Step::cgroup_attach);
    }
}

void V1JailCgroup::attach(pid_t pid) {
    for (const auto& dir : dirs_) {
        cgroup_fs::write_file(dir.leaf / "cgroup.procs", std::to_string(pid), Step::cgroup_attach);
    }
}

bool V1JailCgroup::populated() const {
    // v1 has no populated flag; a process half-way through attach() may sit in only some of
    // the hierarchies, so any of them counts.
    return std::any_of(dirs_.begin(), dirs_.end(),
                       [](const V1Dir& dir) { return !cgroup_fs::read_procs(dir.leaf).empty(); });
}

CgroupUsage V1JailCgroup::usage() const {
    constexpr std::uint64_t kNsPerUsec = 1000;
    CgroupUsage usage;
    if (const auto memory = dir_of("memory")) {
        usage.memory_peak_bytes = cgroup_fs::read_number(*memory / "memory.max_usage_in_bytes");
        usage.oom_kills = cgroup_fs::read_key(*memory / "memory.oom_control", "oom_kill");
    }
    if (const auto cpuacct = dir_of("cpuacct")) {
        usage.cpu_user_usec = cgroup_fs::read_number(*cpuacct / "cpuacct.usage_user") / kNsPerUsec;
        usage.cpu_system_usec = cgroup_fs::read_number(*cpuacct / "cpuacct.usage_sys") / kNsPerUsec;
    }
    if (const auto cpu = dir_of("cpu")) {
        const auto stat = parse_flat_keyed(
            cgroup_fs::read_file_if_exists(*cpu / "cpu.stat").value_or(std::string()));
        const auto value = [&](const char* key) {
            const auto it = stat.find(key);
            return it == stat.end() ? std::uint64_t{0} : it->second;
        };
        usage.nr_throttled = value("nr_throttled");
        usage.throttled_usec = value("throttled_time") / kNsPerUsec;
    }
    if (const auto pids = dir_of("pids")) {
        usage.pids_peak = cgroup_fs::read_number(*pids / "pids.peak");
    }
    return usage;
}

// Freezing first means no process can fork or exit between reading cgroup.procs and the kill,
// so each pid we signal is still the process we read (no pid reuse) and no child escapes.
void V1JailCgroup::kill_round(const std::optional<fs::path>& freezer) const {
    if (freezer) {
        cgroup_fs::write_file(*freezer / "freezer.state", "FROZEN");
        // FREEZING until every task stopped; a task stuck in the kernel may never get there,
        // and killing it anyway is still right.
        cgroup_fs::poll_until(
            [&] { return cgroup_fs::read_file(*freezer / "freezer.state") == "FROZEN\n"; },
            kFreezeTimeout);
    }
    for (const auto& dir : dirs_) {
        for (const pid_t pid : cgroup_fs::read_procs(dir.leaf)) {
            ::kill(pid, SIGKILL);
        }
    }
    if (freezer) {
        // SIGKILL is only acted on once the task runs again.
        cgroup_fs::write_file(*freezer / "freezer.state", "THAWED");
    }
}

bool V1JailCgroup::kill_all(std::chrono::milliseconds timeout) {
    const auto freezer = dir_of("freezer");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (!populated()) {
            return true;
        }
        kill_round(freezer);
        // Killed tasks need a moment to exit; freezing them again meanwhile would only stall.
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (wait_empty(std::clamp(left, std::chrono::milliseconds(0), kSettleTimeout))) {
            return true;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
    }
}

bool V1JailCgroup::wait_empty(std::chrono::milliseconds timeout) const {
    return cgroup_fs::poll_until([&] { return !populated(); }, timeout);
}

std::vector<fs::path> V1JailCgroup::directories() const {
    std::vector<fs::path> dirs;
    for (const auto& dir : dirs_) {
        dirs.push_back(dir.leaf);
    }
    return dirs;
}

}  // namespace

std::unique_ptr<JailCgroup> create_v1_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                                  const CgroupOptions& options) {
    return build_jail_cgroup<V1JailCgroup>(id, limits, options);
}

}  // namespace ccjail
