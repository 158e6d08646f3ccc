// The FileSystem class of the attack battery (docs/security.md): a jailed program tries to
// reach host files through its workspace, to write where it may only read, to make devices,
// to leave traps for the supervisor or the next session, and a host racer swaps the workspace
// path while sessions are spawned. /probe/fs_probe reports the errno of single calls.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "security_harness.hpp"

namespace ccjail::sectest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const std::string kProbe = probe("fs_probe");

// A shell line that runs the probe and labels its result.
std::string labelled(const std::string& label, const std::string& arguments) {
    return "printf '%s ' '" + label + "'; " + kProbe + " " + arguments + "; ";
}

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text += line + "\n";
    }
    return text;
}

std::string joined(const std::vector<fs::path>& paths) {
    std::string text;
    for (const auto& path : paths) {
        text += path.string() + "\n";
    }
    return text;
}

// Lines of the host's mountinfo that name `text`.
std::vector<std::string> host_mounts_naming(const std::string& text) {
    std::vector<std::string> found;
    std::istringstream lines(read_file("/proc/self/mountinfo"));
    std::string line;
    while (std::getline(lines, line)) {
        if (line.find(text) != std::string::npos) {
            found.push_back(line);
        }
    }
    return found;
}

// "Host paths do not exist inside" and "Workspace paths cannot escape": symlinks the host (or
// an earlier session) left in the workspace resolve in the jail's own root, so /etc/shadow,
// /root, the host's /var/lib/ccjail and the daemon's state dir are not behind them, and
// nothing can be written through them.
TEST_F(FileSystem, SymlinksInTheWorkspaceResolveInsideTheJail) {
    const fs::path workspace = daemon().workspace_root() / "links";
    fs::create_directories(workspace);
    ::chmod(workspace.c_str(), 0777);
    const fs::path state = daemon().state_dir();
    write_file(state / "secret.txt", "state secret\n", 0644);
    fs::create_symlink("/etc/shadow", workspace / "shadow");
    fs::create_symlink("/root", workspace / "root");
    fs::create_symlink("/var/lib/ccjail", workspace / "varlib");
    fs::create_symlink(state, workspace / "state");
    fs::create_symlink(state / "secret.txt", workspace / "secret");
    fs::create_symlink("../../../../../../..", workspace / "up");
    AttackOptions options;
    options.extra = {{"workspace", "links"}};
    const auto attack = run_shell(
        "cd /workspace; for l in shadow root varlib state secret; do "
        "test -e $l && echo \"reached $l\"; cat $l 2>/dev/null && echo \"read $l\"; done; "
        "echo pwned > state/evil.json 2>/dev/null && echo wrote-state; "
        "echo pwned > secret 2>/dev/null && echo wrote-secret; "
        "ls up/; test -e up/work && echo host-root; test -e up/workspace && echo jail-root",
        options);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("reached"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("read "))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("wrote"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("host-root"))) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("jail-root")) << attack.describe();
    EXPECT_FALSE(fs::exists(state / "evil.json"));
    EXPECT_EQ(read_file(state / "secret.txt"), "state secret\n");
}

// "Workspace paths cannot escape the workspace root: `..`": from the workspace mount, `..`
// leads to the jail's own root, never to the host's workspace root or its neighbours.
TEST_F(FileSystem, DotDotFromTheWorkspaceStaysInTheJailsRoot) {
    const fs::path neighbour = daemon().workspace_root() / "neighbour";
    fs::create_directories(neighbour);
    write_file(neighbour / "private.txt", "neighbour's\n", 0644);
    const auto attack = run_shell(
        "cd /workspace/../../../..; pwd; ls -a; "
        "cat /workspace/../neighbour/private.txt 2>/dev/null && echo reached-neighbour; "
        "cat /workspace/../../etc/shadow 2>/dev/null && echo reached-shadow; "
        "ls /workspace/.. | grep -qx mallory && echo host-workspace-root; "
        "test -e /workspace/../../../work && echo host-root; echo end");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, ::testing::StartsWith("/\n")) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("workspace\n")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("reached"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("host-"))) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("end")) << attack.describe();
}

