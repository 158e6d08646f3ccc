#include "client/doctor.hpp"

#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_mounts.hpp"
#include "client/client.hpp"
#include "common/unique_fd.hpp"
#include "profile/profile_loader.hpp"

namespace ccjail::client {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string join(const std::vector<std::string>& words, std::string_view separator = " ") {
    std::string out;
    for (const auto& word : words) {
        if (!out.empty()) {
            out += separator;
        }
        out += word;
    }
    return out;
}

std::string errno_name(int err) {
    return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

CheckResult ok(std::string name, std::string detail) {
    return {std::move(name), CheckLevel::ok, std::move(detail), {}};
}

CheckResult warn(std::string name, std::string detail, std::string hint) {
    return {std::move(name), CheckLevel::warn, std::move(detail), std::move(hint)};
}

CheckResult fail(std::string name, std::string detail, std::string hint) {
    return {std::move(name), CheckLevel::fail, std::move(detail), std::move(hint)};
}

// The controllers a cgroup v1 mount can carry; mount options that are not controllers
// ("rw", "name=systemd", "clone_children", ...) are left out.
constexpr std::array<std::string_view, 14> kV1Controllers{
    "blkio",  "cpu",     "cpuacct",  "cpuset",     "devices", "freezer", "hugetlb",
    "memory", "net_cls", "net_prio", "perf_event", "pids",    "rdma",    "misc"};

// Namespaces every jail is built with (monitor.cpp's clone flags); the file names under
// /proc/self/ns.
constexpr std::array<std::string_view, 6> kRequiredNamespaces{"mnt", "pid", "net",
                                                              "ipc", "uts", "cgroup"};

std::optional<std::uint64_t> read_number(const fs::path& path) {
    const auto text = read_text(path);
    if (!text) {
        return std::nullopt;
    }
    try {
        return std::stoull(*text);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// A sysctl of 0 in /proc/sys/user/max_<ns>_namespaces forbids creating that namespace even for
// root, which looks like an EPERM/ENOSPC from clone at the first spawn.
std::optional<std::string> namespace_disabled(const fs::path& proc, std::string_view ns) {
    const auto limit = read_number(proc / "sys/user" / ("max_" + std::string(ns) + "_namespaces"));
    if (limit && *limit == 0) {
        return "max_" + std::string(ns) + "_namespaces=0";
    }
    return std::nullopt;
}

long seccomp_syscall(unsigned op, unsigned flags, void* args) {
    return ::syscall(SYS_seccomp, op, flags, args);
}

}  // namespace

std::string_view to_string(CheckLevel level) {
    switch (level) {
        case CheckLevel::ok:
            return "ok";
        case CheckLevel::warn:
            return "warn";
        case CheckLevel::fail:
            return "fail";
    }
    return "fail";
}

std::string_view to_string(CgroupLayout layout) {
    switch (layout) {
        case CgroupLayout::none:
            return "none";
        case CgroupLayout::v1:
            return "v1";
        case CgroupLayout::hybrid:
            return "hybrid";
        case CgroupLayout::v2:
            return "v2";
    }
    return "none";
}

CgroupLayout cgroup_layout_from_mountinfo(std::string_view mountinfo) {
    bool v1 = false;
    bool v2 = false;
    for (const auto& mount : parse_mountinfo_cgroups(mountinfo)) {
        (mount.fstype == "cgroup2" ? v2 : v1) = true;
    }
    if (v1 && v2) {
        return CgroupLayout::hybrid;
    }
    if (v2) {
        return CgroupLayout::v2;
    }
    return v1 ? CgroupLayout::v1 : CgroupLayout::none;
}

std::set<std::string> v1_controllers_from_mountinfo(std::string_view mountinfo) {
    std::set<std::string> controllers;
    for (const auto& mount : parse_mountinfo_cgroups(mountinfo)) {
        if (mount.fstype != "cgroup") {
            continue;
        }
        for (const auto& option : mount.super_options) {
            if (std::find(kV1Controllers.begin(), kV1Controllers.end(), option) !=
                kV1Controllers.end()) {
                controllers.insert(option);
            }
        }
    }
    return controllers;
}

std::set<std::string> parse_controller_list(std::string_view text) {
    std::set<std::string> words;
    std::istringstream in{std::string(text)};
    for (std::string word; in >> word;) {
        words.insert(word);
    }
    return words;
}

std::optional<int> seccomp_mode_from_status(std::string_view status) {
    constexpr std::string_view kField = "Seccomp:";
    std::size_t at = 0;
    while (at < status.size()) {
        const auto end = std::min(status.find('\n', at), status.size());
        const auto line = status.substr(at, end - at);
        if (line.starts_with(kField)) {
            const auto value = line.substr(kField.size());
            const auto digit = value.find_first_not_of(" \t");
            if (digit == std::string_view::npos || value[digit] < '0' || value[digit] > '9') {
                return std::nullopt;
            }
            return value[digit] - '0';
        }
        at = end + 1;
    }
    return std::nullopt;
}

std::optional<std::string> v2_path_from_proc_cgroup(std::string_view text) {
    const auto paths = parse_proc_cgroup(text);
    const auto own = paths.find("");
    if (own == paths.end()) {
        return std::nullopt;
    }
    return own->second;
}

CheckResult check_namespaces(const fs::path& proc) {
    std::vector<std::string> missing;
    std::vector<std::string> disabled;
    for (const auto ns : kRequiredNamespaces) {
        std::error_code ec;
        if (!fs::exists(fs::symlink_status(proc / "self/ns" / ns, ec))) {
            missing.emplace_back(ns);
        } else if (auto reason = namespace_disabled(proc, ns)) {
            disabled.push_back(*reason);
        }
    }
    if (!missing.empty()) {
        return fail("namespaces", "missing: " + join(missing),
                    "the kernel lacks CONFIG_*_NS for these; jails need all of them");
    }
    if (!disabled.empty()) {
        return fail("namespaces", "disabled by sysctl: " + join(disabled),
                    "raise the limits in /proc/sys/user/ (sysctl user.max_*_namespaces)");
    }
    return ok("namespaces", "mnt pid net ipc uts cgroup available");
}

CheckResult check_user_namespaces(const fs::path& proc) {
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(proc / "self/ns/user", ec))) {
        return warn("user_namespace", "not available (CONFIG_USER_NS off)",
                    "not needed today: jails run as root-assigned uids without a user namespace");
    }
    if (auto reason = namespace_disabled(proc, "user")) {
        return warn("user_namespace", "disabled by sysctl: " + *reason,
                    "not needed today: jails run as root-assigned uids without a user namespace");
    }
    return ok("user_namespace", "available");
}

std::vector<CheckResult> check_cgroups(const fs::path& proc, const fs::path& cgroup_root) {
    const auto mountinfo = read_text(proc / "self/mountinfo");
    if (!mountinfo) {
        return {fail("cgroup", "cannot read " + (proc / "self/mountinfo").string(), "mount /proc")};
    }
    const CgroupLayout layout = cgroup_layout_from_mountinfo(*mountinfo);
    std::vector<CheckResult> results;
    switch (layout) {
        case CgroupLayout::none:
            return {fail("cgroup", "no cgroup file system is mounted",
                         "mount cgroup2 on " + cgroup_root.string())};
        case CgroupLayout::v2:
            results.push_back(ok("cgroup", "v2 (unified)"));
            break;
        case CgroupLayout::hybrid:
        case CgroupLayout::v1:
            results.push_back(
                ok("cgroup", std::string(to_string(layout)) + ": jails use the v1 hierarchies"));
            break;
    }

    std::set<std::string> controllers;
    std::optional<fs::path> own_dir;
    if (layout == CgroupLayout::v2) {
        const auto own = v2_path_from_proc_cgroup(read_text(proc / "self/cgroup").value_or(""));
        own_dir = cgroup_root / fs::path(own.value_or("/")).relative_path();
        controllers = parse_controller_list(
            read_text(*own_dir / "cgroup.controllers").value_or(std::string()));
    } else {
        controllers = v1_controllers_from_mountinfo(*mountinfo);
    }

    std::vector<std::string> missing_required;
    for (const char* name : {"memory", "pids"}) {
        if (!controllers.contains(name)) {
            missing_required.emplace_back(name);
        }
    }
    const std::string have = "have: " + join({controllers.begin(), controllers.end()});
    if (!missing_required.empty()) {
        results.push_back(
            fail("cgroup_controllers", "missing " + join(missing_required) + " (" + have + ")",
                 layout == CgroupLayout::v2 ? "enable them in the parent's cgroup.subtree_control"
                                            : "mount the v1 hierarchies for them"));
    } else if (!controllers.contains("cpu")) {
        results.push_back(warn("cgroup_controllers", "no cpu controller (" + have + ")",
                               "CPU limits (limits.cpus) will not be enforced"));
    } else {
        results.push_back(ok("cgroup_controllers", have));
    }

    if (!own_dir) {
        results.push_back(ok("cgroup_delegation", "not needed on cgroup v1"));
    } else if (::access((*own_dir / "cgroup.subtree_control").c_str(), W_OK) == 0) {
        results.push_back(ok("cgroup_delegation", own_dir->string() + " can delegate"));
    } else {
        const int err = errno;
        results.push_back((::geteuid() == 0 ? fail : warn)(
            "cgroup_delegation",
            (*own_dir / "cgroup.subtree_control").string() + " not writable: " + errno_name(err),
            ::geteuid() == 0 ? "run ccjaild in a delegated cgroup (systemd Delegate=yes) "
                               "or set cgroup_parent"
                             : "run `ccjailctl check` as root to see what ccjaild sees"));
    }
    return results;
}

CheckResult check_seccomp(const fs::path& proc) {
    auto mode = seccomp_mode_from_status(read_text(proc / "self/status").value_or(""));
    if (!mode) {
        const int value = ::prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
        if (value < 0) {
            return fail("seccomp", "not supported: " + errno_name(errno),
                        "a kernel with CONFIG_SECCOMP_FILTER is required");
        }
        mode = value;
    }
    std::vector<std::string> missing;
    const std::array<std::pair<std::uint32_t, const char*>, 2> actions{{
        {SECCOMP_RET_KILL_PROCESS, "KILL_PROCESS"},
        {SECCOMP_RET_ERRNO, "ERRNO"},
    }};
    for (auto [action, name] : actions) {
        if (seccomp_syscall(SECCOMP_GET_ACTION_AVAIL, 0, &action) != 0) {
            missing.push_back(std::string(name) + ": " + errno_name(errno));
        }
    }
    if (!missing.empty()) {
        return fail("seccomp", "filter actions unavailable: " + join(missing, ", "),
                    "a kernel >= 4.14 with CONFIG_SECCOMP_FILTER is required");
    }
    if (*mode == 2) {
        return warn("seccomp", "available; this process already runs under a seccomp filter",
                    "inside a container the outer filter stacks on the jail's: syscalls it "
                    "denies fail in jails too");
    }
    return ok("seccomp", "filter mode with KILL_PROCESS and ERRNO actions");
}

CheckResult check_pidfd() {
    const long fd = ::syscall(SYS_pidfd_open, ::getpid(), 0);
    if (fd < 0) {
        return fail("pidfd", "pidfd_open: " + errno_name(errno),
                    "Linux >= 5.3 is required (pidfds avoid pid-reuse races)");
    }
    UniqueFd owned(static_cast<int>(fd));
    return ok("pidfd", "pidfd_open works");
}

// A zero-sized clone_args is refused with EINVAL before anything is cloned, so the call tells
// whether clone3 exists (ENOSYS otherwise, or EPERM under a container's seccomp filter) without
// ever creating a process.
CheckResult check_clone3() {
    const long rc = ::syscall(SYS_clone3, nullptr, 0);
    const int err = errno;
    if (rc >= 0) {
        return fail("clone3", "clone3 with no arguments unexpectedly succeeded",
                    "report this kernel");
    }
    if (err == EINVAL || err == E2BIG || err == EFAULT) {
        return ok("clone3", "available");
    }
    return fail("clone3", "clone3: " + errno_name(err),
                err == ENOSYS ? "Linux >= 5.3 is required"
                              : "a seccomp filter (container runtime?) blocks clone3");
}

CheckResult check_landlock() {
    const long abi =
        ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 0) {
        const int err = errno;
        return warn("landlock",
                    err == EOPNOTSUPP ? "built in but disabled at boot" : errno_name(err),
                    "optional: enable with lsm=...,landlock on the kernel command line");
    }
    return ok("landlock", "ABI version " + std::to_string(abi));
}

