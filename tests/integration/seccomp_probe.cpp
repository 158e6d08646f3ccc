// seccomp_probe: run inside a jail, calls every syscall the seccomp policy decides on and prints
// one JSON object, {"name": value, ...}, on stdout. Plain libc, no project code: it is linked
// statically and copied into jails.
//
// Values:
//   0         the call succeeded (only for calls expected to be allowed, e.g. socket_unix)
//   EPERM (1) refused: by the filter, or by the kernel's own capability check (a jailed process
//             has no capabilities, so for mount-like calls both say the same: denied)
//   ENOSYS (38) refused: clone3 (so that libc falls back to clone), syscalls newer than the
//             reviewed list, and x32 on kernels built without it
//   other > 0 the call reached the kernel and failed on its deliberately bad arguments (EFAULT,
//             EBADF, EINVAL, ESRCH, ...): the filter ALLOWED it
//   < 0       minus the signal that killed a forked child making the call (-31 = SIGSYS: the
//             filter's bad-architecture action, for the i386 and x32 entry points)
//
// Every call is harmless where it is not filtered, even as root: bad pointers, fd -1, pid -1,
// unknown flags or magic numbers make the kernel reject it before it could act. Never change an
// argument to a valid one.

#include <errno.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#ifndef AF_ALG
#define AF_ALG 38
#endif