// "a path swapped for a symlink during the walk": a host thread keeps exchanging the workspace
// directory with a symlink to /etc while 50 sessions are spawned on it; each is refused with
// the documented code or gets the real directory, never /etc.
TEST_F(FileSystem, WorkspaceSwappedForASymlinkDuringSpawnsIsNeverFollowed) {
    const fs::path root = daemon().workspace_root();
    const fs::path real = root / "race";
    const fs::path link = root / "race-link";
    fs::create_directories(real);
    ::chmod(real.c_str(), 0777);
    write_file(real / "marker", "the real workspace\n", 0644);
    fs::create_symlink("/etc", link);
    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::thread racer([&] {
        while (!stop.load()) {
            // RENAME_EXCHANGE: at every instant `race` is either the directory or the link.
            if (::renameat2(AT_FDCWD, real.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) == 0) {
                ++swaps;
            }
            // Irregular pauses, so that swaps land at every point of a spawn, not only early.
            std::this_thread::sleep_for(std::chrono::microseconds(100 + (swaps.load() % 7) * 300));
        }
    });
    std::map<std::string, int> outcomes;
    std::vector<std::string> wrong;
    for (int i = 0; i < 50; ++i) {
        // Spawn-rate limits are per user label: spread the spawns over ten labels.
        const std::string user = "racer" + std::to_string(i % 10);
        auto client = daemon().connect("racer");
        Reader reader(client);
        auto body = spawn_body("sec-attack", user,
                               {"/bin/bash", "-c", "cat /workspace/marker 2>&1; ls /workspace"});
        body["workspace"] = "race";
        Spawned spawned;
        try {
            spawned = spawn(client, reader, body, 1 << 16);
        } catch (const client::ClientError& error) {
            ++outcomes[error.code_name()];
            if (error.code_name() != "bad_request" && error.code_name() != "spawn_failed") {
                wrong.push_back("refused with " + error.code_name() + ": " + error.what());
            }
            continue;
        }
        client.send_eof(spawned.channel);
        if (!reader.until_exit(spawned.channel, 30s)) {
            wrong.push_back("session " + spawned.session + " did not end");
            continue;
        }
        const auto& out = reader.channel(spawned.channel).out;
        ++outcomes["ran"];
        if (out.rfind("the real workspace\n", 0) != 0) {
            wrong.push_back("session saw: " + out.substr(0, 300));
        }
    }
    stop = true;
    racer.join();
    std::string counts;
    for (const auto& [what, count] : outcomes) {
        counts += what + "=" + std::to_string(count) + " ";
    }
    RecordProperty("outcomes", counts);
    EXPECT_EQ(joined(wrong), "") << counts;
    EXPECT_GT(swaps.load(), 20) << "the racer hardly ran";
    // Both outcomes seen: the swaps really interleaved with the spawns.
    EXPECT_GT(outcomes["bad_request"] + outcomes["spawn_failed"], 0) << counts;
    EXPECT_GT(outcomes["ran"], 0) << "no spawn got through at all: " << counts;
    EXPECT_TRUE(fs::exists("/etc/passwd"));
    EXPECT_FALSE(fs::exists("/etc/marker"));
}

// "Host paths do not exist inside" / read-only binds: hard links from the workspace, home or
// /tmp to bound host files cross mounts (EXDEV) or land on a read-only mount (EROFS).
TEST_F(FileSystem, HardLinksToFilesOutsideTheWorkspaceFail) {
    const std::map<std::string, std::string> links = {
        {"usr-to-ws", "/usr/bin/bash /workspace/bash"},
        {"etc-to-ws", "/etc/ld.so.cache /workspace/cache"},
        {"passwd-to-tmp", "/etc/passwd /tmp/passwd"},
        {"probe-to-home", "/probe/fs_probe /home/user/probe"},
        {"home-to-ws", "/home/user/own /workspace/own"},
        {"usr-to-usr", "/usr/bin/bash /usr/bin/bash2"}};
    std::string script = "echo mine > /home/user/own; ";
    for (const auto& [label, arguments] : links) {
        script += labelled(label, "link " + arguments);
    }
    const auto attack = run_shell(script);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    const auto got = labelled_results(attack.out);
    for (const auto& [label, arguments] : links) {
        ASSERT_EQ(got.count(label), 1u) << label << "\n" << attack.describe();
        EXPECT_THAT(got.at(label), ::testing::AnyOf("EXDEV", "EPERM", "EROFS"))
            << label << ": link " << arguments << "\n"
            << attack.describe();
    }
    EXPECT_EQ(got.at("usr-to-usr"), "EROFS") << attack.describe();
}

// "Read-only binds are read-only on every submount; the root itself is read-only" and
// "/proc/sys read-only": writes to /usr, /etc, the root, /probe and /proc/sys are EROFS.
TEST_F(FileSystem, ReadOnlyMountsAndProcSysRefuseWritesWithErofs) {
    const std::vector<std::string> paths = {"/usr/bin/bash",
                                            "/usr/secb-new",
                                            "/etc/passwd",
                                            "/etc/ld.so.cache",
                                            "/secb-new",
                                            "/probe/fs_probe",
                                            "/proc/sys/kernel/hostname",
                                            "/proc/sys/vm/drop_caches",
                                            "/proc/sys/kernel/core_pattern"};
    std::string script;
    for (const auto& path : paths) {
        script += labelled(path, "write " + path);
    }
    const auto attack = run_shell(script + "hostname");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    const auto got = labelled_results(attack.out);
    for (const auto& path : paths) {
        ASSERT_EQ(got.count(path), 1u) << path << "\n" << attack.describe();
        EXPECT_THAT(got.at(path), ::testing::AnyOf("EROFS", "EACCES")) << path << "\n"
                                                                       << attack.describe();
    }
    // Files the jail's uid could otherwise write: only the mount flag stops them.
    for (const auto& path : {"/etc/passwd", "/secb-new", "/proc/sys/kernel/hostname"}) {
        EXPECT_EQ(got.at(path), "EROFS") << path << "\n" << attack.describe();
    }
    EXPECT_THAT(attack.out, Not(HasSubstr("\nx\n"))) << attack.describe();
}

