// The unified hierarchy (Documentation/admin-guide/cgroup-v2.rst), used in production.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <set>
#include <sstream>

#include <spdlog/spdlog.h>

#include "cgroup/cgroup_files.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "cgroup/cgroup_mounts.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

// memory and pids are what containment rests on; cpu and io are enabled when delegated.
constexpr const char* kRequiredControllers[] = {"memory", "pids"};
constexpr const char* kOptionalControllers[] = {"cpu", "io"};

std::set<std::string> read_words(const fs::path& file) {
    std::istringstream text(cgroup_fs::read_file(file));
    std::set<std::string> words;
    for (std::string word; text >> word;) {
        words.insert(word);
    }
    return words;
}

// Turns on the controllers for the children of `dir`. Enabling is refused with EBUSY while
// `dir` itself holds processes ("no internal processes"), except at the root.
void enable_controllers(const fs::path& dir) {
    const auto available = read_words(dir / "cgroup.controllers");
    const auto enabled = read_words(dir / "cgroup.subtree_control");
    std::string request;
    for (const char* name : kRequiredControllers) {
        if (!available.contains(name)) {
            throw JailError(Step::cgroup, ENOTSUP,
                            std::string("the ") + name + " controller is not available in " +
                                dir.string() + "; delegate it to this service");
        }
        if (!enabled.contains(name)) {
            request += std::string(request.empty() ? "" : " ") + "+" + name;
        }
    }
    for (const char* name : kOptionalControllers) {
        if (available.contains(name) && !enabled.contains(name)) {
            request += std::string(request.empty() ? "" : " ") + "+" + name;
        }
    }
    if (request.empty()) {
        return;
    }
    try {
        cgroup_fs::write_file(dir / "cgroup.subtree_control", request);
    } catch (const JailError& error) {
        if (error.err() != EBUSY) {
            throw;
        }
        throw JailError(Step::cgroup, EBUSY,
                        "cannot enable controllers in " + dir.string() +
                            ": other processes share this cgroup. Run ccjail in a cgroup of its "
                            "own (systemd Delegate=yes) or configure a cgroup parent (" +
                            error.what() + ")");
    }
}

// Where a new jail goes, decided once per creation from /proc/self/cgroup.
struct Placement {
    fs::path jails_parent;
    // Set when jails nest in <root>/ccjail: controllers go on the root first, then on it.
    std::optional<fs::path> intermediate;
    // Set when this process must first leave its own cgroup for a `supervisor` leaf.
    std::optional<fs::path> supervisor_leaf;
};

Placement choose_placement(const CgroupOptions& options) {
    const fs::path& root = options.mount_root;
    if (options.parent) {
        const auto parent = resolve_parent(*options.parent, root);
        if (!cgroup_fs::is_dir(parent)) {
            throw JailError(Step::cgroup, ENOENT,
                            "cgroup parent " + parent.string() + " does not exist");
        }
        return {parent, std::nullopt, std::nullopt};
    }
    const fs::path own = own_v2_cgroup(options);
    if (own.lexically_normal() == "/") {
        // Jails directly in the root would escape the root's own accounting and clutter it.
        return {root / "ccjail", root / "ccjail", std::nullopt};
    }
    const fs::path own_dir = resolve_parent(own, root);
    if (own_dir.filename() == "supervisor") {
        return {own_dir.parent_path(), std::nullopt, std::nullopt};
    }
    return {own_dir, std::nullopt, own_dir / "supervisor"};
}

void move_self_into(const fs::path& leaf) {
    cgroup_fs::make_dir(leaf);
    cgroup_fs::write_file(leaf / "cgroup.procs", std::to_string(::getpid()));
}

bool is_v2(const CgroupOptions& options) {
    return detect_cgroup_version(options) == CgroupVersion::v2;
}

}  // namespace

std::optional<fs::path> enter_supervisor_leaf(const CgroupOptions& options) {
    if (options.parent || !is_v2(options)) {
        return std::nullopt;
    }
    const fs::path own = own_v2_cgroup(options);
    if (own.lexically_normal() == "/") {
        return std::nullopt;
    }
    const fs::path own_dir = resolve_parent(own, options.mount_root);
    if (own_dir.filename() == "supervisor") {
        return std::nullopt;
    }
    move_self_into(own_dir / "supervisor");
    return own_dir / "supervisor";
}

