// The Leaks class of the attack battery (docs/security.md, "The attack battery"): a hostile
// program looks for what is not its own — the host's processes, another session's secrets and
// files, descriptors of the supervisor, the supervisor's socket, host network services, channels
// to another session, the kernel's log and addresses. Two-session cases run two user labels (two
// uids) at once through the same daemon, as a shared host would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <random>
#include <sstream>

#include "common/unique_fd.hpp"
#include "security_harness.hpp"

namespace ccjail::sectest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A value no file or process of the host holds by chance.
std::string random_token(const std::string& prefix) {
    std::random_device random;
    std::ostringstream text;
    text << prefix << std::hex << random() << random();
    return text.str();
}

// A unique name per test process, for abstract sockets and IPC objects.
std::string unique_name(const std::string& what) {
    return "ccjail-battery-" + what + "-" + std::to_string(::getpid());
}

sockaddr_un abstract_address(const std::string& name, socklen_t& length) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    name.copy(address.sun_path + 1, sizeof address.sun_path - 2);
    length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return address;
}

// A listener of the host (the test's own namespaces) on an abstract name.
UniqueFd host_abstract_listener(const std::string& name) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    socklen_t length = 0;
    const auto address = abstract_address(name, length);
    if (!fd || ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0 ||
        ::listen(fd.get(), 16) != 0) {
        ADD_FAILURE() << "host abstract listener: " << std::strerror(errno);
        return UniqueFd();
    }
    return fd;
}

// errno of a connect from the host to an abstract name, 0 when it connected.
int host_abstract_connect(const std::string& name) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    socklen_t length = 0;
    const auto address = abstract_address(name, length);
    return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) == 0 ? 0
                                                                                         : errno;
}

// True when a nonblocking listener has a connection waiting: someone reached it.
bool was_reached(const UniqueFd& listener) {
    UniqueFd peer(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return static_cast<bool>(peer);
}

// A TCP listener on the host's 127.0.0.1 at a free port.
UniqueFd host_loopback_listener(int& port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd.get(), 16) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ADD_FAILURE() << "host loopback listener: " << std::strerror(errno);
        return UniqueFd();
    }
    port = ntohs(address.sin_port);
    return fd;
}

// /proc shows only the jail's processes: no host pid, no host command line.
TEST_F(Leaks, HostProcShowsOnlyTheJailsProcessesAndNoHostCommandLine) {
    const std::string daemon_pid = std::to_string(daemon().pid());
    const std::string test_pid = std::to_string(::getpid());
    const auto attack = run_shell(
        "for p in /proc/[0-9]*; do printf 'PID %s %s\\n' \"${p#/proc/}\" \"$(tr '\\0' ' ' < "
        "$p/cmdline)\"; done; for h in " +
        daemon_pid + " " + test_pid +
        "; do test -e /proc/$h && echo \"host pid $h: present\"; done; echo end-$((6*7))");
    ASSERT_TRUE(attack.ended) << attack.describe();
    ASSERT_THAT(attack.out, HasSubstr("end-42")) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("PID 1 ccjail-init")) << attack.describe();
    std::size_t processes = 0;
    for (auto at = attack.out.find("PID "); at != std::string::npos;
         at = attack.out.find("PID ", at + 1)) {
        ++processes;
    }
    // The init, the shell and the shell's own short-lived children, nothing of the host.
    EXPECT_LE(processes, 5u) << attack.out;
    // Printed only when a host pid exists in the jail's /proc (the text is built at run time,
    // so the script's own command line, listed above, does not hold it).
    EXPECT_THAT(attack.out, Not(HasSubstr("host pid " + daemon_pid + ": present")));
    EXPECT_THAT(attack.out, Not(HasSubstr("host pid " + test_pid + ": present")));
    for (const std::string& host :
         {std::string("ccjaild"), std::string("ccjail-exec"), std::string("ccjail_security_tests"),
          daemon().root().string()}) {
        EXPECT_THAT(attack.out, Not(HasSubstr(host))) << attack.out;
    }
}