// "`/dev` holds only null, zero, full, random, urandom, tty, a private devpts, shm" and
// nodev: mknod is refused everywhere, and /dev lists only the documented nodes.
TEST_F(FileSystem, DeviceNodesCannotBeMadeAndDevHoldsOnlyTheDocumentedNodes) {
    const std::map<std::string, std::string> nodes = {{"mem-in-tmp", "/tmp/mem 1 1"},
                                                      {"null-in-ws", "/workspace/null 1 3"},
                                                      {"sda-in-shm", "/dev/shm/sda 8 0"},
                                                      {"kmsg-in-dev", "/dev/kmsg 1 11"}};
    std::string script;
    for (const auto& [label, arguments] : nodes) {
        script += labelled(label, "mknod " + arguments);
    }
    const auto attack = run_shell(script + "echo '--- dev'; ls -A /dev");
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    const auto got = labelled_results(attack.out);
    for (const auto& [label, arguments] : nodes) {
        ASSERT_EQ(got.count(label), 1u) << label << "\n" << attack.describe();
        EXPECT_THAT(got.at(label), ::testing::AnyOf("EPERM", "EROFS", "EACCES"))
            << label << "\n"
            << attack.describe();
    }
    std::set<std::string> listed;
    std::istringstream dev(attack.out.substr(attack.out.find("--- dev\n") + 8));
    for (std::string name; std::getline(dev, name);) {
        listed.insert(name);
    }
    const std::set<std::string> allowed = {"null",  "zero",   "full",   "random", "urandom",
                                           "tty",   "pts",    "ptmx",   "shm",    "fd",
                                           "stdin", "stdout", "stderr", "core"};
    for (const auto& name : listed) {
        EXPECT_TRUE(allowed.contains(name)) << "/dev/" << name << " is not documented\n"
                                            << attack.describe();
    }
    for (const auto& name : {"null", "zero", "full", "random", "urandom", "tty", "pts", "shm"}) {
        EXPECT_TRUE(listed.contains(name)) << "/dev/" << name << " is missing";
    }
}

// "special files left behind": a FIFO, a socket, a setuid/setgid file and a device attempt
// left in the workspace and home give the host no device and no setuid or setgid file, and the
// next session with that workspace and home starts and runs normally (nothing opens the FIFO).
TEST_F(FileSystem, SpecialFilesLeftInTheWorkspaceAreHarmless) {
    const auto first =
        run_shell("cd /workspace; " + labelled("fifo", "mkfifo /workspace/fifo") +
                  labelled("home-fifo", "mkfifo /home/user/.bashrc") +
                  labelled("socket", "socket /workspace/sock") +
                  labelled("device", "mknod /workspace/mem 1 1") + "cp /usr/bin/id ./suid-id; " +
                  labelled("setuid", "chmod /workspace/suid-id 6755") +
                  "install -m 4755 /usr/bin/id ./suid-install; cp -p /usr/bin/su ./su-copy; "
                  "./suid-id -u");
    ASSERT_EQ(first.status(), "exited") << first.describe();
    const auto got = labelled_results(first.out);
    for (const char* made : {"fifo", "home-fifo", "socket"}) {
        EXPECT_EQ(got.count(made) ? got.at(made) : "", "OK") << made << "\n" << first.describe();
    }
    EXPECT_NE(got.count("device") ? got.at("device") : "OK", "OK") << first.describe();
    // The filter refuses set-id mode bits (chmod family, open/creat/mknod modes; openat2 is
    // ENOSYS): docs/security.md, "Allowed only with argument checks".
    EXPECT_NE(got.count("setuid") ? got.at("setuid") : "OK", "OK") << first.describe();
    EXPECT_THAT(first.out, Not(HasSubstr("\n0\n"))) << first.describe();

    const auto second = run_shell(
        "cd /workspace && test -p fifo && test -S sock && echo specials-there; "
        "test -p ~/.bashrc && echo home-fifo-there; ./suid-id -u; echo next-ok");
    ASSERT_EQ(second.status(), "exited") << second.describe();
    EXPECT_THAT(second.out, HasSubstr("specials-there\nhome-fifo-there\n")) << second.describe();
    EXPECT_THAT(second.out, HasSubstr("next-ok")) << second.describe();
    EXPECT_THAT(second.out, Not(HasSubstr("\n0\n"))) << second.describe();

    std::vector<std::string> devices;
    std::vector<std::string> setid;
    const std::vector<fs::path> left = {daemon().workspace_root() / "mallory",
                                        daemon().state_dir() / "homes" / "mallory"};
    for (const auto& dir : left) {
        ASSERT_TRUE(fs::is_directory(dir)) << dir;
        for (const auto& entry : fs::recursive_directory_iterator(dir)) {
            struct stat st {};
            ASSERT_EQ(::lstat(entry.path().c_str(), &st), 0);
            if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
                devices.push_back(entry.path().string());
            }
            if ((st.st_mode & (S_ISUID | S_ISGID)) != 0 && !S_ISDIR(st.st_mode)) {
                char mode[8];
                std::snprintf(mode, sizeof mode, "%o", st.st_mode & 07777);
                setid.push_back(entry.path().string() + " mode " + mode + " uid " +
                                std::to_string(st.st_uid) + " gid " + std::to_string(st.st_gid));
            }
        }
    }
    EXPECT_EQ(joined(devices), "");
    EXPECT_EQ(joined(setid), "") << "set-id files the jail left on the host";
}

