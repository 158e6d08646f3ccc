#pragma once

#include <cerrno>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ccjail {

// The closed set of steps a jail build goes through. A setup failure names exactly one of them;
// docs/architecture.md and docs/protocol.md list the same names.
enum class Step {
    profile,          // loading or validating the profile
    request,          // argv / env / user label of the request
    workspace,        // resolving and opening the workspace below the workspace root
    home,             // creating the per-user home
    identity_map,     // allocating the uid for a user label
    secrets,          // reading secret files
    executable,       // finding the executable, verifying its sha256
    cgroup,           // creating the cgroup and writing its limits
    seccomp_compile,  // building the BPF program
    clone,            // creating the namespaces and the jail's init
    cgroup_attach,    // placing the jail in its cgroup (v1)
    mount_private,    // making the inherited mount tree private
    mount_root,       // the new root tmpfs
    mount_bind,       // read-only and read-write binds (workspace, home included)
    mount_tmpfs,      // tmpfs mounts from the profile
    mount_proc,       // fresh /proc with masked and read-only paths
    mount_dev,        // minimal /dev, devpts, /dev/shm
    write_file,       // synthesized files (/etc/passwd, ...)
    symlink,          // symlinks in the new root
    pivot_root,       // switching to the new root and detaching the old one
    hostname,         // sethostname in the new UTS namespace
    network,          // bringing up lo in the new network namespace
    session,          // setsid
    terminal,         // the pty in the jail's devpts, controlling terminal of the program
    rlimits,          // setrlimit
    identity,         // setgroups / setresgid / setresuid
    capabilities,     // clearing every capability set, securebits
    no_new_privs,     // PR_SET_NO_NEW_PRIVS
    environment,      // building the environment
    close_fds,        // closing every fd but the declared ones
    seccomp_load,     // installing the filter
    exec,             // execve
    supervise,        // the monitor waiting for the session
};

std::string_view to_string(Step step);
std::optional<Step> step_from_string(std::string_view name);

// An error raised while building or running a jail: the step, the errno (0 when none applies)
// and a message for humans.
class JailError : public std::runtime_error {
  public:
    JailError(Step step, int err, const std::string& message);
    Step step() const { return step_; }
    int err() const { return err_; }

  private:
    Step step_;
    int err_;
};

// Throws JailError(step, errno, what) – for call sites right after a failed system call.
[[noreturn]] void throw_errno(Step step, const std::string& what);

}  // namespace ccjail