namespace {

// An address no process maps: the kernel fails the copy with EFAULT before acting.
void* const kBadPointer = reinterpret_cast<void*>(8);
constexpr long kX32SyscallBit = 0x40000000;
constexpr long kI386Getpid = 20;
constexpr unsigned long kHighWord = 1ul << 32;
constexpr unsigned long kUnknownFlag = 0x80000000ul;

long result(long rc) {
    return rc < 0 ? errno : 0;
}

long sys(long nr, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0, long f = 0) {
    return result(syscall(nr, a, b, c, d, e, f));
}

long bad() {
    return reinterpret_cast<long>(kBadPointer);
}

long socket_result(unsigned long family, int type) {
    const long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    close(static_cast<int>(fd));
    return 0;
}

long process_vm(long nr) {
    char byte = 0;
    iovec local{&byte, 1};
    iovec remote{&byte, 1};
    return sys(nr, -1, reinterpret_cast<long>(&local), 1, reinterpret_cast<long>(&remote), 1, 0);
}

long personality_linux32() {
    const int before = personality(0xffffffff);
    const long rc = result(syscall(SYS_personality, PER_LINUX32));
    if (rc == 0) {
        personality(static_cast<unsigned long>(before));
    }
    return rc;
}

long int80_getpid() {
    long ret = kI386Getpid;
    asm volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
    return ret;
}

// For the entry points whose filter action kills the process: run the call in a child.
long in_child(long (*call)()) {
    const pid_t pid = fork();
    if (pid < 0) {
        return errno;
    }
    if (pid == 0) {
        _exit(static_cast<int>(call() & 0xff));
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) {
        return errno;
    }
    return WIFSIGNALED(status) ? -WTERMSIG(status) : WEXITSTATUS(status);
}

long x32_getpid_child() {
    return result(syscall(SYS_getpid | kX32SyscallBit));
}

long i386_getpid_child() {
    const long ret = int80_getpid();
    if (ret == getpid()) {
        return 0;
    }
    return ret < 0 ? -ret : 255;
}

struct Probe {
    const char* name;
    long (*call)();
};

const Probe kProbes[] = {
    // namespaces: invalid flag combinations, EINVAL when allowed
    {"unshare", [] { return sys(SYS_unshare, CLONE_NEWUSER | CLONE_PTRACE); }},
    {"setns", [] { return sys(SYS_setns, -1, 0); }},
    {"clone_newns", [] { return sys(SYS_clone, CLONE_NEWNS | CLONE_FS, 0, 0, 0, 0); }},
    {"clone_newuser", [] { return sys(SYS_clone, CLONE_NEWUSER | CLONE_FS, 0, 0, 0, 0); }},
    {"clone_newnet", [] { return sys(SYS_clone, CLONE_NEWNET | CLONE_THREAD, 0, 0, 0, 0); }},
    {"clone3", [] { return sys(SYS_clone3, 0, 0); }},
    // mount family
    {"mount", [] { return sys(SYS_mount, 0, bad(), 0, 0, 0); }},
    {"umount2", [] { return sys(SYS_umount2, bad(), 0x100); }},
    {"pivot_root", [] { return sys(SYS_pivot_root, bad(), bad()); }},
    {"chroot", [] { return sys(SYS_chroot, bad()); }},
    {"open_tree", [] { return sys(SYS_open_tree, -1, bad(), 0); }},
    {"move_mount", [] { return sys(SYS_move_mount, -1, bad(), -1, bad(), kUnknownFlag); }},
    {"fsopen", [] { return sys(SYS_fsopen, bad(), 0); }},
    {"fsconfig", [] { return sys(SYS_fsconfig, -1, 0, 0, 0, 0); }},
    {"fsmount", [] { return sys(SYS_fsmount, -1, 0, 0); }},
    {"fspick", [] { return sys(SYS_fspick, -1, bad(), 0); }},
    {"mount_setattr", [] { return sys(SYS_mount_setattr, -1, bad(), 0, 0, 0); }},
    // keyrings, bpf, io_uring, userfaultfd, perf
    {"keyctl", [] { return sys(SYS_keyctl, 0x7fffffff, 0, 0, 0, 0); }},
    {"add_key", [] { return sys(SYS_add_key, bad(), bad(), 0, 0, 0); }},
    {"request_key", [] { return sys(SYS_request_key, bad(), bad(), 0, 0); }},
    {"bpf", [] { return sys(SYS_bpf, -1, 0, 0); }},
    {"io_uring_setup", [] { return sys(SYS_io_uring_setup, 0, bad()); }},
    {"io_uring_enter", [] { return sys(SYS_io_uring_enter, -1, 0, 0, 0, 0, 0); }},
    {"io_uring_register", [] { return sys(SYS_io_uring_register, -1, 0, 0, 0); }},
    {"userfaultfd", [] { return sys(SYS_userfaultfd, ~0l); }},
    {"perf_event_open", [] { return sys(SYS_perf_event_open, bad(), 0, -1, -1, 0); }},
    // other processes: pid -1 and fd -1 exist nowhere
    {"ptrace", [] { return sys(SYS_ptrace, PTRACE_PEEKDATA, -1, 0, 0); }},
    {"process_vm_readv", [] { return process_vm(SYS_process_vm_readv); }},
    {"process_vm_writev", [] { return process_vm(SYS_process_vm_writev); }},
    {"kcmp", [] { return sys(SYS_kcmp, -1, -1, 0, 0, 0); }},
    {"pidfd_getfd", [] { return sys(SYS_pidfd_getfd, -1, -1, 0); }},
    // kernel code and host state: flags, magic numbers or pointers the kernel rejects first
    {"kexec_load", [] { return sys(SYS_kexec_load, 0, 0, 0, ~0l); }},
    {"kexec_file_load", [] { return sys(SYS_kexec_file_load, -1, -1, 0, 0, ~0l); }},
    {"init_module", [] { return sys(SYS_init_module, bad(), 0, bad()); }},
    {"finit_module", [] { return sys(SYS_finit_module, -1, bad(), 0); }},
    {"delete_module", [] { return sys(SYS_delete_module, bad(), 0); }},
    {"open_by_handle_at", [] { return sys(SYS_open_by_handle_at, -1, bad(), 0); }},
    {"acct", [] { return sys(SYS_acct, bad()); }},
    {"quotactl", [] { return sys(SYS_quotactl, 0, bad(), 0, 0); }},
    {"swapon", [] { return sys(SYS_swapon, bad(), 0); }},
    {"swapoff", [] { return sys(SYS_swapoff, bad()); }},
    {"reboot", [] { return sys(SYS_reboot, 0, 0, 0, 0); }},  // wrong magic: EINVAL
    {"syslog", [] { return sys(SYS_syslog, -1, 0, 0); }},
    {"iopl", [] { return sys(SYS_iopl, 4); }},            // levels are 0..3
    {"ioperm", [] { return sys(SYS_ioperm, 0, 0, 0); }},  // an empty range
    {"clock_settime", [] { return sys(SYS_clock_settime, CLOCK_REALTIME, bad()); }},
    {"clock_adjtime", [] { return sys(SYS_clock_adjtime, CLOCK_REALTIME, bad()); }},
    {"settimeofday", [] { return sys(SYS_settimeofday, bad(), 0); }},
    {"adjtimex", [] { return sys(SYS_adjtimex, bad()); }},
    {"personality_linux32", personality_linux32},
    {"personality_query", [] { return result(personality(0xffffffff)); }},
    // socket families
    {"socket_unix", [] { return socket_result(AF_UNIX, SOCK_STREAM); }},
    {"socket_inet", [] { return socket_result(AF_INET, SOCK_STREAM); }},
    {"socket_inet6", [] { return socket_result(AF_INET6, SOCK_STREAM); }},
    {"socket_netlink", [] { return socket_result(AF_NETLINK, SOCK_RAW); }},
    {"socket_netlink_high", [] { return socket_result(AF_NETLINK | kHighWord, SOCK_RAW); }},
    {"socket_vsock", [] { return socket_result(AF_VSOCK, SOCK_STREAM); }},
    {"socket_alg", [] { return socket_result(AF_ALG, SOCK_SEQPACKET); }},
    {"socket_packet", [] { return socket_result(AF_PACKET, SOCK_STREAM); }},
    // terminal injection, on fd -1 so that nothing is ever typed anywhere
    {"ioctl_tiocsti", [] { return sys(SYS_ioctl, -1, TIOCSTI, bad()); }},
    {"ioctl_tiocsti_high", [] { return sys(SYS_ioctl, -1, TIOCSTI | kHighWord, bad()); }},
    {"ioctl_tioclinux", [] { return sys(SYS_ioctl, -1, TIOCLINUX, bad()); }},
    {"ioctl_tcgets", [] { return sys(SYS_ioctl, -1, TCGETS, bad()); }},  // allowed: EBADF
    // other ABIs
    {"x32_getpid", [] { return in_child(x32_getpid_child); }},
    {"i386_getpid", [] { return in_child(i386_getpid_child); }},
    // allowed controls
    {"getpid", [] { return result(getpid()); }},
    {"read", [] { return sys(SYS_read, -1, 0, 0); }},
    {"statx", [] { return sys(SYS_statx, -1, bad(), 0, 0, bad()); }},
};

}  // namespace

int main() {
    printf("{");
    bool first = true;
    for (const Probe& probe : kProbes) {
        const long value = probe.call();
        printf("%s\"%s\": %ld", first ? "" : ", ", probe.name, value);
        first = false;
    }
    printf("}\n");
    return 0;
}
