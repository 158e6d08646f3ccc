#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "profile/profile.hpp"

namespace ccjail {

// A compiled BPF program, built in the parent (where errors can still be reported cleanly and
// the result cached per profile) and installed by the jail right before execve.
struct SeccompProgram {
    std::vector<sock_filter> instructions;
};

// Builds the default policy of docs/security.md adjusted by the profile, with libseccomp;
// throws JailError(Step::seccomp_compile) for an unknown syscall name or a libseccomp failure.
SeccompProgram compile_seccomp(const SeccompPolicy& policy);

// Installs the program on the calling thread (needs no_new_privs or CAP_SYS_ADMIN); throws
// JailError(Step::seccomp_load). Async-signal-safe apart from the throw.
void load_seccomp(const SeccompProgram& program);

// The syscall names the default policy refuses outright (argument filters not included), for
// docs and tests.
std::vector<std::string> default_denied_syscalls();

}  // namespace ccjail
