// The Privilege class of the attack battery (docs/security.md): a jailed program tries to raise
// its privileges or to act on processes and state outside its jail. Every attack runs as the
// program of a real session that a real ccjaild started; /probe/privilege_probe makes the
// system calls bash cannot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <thread>

#include "security_harness.hpp"

namespace ccjail::sectest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kProbe = probe("privilege_probe");

// A bash loop that runs the probe once per attack and prints `<attack> RESULT <what>` lines.
std::string probe_each(const std::vector<std::string>& attacks, const std::string& argument = "") {
    std::string script = "for a in";
    for (const auto& attack : attacks) {
        script.append(" ").append(attack);
    }
    script.append("; do printf '%s ' \"$a\"; ")
        .append(kProbe)
        .append(" \"$a\" ")
        .append(argument)
        .append(" || echo \"RESULT exit=$?\"; done");
    return script;
}

// Every attack in `attacks` gave `expected`.
void expect_all(const std::map<std::string, std::string>& got,
                const std::vector<std::string>& attacks, const std::string& expected,
                const std::string& shown) {
    for (const auto& attack : attacks) {
        const auto it = got.find(attack);
        ASSERT_NE(it, got.end()) << attack << " printed no result\n" << shown;
        EXPECT_EQ(it->second, expected) << attack << "\n" << shown;
    }
}

// The value of `Name:` in a /proc/<pid>/status text.
std::string status_field(const std::string& status, const std::string& name) {
    std::istringstream lines(status);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.rfind(name + ":", 0) == 0) {
            const auto value = line.find_first_not_of(" \t", name.size() + 1);
            return value == std::string::npos ? "" : line.substr(value);
        }
    }
    return "";
}

bool alive(pid_t pid) {
    return pid > 0 && ::kill(pid, 0) == 0;
}

// A second session of another user label, left running: prints `ready` and sleeps.
AttackOptions victim_options() {
    AttackOptions victim;
    victim.user = "eve";
    return victim;
}

const std::vector<std::string> kVictim = {"/bin/bash", "-c", "echo ready; exec sleep 60"};

// "No capabilities in any set; no_new_privs; locked securebits" — read from the program itself
// and from a child it forks.
TEST_F(Privilege, CapabilitySetsAreAllZeroWithNoNewPrivsAndAFilter) {
    const auto attack =
        run_shell("cat /proc/self/status; echo '--- child'; bash -c 'cat /proc/$$/status'");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    const auto split = attack.out.find("--- child");
    ASSERT_NE(split, std::string::npos) << attack.describe();
    for (const auto& status : {attack.out.substr(0, split), attack.out.substr(split)}) {
        for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
            EXPECT_EQ(status_field(status, set), "0000000000000000") << set << "\n" << status;
        }
        EXPECT_EQ(status_field(status, "NoNewPrivs"), "1") << status;
        EXPECT_EQ(status_field(status, "Seccomp"), "2") << status;
        EXPECT_THAT(status_field(status, "Uid"), Not(HasSubstr("\t0"))) << status;
        EXPECT_THAT(status_field(status, "Uid"), Not(::testing::StartsWith("0"))) << status;
    }
}

// "No capabilities ...; no_new_privs" and "Binds are mounted nosuid,nodev" — the host's setuid
// `su`, `mount`, `passwd` bound from /usr run, but as the jail's uid.
TEST_F(Privilege, SetuidBinariesFromUsrGiveNoPrivilege) {
    const auto attack = run_shell(
        "su root -c 'echo ROOT-SHELL' </dev/null; echo \"su=$?\"; "
        "mount -t tmpfs none /tmp; echo \"mount=$?\"; "
        "grep -c ' /tmp ' /proc/self/mountinfo; "
        "passwd -S root </dev/null; echo \"passwd=$?\"; "
        "grep -E ' /usr ' /proc/self/mountinfo");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("ROOT-SHELL"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("su=0"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("mount=0"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("passwd=0"))) << attack.describe();
    // Still exactly one /tmp mount: the jail's own.
    EXPECT_THAT(attack.out, HasSubstr("\n1\n")) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("nosuid")) << "/usr is not nosuid\n" << attack.describe();
}

