// The jail's processes: what they can see of others, how their end is reported, how signals
// reach them, and that none outlives its session.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

using std::chrono::milliseconds;

class Processes : public JailTest {};

TEST_F(Processes, ProcShowsOnlyTheJailsOwnProcesses) {
    const JailRun run = probe({"procs"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json seen = run.out_json();
    auto pids = seen["pids"].get<std::vector<long>>();
    std::sort(pids.begin(), pids.end());
    // The jail's init and the probe itself, nothing of the host.
    EXPECT_EQ(pids, (std::vector<long>{1, seen["self"].get<long>()})) << run.describe();
}

TEST_F(Processes, ExitCodeIsThePrograms) {
    const JailRun run = probe({"exit", "3"});
    EXPECT_EQ(run.exit_code, 3) << run.describe();
    EXPECT_EQ(run.status(), "exited");
    EXPECT_EQ(run.report["exit_code"], 3);
    EXPECT_EQ(run.report["signal"], 0);
}

TEST_F(Processes, DeathBySignalIs128PlusTheSignal) {
    const JailRun run = probe({"raise", std::to_string(SIGSEGV)});
    EXPECT_EQ(run.exit_code, 128 + SIGSEGV) << run.describe();
    EXPECT_EQ(run.status(), "signaled");
    EXPECT_EQ(run.report["signal"], SIGSEGV);
}

TEST_F(Processes, SigtermToTheMonitorEndsTheSession) {
    RunOptions options;
    options.ready_marker = "sleeping";
    options.on_ready = [](pid_t exec_pid) { ::kill(exec_pid, SIGTERM); };
    const JailRun run = probe(options, {"sleep", "30"});
    EXPECT_FALSE(run.timed_out) << run.describe();
    EXPECT_EQ(run.exit_code, 128 + SIGTERM) << run.describe();
    EXPECT_EQ(run.status(), "signaled");
    EXPECT_EQ(run.report["signal"], SIGTERM);
    EXPECT_EQ(run.out.find("slept"), std::string::npos) << "the program was not interrupted";
    EXPECT_LT(run.elapsed, milliseconds(5000));
}

TEST_F(Processes, AProgramIgnoringSigtermIsKilledAfterTheGracePeriod) {
    RunOptions options;
    options.exec_args = {"--kill-grace-ms", "300"};
    options.ready_marker = "sleeping";
    options.on_ready = [](pid_t exec_pid) { ::kill(exec_pid, SIGTERM); };
    const JailRun run = probe(options, {"sleep-ignoring-term", "30"});
    EXPECT_FALSE(run.timed_out) << run.describe();
    EXPECT_EQ(run.status(), "killed") << run.describe();
    EXPECT_EQ(run.exit_code, 128 + SIGKILL);
    EXPECT_LT(run.elapsed, milliseconds(5000));
}

TEST_F(Processes, ADoubleForkedDaemonDoesNotOutliveTheSession) {
    // A uid of its own, so that other jails running meanwhile cannot be mistaken for leftovers.
    const uid_t uid = 61000 + static_cast<uid_t>(::getpid() % 1000);
    derive_profile("lonely", {{"identity", {{"uid", uid}, {"gid", uid}}}});
    const fs::path ws = workspace("lonely", uid, uid);
    const JailRun run = probe(in_profile("lonely", "lonely"), {"daemonize", "/workspace/marker"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    ASSERT_EQ(run.out_json()["daemon_started"], true) << run.describe();
    ASSERT_TRUE(fs::exists(ws / "marker"));
    EXPECT_LT(run.elapsed, milliseconds(3000)) << "ccjail-exec waited for the daemon";
    const auto size = fs::file_size(ws / "marker");
    std::this_thread::sleep_for(milliseconds(400));
    EXPECT_EQ(fs::file_size(ws / "marker"), size) << "the daemon is still writing";
    EXPECT_EQ(processes_with_uid(uid), std::vector<pid_t>{});
    EXPECT_EQ(processes_whose_cmdline_contains(root_.string()), std::vector<pid_t>{});
    const std::string id = run.report["id"];
    for (const auto& dir : jail_cgroup_dirs()) {
        EXPECT_NE(dir.filename(), "jail-" + id) << dir;
    }
}

// The init is a copy of ccjail-exec: without care, /proc/1/cmdline would show the monitor's
// command line with the host's profile, workspace, home and state paths.
TEST_F(Processes, InitShowsNoHostCommandLineOrEnvironment) {
    const JailRun run = probe({"read", "/proc/1/cmdline"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json seen = run.out_json();
    ASSERT_EQ(seen["errno"], 0) << run.describe();
    std::string content = seen["content"].get<std::string>();
    content.erase(content.find_last_not_of('\n') + 1);
    EXPECT_EQ(content, "ccjail-init") << run.describe();
    EXPECT_EQ(run.out.find(workspace_root_.string()), std::string::npos) << run.describe();
}

}  // namespace
}  // namespace ccjail::itest
