#include "seccomp/seccomp_rules.hpp"

#include <linux/sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <set>
#include <string_view>

#include "common/error.hpp"
#include "seccomp/syscall_tables.hpp"

namespace ccjail {
namespace {

constexpr std::uint64_t kLow32 = 0xffffffffu;

// CLONE_NEWTIME is left out on purpose: in clone() its bit (0x80) belongs to the exit signal;
// the time namespace is only reachable through clone3 and unshare, which are denied outright.
constexpr std::uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
                                          CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
                                          CLONE_NEWCGROUP;

constexpr std::uint64_t kPersonalityLinux = 0;
constexpr std::uint64_t kPersonalityQuery = 0xffffffffu;

// Both inject input into a terminal: TIOCSTI fakes keystrokes into whatever reads the tty after
// the jail, TIOCLINUX can paste the console selection.
constexpr auto kTerminalInjection = std::to_array<std::uint64_t>({TIOCSTI, TIOCLINUX});

// Calls that set a file's mode, and which argument holds it. A set-id bit on a file in the
// workspace or home is harmless inside the jail (nosuid, no_new_privs), but those directories
// are the host's: a setuid file left there lets anyone on the host who reaches it run as the
// jail's uid. open and openat read the mode only with O_CREAT or O_TMPFILE, and libc passes 0
// otherwise. openat2 keeps its mode in a struct a filter cannot read: it fails with ENOSYS,
// and libc never uses it.
struct ModeArgument {
    std::string_view call;
    unsigned arg;
};
constexpr auto kModeSetting = std::to_array<ModeArgument>({{"chmod", 1},
                                                           {"fchmod", 1},
                                                           {"fchmodat", 2},
                                                           {"fchmodat2", 2},
                                                           {"creat", 1},
                                                           {"open", 2},
                                                           {"openat", 3},
                                                           {"mknod", 1},
                                                           {"mknodat", 2}});
constexpr auto kSetIdBits = std::to_array<std::uint64_t>({S_ISUID, S_ISGID});

// Granted by allow_ptrace: process_vm_* pass the same kernel access check as PTRACE_ATTACH and so
// add nothing ptrace cannot already do. kcmp and pidfd_getfd stay denied unless named.
constexpr auto kPtraceFamily =
    std::to_array<std::string_view>({"ptrace", "process_vm_readv", "process_vm_writev"});

// Messages start from a std::string, not a literal: GCC 12 at -O3 reports a false -Wrestrict
// overlap for `"literal" + std::string` (GCC bug 105329), and -Werror makes that fatal.
[[noreturn]] void refuse(const std::string& message) {
    throw JailError(Step::seccomp_compile, 0, "seccomp: " + message);
}

int require_number(const std::string& name, std::string_view list) {
    const auto nr = seccomp_tables::syscall_number(name);
    if (!nr) {
        refuse(std::string("unknown syscall \"") + name + "\" in /seccomp/" + std::string(list));
    }
    return *nr;
}

void check_allowable(const std::string& name) {
    if (name == "personality") {
        return;
    }
    if (seccomp_tables::is_argument_filtered(name)) {
        std::string hint = name == "socket" || name == "socketpair"
                               ? " (AF_NETLINK: use /seccomp/allow_netlink)"
                               : "";
        refuse(std::string("\"") + name +
               "\" in /seccomp/allow is filtered by its arguments and cannot be " +
               "allowed outright" + hint);
    }
    const auto* denied = seccomp_tables::find_default_denied(name);
    if (denied != nullptr && !denied->profile_may_allow) {
        refuse(std::string("\"") + name + "\" in /seccomp/allow can never be allowed: it " +
               std::string(denied->why));
    }
}

struct Adjustments {
    std::set<std::string> allow;
    std::set<std::string> deny;
    bool allow_netlink = false;
};

Adjustments validate(const SeccompPolicy& policy) {
    Adjustments adj;
    adj.allow_netlink = policy.allow_netlink;
    for (const auto& name : policy.deny) {
        require_number(name, "deny");
        adj.deny.insert(name);
    }
    for (const auto& name : policy.allow) {
        require_number(name, "allow");
        if (adj.deny.contains(name)) {
            refuse(std::string("\"") + name + "\" is in both /seccomp/allow and /seccomp/deny");
        }
        check_allowable(name);
        adj.allow.insert(name);
    }
    if (policy.allow_ptrace) {
        for (auto name : kPtraceFamily) {
            if (!adj.deny.contains(std::string(name))) {
                adj.allow.emplace(name);
            }
        }
    }
    return adj;
}

class RulePlan {
  public:
    explicit RulePlan(Adjustments adj) : adj_(std::move(adj)) {}