// "no_new_privs" and "binds nosuid": a setuid-root copy with file capabilities that the host's
// root left in the workspace runs as the jail's uid with no capabilities; the jail cannot make
// a root-owned one itself.
TEST_F(Privilege, ASetuidRootCopyWithFileCapsInTheWorkspaceRaisesNothing) {
    const fs::path workspace = daemon().workspace_root() / "suid";
    fs::create_directories(workspace);
    ::chmod(workspace.c_str(), 0777);
    fs::copy_file("/usr/bin/cat", workspace / "rootcat");
    ASSERT_EQ(::chown((workspace / "rootcat").c_str(), 0, 0), 0);
    ASSERT_EQ(::chmod((workspace / "rootcat").c_str(), 04755), 0);
    const auto setcap =
        run_command({"/usr/sbin/setcap", "cap_setuid,cap_dac_override,cap_sys_admin+ep",
                     (workspace / "rootcat").string()},
                    10s);
    ASSERT_EQ(setcap.exit_code, 0) << setcap.err;
    ASSERT_EQ(::chmod((workspace / "rootcat").c_str(), 04755), 0);  // setcap may clear the bit
    AttackOptions options;
    options.extra = {{"workspace", "suid"}};
    const auto attack = run_shell(
        "cd /workspace; stat -c '%a %u' rootcat; ./rootcat /proc/self/status; "
        "cp /usr/bin/cat mine; chown 0:0 mine; echo \"chown=$?\"; chmod 4755 mine; "
        "stat -c 'mine %a %u' mine; ./mine /proc/self/status | grep -E '^(Uid|CapEff)'",
        options);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("4755 0\n")) << "the host's copy is not setuid root\n"
                                                   << attack.describe();
    const std::string status = attack.out;
    EXPECT_EQ(status_field(status, "CapEff"), "0000000000000000") << attack.describe();
    EXPECT_EQ(status_field(status, "CapPrm"), "0000000000000000") << attack.describe();
    const std::string uids = status_field(status, "Uid");
    ASSERT_FALSE(uids.empty()) << attack.describe();
    EXPECT_EQ(uids.find("\t0"), std::string::npos) << "a uid became 0: " << uids;
    EXPECT_NE(uids.front(), '0') << uids;
    EXPECT_THAT(attack.out, Not(HasSubstr("chown=0"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("mine 4755 0"))) << attack.describe();
}

// "Dangerous system calls are refused": unshare, setns, clone with namespace flags and the whole
// mount family are EPERM, and so is util-linux's `unshare` from /usr.
TEST_F(Privilege, NamespaceAndMountCallsAreRefused) {
    const std::vector<std::string> calls = {
        "unshare-user", "unshare-mount", "unshare-net", "clone-newuser", "clone-newuser-high",
        "clone-newns",  "clone-newpid",  "setns",       "mount",         "umount",
        "pivot_root",   "chroot",        "open_tree",   "fsopen",        "fspick",
        "move_mount",   "mount_setattr"};
    const auto attack =
        run_shell(probe_each(calls) + "; unshare -r -m true; echo \"unshare-tool=$?\"");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    expect_all(labelled_results(attack.out), calls, "EPERM", attack.describe());
    EXPECT_THAT(attack.out, Not(HasSubstr("unshare-tool=0"))) << attack.describe();
}

// "Dangerous system calls are refused" (io_uring, bpf, userfaultfd, perf_event_open): each is
// EPERM before the kernel looks at its arguments.
TEST_F(Privilege, KernelAttackSurfaceCallsAreRefused) {
    const std::vector<std::string> calls = {"io_uring_setup", "bpf", "userfaultfd",
                                            "perf_event_open"};
    const auto attack = run_shell(probe_each(calls));
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    expect_all(labelled_results(attack.out), calls, "EPERM", attack.describe());
}

// "Dangerous system calls are refused" (keyctl add_key request_key: keyrings are not
// namespaced).
TEST_F(Privilege, KeyringCallsAreRefused) {
    const std::vector<std::string> calls = {"add_key", "request_key", "keyctl"};
    const auto attack = run_shell(probe_each(calls));
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    expect_all(labelled_results(attack.out), calls, "EPERM", attack.describe());
}

// The seccomp filter: `clone3` is ENOSYS (so libc falls back to a `clone` whose flags the filter
// reads), and `personality` accepts only PER_LINUX and the query.
TEST_F(Privilege, Clone3IsEnosysAndPersonalityOnlyQueries) {
    const auto attack = run_shell(probe_each({"clone3"}));
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    expect_all(labelled_results(attack.out), {"clone3"}, "ENOSYS", attack.describe());
    const auto personas =
        run_shell("for p in query linux32 read-implies-exec no-aslr; do printf '%s ' \"$p\"; " +
                  kProbe + " personality \"$p\"; done");
    ASSERT_EQ(personas.status(), "exited") << personas.describe();
    const auto persona = labelled_results(personas.out);
    ASSERT_EQ(persona.count("query"), 1u) << personas.describe();
    EXPECT_THAT(persona.at("query"), ::testing::StartsWith("OK")) << personas.describe();
    expect_all(persona, {"linux32", "read-implies-exec", "no-aslr"}, "EPERM", personas.describe());
}