// Another session's secrets stay its own: two user labels at once; the second sees neither the
// first's processes, environment nor command line, nor its HOME, workspace, /tmp or /dev/shm.
TEST_F(Leaks, AnotherSessionsProcessesEnvironmentAndFilesAreInvisible) {
    const std::string env_secret = random_token("env-secret-");
    const std::string argv_secret = random_token("argv-secret-");
    AttackOptions alice;
    alice.profile = "sec-leak-env";
    alice.user = "alice";
    alice.extra = {{"env", {{"LEAK_SECRET", env_secret}}}};
    auto first = start_attack(
        {"/bin/bash", "-c",
         "for f in /tmp /dev/shm \"$HOME\" /workspace; do echo \"$LEAK_SECRET\" > "
         "\"$f/marker-alice\"; done; cat /tmp/marker-alice; echo READY; sleep 60; true",
         argv_secret},
        alice);
    ASSERT_TRUE(first.wait_for_output("READY", 20s)) << first.state().out << first.state().err;
    ASSERT_THAT(first.state().out, HasSubstr(env_secret)) << "the bait was not laid";
    ASSERT_EQ(read_file(daemon().workspace_root() / "alice" / "marker-alice"), env_secret + "\n");

    AttackOptions bob;
    bob.user = "bob";
    // The label to look for comes on stdin, so that it is in no command line of this session.
    bob.stdin_data = "alice\n";
    const auto second = run_shell(
        "read -r who; n=0; for p in /proc/[0-9]*; do printf 'PROC %s %s ENV %s\\n' \"$p\" "
        "\"$(tr '\\0' ' ' < $p/cmdline)\" \"$(tr '\\0' ' ' < $p/environ 2>/dev/null)\"; done; "
        "ls -la /tmp /dev/shm /home /workspace \"$HOME\"; "
        "for f in /tmp /dev/shm \"$HOME\" /workspace \"/home/$who\" \"/workspaces/$who\"; do "
        "test -e \"$f/marker-$who\" && n=$((n+1)); done; echo \"markers found: $((n+0))\"; "
        "echo end-$((6*7))",
        bob);
    ASSERT_TRUE(second.ended) << second.describe();
    ASSERT_THAT(second.out, HasSubstr("end-42")) << second.describe();
    EXPECT_THAT(second.out, Not(HasSubstr(env_secret))) << second.out;
    EXPECT_THAT(second.out, Not(HasSubstr(argv_secret))) << second.out;
    EXPECT_THAT(second.out, Not(HasSubstr("alice"))) << second.out;
    EXPECT_THAT(second.out, HasSubstr("markers found: 0\n")) << second.out;
    EXPECT_THAT(second.out, Not(HasSubstr("sleep"))) << "the other session's process";
    EXPECT_EQ(first.kill_and_wait().value("status", ""), "killed");
}

// Only fds 0-2 reach the program, in pipe and pty mode, though daemon and monitor hold many.
TEST_F(Leaks, OnlyTheStandardDescriptorsReachTheProgram) {
    for (const char* mode : {"pipe", "pty"}) {
        AttackOptions options;
        options.mode = mode;
        const auto attack = run_attack({probe("leak_probe"), "fds"}, options);
        ASSERT_TRUE(attack.ended) << mode << ": " << attack.describe();
        EXPECT_EQ(result_field(attack.out, "fds"), "0,1,2") << mode << ": " << attack.describe();
    }
}

// The supervisor's socket and state directory do not exist in the jail's file system.
TEST_F(Leaks, TheSupervisorSocketAndStateDirectoryAreAbsent) {
    const auto attack =
        run_shell(probe("leak_probe") + " connect-unix " + daemon().socket().string() +
                  "; test -e " + daemon().state_dir().string() + " || echo NO-STATE; test -e " +
                  daemon().root().string() + " || echo NO-ROOT");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "connect"), "ENOENT") << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("NO-STATE"));
    EXPECT_THAT(attack.out, HasSubstr("NO-ROOT"));
}

// Abstract Unix sockets of the host are in another network namespace: a listener the test
// holds cannot be reached and is not even listed.
TEST_F(Leaks, AHostAbstractSocketIsUnreachable) {
    const std::string name = unique_name("host");
    const UniqueFd listener = host_abstract_listener(name);
    ASSERT_TRUE(listener);
    const auto attack = run_shell(probe("leak_probe") + " connect-abstract " + name +
                                  "; grep -c ccjail-battery /proc/net/unix");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "connect"), "ECONNREFUSED") << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("\n0\n")) << "listed in the jail: " << attack.describe();
    EXPECT_FALSE(was_reached(listener));
    // The listener itself works: the host reaches it.
    EXPECT_EQ(host_abstract_connect(name), 0);
}

