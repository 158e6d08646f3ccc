// A hostile program for the Privilege class of the attack battery: each subcommand makes one
// system call a jailed program should not get to use, and prints one line, `RESULT <errno
// name>` (or `RESULT OK <detail>` when the call succeeded). Plain libc and raw syscalls only:
// the probe runs inside jails that hold nothing of the project.
#include <fcntl.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>

namespace {

int result_of(long rc) {
    if (rc < 0) {
        const char* name = strerrorname_np(errno);
        std::printf("RESULT %s\n", name != nullptr ? name : "E?");
    } else {
        std::printf("RESULT OK %ld\n", rc);
    }
    std::fflush(stdout);
    return 0;
}

// The kernel's -errno convention turned into libc's.
long from_raw(long rc) {
    if (rc < 0 && rc > -4096) {
        errno = static_cast<int>(-rc);
        return -1;
    }
    return rc;
}

// A raw x86_64 `syscall` with the number as given, so that the x32 bit reaches the kernel.
long raw_syscall(long number, long a1 = 0, long a2 = 0, long a3 = 0) {
    long rc;
    asm volatile("syscall"
                 : "=a"(rc)
                 : "a"(number), "D"(a1), "S"(a2), "d"(a3)
                 : "rcx", "r11", "memory");
    return from_raw(rc);
}

// The i386 entry point from a 64-bit process: `int $0x80` with eax = 20 (getpid there).
long int80_getpid() {
    long rc;
    asm volatile("int $0x80" : "=a"(rc) : "a"(20L) : "memory");
    return from_raw(rc);
}

long personality_of(const char* what) {
    if (std::strcmp(what, "query") == 0) {
        return ::personality(0xffffffff);
    }
    if (std::strcmp(what, "linux32") == 0) {
        return ::personality(PER_LINUX32);
    }
    if (std::strcmp(what, "read-implies-exec") == 0) {
        return ::personality(READ_IMPLIES_EXEC);
    }
    if (std::strcmp(what, "no-aslr") == 0) {
        return ::personality(ADDR_NO_RANDOMIZE);
    }
    errno = EINVAL;
    return -1;
}

// clone with a namespace flag: a child that gets through exits at once.
long clone_with(unsigned long flags) {
    const long pid = ::syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        ::_exit(0);
    }
    if (pid > 0) {
        ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
    }
    return pid;
}

long ioctl_tiocsti(bool high_bits) {
    // The kernel reads the request as 32 bits; a filter that compares all 64 misses this one.
    const unsigned long request = TIOCSTI | (high_bits ? (1UL << 32) : 0UL);
    const char c = '#';
    return ::syscall(SYS_ioctl, 0, request, &c);
}

long ioctl_tioclinux() {
    char subcode = 6;  // TIOCL_GETSHIFTSTATE: harmless where it is allowed
    return ::syscall(SYS_ioctl, 0, TIOCLINUX, &subcode);
}

long perf_open() {
    struct perf_event_attr attr {};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    return ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
}

long io_uring_setup() {
    unsigned char params[120] = {};
    return ::syscall(SYS_io_uring_setup, 1, params);
}

long bpf_map_create() {
    // BPF_MAP_CREATE of an array map: the simplest command that needs nothing else.
    std::uint32_t attr[16] = {2, 4, 4, 1};
    return ::syscall(SYS_bpf, 0, attr, sizeof attr);
}

long clone3_plain() {
    // A size the kernel refuses (EINVAL) if the call is allowed at all: nothing is created.
    struct clone_args args {};
    return ::syscall(SYS_clone3, &args, 1);
}

long setns_mount() {
    const int fd = ::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    return ::syscall(SYS_setns, fd, CLONE_NEWNS);
}

long process_vm_read(pid_t pid) {
    char local[16];
    struct iovec mine {
        local, sizeof local
    };
    struct iovec theirs {
        reinterpret_cast<void*>(0x400000), sizeof local
    };
    return ::syscall(SYS_process_vm_readv, pid, &mine, 1, &theirs, 1, 0);
}

long oom_score_adj(const char* value) {
    const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    const long rc = ::write(fd, value, std::strlen(value));
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return rc;
}

// kill(-1) reaches every process the caller may signal, except itself and its pid 1.
long kill_everything() {
    const long rc = ::kill(-1, SIGKILL);
    const int saved = errno;
    ::usleep(200 * 1000);
    errno = saved;
    return rc;
}