void enter_monitors_leaf(const CgroupOptions& options) {
    if (!options.parent || !is_v2(options)) {
        return;
    }
    const fs::path parent = resolve_parent(*options.parent, options.mount_root);
    if (!cgroup_fs::is_dir(parent)) {
        throw JailError(Step::cgroup, ENOENT,
                        "cgroup parent " + parent.string() + " does not exist");
    }
    move_self_into(parent / "monitors");
}

fs::path hold_cgroup_for_jails(const CgroupOptions& options) {
    if (!is_v2(options)) {
        throw JailError(Step::cgroup, ENOTSUP,
                        "--hold-cgroup needs the unified cgroup hierarchy (cgroup v2) at " +
                            options.mount_root.string());
    }
    const fs::path own = own_v2_cgroup(options);
    if (own.lexically_normal() == "/") {
        throw JailError(Step::cgroup, EINVAL,
                        "--hold-cgroup runs in a cgroup of its own (a systemd service with "
                        "Delegate=yes), not in the root cgroup");
    }
    fs::path parent = resolve_parent(own, options.mount_root);
    if (parent.filename() == "holder") {
        parent = parent.parent_path();
    } else {
        move_self_into(parent / "holder");
    }
    enable_controllers(parent);
    return parent;
}

namespace {

class V2JailCgroup final : public JailCgroupBase {
  public:
    V2JailCgroup() = default;
    V2JailCgroup(const V2JailCgroup&) = delete;
    V2JailCgroup& operator=(const V2JailCgroup&) = delete;
    ~V2JailCgroup() override;

    void create(const std::string& id, const CgroupLimits& limits, const CgroupOptions& options);

    CgroupVersion version() const override { return CgroupVersion::v2; }
    std::string describe() const override { return leaf_.string(); }
    int clone_into_fd() const override { return leaf_fd_.get(); }
    void attach(pid_t pid) override;
    void attach_self() const override {}
    bool populated() const override;
    CgroupUsage usage() const override;
    bool kill_all(std::chrono::milliseconds timeout) override;
    bool wait_empty(std::chrono::milliseconds timeout) const override;
    std::vector<fs::path> directories() const override;

  private:
    void make_leaf(const std::string& id, const Placement& placement);
    void write_limits(const CgroupLimits& limits) const;
    void open_leaf();
    void signal_each(int signal) const;

