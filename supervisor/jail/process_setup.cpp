#include "jail/process_setup.hpp"

#include <cap-ng.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/securebits.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {
namespace {

void set_limit(int resource, rlim_t soft, rlim_t hard, const char* name) {
    const struct rlimit limit = {soft, hard};
    if (::setrlimit(resource, &limit) != 0) {
        throw_errno(Step::rlimits, std::string("setrlimit ") + name);
    }
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    pointers.reserve(strings.size() + 1);
    for (const auto& s : strings) {
        pointers.push_back(const_cast<char*>(s.c_str()));
    }
    pointers.push_back(nullptr);
    return pointers;
}

std::string path_of(const std::vector<std::string>& env) {
    for (const auto& entry : env) {
        if (entry.rfind("PATH=", 0) == 0) {
            return entry.substr(5);
        }
    }
    return "/usr/bin:/bin";
}

// execvpe() searches the caller's PATH, not the one in envp, so the jail's own PATH is walked
// here; like execvp, EACCES from an earlier entry wins over a later ENOENT.
[[noreturn]] void exec_in_path(const std::string& name, char* const argv[], char* const envp[],
                               const std::string& search_path) {
    int saved = ENOENT;
    std::size_t start = 0;
    while (start <= search_path.size()) {
        const std::size_t end = std::min(search_path.find(':', start), search_path.size());
        const std::string dir = search_path.substr(start, end - start);
        start = end + 1;
        if (dir.empty() || dir.front() != '/') {
            continue;
        }
        const std::string candidate = dir + "/" + name;
        ::execve(candidate.c_str(), argv, envp);
        if (errno != ENOENT && errno != ENOTDIR) {
            saved = errno;
        }
    }
    errno = saved;
    throw_errno(Step::exec, "cannot execute " + name + " (searched PATH=" + search_path + ")");
}

void check_pinned_executable(const JailSpec& spec) {
    struct stat st {};
    if (::stat(spec.executable.c_str(), &st) != 0) {
        throw_errno(Step::executable, "cannot stat " + spec.executable);
    }
    // The hash was checked on the host; the bind shows the same inode, so an inode that differs
    // means the file was replaced since.
    if (st.st_dev != spec.pinned_executable->first || st.st_ino != spec.pinned_executable->second) {
        throw JailError(Step::executable, 0,
                        spec.executable + " changed after its sha256 was verified");
    }
}

}  // namespace

void set_hostname(const std::string& hostname) {
    if (::sethostname(hostname.data(), hostname.size()) != 0) {
        throw_errno(Step::hostname, "sethostname " + hostname);
    }
}

void bring_up_loopback() {
    UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!sock) {
        throw_errno(Step::network, "socket");
    }
    struct ifreq request {};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    if (::ioctl(sock.get(), SIOCGIFFLAGS, &request) != 0) {
        throw_errno(Step::network, "SIOCGIFFLAGS lo");
    }
    request.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (::ioctl(sock.get(), SIOCSIFFLAGS, &request) != 0) {
        throw_errno(Step::network, "SIOCSIFFLAGS lo");
    }
}

void enter_new_session() {
    if (::setsid() < 0) {
        throw_errno(Step::session, "setsid");
    }
}

void apply_rlimits(const Limits& limits) {
    set_limit(RLIMIT_NOFILE, limits.nofile, limits.nofile, "NOFILE");
    set_limit(RLIMIT_CORE, 0, 0, "CORE");
    set_limit(RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes, "FSIZE");
    // Per process, a backstop to the monitor's session-wide CPU budget: SIGXCPU at the limit,
    // SIGKILL a second later.
    const rlim_t cpu_seconds = (limits.cpu_time_ms + 999) / 1000;
    set_limit(RLIMIT_CPU, cpu_seconds, cpu_seconds + 1, "CPU");
}

void become_unprivileged(uid_t uid, gid_t gid) {
    if (uid == 0 || gid == 0) {
        throw JailError(Step::identity, EPERM, "refusing to run a jail as root");
    }
    // Locked securebits outlive every later exec: no capabilities for uid 0 from setuid-root
    // binaries, none kept across setuid, no ambient raise.
    const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                               SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                               SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (::prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) {
        throw_errno(Step::capabilities, "PR_SET_SECUREBITS");
    }
    // The bounding set can only be lowered while CAP_SETPCAP is still effective.
    capng_clear(CAPNG_SELECT_ALL);
    if (capng_apply(CAPNG_SELECT_BOUNDS) != 0) {
        throw JailError(Step::capabilities, errno, "cannot clear the bounding set");
    }
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) {
        throw_errno(Step::capabilities, "cannot clear the ambient set");
    }
    if (::setgroups(0, nullptr) != 0) {
        throw_errno(Step::identity, "setgroups");
    }
    if (::setresgid(gid, gid, gid) != 0) {
        throw_errno(Step::identity, "setresgid " + std::to_string(gid));
    }
    if (::setresuid(uid, uid, uid) != 0) {
        throw_errno(Step::identity, "setresuid " + std::to_string(uid));
    }
    // Leaving uid 0 empties permitted and effective; inheritable survives and is cleared here.
    capng_clear(CAPNG_SELECT_CAPS);
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
        throw JailError(Step::capabilities, errno, "cannot clear the capability sets");
    }
    capng_get_caps_process();
    if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
        throw JailError(Step::capabilities, 0, "capabilities remain after dropping them");
    }
    uid_t r, e, s;
    if (::getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid) {
        throw JailError(Step::identity, 0, "uid did not change");
    }
}

void set_no_new_privs() {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        throw_errno(Step::no_new_privs, "PR_SET_NO_NEW_PRIVS");
    }
}

void reset_signals() {
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig != SIGKILL && sig != SIGSTOP) {
            // Fails with EINVAL for the signals glibc reserves for itself: nothing to reset there.
            static_cast<void>(::signal(sig, SIG_DFL));
        }
    }
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
}

void close_inherited_fds() {
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
        throw_errno(Step::close_fds, "close_range");
    }
}

void exec_program(const JailSpec& spec) {
    if (::chdir(spec.cwd.c_str()) != 0) {
        throw_errno(Step::exec, "cannot enter " + spec.cwd);
    }
    if (spec.pinned_executable) {
        check_pinned_executable(spec);
    }
    auto argv = c_strings(spec.argv);
    auto envp = c_strings(spec.env);
    const std::string search_path = path_of(spec.env);
    load_seccomp(spec.seccomp);
    if (spec.executable.find('/') != std::string::npos) {
        ::execve(spec.executable.c_str(), argv.data(), envp.data());
        throw_errno(Step::exec, "cannot execute " + spec.executable);
    }
    exec_in_path(spec.executable, argv.data(), envp.data(), search_path);
}

}  // namespace ccjail