int usage() {
    std::fprintf(stderr, "usage: privilege_probe <attack> [argument]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        return usage();
    }
    const std::string attack = argv[1];
    const char* arg = argc > 2 ? argv[2] : "";
    const pid_t target = argc > 2 ? static_cast<pid_t>(std::atol(arg)) : 1;
    const std::map<std::string, std::function<long()>> attacks = {
        {"int80", [] { return int80_getpid(); }},
        {"x32", [] { return raw_syscall(0x40000000L | SYS_getpid); }},
        {"x32-unshare", [] { return raw_syscall(0x40000000L | SYS_unshare, CLONE_NEWUSER); }},
        {"tiocsti", [] { return ioctl_tiocsti(false); }},
        {"tiocsti-high", [] { return ioctl_tiocsti(true); }},
        {"tioclinux", [] { return ioctl_tioclinux(); }},
        {"io_uring_setup", [] { return io_uring_setup(); }},
        {"bpf", [] { return bpf_map_create(); }},
        {"userfaultfd", [] { return ::syscall(SYS_userfaultfd, O_CLOEXEC); }},
        {"perf_event_open", [] { return perf_open(); }},
        {"add_key",
         [] { return ::syscall(SYS_add_key, "user", "secb", "x", 1, KEY_SPEC_SESSION_KEYRING); }},
        {"request_key", [] { return ::syscall(SYS_request_key, "user", "secb", nullptr, 0); }},
        {"keyctl",
         [] { return ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1); }},
        {"clone3", [] { return clone3_plain(); }},
        {"clone-newuser", [] { return clone_with(CLONE_NEWUSER); }},
        // clone reads its flags as 32 bits: bits above must not hide a namespace flag.
        {"clone-newuser-high", [] { return clone_with(CLONE_NEWUSER | (1UL << 32)); }},
        {"clone-newns", [] { return clone_with(CLONE_NEWNS); }},
        {"clone-newpid", [] { return clone_with(CLONE_NEWPID); }},
        {"unshare-user", [] { return ::syscall(SYS_unshare, CLONE_NEWUSER); }},
        {"unshare-mount", [] { return ::syscall(SYS_unshare, CLONE_NEWNS); }},
        {"unshare-net", [] { return ::syscall(SYS_unshare, CLONE_NEWNET); }},
        {"setns", [] { return setns_mount(); }},
        {"mount", [] { return ::syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); }},
        {"umount", [] { return ::syscall(SYS_umount2, "/proc", MNT_DETACH); }},
        {"pivot_root", [] { return ::syscall(SYS_pivot_root, ".", "."); }},
        {"chroot", [] { return ::syscall(SYS_chroot, "/tmp"); }},
        {"open_tree", [] { return ::syscall(SYS_open_tree, AT_FDCWD, "/", 1 /* CLONE */); }},
        {"fsopen", [] { return ::syscall(SYS_fsopen, "tmpfs", 0); }},
        {"fspick", [] { return ::syscall(SYS_fspick, AT_FDCWD, "/tmp", 0); }},
        {"move_mount",
         [] { return ::syscall(SYS_move_mount, AT_FDCWD, "/tmp", AT_FDCWD, "/workspace", 0); }},
        {"mount_setattr",
         [] { return ::syscall(SYS_mount_setattr, AT_FDCWD, "/usr", 0, nullptr, 0); }},
        {"personality", [arg] { return personality_of(arg); }},
        {"ptrace-attach", [target] { return ::ptrace(PTRACE_ATTACH, target, nullptr, nullptr); }},
        {"ptrace-seize", [target] { return ::ptrace(PTRACE_SEIZE, target, nullptr, nullptr); }},
        {"ptrace-traceme", [] { return ::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr); }},
        {"process_vm_readv", [target] { return process_vm_read(target); }},
        {"kill0", [target] { return ::kill(target, 0); }},
        {"kill9", [target] { return ::kill(target, SIGKILL); }},
        {"kill-all", [] { return kill_everything(); }},
        {"oom_score_adj", [arg] { return oom_score_adj(arg); }},
    };
    const auto it = attacks.find(attack);
    if (it == attacks.end()) {
        return usage();
    }
    errno = 0;
    return result_of(it->second());
}