    fs::path leaf_;  // empty until mkdir succeeded: only what we created is ever removed
    std::optional<fs::path> intermediate_;
    UniqueFd leaf_fd_;
};

void V2JailCgroup::create(const std::string& id, const CgroupLimits& limits,
                          const CgroupOptions& options) {
    const Placement placement = choose_placement(options);
    if (placement.supervisor_leaf) {
        move_self_into(*placement.supervisor_leaf);
    }
    make_leaf(id, placement);
    write_limits(limits);
    open_leaf();
}

void V2JailCgroup::make_leaf(const std::string& id, const Placement& placement) {
    const fs::path leaf = placement.jails_parent / ("jail-" + id);
    for (int attempt = 1;; ++attempt) {
        if (placement.intermediate) {
            enable_controllers(placement.intermediate->parent_path());
            cgroup_fs::make_dir(*placement.intermediate);
        }
        enable_controllers(placement.jails_parent);
        try {
            cgroup_fs::make_new_dir(leaf);
            break;
        } catch (const JailError& error) {
            // Another jail's destructor removed the shared `ccjail` directory meanwhile.
            if (error.err() != ENOENT || !placement.intermediate || attempt == kCreateAttempts) {
                throw;
            }
        }
    }
    leaf_ = leaf;
    intermediate_ = placement.intermediate;
}

void V2JailCgroup::write_limits(const CgroupLimits& limits) const {
    cgroup_fs::write_file(leaf_ / "memory.max",
                          limits.memory_bytes ? std::to_string(limits.memory_bytes) : "max");
    // Absent when the kernel runs without swap accounting; then there is no swap to limit.
    cgroup_fs::write_file_if_exists(leaf_ / "memory.swap.max", std::to_string(limits.swap_bytes));
    // One OOM kill takes the whole jail: a half-killed process tree is worse than none.
    cgroup_fs::write_file(leaf_ / "memory.oom.group", "1");
    cgroup_fs::write_file(leaf_ / "pids.max", limits.pids ? std::to_string(limits.pids) : "max");
    const std::string cpu_max = cpu_max_value(limits.cpus, kCpuPeriodUsec);
    if (limits.cpus > 0) {
        cgroup_fs::write_file(leaf_ / "cpu.max", cpu_max);
    } else {
        cgroup_fs::write_file_if_exists(leaf_ / "cpu.max", cpu_max);
    }
}

void V2JailCgroup::open_leaf() {
    leaf_fd_.reset(::open(leaf_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!leaf_fd_) {
        throw_errno(Step::cgroup, "cannot open " + leaf_.string());
    }
}

V2JailCgroup::~V2JailCgroup() {
    if (leaf_.empty()) {
        return;
    }
    try {
        kill_all(kDestroyKillTimeout);
    } catch (const std::exception& error) {
        spdlog::warn("cgroup {}: killing its processes failed: {}", leaf_.string(), error.what());
    }
    leaf_fd_.reset();
    if (!cgroup_fs::remove_dir(leaf_, kDestroyRmdirTimeout)) {
        spdlog::warn("cgroup {} could not be removed", leaf_.string());
    }
    // The shared `ccjail` directory stays (cgroup_internal.hpp says why).
}

void V2JailCgroup::attach(pid_t pid) {
    cgroup_fs::write_file(leaf_ / "cgroup.procs", std::to_string(pid), Step::cgroup_attach);
}

bool V2JailCgroup::populated() const {
    return cgroup_fs::read_key(leaf_ / "cgroup.events", "populated") != 0;
}

CgroupUsage V2JailCgroup::usage() const {
    CgroupUsage usage;
    usage.memory_peak_bytes = cgroup_fs::read_number(leaf_ / "memory.peak");
    usage.oom_kills = cgroup_fs::read_key(leaf_ / "memory.events", "oom_kill");
    usage.pids_peak = cgroup_fs::read_number(leaf_ / "pids.peak");
    const auto cpu_stat = cgroup_fs::read_file_if_exists(leaf_ / "cpu.stat");
    if (cpu_stat) {
        const auto values = parse_flat_keyed(*cpu_stat);
        const auto value = [&](const char* key) {
            const auto it = values.find(key);
            return it == values.end() ? std::uint64_t{0} : it->second;
        };
        usage.cpu_user_usec = value("user_usec");
        usage.cpu_system_usec = value("system_usec");
        usage.nr_throttled = value("nr_throttled");
        usage.throttled_usec = value("throttled_usec");
    }
    return usage;
}

void V2JailCgroup::signal_each(int signal) const {
    for (const pid_t pid : cgroup_fs::read_procs(leaf_)) {
        ::kill(pid, signal);
    }
}

bool V2JailCgroup::kill_all(std::chrono::milliseconds timeout) {
    if (cgroup_fs::write_file_if_exists(leaf_ / "cgroup.kill", "1")) {
        return wait_empty(timeout);
    }
    // Before 5.14 there is no cgroup.kill: keep killing until nothing is left, so that children
    // forked while we read cgroup.procs are caught on the next round.
    return cgroup_fs::poll_until(
        [&] {
            signal_each(SIGKILL);
            return !populated();
        },
        timeout);
}

bool V2JailCgroup::wait_empty(std::chrono::milliseconds timeout) const {
    return cgroup_fs::poll_until([&] { return !populated(); }, timeout);
}

std::vector<fs::path> V2JailCgroup::directories() const {
    std::vector<fs::path> dirs;
    if (!leaf_.empty()) {
        dirs.push_back(leaf_);
    }
    return dirs;
}

}  // namespace

std::unique_ptr<JailCgroup> create_v2_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                                  const CgroupOptions& options) {
    return build_jail_cgroup<V2JailCgroup>(id, limits, options);
}

}  // namespace ccjail
