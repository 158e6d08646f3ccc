// Installs the compiled filter in a forked child (no_new_privs makes that possible without
// root) and checks what the syscalls return there. Arguments are chosen so that each call is
// harmless and fails with a known non-EPERM error when it is NOT filtered; the Unfiltered tests
// prove that, so every EPERM/ENOSYS below is the filter's doing.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "seccomp/seccomp_policy.hpp"

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

extern char** environ;

namespace ccjail {
namespace {

constexpr long kX32SyscallBit = 0x40000000;
constexpr long kI386Getpid = 20;
constexpr unsigned long kHighBit = 1ul << 32;

using Results = std::map<std::string, long>;
using Body = std::function<Results()>;

struct Outcome {
    int wait_status = 0;
    Results results;
};

// errno of a failed call, 0 for success.
long err(long rc) {
    return rc < 0 ? errno : 0;
}

void write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = write(fd, data.data() + done, data.size() - done);
        if (n <= 0) {
            _exit(112);
        }
        done += static_cast<std::size_t>(n);
    }
}

// Runs body in a forked child, under the program when one is given; the child reports
// "name=value" lines through a pipe. The test binary is single-threaded, so fork is safe.
Outcome run_child(const std::optional<SeccompProgram>& program, const Body& body) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        ADD_FAILURE() << "pipe2 failed";
        return {};
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    const pid_t pid = fork();
    if (pid == 0) {
        read_end.reset();
        if (program) {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
                _exit(110);
            }
            try {
                load_seccomp(*program);
            } catch (...) {
                _exit(111);
            }
        }
        std::string report;
        for (const auto& [name, value] : body()) {
            report += name + "=" + std::to_string(value) + "\n";
        }
        write_all(write_end.get(), report);
        _exit(0);
    }
    write_end.reset();
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = read(read_end.get(), buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    Outcome outcome;
    waitpid(pid, &outcome.wait_status, 0);
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t eol = text.find('\n', pos);
        const std::string line = text.substr(pos, eol - pos);
        const std::size_t eq = line.find('=');
        outcome.results[line.substr(0, eq)] = std::stol(line.substr(eq + 1));
        pos = eol + 1;
    }
    return outcome;
}

Outcome run_filtered(const SeccompPolicy& policy, const Body& body) {
    return run_child(compile_seccomp(policy), body);
}

bool exited_cleanly(const Outcome& o) {
    return WIFEXITED(o.wait_status) && WEXITSTATUS(o.wait_status) == 0;
}

bool killed_by_sigsys(const Outcome& o) {
    return WIFSIGNALED(o.wait_status) && WTERMSIG(o.wait_status) == SIGSYS;
}

// One byte from pid -1: ESRCH when allowed (an empty iovec would return 0 before any check).
long process_vm_readv_errno() {
    char byte = 0;
    iovec local{&byte, 1};
    iovec remote{&byte, 1};
    return err(syscall(SYS_process_vm_readv, -1, &local, 1, &remote, 1, 0));
}

long socket_errno(long family) {
    const long fd = syscall(SYS_socket, family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        close(static_cast<int>(fd));
        return 0;
    }
    return errno;
}

long netlink_errno(unsigned long high_bits) {
    const long fd = syscall(SYS_socket, AF_NETLINK | high_bits, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        close(static_cast<int>(fd));
        return 0;
    }
    return errno;
}

// The calls whose outcome the policy decides, each harmless whether filtered or not.
Results policy_decided_calls() {
    Results r;
    r["unshare"] = err(syscall(SYS_unshare, CLONE_NEWUSER | CLONE_PTRACE));  // EINVAL if allowed
    r["setns"] = err(syscall(SYS_setns, -1, 0));                             // EBADF if allowed
    r["clone_newns"] = err(syscall(SYS_clone, CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0));  // EINVAL
    r["clone_newuser"] = err(syscall(SYS_clone, CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0));
    r["clone3"] = err(syscall(SYS_clone3, nullptr, 0));            // EINVAL if allowed
    r["tiocsti"] = err(syscall(SYS_ioctl, -1, TIOCSTI, nullptr));  // EBADF if allowed
    r["tiocsti_high"] = err(syscall(SYS_ioctl, -1, TIOCSTI | kHighBit, nullptr));
    r["tioclinux"] = err(syscall(SYS_ioctl, -1, TIOCLINUX, nullptr));
    r["netlink"] = netlink_errno(0);
    r["personality_linux32"] = err(syscall(SYS_personality, PER_LINUX32));
    return r;
}

