#pragma once

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace ccjail::client {

// `ccjailctl check`: whether this host can run jails, whether the profiles load, whether the
// daemon answers. Each check is one line of output.
enum class CheckLevel { ok, warn, fail };
std::string_view to_string(CheckLevel level);

struct CheckResult {
    std::string name;
    CheckLevel level = CheckLevel::ok;
    std::string detail;
    std::string hint;  // what to do about a warn or fail; empty for ok
};

struct DoctorOptions {
    std::filesystem::path profiles_dir = "/etc/ccjail/profiles";
    std::optional<std::filesystem::path> socket;  // unset: no reachability check
    // Roots of the files read, so tests can point them at fixtures.
    std::filesystem::path proc = "/proc";
    std::filesystem::path cgroup_root = "/sys/fs/cgroup";
};

std::vector<CheckResult> run_doctor(const DoctorOptions& options);

// --- the parts that only read text, tested on their own ---

// How the cgroup file systems are mounted: v2 alone (unified), v1 alone (legacy), or v1 with a
// cgroup2 mount beside it (hybrid, the v2 side usually holding no controller).
enum class CgroupLayout { none, v1, hybrid, v2 };
std::string_view to_string(CgroupLayout layout);
CgroupLayout cgroup_layout_from_mountinfo(std::string_view mountinfo);

// The controllers of the v1 hierarchies in a mountinfo text ("cpu", "memory", ...).
std::set<std::string> v1_controllers_from_mountinfo(std::string_view mountinfo);

// The words of a cgroup.controllers or cgroup.subtree_control file.
std::set<std::string> parse_controller_list(std::string_view text);

// The `Seccomp:` field of /proc/<pid>/status: 0 none, 1 strict, 2 filter; nullopt when the
// field is absent (a kernel without CONFIG_SECCOMP).
std::optional<int> seccomp_mode_from_status(std::string_view status);

// This process's cgroup v2 path ("/user.slice/...") from the "0::" line of /proc/self/cgroup.
std::optional<std::string> v2_path_from_proc_cgroup(std::string_view text);

// Individual checks.
CheckResult check_namespaces(const std::filesystem::path& proc);
CheckResult check_user_namespaces(const std::filesystem::path& proc);
std::vector<CheckResult> check_cgroups(const std::filesystem::path& proc,
                                       const std::filesystem::path& cgroup_root);
CheckResult check_seccomp(const std::filesystem::path& proc);
CheckResult check_pidfd();
CheckResult check_clone3();
CheckResult check_landlock();
std::vector<CheckResult> check_profiles(const std::filesystem::path& dir);
CheckResult check_socket(const std::filesystem::path& socket);

}  // namespace ccjail::client
