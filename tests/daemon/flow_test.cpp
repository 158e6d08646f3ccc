// Flow control through a real daemon: a slow reader gets every byte while the daemon's memory
// stays bounded, the profile's byte rate holds, the ring replays on attach (dropping under
// drop_oldest, losing nothing under block), and the total-output cap ends the session.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "daemon_harness.hpp"
#include "stream_check.hpp"

namespace ccjail::dtest {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> gen(std::uint64_t bytes, unsigned then_sleep = 0) {
    std::vector<std::string> argv = {kProbe, "gen", std::to_string(bytes)};
    if (then_sleep > 0) {
        argv.insert(argv.end(), {"--then-sleep", std::to_string(then_sleep)});
    }
    return argv;
}

json inspect(client::Client& client, const std::string& session) {
    return client.request({{"op", "inspect"}, {"session", session}});
}

class FlowTest : public DaemonTest {};

// 200 MiB through pipe mode to a client that grants 64 KiB at a time and pauses after every
// frame. The bound on the daemon's RSS: what it may legitimately hold for this one session is
// the two 1 MiB rings of the profile (memfd pages count in VmRSS once touched) and the
// connection's write buffer (client_write_buffer_bytes, 4 MiB by default), plus at most one
// frame being assembled (the 1 MiB max payload); 16 MiB of slack over the idle daemon covers
// those 7 MiB twice over, and is a small fraction of the 200 MiB an unbounded daemon would
// accumulate.
TEST_F(FlowTest, SlowReaderGets200MiBIntactWhileDaemonMemoryStaysBounded) {
    constexpr std::uint64_t kTotal = 200ull << 20;
    constexpr std::uint64_t kRssSlack = 16ull << 20;
    auto client = daemon().connect();
    const std::uint64_t baseline = daemon().vm_rss_bytes();
    ASSERT_GT(baseline, 0u);
    Reader reader(client);
    StreamCheck check;
    std::uint64_t peak = 0;
    std::uint64_t next_sample = 0;
    const auto s = spawn(client, reader, spawn_body("dt-fast", "slow", gen(kTotal)), 0);
    auto& channel = reader.channel(s.channel);
    channel.keep_data = false;
    channel.delay_per_frame = 100us;
    channel.sink = [&](bool out, std::string_view bytes) {
        if (out) {
            check.feed(bytes);
        }
        if (check.received() >= next_sample) {
            peak = std::max(peak, daemon().vm_rss_bytes());
            next_sample += 4 << 20;
        }
    };
    reader.open(s.channel, 64 * 1024);
    ASSERT_TRUE(reader.until_exit(s.channel, 150s))
        << "received " << check.received() << " of " << kTotal;
    EXPECT_EQ(channel.exit_report.value("status", ""), "exited") << channel.exit_report.dump();
    EXPECT_EQ(channel.exit_report.value("exit_code", -1), 0) << channel.exit_report.dump();
    EXPECT_EQ(check.received(), kTotal);
    EXPECT_EQ(channel.err_bytes, 0u) << channel.err;
    EXPECT_FALSE(check.first_mismatch())
        << "first wrong byte at offset " << *check.first_mismatch();
    EXPECT_EQ(check.sha256(), stream_sha256(0, kTotal));
    EXPECT_LT(peak, baseline + kRssSlack)
        << "daemon VmRSS peaked at " << peak << " bytes, idle " << baseline;
    RecordProperty("daemon_rss_idle", std::to_string(baseline));
    RecordProperty("daemon_rss_peak", std::to_string(peak));
}

// dt-rate: 256 KiB/s with a 4 KiB burst. Measured from the first byte over 3 s with ample
// credit, so only the bucket limits it.
TEST_F(FlowTest, OutputRateMatchesTheProfileWithinTenPercent) {
    constexpr double kRate = 256 * 1024;
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-rate", "rate", gen(64ull << 20)), 0);
    auto& channel = reader.channel(s.channel);
    channel.keep_data = false;
    StreamCheck check;
    channel.sink = [&](bool, std::string_view bytes) { check.feed(bytes); };
    reader.open(s.channel, 4 << 20);
    ASSERT_TRUE(reader.until([&] { return channel.out_bytes > 0; }, 10s));
    const auto start = Clock::now();
    const std::uint64_t at_start = channel.out_bytes;
    reader.drain_for(3s);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    const double rate = static_cast<double>(channel.out_bytes - at_start) / seconds;
    EXPECT_NEAR(rate, kRate, kRate * 0.10) << "bytes/s over " << seconds << " s";
    EXPECT_FALSE(check.first_mismatch());
    EXPECT_TRUE(channel.has_event("throttled")) << "no throttled event while limited";
    const auto info = inspect(client, s.session);
    EXPECT_GT(info.value("throttled_ms", 0ull), 1000ull) << info.dump();
    client.request({{"op", "kill"}, {"grace_ms", 0}}, 10s, s.channel);
    EXPECT_TRUE(reader.until_exit(s.channel, 20s));
}

// Waits until the daemon has read `bytes` of the session's stdout into its ring.
bool wait_offset(client::Client& client, const std::string& session, std::uint64_t bytes,
                 std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (inspect(client, session).value("offset", 0ull) >= bytes) {
            return true;
        }
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

TEST_F(FlowTest, DetachedDropOldestReplaysTheRingAndReportsDropped) {
    constexpr std::uint64_t kTotal = 1 << 20;
    constexpr std::uint64_t kRing = 64 * 1024;
    auto client = daemon().connect();
    Reader reader(client);
    // No credit: nothing is read while attached; then detached, the ring fills and wraps.
    const auto s = spawn(client, reader, spawn_body("dt-drop", "drop", gen(kTotal, 60)), 0);
    client.request({{"op", "detach"}}, 10s, s.channel);
    ASSERT_TRUE(wait_offset(client, s.session, kTotal, 20s))
        << "the daemon did not keep reading a detached drop_oldest session: "
        << inspect(client, s.session).dump();
    const auto info = inspect(client, s.session);
    EXPECT_GE(info.value("dropped_bytes", 0ull), kTotal - kRing) << info.dump();
    EXPECT_EQ(info.value("state", ""), "running");

    auto watcher = daemon().connect("watcher");
    Reader watch(watcher);
    const auto attached = attach(watcher, watch, {{"session", s.session}, {"from_offset", 0}}, 0);
    const auto channel = attached.at("channel").get<std::uint32_t>();
    const std::uint64_t begin = attached.value("begin_offset", 0ull);
    EXPECT_EQ(attached.value("offset", 0ull), kTotal);
    EXPECT_GE(begin, kTotal - kRing);
    EXPECT_LT(begin, kTotal);
    StreamCheck check(begin);
    watch.channel(channel).sink = [&](bool out, std::string_view bytes) {
        if (out) {
            check.feed(bytes);
        }
    };
    watch.open(channel, 256 * 1024);
    ASSERT_TRUE(watch.until([&] { return check.offset() >= kTotal; }, 20s))
        << "replayed " << check.received() << " of " << kTotal - begin;
    const auto dropped = watch.channel(channel).event("dropped");
    ASSERT_TRUE(dropped) << "no dropped event before the replay";
    EXPECT_EQ(dropped->value("bytes", 0ull), begin) << dropped->dump();
    EXPECT_FALSE(check.first_mismatch()) << "first wrong byte at " << *check.first_mismatch();
    EXPECT_EQ(check.offset(), kTotal);

    // From an offset inside the ring: exactly the tail, no dropped event.
    auto tail_client = daemon().connect("tail");
    Reader tail(tail_client);
    const auto tail_attach =
        attach(tail_client, tail, {{"session", s.session}, {"from_offset", kTotal - 1000}}, 4096);
    const auto tail_channel = tail_attach.at("channel").get<std::uint32_t>();
    tail.drain_for(500ms);
    StreamCheck tail_check(kTotal - 1000);
    tail_check.feed(tail.channel(tail_channel).out);
    EXPECT_EQ(tail_check.offset(), kTotal);
    EXPECT_FALSE(tail_check.first_mismatch());
    EXPECT_FALSE(tail.channel(tail_channel).has_event("dropped"));
    client.request({{"op", "kill"}, {"session", s.session}, {"grace_ms", 0}});
}

TEST_F(FlowTest, DetachedBlockLosesNothing) {
    constexpr std::uint64_t kTotal = 1 << 20;
    constexpr std::uint64_t kRing = 64 * 1024;
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-block", "block", gen(kTotal, 60)), 0);
    client.request({{"op", "detach"}}, 10s, s.channel);
    // The ring fills, then the daemon stops reading and the jail blocks.
    ASSERT_TRUE(wait_offset(client, s.session, kRing, 20s)) << inspect(client, s.session).dump();
    std::this_thread::sleep_for(500ms);
    const auto info = inspect(client, s.session);
    EXPECT_LE(info.value("offset", 0ull), kRing) << "read past a full ring: " << info.dump();
    EXPECT_EQ(info.value("dropped_bytes", 1ull), 0ull) << info.dump();

    auto watcher = daemon().connect("watcher");
    Reader watch(watcher);
    const auto attached = attach(watcher, watch, {{"session", s.session}, {"from_offset", 0}}, 0);
    const auto channel = attached.at("channel").get<std::uint32_t>();
    EXPECT_EQ(attached.value("begin_offset", 1ull), 0ull);
    StreamCheck check;
    watch.channel(channel).keep_data = false;
    watch.channel(channel).sink = [&](bool out, std::string_view bytes) {
        if (out) {
            check.feed(bytes);
        }
    };
    watch.open(channel, 128 * 1024);
    ASSERT_TRUE(watch.until([&] { return check.offset() >= kTotal; }, 30s))
        << "received " << check.received() << " of " << kTotal;
    EXPECT_FALSE(watch.channel(channel).has_event("dropped"));
    EXPECT_FALSE(check.first_mismatch()) << "first wrong byte at " << *check.first_mismatch();
    EXPECT_EQ(check.sha256(), stream_sha256(0, kTotal));
    EXPECT_EQ(inspect(client, s.session).value("dropped_bytes", 1ull), 0ull);
    client.request({{"op", "kill"}, {"session", s.session}, {"grace_ms", 0}});
}

TEST_F(FlowTest, PtyDefaultsToDropOldestWhenDetached) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s =
        spawn(client, reader, spawn_body("dt-drop", "ptydrop", gen(1 << 20, 60), "pty"), 0);
    client.request({{"op", "detach"}}, 10s, s.channel);
    // A pty adds CR before LF; the probe's bytes may grow, never shrink.
    ASSERT_TRUE(wait_offset(client, s.session, 1 << 20, 20s)) << inspect(client, s.session).dump();
    EXPECT_GT(inspect(client, s.session).value("dropped_bytes", 0ull), 0ull);
    client.request({{"op", "kill"}, {"session", s.session}, {"grace_ms", 0}});
}

// A program that ends without writing anything has nothing to drain: EOF, the exit event and
// the ended state must not wait for credit the client has no reason to grant, or the session
// (and its admission slot) stays `exited` for as long as the client stays attached.
TEST_F(FlowTest, SessionWithoutOutputEndsWithoutCredit) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-fast", "quiet", {"/bin/true"}), 0);
    EXPECT_TRUE(reader.until_exit(s.channel, 10s))
        << "no exit event; state " << inspect(client, s.session).value("state", "");
    EXPECT_TRUE(reader.channel(s.channel).eof);
    EXPECT_EQ(inspect(client, s.session).value("state", ""), "ended");
}

TEST_F(FlowTest, TotalOutputCapEndsTheSessionWithOutputLimit) {
    auto client = daemon().connect();
    Reader reader(client);
    const auto s = spawn(client, reader, spawn_body("dt-total", "total", gen(1 << 20)), 1 << 20);
    ASSERT_TRUE(reader.until_exit(s.channel, 20s));
    const auto& channel = reader.channel(s.channel);
    EXPECT_EQ(channel.exit_report.value("status", ""), "output_limit")
        << channel.exit_report.dump();
    EXPECT_LE(channel.out_bytes + channel.err_bytes, 4096u);
    StreamCheck check;
    check.feed(channel.out);
    EXPECT_FALSE(check.first_mismatch());
    bool audited = false;
    for (const auto& line : daemon().events("limit_hit", s.session)) {
        audited = audited || line.dump().find("output") != std::string::npos;
    }
    EXPECT_TRUE(audited) << daemon().log_text();
}

}  // namespace
}  // namespace ccjail::dtest