// Host loopback: a TCP server on the host's 127.0.0.1 is unreachable from the jail's own lo,
// and the jail's /proc/net shows neither it nor any interface but lo.
TEST_F(Leaks, AHostLoopbackTcpServerIsUnreachable) {
    int port = 0;
    const UniqueFd listener = host_loopback_listener(port);
    ASSERT_TRUE(listener);
    char hex_port[8];
    std::snprintf(hex_port, sizeof hex_port, ":%04X", port);
    const auto attack =
        run_shell(probe("leak_probe") + " connect-tcp 127.0.0.1 " + std::to_string(port) +
                  "; cat /proc/net/tcp; tail -n +3 /proc/net/dev | cut -d: -f1 | "
                  "tr -d ' ' | sed 's/^/IF /'");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "connect"), "ECONNREFUSED") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr(hex_port))) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("IF lo\n")) << attack.describe();
    EXPECT_EQ(attack.out.find("IF "), attack.out.rfind("IF ")) << "more than lo: " << attack.out;
    EXPECT_FALSE(was_reached(listener));
}

// Cloud metadata: 169.254.169.254 has no route from the jail.
TEST_F(Leaks, TheMetadataAddressIsUnreachable) {
    const auto attack = run_attack({probe("leak_probe"), "connect-tcp", "169.254.169.254", "80"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "connect"), "ENETUNREACH") << attack.describe();
}

// Side channels: an exclusive flock on a shared read-only /usr inode is visible to another
// session (the covert channel docs/security.md declares), but cannot stop it from reading or
// executing that file; a lease, which would stall other openers, is refused.
TEST_F(Leaks, ALockOnASharedUsrFileCannotStopAnotherSessionReadingOrExecutingIt) {
    const std::string target = "/usr/bin/bash";
    AttackOptions alice;
    alice.user = "alice";
    auto holder = start_attack({probe("leak_probe"), "lock-hold", target, "60"}, alice);
    ASSERT_TRUE(holder.wait_for_output("READY", 20s)) << holder.state().out;
    const std::string held = holder.state().out;
    EXPECT_EQ(result_field(held, "flock_ex"), "OK") << held;
    EXPECT_EQ(result_field(held, "lease"), "EACCES") << held;
    EXPECT_EQ(result_field(held, "posix_write_lock"), "EBADF") << held;

    AttackOptions bob;
    bob.user = "bob";
    const auto other = run_shell(
        probe("leak_probe") + " lock-check " + target + "; " + target + " -c 'echo EXEC-OK'", bob);
    ASSERT_TRUE(other.ended) << other.describe();
    EXPECT_EQ(result_field(other.out, "read"), "OK") << other.describe();
    EXPECT_EQ(result_field(other.out, "bytes"), std::to_string(fs::file_size(target)));
    EXPECT_THAT(other.out, HasSubstr("EXEC-OK")) << other.describe();
    // The documented channel: if this ever says OK, the channel is closed and docs/security.md
    // should say so.
    EXPECT_EQ(result_field(other.out, "flock_ex"), "EAGAIN") << other.describe();
    EXPECT_EQ(holder.kill_and_wait().value("status", ""), "killed");
}

// Keyrings are not namespaced: every keyring call is refused, and /proc/keys is masked.
TEST_F(Leaks, KeyringCallsAreRefused) {
    const auto attack =
        run_shell(probe("leak_probe") + " keyring; echo keys=$(wc -c < /proc/keys)");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "add_key"), "EPERM") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "keyctl_get"), "EPERM") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "keyctl_join"), "EPERM") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "request_key"), "EPERM") << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("keys=0")) << attack.describe();
}

// AF_VSOCK reaches the hypervisor's host side: socket and socketpair are refused.
TEST_F(Leaks, VsockSocketsAreRefused) {
    const auto attack = run_attack({probe("leak_probe"), "vsock"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "stream"), "EPERM") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "dgram"), "EPERM") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "socketpair"), "EPERM") << attack.describe();
}