TEST(SeccompFilterUnfiltered, PolicyDecidedCallsSucceedOrFailDifferently) {
    const Outcome o = run_child(std::nullopt, policy_decided_calls);
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("unshare"), EINVAL);
    EXPECT_EQ(o.results.at("setns"), EBADF);
    EXPECT_EQ(o.results.at("clone_newns"), EINVAL);
    EXPECT_EQ(o.results.at("clone_newuser"), EINVAL);
    EXPECT_EQ(o.results.at("clone3"), EINVAL);
    EXPECT_EQ(o.results.at("tiocsti"), EBADF);
    EXPECT_EQ(o.results.at("tiocsti_high"), EBADF);
    EXPECT_EQ(o.results.at("tioclinux"), EBADF);
    EXPECT_EQ(o.results.at("netlink"), 0);
    EXPECT_EQ(o.results.at("personality_linux32"), 0);
}

TEST(SeccompFilter, PolicyDecidedCallsAreRefused) {
    const Outcome o = run_filtered(SeccompPolicy{}, policy_decided_calls);
    ASSERT_TRUE(exited_cleanly(o)) << o.wait_status;
    EXPECT_EQ(o.results.at("unshare"), EPERM);
    EXPECT_EQ(o.results.at("setns"), EPERM);
    EXPECT_EQ(o.results.at("clone_newns"), EPERM);
    EXPECT_EQ(o.results.at("clone_newuser"), EPERM);
    EXPECT_EQ(o.results.at("clone3"), ENOSYS);
    EXPECT_EQ(o.results.at("tiocsti"), EPERM);
    EXPECT_EQ(o.results.at("tiocsti_high"), EPERM);
    EXPECT_EQ(o.results.at("tioclinux"), EPERM);
    EXPECT_EQ(o.results.at("netlink"), EPERM);
    EXPECT_EQ(o.results.at("personality_linux32"), EPERM);
}

TEST(SeccompFilter, NamespacesAndMountsAreRefused) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        Results r;
        r["unshare_user"] = err(unshare(CLONE_NEWUSER));
        r["unshare_ns"] = err(unshare(CLONE_NEWNS));
        r["mount"] = err(mount("none", "/nonexistent-ccjail", "tmpfs", 0, nullptr));
        r["umount2"] = err(umount2("/nonexistent-ccjail", 0));
        r["pivot_root"] = err(syscall(SYS_pivot_root, "/nonexistent-a", "/nonexistent-b"));
        r["chroot"] = err(chroot("/nonexistent-ccjail"));
        r["open_tree"] = err(syscall(SYS_open_tree, -1, "", 0));
        r["fsopen"] = err(syscall(SYS_fsopen, nullptr, 0));
        r["open_by_handle_at"] = err(syscall(SYS_open_by_handle_at, -1, nullptr, 0));
        return r;
    });
    ASSERT_TRUE(exited_cleanly(o));
    for (const auto& [name, value] : o.results) {
        EXPECT_EQ(value, EPERM) << name;
    }
}

TEST(SeccompFilter, KernelAttackSurfaceIsRefused) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        Results r;
        r["keyctl"] = err(syscall(SYS_keyctl, -1, 0, 0, 0, 0));
        r["add_key"] = err(syscall(SYS_add_key, nullptr, nullptr, nullptr, 0, 0));
        r["request_key"] = err(syscall(SYS_request_key, nullptr, nullptr, nullptr, 0));
        r["bpf"] = err(syscall(SYS_bpf, -1, nullptr, 0));
        r["io_uring_setup"] = err(syscall(SYS_io_uring_setup, 0, nullptr));
        r["userfaultfd"] = err(syscall(SYS_userfaultfd, ~0u));
        r["perf_event_open"] = err(syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0));
        r["ptrace"] = err(syscall(SYS_ptrace, PTRACE_PEEKDATA, -1, 0, 0));
        r["process_vm_readv"] = process_vm_readv_errno();
        r["kcmp"] = err(syscall(SYS_kcmp, -1, -1, 0, 0, 0));
        r["pidfd_getfd"] = err(syscall(SYS_pidfd_getfd, -1, -1, 0));
        r["finit_module"] = err(syscall(SYS_finit_module, -1, "", 0));
        r["kexec_load"] = err(syscall(SYS_kexec_load, 0, 0, nullptr, ~0ul));
        r["iopl"] = err(syscall(SYS_iopl, 99));
        r["syslog"] = err(syscall(SYS_syslog, -1, nullptr, 0));
        r["reboot"] = err(syscall(SYS_reboot, 0, 0, 0, nullptr));  // bad magic: EINVAL if allowed
        r["clock_settime"] = err(syscall(SYS_clock_settime, -1, nullptr));
        // not in the allowlist
        r["name_to_handle_at"] =
            err(syscall(SYS_name_to_handle_at, -1, nullptr, nullptr, nullptr, 0));
        return r;
    });
    ASSERT_TRUE(exited_cleanly(o));
    for (const auto& [name, value] : o.results) {
        EXPECT_EQ(value, EPERM) << name;
    }
}

