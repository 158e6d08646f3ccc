// The Resources class of the attack battery (docs/security.md, "The attack battery"): a hostile
// program tries to exhaust the host through its session (pids, memory by every door, disk,
// inodes, fds, output, CPU, time) or to outlive it. Each attack must end the way the profile's
// limits say, the daemon must keep answering, and nothing of the session may be left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <thread>

#include "security_harness.hpp"

namespace ccjail::sectest {
namespace {

using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;
using ::testing::Not;

// sec-attack's limits, as the assertions need them.
constexpr std::uint64_t kMemoryLimit = 128ull << 20;
constexpr std::uint64_t kPidsLimit = 64;
constexpr std::uint64_t kTmpSize = 16ull << 20;
constexpr std::uint64_t kDevShmSize = 4ull << 20;
constexpr std::uint64_t kFileSize = 32ull << 20;
constexpr int kNofile = 256;
// The daemon's memory may grow by its per-session buffers while a flood passes (two 1 MiB
// rings, the 4 MiB connection write buffer, one frame being built): 16 MiB covers those twice,
// and is a small fraction of any flood below that an unbounded daemon would keep.
constexpr std::uint64_t kRssSlack = 16ull << 20;

std::uint64_t result_number(const std::string& out, const std::string& name) {
    const std::string text = result_field(out, name);
    return text.empty() ? 0 : std::stoull(text);
}

std::uint64_t report_number(const Attack& attack, const char* key) {
    return attack.report.is_object() ? attack.report.value(key, std::uint64_t{0}) : 0;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string text;
    for (const auto& line : lines) {
        text.append(line).append("\n");
    }
    return text;
}

// What the session left (its monitor, any process of its jail, its cgroups) once the monitor had
// up to `timeout` to finish; "" when nothing. For tests with one session at a time.
std::string leftovers(Daemon& daemon, const std::string& session,
                      std::chrono::milliseconds timeout = 10s) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        std::string left = joined(descendant_processes(daemon.pid()));
        for (const auto& dir : session_cgroups({session})) {
            left.append("cgroup ").append(dir.string()).append("\n");
        }
        if (left.empty() || Clock::now() >= deadline) {
            return left;
        }
        std::this_thread::sleep_for(50ms);
    }
}