// /dev/shm, POSIX message queues and SysV shared memory are per session (own tmpfs, own IPC
// namespace): what one session creates, another and the host cannot open.
TEST_F(Leaks, DevShmMqueueAndSysvShmAreNotSharedBetweenSessions) {
    const std::string name = unique_name("ipc");
    const std::string key = std::to_string(0x5ec00000 + (::getpid() & 0xffff));
    AttackOptions alice;
    alice.user = "alice";
    auto holder = start_attack({"/bin/bash", "-c",
                                "echo bait > /dev/shm/" + name + "; exec " + probe("leak_probe") +
                                    " ipc-hold " + name + " " + key + " 60"},
                               alice);
    ASSERT_TRUE(holder.wait_for_output("READY", 20s)) << holder.state().out;
    const std::string held = holder.state().out;
    ASSERT_EQ(result_field(held, "mq_create"), "OK") << "no bait: " << held;
    ASSERT_EQ(result_field(held, "shm_create"), "OK") << "no bait: " << held;

    AttackOptions bob;
    bob.user = "bob";
    const auto other = run_shell("test -e /dev/shm/" + name + " && echo SHM-FILE-SEEN; " +
                                     probe("leak_probe") + " ipc-seek " + name + " " + key,
                                 bob);
    ASSERT_TRUE(other.ended) << other.describe();
    EXPECT_THAT(other.out, Not(HasSubstr("SHM-FILE-SEEN")));
    EXPECT_EQ(result_field(other.out, "mq_open"), "ENOENT") << other.describe();
    EXPECT_EQ(result_field(other.out, "shm_get"), "ENOENT") << other.describe();
    // Nor does it land in the host's namespaces.
    const mqd_t queue = ::mq_open(("/" + name).c_str(), O_RDONLY);
    EXPECT_EQ(queue, static_cast<mqd_t>(-1)) << "the host sees the session's queue";
    if (queue != static_cast<mqd_t>(-1)) {
        ::mq_close(queue);
        ::mq_unlink(("/" + name).c_str());
    }
    EXPECT_FALSE(fs::exists("/dev/shm/" + name));
    EXPECT_EQ(holder.kill_and_wait().value("status", ""), "killed");
}

// Abstract Unix sockets between two sessions: each has its own network namespace, so one's
// listener is unreachable from the other and from the host.
TEST_F(Leaks, AbstractSocketsOfAnotherSessionAreUnreachable) {
    const std::string name = unique_name("session");
    AttackOptions alice;
    alice.user = "alice";
    auto listener =
        start_attack({"/bin/bash", "-c",
                      probe("leak_probe") + " listen-abstract " + name + " 60 & sleep 0.5; " +
                          probe("leak_probe") + " connect-abstract " + name + "; wait"},
                     alice);
    // The listener works: its own session reached it.
    ASSERT_TRUE(listener.reader->until(
        [&] {
            const auto& out = listener.state().out;
            return out.find("ACCEPTED") != std::string::npos &&
                   out.find("RESULT connect=OK") != std::string::npos;
        },
        20s))
        << listener.state().out << listener.state().err;

    AttackOptions bob;
    bob.user = "bob";
    const auto other = run_attack({probe("leak_probe"), "connect-abstract", name}, bob);
    ASSERT_TRUE(other.ended) << other.describe();
    EXPECT_EQ(result_field(other.out, "connect"), "ECONNREFUSED") << other.describe();
    EXPECT_EQ(host_abstract_connect(name), ECONNREFUSED);
    listener.reader->drain_for(300ms);
    const std::string& out = listener.state().out;
    EXPECT_EQ(out.find("ACCEPTED"), out.rfind("ACCEPTED")) << "reached from outside: " << out;
    EXPECT_EQ(listener.kill_and_wait().value("status", ""), "killed");
}