// "Other ABIs kill the process (SIGSYS)": `int $0x80` (getpid on the i386 table) from a 64-bit
// program.
TEST_F(Privilege, I386EntryPointIsKilledBySigsys) {
    const auto attack = run_attack({kProbe, "int80"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "signaled") << attack.describe();
    EXPECT_EQ(attack.signal(), SIGSYS) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("RESULT"))) << "the call returned\n" << attack.describe();
}

// "Other ABIs kill the process (SIGSYS)": x32 calls (bit 30 set), an allowed one (getpid) and a
// refused one (unshare), both from a bash that watches.
TEST_F(Privilege, X32SystemCallsAreKilledBySigsys) {
    const auto attack = run_shell(kProbe + " x32; echo \"x32=$?\"; " + kProbe +
                                  " x32-unshare; echo \"x32-unshare=$?\"");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    const std::string killed = std::to_string(128 + SIGSYS);
    EXPECT_THAT(attack.out, HasSubstr("x32=" + killed + "\n")) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("x32-unshare=" + killed + "\n")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("RESULT"))) << attack.describe();
}

// "No controlling terminal of the caller; TIOCSTI/TIOCLINUX refused even with high bits set":
// on the session's own pty, and nothing the attack tried to push reaches the input.
TEST_F(Privilege, TiocstiAndTioclinuxOnTheSessionsPtyAreRefused) {
    AttackOptions options;
    options.mode = "pty";
    const auto attack = run_shell("test -t 0 && echo on-a-tty; " +
                                      probe_each({"tiocsti", "tiocsti-high", "tioclinux"}) +
                                      "; read -r -t 1 injected; echo \"input=[$injected]\"",
                                  options);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("on-a-tty")) << attack.describe();
    const auto got = labelled_results(attack.out);
    for (const auto& call : {"tiocsti", "tiocsti-high", "tioclinux"}) {
        ASSERT_EQ(got.count(call), 1u) << call << "\n" << attack.describe();
        EXPECT_THAT(got.at(call), ::testing::StartsWith("EPERM")) << call << "\n"
                                                                  << attack.describe();
    }
    EXPECT_THAT(attack.out, HasSubstr("input=[]")) << attack.describe();
}

// "/proc shows only the jail's processes" and "ptrace process_vm_* refused": the pid of another
// user's concurrent session is not visible, cannot be traced, read or killed.
TEST_F(Privilege, AnotherSessionsProcessCannotBeSeenTracedOrKilled) {
    auto other = start_attack(kVictim, victim_options());
    ASSERT_TRUE(other.wait_for_output("ready", 20s));
    const std::string pid = std::to_string(other.spawned.pid);
    const auto attack = run_shell(
        "test -e /proc/" + pid + " && echo visible; " +
        probe_each({"kill0", "ptrace-attach", "ptrace-seize", "process_vm_readv", "kill9"}, pid));
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("visible"))) << attack.describe();
    const auto got = labelled_results(attack.out);
    expect_all(got, {"kill0", "kill9"}, "ESRCH", attack.describe());
    expect_all(got, {"ptrace-attach", "ptrace-seize", "process_vm_readv"}, "EPERM",
               attack.describe());
    EXPECT_TRUE(alive(other.spawned.pid)) << "the other session's program died";
    EXPECT_TRUE(other.state().exit_report.is_null()) << other.state().exit_report.dump();
    other.kill_and_wait();
}

// "The jail's init holds no more power than the program ... not dumpable": ptrace and
// process_vm_readv of pid 1 are refused, its fds, environment, root and memory are closed to
// the program, and SIGKILL to it from inside changes nothing.
TEST_F(Privilege, TheJailsOwnInitCannotBeTracedOrKilled) {
    const auto attack = run_shell(
        probe_each({"ptrace-attach", "ptrace-seize", "process_vm_readv", "kill9"}, "1") + "; " +
        probe_each({"ptrace-traceme"}) +
        "; for f in environ maps mem; do cat /proc/1/$f >/dev/null 2>&1 && "
        "echo \"read /proc/1/$f\"; done; for d in fd root; do ls /proc/1/$d/ >/dev/null 2>&1 && "
        "echo \"listed /proc/1/$d\"; done; sleep 0.2; test -d /proc/1 && echo init-alive");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_EQ(attack.exit_code(), 0) << attack.describe();
    const auto got = labelled_results(attack.out);
    expect_all(got, {"ptrace-attach", "ptrace-seize", "process_vm_readv", "ptrace-traceme"},
               "EPERM", attack.describe());
    EXPECT_THAT(attack.out, HasSubstr("init-alive")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("read /proc/1"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("listed /proc/1"))) << attack.describe();
}

