#pragma once

#include <linux/filter.h>

#include <filesystem>
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

// compile_seccomp with an on-disk cache: libseccomp's BPF generation is the largest CPU cost of
// a spawn (about 2 ms), and a profile's program never changes. Entries live in `cache_dir`
// (created 0700), one file per policy, keyed by the policy, the libseccomp version and this
// binary's identity; an entry is used only if it is a regular file owned by us with mode 0600.
// Failing to write the cache is not an error.
SeccompProgram compile_seccomp_cached(const SeccompPolicy& policy,
                                      const std::filesystem::path& cache_dir);
// Where compile_seccomp_cached keeps the program of `policy` (for tests).
std::filesystem::path seccomp_cache_file(const SeccompPolicy& policy,
                                         const std::filesystem::path& cache_dir);

// Installs the program on the calling thread (needs no_new_privs or CAP_SYS_ADMIN); throws
// JailError(Step::seccomp_load). Async-signal-safe apart from the throw.
void load_seccomp(const SeccompProgram& program);

// The syscall names the default policy refuses outright (argument filters not included), for
// docs and tests.
std::vector<std::string> default_denied_syscalls();

}  // namespace ccjail
