#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "seccomp/seccomp_policy.hpp"
#include "seccomp/seccomp_prologue.hpp"
#include "seccomp/seccomp_rules.hpp"
#include "seccomp/syscall_tables.hpp"

namespace ccjail {
namespace {

struct ContextRelease {
    void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Context = std::unique_ptr<void, ContextRelease>;

// libseccomp reports failures as negative errno values.
void check(int rc, const std::string& what) {
    if (rc < 0) {
        throw JailError(Step::seccomp_compile, -rc, "seccomp: " + what + ": " + std::strerror(-rc));
    }
}

Context make_context() {
    Context ctx(seccomp_init(SCMP_ACT_ERRNO(EPERM)));
    if (!ctx) {
        throw JailError(Step::seccomp_compile, ENOMEM, "seccomp: seccomp_init failed");
    }
    // Only the native architecture is in the filter, so i386 (int $0x80) and x32 (syscall numbers
    // with bit 30 set, which share AUDIT_ARCH_X86_64) reach the bad-arch action. No legitimate
    // program in the jail uses them, and their syscall tables are where filters were bypassed
    // before: kill the whole process rather than let it probe a second ABI.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
          "setting the bad-arch action");
    // A binary search over syscall numbers instead of a linear scan of ~300 comparisons.
    check(seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2), "setting the optimizer");
    return ctx;
}

std::uint32_t libseccomp_action(RuleAction action) {
    switch (action) {
        case RuleAction::allow:
            return SCMP_ACT_ALLOW;
        case RuleAction::deny_eperm:
            return SCMP_ACT_ERRNO(EPERM);
        case RuleAction::deny_enosys:
            return SCMP_ACT_ERRNO(ENOSYS);
    }
    return SCMP_ACT_ERRNO(EPERM);
}

void add_rule(scmp_filter_ctx ctx, const SyscallRule& rule) {
    const std::uint32_t action = libseccomp_action(rule.action);
    int rc = 0;
    if (rule.when) {
        const scmp_arg_cmp cmp{rule.when->arg, SCMP_CMP_MASKED_EQ, rule.when->mask,
                               rule.when->value};
        rc = seccomp_rule_add_exact_array(ctx, action, rule.nr, 1, &cmp);
    } else {
        rc = seccomp_rule_add_exact_array(ctx, action, rule.nr, 0, nullptr);
    }
    check(rc, "adding the rule for " + rule.name);
}

bool goes_to_prologue(const SyscallRule& rule) {
    return rule.action == RuleAction::deny_eperm && rule.when.has_value();
}

std::vector<sock_filter> export_bpf(scmp_filter_ctx ctx) {
    // libseccomp 2.5 can only export to a file descriptor.
    UniqueFd fd(memfd_create("ccjail-seccomp", MFD_CLOEXEC));
    if (!fd) {
        throw_errno(Step::seccomp_compile, "seccomp: memfd_create");
    }
    check(seccomp_export_bpf(ctx, fd.get()), "exporting the BPF program");
    const off_t size = lseek(fd.get(), 0, SEEK_END);
    if (size < 0 || lseek(fd.get(), 0, SEEK_SET) != 0) {
        throw_errno(Step::seccomp_compile, "seccomp: seeking the exported program");
    }
    if (size == 0 || size % sizeof(sock_filter) != 0) {
        throw JailError(Step::seccomp_compile, EINVAL,
                        "seccomp: exported program has odd size " + std::to_string(size));
    }
    std::vector<sock_filter> program(static_cast<std::size_t>(size) / sizeof(sock_filter));
    auto* out = reinterpret_cast<char*>(program.data());
    std::size_t done = 0;
    while (done < static_cast<std::size_t>(size)) {
        const ssize_t n = read(fd.get(), out + done, static_cast<std::size_t>(size) - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw_errno(Step::seccomp_compile, "seccomp: reading the exported program");
        }
        done += static_cast<std::size_t>(n);
    }
    return program;
}

}  // namespace

SeccompProgram compile_seccomp(const SeccompPolicy& policy) {
    const std::vector<SyscallRule> rules = plan_seccomp_rules(policy);
    Context ctx = make_context();
    std::vector<SyscallRule> prologue_rules;
    for (const auto& rule : rules) {
        if (goes_to_prologue(rule)) {
            prologue_rules.push_back(rule);
        } else if (rule.action != RuleAction::deny_eperm) {  // EPERM is the default already
            add_rule(ctx.get(), rule);
        }
    }
    SeccompProgram program{conditional_deny_prologue(prologue_rules)};
    const std::vector<sock_filter> body = export_bpf(ctx.get());
    program.instructions.insert(program.instructions.end(), body.begin(), body.end());
    if (program.instructions.size() > BPF_MAXINSNS) {
        throw JailError(Step::seccomp_compile, E2BIG,
                        "seccomp: program has " + std::to_string(program.instructions.size()) +
                            " instructions, more than the kernel accepts");
    }
    return program;
}

std::vector<std::string> default_denied_syscalls() {
    std::vector<std::string> names;
    for (const auto& denied : seccomp_tables::default_denied()) {
        names.emplace_back(denied.name);
    }
    return names;
}

}  // namespace ccjail
