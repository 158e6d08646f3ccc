#include "seccomp/seccomp_prologue.hpp"

#include <linux/audit.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <cstddef>
#include <string>

#include "common/error.hpp"

namespace ccjail {
namespace {

constexpr std::uint32_t kNativeArch = AUDIT_ARCH_X86_64;

constexpr std::uint32_t offset_of_nr() {
    return offsetof(seccomp_data, nr);
}
constexpr std::uint32_t offset_of_arch() {
    return offsetof(seccomp_data, arch);
}

// x86_64 is little-endian: the low word of a 64-bit argument comes first.
std::uint32_t offset_of_low_word(unsigned arg) {
    return static_cast<std::uint32_t>(offsetof(seccomp_data, args) + arg * sizeof(__u64));
}

sock_filter load_word(std::uint32_t offset) {
    return BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offset);
}

sock_filter jump_if_equal(std::uint32_t value, std::size_t if_true, std::size_t if_false) {
    return BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, value, static_cast<__u8>(if_true),
                    static_cast<__u8>(if_false));
}

void check_supported(const SyscallRule& rule) {
    if (!rule.when || rule.when->mask > 0xffffffffu || rule.when->value > 0xffffffffu ||
        (rule.when->value & ~rule.when->mask) != 0 || rule.when->arg > 5) {
        throw JailError(
            Step::seccomp_compile, EINVAL,
            "seccomp: the rule for " + rule.name + " is not a 32-bit argument comparison");
    }
}

bool needs_mask(const SyscallRule& rule) {
    return rule.when->mask != 0xffffffffu;
}

// [load nr] [nr?] [load argument] ([and mask]) [value? deny]
std::size_t block_size(const SyscallRule& rule) {
    return needs_mask(rule) ? 5 : 4;
}

}  // namespace

std::vector<sock_filter> conditional_deny_prologue(std::span<const SyscallRule> rules) {
    if (rules.empty()) {
        return {};
    }
    // Layout: [arch check: 2] [one block per rule] [jump over the deny] [deny] | libseccomp
    std::size_t blocks = 0;
    for (const auto& rule : rules) {
        check_supported(rule);
        blocks += block_size(rule);
    }
    const std::size_t deny_at = 2 + blocks + 1;
    const std::size_t pass_at = deny_at + 1;
    if (pass_at > 255) {
        throw JailError(Step::seccomp_compile, E2BIG, "seccomp: too many argument deny rules");
    }

    std::vector<sock_filter> program;
    program.push_back(load_word(offset_of_arch()));
    program.push_back(jump_if_equal(kNativeArch, 0, pass_at - 2));
    for (const auto& rule : rules) {
        // BPF jump offsets count from the instruction after the jump.
        program.push_back(load_word(offset_of_nr()));
        program.push_back(
            jump_if_equal(static_cast<std::uint32_t>(rule.nr), 0, block_size(rule) - 2));
        program.push_back(load_word(offset_of_low_word(rule.when->arg)));
        if (needs_mask(rule)) {
            program.push_back(
                BPF_STMT(BPF_ALU | BPF_AND | BPF_K, static_cast<std::uint32_t>(rule.when->mask)));
        }
        const std::size_t value_check_at = program.size();
        program.push_back(jump_if_equal(static_cast<std::uint32_t>(rule.when->value),
                                        deny_at - (value_check_at + 1), 0));
    }
    program.push_back(BPF_STMT(BPF_JMP | BPF_JA | BPF_K, 1));
    program.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)));
    return program;
}

}  // namespace ccjail