// "seeing other sessions or the host's processes" / "running on after its session ends":
// kill(-1, SIGKILL) from a jail reaches only the jail: the daemon, every monitor and another
// user's session keep running.
TEST_F(Privilege, KillMinusOneReachesNothingOutsideTheJail) {
    auto other = start_attack(kVictim, victim_options());
    ASSERT_TRUE(other.wait_for_output("ready", 20s));
    auto control = daemon().connect("control");
    const auto other_monitor =
        control.request({{"op", "inspect"}, {"session", other.spawned.session}})
            .value("monitor_pid", -1);
    // The probe replaces the shell, so that what kill(-1) takes down in the jail is only the
    // background sleep; the kernel spares the caller, which then prints its result.
    auto attack =
        start_attack({"/bin/bash", "-c", "sleep 1000 & sleep 0.2; exec " + kProbe + " kill-all"});
    const auto monitor = control.request({{"op", "inspect"}, {"session", attack.spawned.session}})
                             .value("monitor_pid", -1);
    EXPECT_GT(monitor, 0);
    ASSERT_TRUE(attack.reader->until_exit(attack.spawned.channel, 20s)) << attack.state().out;
    EXPECT_EQ(attack.state().out, "RESULT OK 0\n");
    EXPECT_EQ(attack.state().exit_report.value("status", ""), "exited")
        << attack.state().exit_report.dump();
    EXPECT_TRUE(daemon().running());
    EXPECT_NO_THROW(control.request({{"op", "list"}}, 10s));
    EXPECT_TRUE(alive(other_monitor)) << "the other session's monitor died";
    EXPECT_TRUE(alive(other.spawned.pid)) << "the other session's program died";
    EXPECT_TRUE(other.state().exit_report.is_null()) << other.state().exit_report.dump();
    other.kill_and_wait();
}

// "Runs as the profile's unprivileged uid ..." and the cgroup boundary: cgroupfs is not there to
// write, mounting one is refused, and the session's memory limit on the host is unchanged.
TEST_F(Privilege, CgroupFilesCannotBeWrittenFromTheJail) {
    auto attack = start_attack(
        {"/bin/bash", "-c",
         "ls /sys/fs/cgroup 2>/dev/null | head -3; cat /proc/self/cgroup; "
         "for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max "
         "/sys/fs/cgroup/cgroup.procs /sys/fs/cgroup/pids/pids.max; do "
         "echo 9999999999 2>/dev/null >$f && echo \"wrote $f\"; done; "
         "mkdir -p /tmp/cg && mount -t cgroup2 none /tmp/cg 2>/dev/null && echo mounted; "
         "echo done; sleep 30"});
    ASSERT_TRUE(attack.wait_for_output("done", 20s)) << attack.state().out;
    EXPECT_THAT(attack.state().out, Not(HasSubstr("wrote"))) << attack.state().out;
    EXPECT_THAT(attack.state().out, Not(HasSubstr("mounted"))) << attack.state().out;
    const auto cgroups = session_cgroups({attack.spawned.session});
    ASSERT_FALSE(cgroups.empty()) << "no cgroup found for the session";
    bool checked = false;
    for (const auto& dir : cgroups) {
        for (const char* file : {"memory.limit_in_bytes", "memory.max"}) {
            if (fs::exists(dir / file)) {
                EXPECT_EQ(read_file(dir / file), std::to_string(128ull << 20) + "\n")
                    << (dir / file);
                checked = true;
            }
        }
    }
    EXPECT_TRUE(checked) << "no memory limit file in the session's cgroups";
    attack.kill_and_wait();
}

