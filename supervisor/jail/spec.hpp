#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "common/unique_fd.hpp"
#include "profile/profile.hpp"
#include "seccomp/seccomp_policy.hpp"

namespace ccjail {

// Where the host keeps what jails use. Admin configuration, never taken from a request.
struct HostConfig {
    std::filesystem::path workspace_root = "/var/lib/ccjail/workspaces";
    std::filesystem::path homes_root = "/var/lib/ccjail/homes";
    std::filesystem::path state_dir = "/var/lib/ccjail";  // uids.json, sha256-cache.json
    CgroupOptions cgroup;
};

// A pty for the program instead of the caller's stdio.
struct TerminalRequest {
    bool pty = false;
    unsigned short rows = 24;
    unsigned short cols = 80;
};

// What a caller asks for. Untrusted: every field is checked against the profile.
struct JailRequest {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;  // names must be in the profile's environment.pass
    // Below HostConfig::workspace_root. Empty: the user's own <workspace_root>/<label>, created
    // on first use (0700, owned by the jail's uid).
    std::filesystem::path workspace;
    std::optional<std::string> cwd;  // relative to the workspace
    std::string user_label = "default";
    TerminalRequest terminal;
};

// One jail, fully resolved and checked: the jail side only carries it out.
struct JailSpec {
    std::string id;
    Profile profile;
    std::string executable;  // absolute jail path, or a bare name looked up in the jail's PATH
    std::vector<std::string> argv;
    std::vector<std::string> env;  // "NAME=value"
    uid_t uid = 0;
    gid_t gid = 0;
    std::string user_label;
    std::string cwd;  // absolute jail path
    TerminalRequest terminal;
    // Detached clones (open_tree) of the workspace and home, made on the host.
    UniqueFd workspace;
    UniqueFd home;  // empty when the profile has no home
    // The pinned executable's identity: the jail re-checks it right before execve.
    std::optional<std::pair<dev_t, ino_t>> pinned_executable;
    SeccompProgram seccomp;
    CgroupLimits cgroup_limits;
};

// Checks `request` against `profile` and prepares the host-side resources (workspace fd, home,
// uid, secrets, sha256, seccomp program). Throws JailError naming the step and the field.
JailSpec resolve_spec(const Profile& profile, const JailRequest& request, const HostConfig& host);

// Request checks, public for the unit tests. Each throws JailError(Step::request, 0, msg).
std::vector<std::string> checked_argv(const CommandPolicy& policy,
                                      const std::vector<std::string>& request_argv);
// The program's working directory in the jail: the workspace, or `cwd` below it (relative, no
// "..", no control characters).
std::string jail_cwd(const FilesystemPolicy& fs, const std::optional<std::string>& cwd);
std::vector<std::string> built_environment(const Profile& profile,
                                           const std::map<std::string, std::string>& request_env,
                                           const std::map<std::string, std::string>& secrets);

// A fresh random jail id: 16 lowercase hex digits.
std::string new_jail_id();

}  // namespace ccjail
