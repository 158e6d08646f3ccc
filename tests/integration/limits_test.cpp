// Resource exhaustion from inside a jail: each attack ends the way the profile's limits say,
// and quickly, and the report names what happened.
#include <cerrno>
#include <csignal>

#include "cgroup/cgroup.hpp"
#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

using std::chrono::milliseconds;

class Limits : public JailTest {
  protected:
    static std::uint64_t cpu_usec(const JailRun& run) {
        return run.report["cpu_user_usec"].get<std::uint64_t>() +
               run.report["cpu_system_usec"].get<std::uint64_t>();
    }
};

TEST_F(Limits, MemoryBalloonEndsAsOom) {
    const std::uint64_t limit = load("probe").limits.memory_bytes;
    const auto twice = std::to_string(2 * limit >> 20);
    const JailRun run = probe({"balloon", twice});
    EXPECT_EQ(run.status(), "oom") << run.describe();
    EXPECT_GE(run.report["oom_kills"].get<std::uint64_t>(), 1u) << run.describe();
    EXPECT_EQ(run.exit_code, 128 + SIGKILL);
    EXPECT_EQ(run.out.find("allocated_mb"), std::string::npos) << "the balloon was not stopped";
    EXPECT_LT(run.elapsed, milliseconds(15000));
}

TEST_F(Limits, ForkBombStopsAtThePidsLimit) {
    const std::uint32_t limit = load("probe").limits.pids;
    const JailRun run = probe({"forkbomb"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.status(), "exited");
    const json bomb = run.out_json();
    EXPECT_EQ(bomb["errno"], EAGAIN) << run.describe();
    EXPECT_LT(bomb["forked"].get<std::uint32_t>(), limit);
    EXPECT_GT(bomb["forked"].get<std::uint32_t>(), limit / 2) << "stopped by something else";
    EXPECT_LE(run.report["pids_peak"].get<std::uint64_t>(), limit);
    // The sleeping children died with the session, and the host kept up.
    EXPECT_LT(run.elapsed, milliseconds(5000));
    EXPECT_EQ(processes_whose_cmdline_contains(root_.string()), std::vector<pid_t>{});
}

TEST_F(Limits, CpuHogIsThrottledToItsShare) {
    derive_profile("slow", {{"limits", {{"cpus", 0.2}}}});
    const JailRun run = probe({"spin", "1"}, "slow");
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_GT(run.report["nr_throttled"].get<std::uint64_t>(), 0u) << run.describe();
    // One wall second at a fifth of a core, with slack for the accounting period.
    EXPECT_LT(cpu_usec(run), 500'000u) << run.describe();
}

TEST_F(Limits, WallTimeoutKillsTheSession) {
    derive_profile("brief", {{"limits", {{"wall_time", "2s"}}}});
    const JailRun run = probe({"sleep", "60"}, "brief");
    EXPECT_EQ(run.status(), "wall_timeout") << run.describe();
    EXPECT_EQ(run.exit_code, 128 + SIGKILL);
    const auto wall = run.report["wall_ms"].get<std::uint64_t>();
    EXPECT_GE(wall, 2000u);
    EXPECT_LT(wall, 10000u);
    EXPECT_LT(run.elapsed, milliseconds(10000));
}

// Several processes, each far below the per-process RLIMIT_CPU: only the monitor's session-wide
// accounting can stop them.
TEST_F(Limits, SessionCpuBudgetEndsAsCpuTimeout) {
    derive_profile("budget", {{"limits", {{"cpu_time", "1s"}, {"cpus", 2}}}});
    const JailRun run = probe({"spin", "20", "4"}, "budget");
    EXPECT_EQ(run.status(), "cpu_timeout") << run.describe();
    EXPECT_EQ(run.exit_code, 128 + SIGKILL);
    EXPECT_GE(cpu_usec(run), 1'000'000u);
    EXPECT_LT(run.elapsed, milliseconds(8000));
}

TEST_F(Limits, OneProcessOverTheCpuBudgetEndsAsCpuTimeout) {
    derive_profile("budget", {{"limits", {{"cpu_time", "1s"}}}});
    const JailRun run = probe({"spin", "20"}, "budget");
    EXPECT_EQ(run.status(), "cpu_timeout") << run.describe();
    EXPECT_NE(run.exit_code, 0);
    EXPECT_LT(run.elapsed, milliseconds(8000));
}

}  // namespace
}  // namespace ccjail::itest