TEST(SeccompFilter, SocketFamilies) {
    const Body families = [] {
        Results r;
        r["unix"] = socket_errno(AF_UNIX);
        r["inet"] = socket_errno(AF_INET);
        r["inet6"] = socket_errno(AF_INET6);
        r["netlink"] = netlink_errno(0);
        r["netlink_high"] = netlink_errno(kHighBit);
        r["vsock"] = socket_errno(AF_VSOCK);
        r["alg"] = err(syscall(SYS_socket, AF_ALG, SOCK_SEQPACKET, 0));
        r["packet"] = socket_errno(AF_PACKET);
        int pair[2];
        r["socketpair_unix"] = err(socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
        r["socketpair_alg"] = err(socketpair(AF_ALG, SOCK_SEQPACKET, 0, pair));
        return r;
    };
    const Outcome def = run_filtered(SeccompPolicy{}, families);
    ASSERT_TRUE(exited_cleanly(def));
    EXPECT_EQ(def.results.at("unix"), 0);
    EXPECT_NE(def.results.at("inet"), EPERM);  // may be EAFNOSUPPORT on an IPv4-less kernel
    EXPECT_NE(def.results.at("inet6"), EPERM);
    EXPECT_EQ(def.results.at("netlink"), EPERM);
    EXPECT_EQ(def.results.at("netlink_high"), EPERM);
    EXPECT_EQ(def.results.at("vsock"), EPERM);
    EXPECT_EQ(def.results.at("alg"), EPERM);
    EXPECT_EQ(def.results.at("packet"), EPERM);
    EXPECT_EQ(def.results.at("socketpair_unix"), 0);
    EXPECT_EQ(def.results.at("socketpair_alg"), EPERM);

    SeccompPolicy netlink;
    netlink.allow_netlink = true;
    const Outcome nl = run_filtered(netlink, families);
    ASSERT_TRUE(exited_cleanly(nl));
    EXPECT_EQ(nl.results.at("netlink"), 0);
    EXPECT_EQ(nl.results.at("vsock"), EPERM);
    EXPECT_EQ(nl.results.at("alg"), EPERM);
}

TEST(SeccompFilter, PersonalityOnlyQueriesAndLinux) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        Results r;
        r["query"] = err(personality(0xffffffff));
        r["linux"] = err(personality(PER_LINUX));
        r["linux32"] = err(personality(PER_LINUX32));
        r["no_randomize"] = err(personality(static_cast<unsigned long>(ADDR_NO_RANDOMIZE)));
        return r;
    });
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("query"), 0);
    EXPECT_EQ(o.results.at("linux"), 0);
    EXPECT_EQ(o.results.at("linux32"), EPERM);
    EXPECT_EQ(o.results.at("no_randomize"), EPERM);
}

TEST(SeccompFilter, OrdinaryIoctlsStillWork) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        Results r;
        int p[2];
        if (pipe(p) != 0 || write(p[1], "abc", 3) != 3) {
            _exit(120);
        }
        int pending = -1;
        r["fionread"] = err(ioctl(p[0], FIONREAD, &pending));
        r["pending"] = pending;
        r["tcgets_badfd"] = err(syscall(SYS_ioctl, -1, TCGETS, nullptr));
        return r;
    });
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("fionread"), 0);
    EXPECT_EQ(o.results.at("pending"), 3);
    EXPECT_EQ(o.results.at("tcgets_badfd"), EBADF);
}

void* thread_main(void* arg) {
    *static_cast<long*>(arg) = syscall(SYS_gettid);
    return nullptr;
}