// How long a fresh connection takes to say hello and get the session list.
std::chrono::milliseconds list_latency(Daemon& daemon) {
    const auto start = Clock::now();
    auto client = daemon.connect("bystander");
    client.request({{"op", "list"}}, 10s);
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// The session's pids.current, from whichever hierarchy holds its pids controller; 0 if none.
std::uint64_t pids_current(const std::string& session) {
    for (const auto& dir : session_cgroups({session})) {
        const std::string text = read_file(dir / "pids.current");
        if (!text.empty()) {
            return std::stoull(text);
        }
    }
    return 0;
}

// Pids: a loop of forks whose children wait stops at the pids limit with EAGAIN.
TEST_F(Resources, ForkBombStopsAtThePidsLimit) {
    const auto attack = run_attack({probe("resource_probe"), "forkbomb"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "errno"), "EAGAIN") << attack.describe();
    const auto forked = result_number(attack.out, "forked");
    EXPECT_LT(forked, kPidsLimit) << attack.describe();
    EXPECT_GT(forked, kPidsLimit / 2) << "stopped by something else: " << attack.describe();
    EXPECT_LE(report_number(attack, "pids_peak"), kPidsLimit) << attack.describe();
    EXPECT_LT(list_latency(daemon()), 3s);
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
}

// Pids: threads count against the same limit as processes.
TEST_F(Resources, ThreadBombStopsAtThePidsLimit) {
    const auto attack = run_attack({probe("resource_probe"), "threads"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "errno"), "EAGAIN") << attack.describe();
    const auto threads = result_number(attack.out, "threads");
    EXPECT_LT(threads, kPidsLimit) << attack.describe();
    EXPECT_GT(threads, kPidsLimit / 2) << "stopped by something else: " << attack.describe();
    EXPECT_LE(report_number(attack, "pids_peak"), kPidsLimit) << attack.describe();
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
}

// Pids: every process forks forever, parents leave at random; the count stays at the limit
// and the daemon keeps answering others while it lasts.
TEST_F(Resources, ForkStormStaysBoundedWhileTheDaemonKeepsAnswering) {
    auto storm = start_attack({probe("resource_probe"), "storm", "3"});
    ASSERT_TRUE(storm.wait_for_output("STORM", 20s)) << storm.state().out;
    std::chrono::milliseconds slowest{0};
    std::uint64_t most_pids = 0;
    for (int i = 0; i < 40; ++i) {
        if (i % 8 == 0) {
            slowest = std::max(slowest, list_latency(daemon()));
        }
        most_pids = std::max(most_pids, pids_current(storm.spawned.session));
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_LT(slowest, 3s) << "the daemon stalled during the storm";
    // More than the init, the probe and the four members it started: they are forking. (How
    // close the storm gets to the limit depends on how much CPU a loaded host leaves it.)
    EXPECT_GT(most_pids, 6u) << "no storm to speak of";
    EXPECT_LE(most_pids, kPidsLimit);
    ASSERT_TRUE(storm.reader->until_exit(storm.spawned.channel, 30s)) << storm.state().out;
    const json& report = storm.state().exit_report;
    EXPECT_EQ(report.value("status", ""), "exited") << report.dump();
    EXPECT_LE(report.value("pids_peak", std::uint64_t{0}), kPidsLimit) << report.dump();
    EXPECT_THAT(storm.state().out, HasSubstr("RESULT storm_over"));
    EXPECT_EQ(leftovers(daemon(), storm.spawned.session), "");
}

// Nothing outlives the session: killed in the middle of a fork storm, it leaves no process
// and no cgroup, round after round.
TEST_F(Resources, KillDuringAForkStormLeavesNothingBehind) {
    for (int round = 0; round < 3; ++round) {
        auto storm = start_attack({probe("resource_probe"), "storm", "0"});
        ASSERT_TRUE(storm.wait_for_output("STORM", 20s)) << storm.state().out;
        std::this_thread::sleep_for(300ms);
        const json report = storm.kill_and_wait(30s);
        ASSERT_TRUE(report.is_object()) << "round " << round << ": no exit event";
        EXPECT_EQ(report.value("status", ""), "killed") << report.dump();
        EXPECT_EQ(leftovers(daemon(), storm.spawned.session), "") << "round " << round;
    }
    EXPECT_LT(list_latency(daemon()), 3s);
}

// Memory: anonymous memory past the limit ends the session as oom, counted.
TEST_F(Resources, AnonymousMemoryBalloonEndsAsOom) {
    const auto attack = run_attack({probe("resource_probe"), "balloon", "512"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "oom") << attack.describe();
    EXPECT_GE(report_number(attack, "oom_kills"), 1u) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("RESULT"))) << "the balloon was not stopped";
    EXPECT_LE(report_number(attack, "memory_peak_bytes"), kMemoryLimit + (1 << 20));
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
}

// Memory: a memfd has no mount to bound it, only the memory cgroup; it ends as oom.
TEST_F(Resources, MemfdBalloonEndsAsOom) {
    const auto attack = run_attack({probe("resource_probe"), "memfd", "512"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "oom") << attack.describe();
    EXPECT_GE(report_number(attack, "oom_kills"), 1u) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("RESULT"))) << "the memfd was not stopped";
    EXPECT_LE(report_number(attack, "memory_peak_bytes"), kMemoryLimit + (1 << 20));
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
}

// /tmp: writing four times its size stops at the size with ENOSPC; the session goes on.
TEST_F(Resources, TmpBalloonStopsAtItsSizeWithEnospc) {
    const auto attack = run_shell(
        "head -c 64M /dev/zero > /tmp/fill; echo rc=$?; stat -c size=%s /tmp/fill; "
        "echo still-running");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.err, HasSubstr("No space left on device")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("rc=0")));
    EXPECT_THAT(attack.out, HasSubstr("still-running"));
    const auto at = attack.out.find("size=");
    ASSERT_NE(at, std::string::npos) << attack.describe();
    EXPECT_LE(std::stoull(attack.out.substr(at + 5)), kTmpSize);
    EXPECT_GT(std::stoull(attack.out.substr(at + 5)), kTmpSize / 2) << "stopped by something else";
    EXPECT_LT(report_number(attack, "memory_peak_bytes"), kMemoryLimit);
}

// /dev/shm: the same, at its own smaller size.
TEST_F(Resources, DevShmBalloonStopsAtItsSizeWithEnospc) {
    const auto attack = run_shell(
        "head -c 64M /dev/zero > /dev/shm/fill; echo rc=$?; stat -c size=%s /dev/shm/fill; "
        "echo still-running");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.err, HasSubstr("No space left on device")) << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("rc=0")));
    EXPECT_THAT(attack.out, HasSubstr("still-running"));
    const auto at = attack.out.find("size=");
    ASSERT_NE(at, std::string::npos) << attack.describe();
    EXPECT_LE(std::stoull(attack.out.substr(at + 5)), kDevShmSize);
    EXPECT_GT(std::stoull(attack.out.substr(at + 5)), kDevShmSize / 2);
}

