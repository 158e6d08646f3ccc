#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "profile/profile.hpp"

// Private to the seccomp module: the policy as a flat list of rules, before it becomes BPF.
// Anything no rule matches gets the default action, ERRNO(EPERM).

namespace ccjail {

enum class RuleAction { allow, deny_eperm, deny_enosys };

// Matches when (args[arg] & mask) == value. A mask of 0xffffffff compares what the kernel reads
// of an int or unsigned int argument, so a caller cannot slip past it with high bits set.
struct ArgMatch {
    unsigned arg;
    std::uint64_t mask;
    std::uint64_t value;
};

struct SyscallRule {
    std::string name;  // for messages; "#<nr>" for unnamed numbers
    int nr;
    RuleAction action;
    std::optional<ArgMatch> when;  // unset: the whole syscall
};

// The default policy of docs/security.md adjusted by the profile; throws
// JailError(Step::seccomp_compile) for unknown or unallowable names. Several allow rules for one
// syscall mean "any of them"; deny_eperm rules with a condition are checked before everything
// else.
std::vector<SyscallRule> plan_seccomp_rules(const SeccompPolicy& policy);

}  // namespace ccjail
