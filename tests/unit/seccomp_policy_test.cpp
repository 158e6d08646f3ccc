#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include <algorithm>
#include <cstddef>
#include <string>

#include "common/error.hpp"
#include "seccomp/seccomp_policy.hpp"
#include "seccomp/seccomp_prologue.hpp"
#include "seccomp/seccomp_rules.hpp"
#include "seccomp/syscall_tables.hpp"

namespace ccjail {
namespace {

using ::testing::HasSubstr;

JailError compile_error(const SeccompPolicy& policy) {
    try {
        compile_seccomp(policy);
    } catch (const JailError& e) {
        return e;
    }
    ADD_FAILURE() << "compile_seccomp accepted the policy";
    return JailError(Step::profile, 0, "");
}

TEST(SeccompPolicy, UnknownAllowedSyscallIsNamedInTheError) {
    SeccompPolicy policy;
    policy.allow = {"ptrace", "frobnicate"};
    const JailError e = compile_error(policy);
    EXPECT_EQ(e.step(), Step::seccomp_compile);
    EXPECT_EQ(e.err(), 0);
    EXPECT_THAT(e.what(), HasSubstr("unknown syscall \"frobnicate\" in /seccomp/allow"));
}

TEST(SeccompPolicy, UnknownDeniedSyscallIsNamedInTheError) {
    SeccompPolicy policy;
    policy.deny = {"uname", "no_such_call"};
    EXPECT_THAT(compile_error(policy).what(),
                HasSubstr("unknown syscall \"no_such_call\" in /seccomp/deny"));
}

TEST(SeccompPolicy, OtherAbisSyscallIsUnknownHere) {
    SeccompPolicy policy;
    policy.allow = {"socketcall"};  // i386 only; libseccomp gives it a negative pseudo number
    EXPECT_THAT(compile_error(policy).what(), HasSubstr("unknown syscall \"socketcall\""));
}

TEST(SeccompPolicy, HostEscapePrimitivesCannotBeAllowed) {
    for (const std::string name :
         {"mount", "unshare", "setns", "clone3", "pivot_root", "open_tree", "bpf", "kexec_load",
          "finit_module", "open_by_handle_at", "keyctl", "reboot", "iopl", "clock_settime"}) {
        SeccompPolicy policy;
        policy.allow = {name};
        const JailError e = compile_error(policy);
        EXPECT_EQ(e.step(), Step::seccomp_compile);
        EXPECT_THAT(e.what(), HasSubstr("\"" + name + "\" in /seccomp/allow can never be allowed"))
            << name;
    }
}

TEST(SeccompPolicy, ArgumentFilteredSyscallsCannotBeAllowedOutright) {
    SeccompPolicy policy;
    policy.allow = {"socket"};
    EXPECT_THAT(compile_error(policy).what(), HasSubstr("allow_netlink"));
    policy.allow = {"ioctl"};
    EXPECT_THAT(compile_error(policy).what(), HasSubstr("\"ioctl\" in /seccomp/allow is filtered"));
    policy.allow = {"clone"};
    EXPECT_THAT(compile_error(policy).what(), HasSubstr("\"clone\" in /seccomp/allow is filtered"));
}

TEST(SeccompPolicy, ContradictoryListsAreRefused) {
    SeccompPolicy policy;
    policy.allow = {"ptrace"};
    policy.deny = {"ptrace"};
    EXPECT_THAT(compile_error(policy).what(),
                HasSubstr("\"ptrace\" is in both /seccomp/allow and /seccomp/deny"));
}

TEST(SeccompPolicy, UnlockableSyscallsCompile) {
    SeccompPolicy policy;
    policy.allow = {"ptrace", "kcmp", "pidfd_getfd", "io_uring_setup", "personality", "modify_ldt"};
    policy.deny = {"uname", "clone3", "mount"};
    policy.allow_ptrace = true;
    policy.allow_netlink = true;
    EXPECT_FALSE(compile_seccomp(policy).instructions.empty());
}

TEST(SeccompPolicy, DefaultDeniedListCoversTheDocumentedPolicy) {
    const auto denied = default_denied_syscalls();
    for (const std::string name : {"unshare",
                                   "setns",
                                   "clone3",
                                   "mount",
                                   "umount2",
                                   "pivot_root",
                                   "chroot",
                                   "open_tree",
                                   "move_mount",
                                   "fsopen",
                                   "fsconfig",
                                   "fsmount",
                                   "fspick",
                                   "mount_setattr",
                                   "io_uring_setup",
                                   "io_uring_enter",
                                   "io_uring_register",
                                   "keyctl",
                                   "add_key",
                                   "request_key",
                                   "bpf",
                                   "userfaultfd",
                                   "perf_event_open",
                                   "kexec_load",
                                   "kexec_file_load",
                                   "init_module",
                                   "finit_module",
                                   "delete_module",
                                   "open_by_handle_at",
                                   "ptrace",
                                   "process_vm_readv",
                                   "process_vm_writev",
                                   "kcmp",
                                   "pidfd_getfd",
                                   "clock_settime",
                                   "settimeofday",
                                   "acct",
                                   "quotactl",
                                   "swapon",
                                   "swapoff",
                                   "reboot",
                                   "syslog",
                                   "iopl",
                                   "ioperm"}) {
        EXPECT_NE(std::ranges::find(denied, name), denied.end()) << name;
    }
    for (const auto& name : denied) {
        EXPECT_TRUE(seccomp_tables::syscall_number(name).has_value()) << name;
    }
}

TEST(SeccompPolicy, DefaultPlanAllowsNothingFromTheDenyList) {
    const auto rules = plan_seccomp_rules(SeccompPolicy{});
    for (const auto& name : default_denied_syscalls()) {
        const int nr = *seccomp_tables::syscall_number(name);
        const bool allowed = std::ranges::any_of(rules, [&](const SyscallRule& r) {
            return r.nr == nr && r.action == RuleAction::allow;
        });
        EXPECT_FALSE(allowed) << name;
    }
}

TEST(SeccompPolicy, PtraceFlagAllowsOnlyThePtraceFamily) {
    SeccompPolicy policy;
    policy.allow_ptrace = true;
    const auto rules = plan_seccomp_rules(policy);
    auto allowed = [&](const std::string& name) {
        return std::ranges::any_of(rules, [&](const SyscallRule& r) {
            return r.name == name && r.action == RuleAction::allow;
        });
    };
    EXPECT_TRUE(allowed("ptrace"));
    EXPECT_TRUE(allowed("process_vm_readv"));
    EXPECT_FALSE(allowed("kcmp"));
    EXPECT_FALSE(allowed("pidfd_getfd"));
}

TEST(SeccompPolicy, TerminalInjectionDeniesCompareTheLowWordOnly) {
    const auto rules = plan_seccomp_rules(SeccompPolicy{});
    int ioctl_denies = 0;
    for (const auto& rule : rules) {
        if (rule.name == "ioctl" && rule.action == RuleAction::deny_eperm) {
            ASSERT_TRUE(rule.when.has_value());
            EXPECT_EQ(rule.when->arg, 1u);
            EXPECT_EQ(rule.when->mask, 0xffffffffu);
            ++ioctl_denies;
        }
    }
    EXPECT_EQ(ioctl_denies, 2);
}

// The prologue falls through into libseccomp's program with the accumulator holding an argument
// word; that is only sound while libseccomp starts by loading the architecture itself.
TEST(SeccompPolicy, LibseccompProgramReloadsTheArchitectureFirst) {
    const auto rules = plan_seccomp_rules(SeccompPolicy{});
    std::vector<SyscallRule> conditional_denies;
    std::ranges::copy_if(rules, std::back_inserter(conditional_denies), [](const auto& r) {
        return r.action == RuleAction::deny_eperm && r.when.has_value();
    });
    const std::size_t prologue = conditional_deny_prologue(conditional_denies).size();
    const auto program = compile_seccomp(SeccompPolicy{}).instructions;
    ASSERT_GT(program.size(), prologue);
    EXPECT_LE(program.size(), static_cast<std::size_t>(BPF_MAXINSNS));
    EXPECT_EQ(program[0].code, BPF_LD | BPF_W | BPF_ABS);
    EXPECT_EQ(program[0].k, offsetof(seccomp_data, arch));
    EXPECT_EQ(program[prologue].code, BPF_LD | BPF_W | BPF_ABS);
    EXPECT_EQ(program[prologue].k, offsetof(seccomp_data, arch));
}

TEST(SeccompPolicy, PrologueRefusesWideComparisons) {
    const SyscallRule wide{"ioctl", 16, RuleAction::deny_eperm, ArgMatch{1, ~0ull, 0x5412}};
    EXPECT_THROW(conditional_deny_prologue(std::vector{wide}), JailError);
}

}  // namespace
}  // namespace ccjail