std::vector<CheckResult> check_profiles(const fs::path& dir) {
    std::error_code ec;
    const std::vector<fs::path> files = profile_files(dir, ec);
    if (ec) {
        return {fail("profiles", "cannot read " + dir.string() + ": " + ec.message(),
                     "pass --profiles-dir DIR")};
    }
    if (files.empty()) {
        return {fail("profiles", "no *.json profile in " + dir.string(),
                     "install profiles there or pass --profiles-dir DIR")};
    }
    std::vector<CheckResult> results;
    std::vector<std::string> valid;
    for (const auto& file : files) {
        const std::string name = file.stem().string();
        try {
            load_profile(file.string(), dir);
            valid.push_back(name);
        } catch (const std::exception& e) {
            results.push_back(
                fail("profile " + name, e.what(), "fix the profile (docs/profiles.md)"));
        }
    }
    const std::string detail = std::to_string(valid.size()) + " of " +
                               std::to_string(files.size()) + " valid in " + dir.string() +
                               (valid.empty() ? "" : ": " + join(valid));
    results.insert(results.begin(), valid.size() == files.size()
                                        ? ok("profiles", detail)
                                        : fail("profiles", detail, "see the lines below"));
    return results;
}

CheckResult check_socket(const fs::path& socket) {
    try {
        auto client = Client::connect(socket);
        const auto hello = client.hello("ccjailctl check", 1, std::chrono::milliseconds(5000));
        return ok("socket", socket.string() + ": " + hello.daemon + ", protocol " +
                                std::to_string(hello.version) + ", role " + hello.role);
    } catch (const ConnectionError& e) {
        std::string hint = "is ccjaild running? (sudo ccjaild --socket " + socket.string() + ")";
        if (e.err() == EACCES) {
            hint = "add your user to the group of the socket (default: ccjail)";
        } else if (e.err() == ENOENT) {
            hint = "no socket there: start ccjaild, or pass --socket / set CCJAIL_SOCKET";
        }
        return fail("socket", e.what(), hint);
    } catch (const ClientError& e) {
        return fail("socket", socket.string() + ": " + e.code_name() + ": " + e.what(),
                    e.code() == protocol::ErrorCode::forbidden
                        ? "the daemon does not allow your uid/groups (client_groups)"
                        : "the daemon refused hello");
    }
}

std::vector<CheckResult> run_doctor(const DoctorOptions& options) {
    std::vector<CheckResult> results;
    const auto append = [&results](std::vector<CheckResult> more) {
        results.insert(results.end(), std::make_move_iterator(more.begin()),
                       std::make_move_iterator(more.end()));
    };
    results.push_back(check_namespaces(options.proc));
    results.push_back(check_user_namespaces(options.proc));
    append(check_cgroups(options.proc, options.cgroup_root));
    results.push_back(check_seccomp(options.proc));
    results.push_back(check_pidfd());
    results.push_back(check_clone3());
    results.push_back(check_landlock());
    append(check_profiles(options.profiles_dir));
    if (options.socket) {
        results.push_back(check_socket(*options.socket));
    }
    return results;
}

}  // namespace ccjail::client