// dmesg: syslog(2) is refused and /dev/kmsg does not exist.
TEST_F(Leaks, TheKernelLogIsRefused) {
    const auto attack =
        run_shell(probe("leak_probe") +
                  " syslog; test -e /dev/kmsg && echo KMSG-PRESENT; dmesg > /dev/null 2>&1 && "
                  "echo DMESG-READ; timeout 2 head -c 1 /proc/kmsg > /dev/null 2>&1 && "
                  "echo PROC-KMSG-READ; echo end-$((6*7))");
    ASSERT_TRUE(attack.ended) << attack.describe();
    ASSERT_THAT(attack.out, HasSubstr("end-42")) << attack.describe();
    EXPECT_EQ(result_field(attack.out, "read_all"), "EPERM") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "size_buffer"), "EPERM") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("KMSG-PRESENT")));
    EXPECT_THAT(attack.out, Not(HasSubstr("DMESG-READ")));
    EXPECT_THAT(attack.out, Not(HasSubstr("PROC-KMSG-READ")));
}

// Kernel addresses: /proc/kallsyms and /proc/modules show none (unreadable, or all zero).
TEST_F(Leaks, KallsymsAndModulesShowNoKernelAddresses) {
    const auto attack = run_shell(
        "echo kallsyms_lines=$(cat /proc/kallsyms 2>/dev/null | wc -l) "
        "kallsyms_addresses=$(cat /proc/kallsyms 2>/dev/null | grep -vc '^0\\{16\\} '); "
        "echo modules_addresses=$(cat /proc/modules 2>/dev/null | grep -c ' 0x0*[1-9a-f]')");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("kallsyms_addresses=0\n")) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("modules_addresses=0")) << attack.describe();
    RecordProperty("kallsyms", attack.out);
}

// /sys: absent from the jail, so nothing of the host's hardware, firmware or cgroups is there.
TEST_F(Leaks, SysIsAbsentOrHoldsNoHostSecrets) {
    const auto attack = run_shell(
        "for f in /sys/class/dmi/id/product_uuid /sys/class/dmi/id/product_serial "
        "/sys/firmware /sys/kernel/security /sys/fs/cgroup /sys/class/net/eth0 "
        "/sys/kernel/debug; do test -e $f && echo \"PRESENT $f\"; done; "
        "test -d /sys && echo SYS-PRESENT; echo end-$((6*7))");
    ASSERT_TRUE(attack.ended) << attack.describe();
    ASSERT_THAT(attack.out, HasSubstr("end-42")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("PRESENT /"))) << attack.out;
    RecordProperty("sys", attack.out);
}

// The mount table names the host paths of the workspace and home binds (the root field of a
// bind mount is its source's path within the source's file system; docs/security.md lists it
// under what the jail does not guarantee), and nothing else of the host: not the run
// directory, the sessions' state, the socket or the profiles.
TEST_F(Leaks, TheMountTableNamesNoHostPathButTheWorkspaceAndHomeSources) {
    const auto attack = run_shell("cat /proc/self/mountinfo; echo end-$((6*7))");
    ASSERT_TRUE(attack.ended) << attack.describe();
    ASSERT_THAT(attack.out, HasSubstr("end-42")) << attack.describe();
    std::istringstream lines(attack.out);
    const std::string state = daemon().state_dir().string();
    const std::string workspace = (daemon().workspace_root() / "mallory").string();
    const std::string home = (daemon().state_dir() / "homes" / "mallory").string();
    for (std::string line; std::getline(lines, line);) {
        std::istringstream fields(line);
        std::string id, parent, device, root;
        fields >> id >> parent >> device >> root;
        if (root.find(state) == std::string::npos) {
            continue;
        }
        EXPECT_TRUE(root == workspace || root == home) << "host path in the mount table: " << line;
    }
    EXPECT_THAT(attack.out, Not(HasSubstr(daemon().sessions_dir().string()))) << attack.out;
    EXPECT_THAT(attack.out, Not(HasSubstr(daemon().profiles_dir().string()))) << attack.out;
}

// Keyrings: like /proc/keys, /proc/key-users (every uid's key counts and quotas, host-wide in
// the initial user namespace) shows nothing of other users.
TEST_F(Leaks, KeyUsersShowsNoOtherUsersKeys) {
    const auto attack = run_shell("echo key_users_bytes=$(cat /proc/key-users | wc -c)");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("key_users_bytes=0\n")) << attack.describe();
}
}  // namespace
}  // namespace ccjail::sectest