TEST(SeccompFilter, OrdinaryWorkRuns) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        Results r;
        r["getpid"] = getpid() > 0 ? 0 : 1;
        void* page =
            mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        r["mmap"] = page == MAP_FAILED ? errno : 0;
        struct utsname uts;
        r["uname"] = err(uname(&uts));

        // glibc tries clone3 first and falls back to clone on ENOSYS.
        pthread_t thread;
        long tid = 0;
        r["pthread_create"] = pthread_create(&thread, nullptr, thread_main, &tid);
        if (r["pthread_create"] == 0) {
            pthread_join(thread, nullptr);
        }
        r["thread_ran"] = tid > 0 ? 0 : 1;

        const pid_t child = fork();
        if (child == 0) {
            execl("/bin/true", "true", nullptr);
            _exit(127);
        }
        int status = -1;
        waitpid(child, &status, 0);
        r["fork_exec_status"] = status;

        pid_t spawned = -1;
        char* argv[] = {const_cast<char*>("true"), nullptr};
        r["posix_spawn"] = posix_spawn(&spawned, "/bin/true", nullptr, nullptr, argv, environ);
        status = -1;
        if (spawned > 0) {
            waitpid(spawned, &status, 0);
        }
        r["posix_spawn_status"] = status;
        return r;
    });
    ASSERT_TRUE(exited_cleanly(o)) << o.wait_status;
    for (const auto& [name, value] : o.results) {
        EXPECT_EQ(value, 0) << name;
    }
}

TEST(SeccompFilter, ProfileDenyAddsEperm) {
    SeccompPolicy policy;
    policy.deny = {"uname"};
    const Outcome o = run_filtered(policy, [] {
        struct utsname uts;
        return Results{{"uname", err(uname(&uts))}, {"getpid", err(getpid())}};
    });
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("uname"), EPERM);
    EXPECT_EQ(o.results.at("getpid"), 0);
}

Results ptrace_family_calls() {
    Results r;
    r["ptrace"] = err(syscall(SYS_ptrace, PTRACE_PEEKDATA, -1, 0, 0));  // ESRCH when allowed
    r["process_vm_readv"] = process_vm_readv_errno();
    r["kcmp"] = err(syscall(SYS_kcmp, -1, -1, 0, 0, 0));
    return r;
}

TEST(SeccompFilter, AllowPtraceFlagUnlocksPtraceButNotKcmp) {
    SeccompPolicy policy;
    policy.allow_ptrace = true;
    const Outcome o = run_filtered(policy, ptrace_family_calls);
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("ptrace"), ESRCH);
    EXPECT_EQ(o.results.at("process_vm_readv"), ESRCH);
    EXPECT_EQ(o.results.at("kcmp"), EPERM);
}

TEST(SeccompFilter, AllowListUnlocksANamedSyscall) {
    SeccompPolicy policy;
    policy.allow = {"ptrace"};
    const Outcome o = run_filtered(policy, ptrace_family_calls);
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("ptrace"), ESRCH);
    EXPECT_EQ(o.results.at("process_vm_readv"), EPERM);
}

TEST(SeccompFilter, SyscallsNewerThanTheReviewGetEnosys) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        return Results{{"statmount", err(syscall(457, nullptr, nullptr, 0, 0))},
                       {"future", err(syscall(500, 0, 0, 0))},
                       {"cachestat", err(syscall(451, -1, nullptr, nullptr, 0))}};
    });
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("statmount"), ENOSYS);
    EXPECT_EQ(o.results.at("future"), ENOSYS);
    EXPECT_EQ(o.results.at("cachestat"), EPERM);  // reviewed and left out
}

TEST(SeccompFilter, X32SyscallKillsTheProcess) {
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        return Results{{"x32_getpid", err(syscall(SYS_getpid | kX32SyscallBit))}};
    });
    EXPECT_TRUE(killed_by_sigsys(o)) << o.wait_status;
    EXPECT_TRUE(o.results.empty());
}

long int80_getpid() {
    long ret = kI386Getpid;
    asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

TEST(SeccompFilter, I386EntryKillsTheProcess) {
    const Outcome plain = run_child(std::nullopt, [] {
        return Results{{"matches", int80_getpid() == getpid() ? 0 : 1}};
    });
    if (!exited_cleanly(plain) || plain.results.at("matches") != 0) {
        GTEST_SKIP() << "the kernel has no i386 emulation (int $0x80 fails unfiltered)";
    }
    const Outcome o = run_filtered(SeccompPolicy{}, [] {
        return Results{{"int80_getpid", int80_getpid()}};
    });
    EXPECT_TRUE(killed_by_sigsys(o)) << o.wait_status;
    EXPECT_TRUE(o.results.empty());
}

TEST(SeccompFilter, LoadRejectsAnEmptyProgram) {
    const Outcome o = run_child(std::nullopt, [] {
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        try {
            load_seccomp(SeccompProgram{});
        } catch (const JailError& e) {
            return Results{{"step_ok", e.step() == Step::seccomp_load ? 0 : 1}, {"err", e.err()}};
        }
        return Results{{"step_ok", 2}};
    });
    ASSERT_TRUE(exited_cleanly(o));
    EXPECT_EQ(o.results.at("step_ok"), 0);
    EXPECT_EQ(o.results.at("err"), EINVAL);
}

}  // namespace
}  // namespace ccjail