    std::vector<SyscallRule> build() && {
        for (auto name : seccomp_tables::unconditionally_allowed()) {
            allow(std::string(name));
        }
        for (const auto& name : adj_.allow) {
            allow(name);
        }
        add_clone();
        add_sockets();
        add_personality();
        add_ioctl();
        add_set_id_mode_guards();
        add("clone3", RuleAction::deny_enosys);  // even when denied: EPERM would break libc
        add_unreviewed();
        return std::move(rules_);
    }

  private:
    bool denied(const std::string& name) const { return adj_.deny.contains(name); }

    void add(const std::string& name, RuleAction action, std::optional<ArgMatch> when = {}) {
        const auto nr = seccomp_tables::syscall_number(name);
        if (!nr) {
            refuse(std::string("the built-in policy names \"") + name +
                   "\", which is no syscall here");
        }
        rules_.push_back({name, *nr, action, when});
    }

    void allow(const std::string& name) {
        if (denied(name) || seccomp_tables::is_argument_filtered(name)) {
            return;
        }
        if (allowed_.insert(name).second) {
            add(name, RuleAction::allow);
        }
    }

    void add_clone() {
        if (!denied("clone")) {
            add("clone", RuleAction::allow, ArgMatch{0, kNamespaceFlags, 0});
        }
    }

    void add_sockets() {
        std::vector<std::uint64_t> families{AF_UNIX, AF_INET, AF_INET6};
        if (adj_.allow_netlink) {
            families.push_back(AF_NETLINK);
        }
        for (const std::string name : {"socket", "socketpair"}) {
            if (denied(name)) {
                continue;
            }
            for (auto family : families) {
                add(name, RuleAction::allow, ArgMatch{0, kLow32, family});
            }
        }
    }

    void add_personality() {
        if (denied("personality")) {
            return;
        }
        if (adj_.allow.contains("personality")) {
            add("personality", RuleAction::allow);
            return;
        }
        for (auto persona : {kPersonalityLinux, kPersonalityQuery}) {
            add("personality", RuleAction::allow, ArgMatch{0, kLow32, persona});
        }
    }

    void add_ioctl() {
        for (auto request : kTerminalInjection) {
            add("ioctl", RuleAction::deny_eperm, ArgMatch{1, kLow32, request});
        }
        if (!denied("ioctl")) {
            add("ioctl", RuleAction::allow);
        }
    }

    void add_set_id_mode_guards() {
        for (const auto& [call, arg] : kModeSetting) {
            const std::string name(call);
            if (denied(name) || !allowed_.contains(name)) {
                continue;
            }
            for (auto bit : kSetIdBits) {
                add(name, RuleAction::deny_eperm, ArgMatch{arg, bit, bit});
            }
        }
        if (!allowed_.contains("openat2") && !denied("openat2")) {
            add("openat2", RuleAction::deny_enosys);
        }
    }

    void add_unreviewed() {
        std::set<int> ruled;
        for (const auto& rule : rules_) {
            ruled.insert(rule.nr);
        }
        for (const auto& name : adj_.deny) {
            ruled.insert(*seccomp_tables::syscall_number(name));  // validated already
        }
        for (int nr = seccomp_tables::kUnreviewedBegin; nr < seccomp_tables::kUnreviewedEnd; ++nr) {
            if (!ruled.contains(nr)) {
                rules_.push_back(
                    {std::string("#").append(std::to_string(nr)), nr, RuleAction::deny_enosys, {}});
            }
        }
    }

    Adjustments adj_;
    std::set<std::string> allowed_;
    std::vector<SyscallRule> rules_;
};

}  // namespace

std::vector<SyscallRule> plan_seccomp_rules(const SeccompPolicy& policy) {
    return RulePlan(validate(policy)).build();
}

}  // namespace ccjail