// /tmp inodes: empty files stop at nr_inodes (size / 4 KiB) with ENOSPC, far below the bytes.
TEST_F(Resources, TmpInodeFillStopsAtItsInodeLimit) {
    const auto attack = run_attack({probe("resource_probe"), "inodes", "/tmp"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "errno"), "ENOSPC") << attack.describe();
    const auto files = result_number(attack.out, "files");
    EXPECT_LE(files, kTmpSize / 4096) << attack.describe();
    EXPECT_GT(files, kTmpSize / 4096 / 2) << attack.describe();
}

// Disk: one file in the workspace stops at the profile's file_size (RLIMIT_FSIZE).
TEST_F(Resources, OneHugeWorkspaceFileStopsAtTheFileSizeLimit) {
    const auto attack = run_shell(
        "head -c 64M /dev/zero > /workspace/big; echo rc=$?; stat -c size=%s /workspace/big");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, Not(HasSubstr("rc=0"))) << attack.describe();
    const auto on_host = daemon().workspace_root() / "mallory" / "big";
    ASSERT_TRUE(fs::exists(on_host)) << attack.describe();
    EXPECT_EQ(fs::file_size(on_host), kFileSize) << attack.describe();
}

// fds: open until refused stops at nofile with EMFILE; the hard limit cannot be raised.
TEST_F(Resources, FdExhaustionStopsAtNofileWithEmfile) {
    const auto attack = run_attack({probe("resource_probe"), "fds"});
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_EQ(result_field(attack.out, "errno"), "EMFILE") << attack.describe();
    EXPECT_EQ(result_number(attack.out, "soft"), static_cast<std::uint64_t>(kNofile));
    EXPECT_EQ(result_number(attack.out, "hard"), static_cast<std::uint64_t>(kNofile));
    EXPECT_EQ(result_number(attack.out, "highest"), static_cast<std::uint64_t>(kNofile - 1));
    EXPECT_EQ(result_field(attack.out, "raise"), "EPERM") << attack.describe();
}

// Output: 64 MiB of every byte value reaches the client intact while the daemon's memory
// stays within its per-session buffers.
TEST_F(Resources, BinaryOutputFloodArrivesIntactWithTheDaemonsMemoryBounded) {
    constexpr std::uint64_t kTotal = 64ull << 20;
    const std::uint64_t baseline = daemon().vm_rss_bytes();
    ASSERT_GT(baseline, 0u);
    auto flood = start_attack({probe("resource_probe"), "flood-binary", "64"});
    auto& channel = flood.reader->channel(flood.spawned.channel);
    channel.keep_data = false;
    std::uint64_t received = 0;
    std::uint64_t first_wrong = UINT64_MAX;
    std::uint64_t peak = 0;
    channel.sink = [&](bool out, std::string_view bytes) {
        if (!out) {
            return;
        }
        for (const char c : bytes) {
            const std::uint64_t o = received++;
            const auto expected = static_cast<unsigned char>((o ^ (o >> 8) ^ (o >> 16)) & 0xff);
            if (static_cast<unsigned char>(c) != expected && first_wrong == UINT64_MAX) {
                first_wrong = o;
            }
        }
        if ((received >> 22) != ((received - bytes.size()) >> 22)) {
            peak = std::max(peak, daemon().vm_rss_bytes());
        }
    };
    ASSERT_TRUE(flood.reader->until_exit(flood.spawned.channel, 60s)) << received;
    EXPECT_EQ(channel.exit_report.value("status", ""), "exited") << channel.exit_report.dump();
    EXPECT_EQ(received, kTotal);
    EXPECT_EQ(first_wrong, UINT64_MAX) << "first wrong byte at offset " << first_wrong;
    EXPECT_LT(peak, baseline + kRssSlack) << "daemon VmRSS peaked at " << peak;
}

// Output: one 48 MiB line without a newline arrives whole; the daemon does not buffer lines.
TEST_F(Resources, OneHugeLineArrivesWholeWithTheDaemonsMemoryBounded) {
    constexpr std::uint64_t kTotal = 48ull << 20;
    const std::uint64_t baseline = daemon().vm_rss_bytes();
    auto flood = start_attack({"/bin/bash", "-c", "head -c 48M /dev/zero | tr '\\0' x"});
    auto& channel = flood.reader->channel(flood.spawned.channel);
    channel.keep_data = false;
    std::uint64_t received = 0;
    std::uint64_t others = 0;
    std::uint64_t peak = 0;
    channel.sink = [&](bool out, std::string_view bytes) {
        if (!out) {
            return;
        }
        received += bytes.size();
        others +=
            bytes.size() - static_cast<std::uint64_t>(std::count(bytes.begin(), bytes.end(), 'x'));
        peak = std::max(peak, daemon().vm_rss_bytes());
    };
    ASSERT_TRUE(flood.reader->until_exit(flood.spawned.channel, 60s)) << received;
    EXPECT_EQ(channel.exit_report.value("status", ""), "exited") << channel.exit_report.dump();
    EXPECT_EQ(received, kTotal);
    EXPECT_EQ(others, 0u) << "bytes other than the line's";
    EXPECT_LT(peak, baseline + kRssSlack) << "daemon VmRSS peaked at " << peak;
}

