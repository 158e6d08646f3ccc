#pragma once

#include <linux/filter.h>

#include <span>
#include <vector>

#include "seccomp/seccomp_rules.hpp"

namespace ccjail {

// Hand-written BPF placed in front of libseccomp's program for the conditional deny_eperm rules.
// libseccomp refuses a rule whose action equals the default action (EACCES), so "EPERM for
// these ioctl requests, ALLOW for the rest of ioctl" cannot be said to it. The prologue returns
// ERRNO(EPERM) when a rule matches and otherwise falls through into libseccomp's program, which
// loads everything it needs itself. Only 32-bit comparisons are supported, whole (mask
// 0xffffffff) or masked: they read the low word of the argument, exactly what the kernel reads
// of an int or mode_t argument.
std::vector<sock_filter> conditional_deny_prologue(std::span<const SyscallRule> rules);

}  // namespace ccjail