// "/tmp (and /dev/shm) ..." are the session's own: a marker one user's session puts in /tmp is
// not in another user's concurrent session.
TEST_F(FileSystem, TmpMarkerIsInvisibleToAConcurrentSessionOfAnotherUser) {
    auto owner = start_attack({"/bin/bash", "-c",
                               "echo secb-secret > /tmp/secb-marker && mkdir /tmp/secb-dir && "
                               "ls /tmp && echo planted; sleep 60"});
    ASSERT_TRUE(owner.wait_for_output("planted", 20s)) << owner.state().out;
    AttackOptions other;
    other.user = "eve";
    const auto attack = run_shell(
        "ls -A /tmp; cat /tmp/secb-marker 2>/dev/null; grep -rs secb-secret /tmp /dev/shm "
        "/workspace /home/user; test -e /tmp/secb-dir && echo dir-visible; echo end",
        other);
    ASSERT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("secb-"))) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("dir-visible"))) << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("end")) << attack.describe();
    EXPECT_TRUE(owner.state().exit_report.is_null());
    owner.kill_and_wait();
}

// "A daemon crash loses no session" and "An orderly stop leaves nothing": SIGKILL the daemon
// with two sessions running, restart it on the same state dir (they are re-adopted), SIGTERM:
// no process, cgroup, state file or mount naming the state dir is left.
TEST_F(FileSystem, DaemonKilledWithSessionsRunningLeavesNothingAfterRestartAndStop) {
    auto one = start_attack({"/bin/bash", "-c", "echo ready; sleep 1000"});
    AttackOptions eve;
    eve.user = "eve";
    eve.mode = "pty";
    auto two = start_attack({"/bin/bash", "-c", "trap '' TERM; echo ready; sleep 1000"}, eve);
    ASSERT_TRUE(one.wait_for_output("ready", 20s));
    ASSERT_TRUE(two.wait_for_output("ready", 20s));
    const std::set<std::string> ids = {one.spawned.session, two.spawned.session};
    ASSERT_EQ(session_cgroups(ids).size() > 0, true);
    daemon().kill_hard();
    EXPECT_EQ(::kill(one.spawned.pid, 0), 0) << "a session died with the daemon";
    ASSERT_NO_FATAL_FAILURE(daemon().start());
    {
        auto control = daemon().connect("after-restart");
        std::set<std::string> listed;
        const auto sessions = control.request({{"op", "list"}}).at("sessions");
        for (const auto& s : sessions) {
            listed.insert(s.value("session", ""));
        }
        for (const auto& id : ids) {
            EXPECT_TRUE(listed.contains(id)) << id << " was not re-adopted";
        }
    }
    const auto status = daemon().terminate(40s);
    ASSERT_TRUE(status) << "ccjaild did not stop";
    EXPECT_EQ(joined(descendant_processes()), "");
    EXPECT_NE(::kill(one.spawned.pid, 0), 0);
    EXPECT_NE(::kill(two.spawned.pid, 0), 0);
    EXPECT_EQ(joined(session_cgroups(ids)), "");
    EXPECT_EQ(joined(files_in(daemon().sessions_dir())), "");
    EXPECT_EQ(joined(host_mounts_naming(daemon().root().string())), "");
}

}  // namespace
}  // namespace ccjail::sectest
