#pragma once

#include <optional>
#include <span>
#include <string_view>

// Private to the seccomp module: the reviewed syscall lists behind docs/security.md.

namespace ccjail::seccomp_tables {

// Allowed without looking at arguments: what bash, coreutils, git, python, node and the native
// Claude Code binary use (Docker's default profile is the anchor, minus what docs/security.md
// denies).
std::span<const std::string_view> unconditionally_allowed();

// Allowed only with argument checks (clone, socket, socketpair, personality, ioctl); a profile
// can deny them but never allow them outright.
bool is_argument_filtered(std::string_view name);

struct DeniedSyscall {
    std::string_view name;
    std::string_view why;
    // False for host-escape primitives and host-global state: no profile may allow these.
    bool profile_may_allow;
};

// The syscalls the default policy names as refused (EPERM, except clone3: ENOSYS).
std::span<const DeniedSyscall> default_denied();

const DeniedSyscall* find_default_denied(std::string_view name);

// The native (x86_64) number of a syscall name, also for syscalls newer than the installed
// libseccomp; nullopt when the name is no syscall on this architecture.
std::optional<int> syscall_number(std::string_view name);

// Syscall numbers from here up to kUnreviewedEnd that no rule names get ENOSYS instead of
// EPERM: they are newer than this review, and libc only falls back to an older syscall on
// ENOSYS (Docker's EPERM for faccessat2 broke distributions that way in 2021).
inline constexpr int kUnreviewedBegin = 457;
inline constexpr int kUnreviewedEnd = 512;  // 512 and up are the x32 compat numbers

}  // namespace ccjail::seccomp_tables
