#pragma once

#include <sys/types.h>

#include "jail/spec.hpp"

namespace ccjail {

// The steps that turn a root process inside the new namespaces into the jailed program (DESIGN
// §3 steps 3–9). Each throws JailError naming its step.

void set_hostname(const std::string& hostname);
// Brings up `lo`, the only interface of a fresh network namespace.
void bring_up_loopback();
// setsid(): a new session with no controlling terminal, so the jail cannot reach the caller's.
void enter_new_session();
void apply_rlimits(const Limits& limits);
// Securebits, bounding and ambient sets, setgroups/setresgid/setresuid, then the permitted,
// effective and inheritable sets cleared; verified afterwards.
void become_unprivileged(uid_t uid, gid_t gid);
void set_no_new_privs();
// Restores default dispositions and an empty signal mask (both survive execve).
void reset_signals();
// Marks every fd above 2 close-on-exec, so the channel can still report an execve failure.
void close_inherited_fds();
// chdir to the spec's cwd, re-check a pinned executable, install seccomp and execve. Never
// returns normally.
[[noreturn]] void exec_program(const JailSpec& spec);

}  // namespace ccjail