// "exhausting the host": the jail cannot make itself the OOM killer's last choice
// (lowering oom_score_adj needs CAP_SYS_RESOURCE).
TEST_F(Privilege, OomScoreAdjCannotBeLowered) {
    const auto attack =
        run_shell("cat /proc/self/oom_score_adj; " + probe_each({"oom_score_adj"}, "-1000") +
                  "; echo -1000 > /proc/self/oom_score_adj; echo \"shell=$?\"; "
                  "echo -17 > /proc/self/oom_adj; echo \"legacy=$?\"; "
                  "cat /proc/self/oom_score_adj");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    std::istringstream lines(attack.out);
    std::string before;
    std::getline(lines, before);
    const auto got = labelled_results(attack.out);
    ASSERT_EQ(got.count("oom_score_adj"), 1u) << attack.describe();
    if (before != "-1000") {
        EXPECT_EQ(got.at("oom_score_adj"), "EACCES") << attack.describe();
        EXPECT_THAT(attack.out, Not(HasSubstr("shell=0"))) << attack.describe();
        EXPECT_THAT(attack.out, Not(HasSubstr("legacy=0"))) << attack.describe();
    }
    EXPECT_NE(before, "-1000") << "the jail already starts exempt from the OOM killer";
    std::string last;
    for (std::string line; std::getline(lines, line);) {
        if (!line.empty()) {
            last = line;
        }
    }
    EXPECT_EQ(last, before) << attack.describe();
}

// "The home is writable by the user's earlier sessions, so seeding never follows a symlink":
// links and a FIFO the jail leaves where the supervisor seeds its home are skipped, the host
// file they point at is untouched, and the next session starts.
TEST_F(Privilege, HomeSeedNeverFollowsWhatTheJailLeftInItsHome) {
    const fs::path target = daemon().root() / "host-secret";
    write_file(target, "host\n", 0644);
    AttackOptions options;
    options.profile = "sec-priv-seed";
    const auto first = run_shell(
        "cd ~ && cat .seeded.json && rm -rf .seeded.json config && "
        "ln -s " +
            target.string() +
            " .seeded.json && ln -s /etc config && "
            "mkfifo fifo.json && ls -la",
        options);
    ASSERT_EQ(first.status(), "exited") << first.describe();
    ASSERT_EQ(first.exit_code(), 0) << first.describe();
    EXPECT_THAT(first.out, HasSubstr("\"seeded\": true")) << first.describe();
    const auto second = run_shell("cd ~ && readlink .seeded.json config && echo started", options);
    ASSERT_EQ(second.status(), "exited") << second.describe();
    EXPECT_THAT(second.out, HasSubstr("started")) << second.describe();
    EXPECT_EQ(read_file(target), "host\n") << "the seed was written through the link";
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u) << "the host file was given to the jail's uid";
    EXPECT_EQ(st.st_mode & 07777, 0644u);
    EXPECT_FALSE(fs::exists("/etc/settings.json")) << "the seed was written into the host's /etc";
}

// "The jail sees nothing of the monitor's ... state" and the daemon re-reads only its own
// state: the state dir is not visible, and files named like state files dropped in the
// workspace and home change nothing after a daemon restart.
TEST_F(Privilege, StateFilesForgedInTheWorkspaceChangeNothing) {
    const fs::path uids = daemon().state_dir() / "uids.json";
    auto live = start_attack({"/bin/bash", "-c", "id -u; echo ready; sleep 60"});
    ASSERT_TRUE(live.wait_for_output("ready", 20s));
    const std::string uid_before = live.state().out.substr(0, live.state().out.find('\n'));
    const std::string map_before = read_file(uids);
    const std::string forged = json({{"session", "f0f0f0f0f0f0f0f0"},
                                     {"monitor_pid", 1},
                                     {"user", "mallory"},
                                     {"profile", "sec-attack"}})
                                   .dump();
    const auto attack =
        run_shell("for d in /workspace ~; do echo '" + forged +
                  "' > $d/f0f0f0f0f0f0f0f0.json; echo '{\"mallory\": 0}' > $d/uids.json; done; "
                  "ls -d /run/ccjail /var/lib/ccjail " +
                  daemon().state_dir().string() +
                  " 2>&1 | grep -c 'No such file'; "
                  "ls /run 2>/dev/null | wc -l");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, ::testing::StartsWith("3\n")) << "a state path is visible\n"
                                                          << attack.describe();
    daemon().kill_hard();
    ASSERT_NO_FATAL_FAILURE(daemon().start());
    auto control = daemon().connect("after-restart");
    const auto sessions = control.request({{"op", "list"}}).at("sessions");
    for (const auto& s : sessions) {
        EXPECT_NE(s.value("session", ""), "f0f0f0f0f0f0f0f0") << sessions.dump();
    }
    EXPECT_EQ(read_file(uids), map_before);
    EXPECT_TRUE(alive(1)) << "the host's init";
    const auto again = run_shell("id -u");
    ASSERT_EQ(again.status(), "exited") << again.describe();
    EXPECT_EQ(again.out, uid_before + "\n");
    EXPECT_NE(uid_before, "0");
    control.request({{"op", "kill"}, {"session", live.spawned.session}, {"grace_ms", 0}});
}

}  // namespace
}  // namespace ccjail::sectest