// Output: a flood of terminal queries and title/clear sequences on the session's pty reaches
// the client verbatim, and nothing answers them into the program's input.
TEST_F(Resources, EscapeSequenceFloodIsRelayedVerbatimAndAnswersNothing) {
    AttackOptions options;
    options.mode = "pty";
    // OSC title, cursor position and device attribute queries, DECRQSS, clear screen.
    const auto attack = run_shell(
        "for i in $(seq 3000); do printf '\\e]0;pwned\\a\\e[6n\\e[c\\eP$q\"p\\e\\\\\\e[2J'; done; "
        "if read -r -t 2 answer; then echo INJECTED; else echo NO-INPUT; fi",
        options);
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    std::size_t titles = 0;
    for (auto at = attack.out.find("\x1b]0;pwned\x07"); at != std::string::npos;
         at = attack.out.find("\x1b]0;pwned\x07", at + 1)) {
        ++titles;
    }
    EXPECT_EQ(titles, 3000u);
    EXPECT_THAT(attack.out, HasSubstr("\x1b[6n\x1b[c\x1bP$q\"p\x1b\\\x1b[2J"));
    EXPECT_THAT(attack.out, HasSubstr("NO-INPUT"));
    EXPECT_THAT(attack.out, Not(HasSubstr("INJECTED")));
}

// CPU: a spin is held to its share, then ended as cpu_timeout at the CPU-time budget.
TEST_F(Resources, CpuSpinIsHeldToItsShareThenEndsAsCpuTimeout) {
    AttackOptions options;
    options.profile = "sec-res-cpu";
    const auto attack = run_shell("while :; do :; done", options);
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "cpu_timeout") << attack.describe();
    const auto cpu =
        report_number(attack, "cpu_user_usec") + report_number(attack, "cpu_system_usec");
    // Ended at the budget: the per-process RLIMIT_CPU and the cgroup's accounting tick at
    // different granularities, so "at" is within a tenth of a second below and a little above.
    EXPECT_GE(cpu, 900'000u) << attack.report.dump();
    EXPECT_LT(cpu, 2'000'000u) << attack.report.dump();
    // Never more than its half core: CPU time at most half the wall clock, plus two 100 ms
    // periods of slack. One period was not enough in CI (1,003,835 us in 1798 ms): the wall
    // clock starts after the jail's first instructions ran, CFS hands out quota in 5 ms
    // per-CPU slices, and rusage counts in 4 ms ticks. A spin that is not held at all uses about
    // as much CPU as wall clock and stays far above the bound. (nr_throttled alone would be
    // flaky: on a loaded host the spin may get less than its share without the quota biting.)
    const auto wall_ms = report_number(attack, "wall_ms");
    EXPECT_LE(cpu, wall_ms * 500 + 200'000) << attack.report.dump();
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
}

// Time: a program that ignores SIGTERM and never ends is ended as wall_timeout.
TEST_F(Resources, WallClockHangEndsAsWallTimeout) {
    AttackOptions options;
    options.profile = "sec-res-wall";
    const auto attack = run_shell("trap '' TERM HUP INT; while :; do sleep 1; done", options);
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "wall_timeout") << attack.describe();
    EXPECT_GE(report_number(attack, "wall_ms"), 2000u) << attack.report.dump();
    EXPECT_LT(report_number(attack, "wall_ms"), 15000u) << attack.report.dump();
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
}

// Nothing outlives the session: a double-forked, setsid daemon ignoring SIGHUP/SIGTERM dies
// with the main program; no process, no cgroup, no more writes.
TEST_F(Resources, DoubleForkedDaemonDoesNotOutliveTheSession) {
    const auto attack = run_shell(
        "( setsid bash -c 'trap \"\" HUP TERM; while :; do echo beat >> /workspace/beat; "
        "sleep 0.1; done' < /dev/null > /dev/null 2>&1 & ); sleep 0.5; echo started");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_THAT(attack.out, HasSubstr("started"));
    const auto beat = daemon().workspace_root() / "mallory" / "beat";
    ASSERT_TRUE(fs::exists(beat)) << "the daemon never ran: " << attack.describe();
    EXPECT_EQ(leftovers(daemon(), attack.session), "");
    const auto size = fs::file_size(beat);
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(fs::file_size(beat), size) << "the daemon is still writing";
}

}  // namespace
}  // namespace ccjail::sectest
