#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include "flow/token_bucket.hpp"

namespace ccjail::flow {
namespace {

using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A fixed, arbitrary epoch: the classes never read the clock, so tests step time by hand.
const Clock::time_point t0 = Clock::time_point{} + hours(1000);

TEST(TokenBucket, StartsFullAndFirstRefillOnlyFixesTheReference) {
    TokenBucket bucket(100, 50);
    EXPECT_EQ(bucket.available(), 50u);
    bucket.take(50);
    bucket.refill(t0);
    EXPECT_EQ(bucket.available(), 0u);
    bucket.refill(t0 + milliseconds(100));
    EXPECT_EQ(bucket.available(), 10u);
}

TEST(TokenBucket, BurstThenSteadyRate) {
    TokenBucket bucket(1000, 4000);
    bucket.refill(t0);
    bucket.take(4000);
    std::uint64_t delivered = 4000;
    for (int step = 1; step <= 100; ++step) {
        bucket.refill(t0 + milliseconds(10 * step));
        EXPECT_EQ(bucket.available(), 10u) << "step " << step;
        delivered += bucket.available();
        bucket.take(bucket.available());
    }
    EXPECT_EQ(delivered, 4000u + 1000u);
}

TEST(TokenBucket, NeverExceedsBurst) {
    TokenBucket bucket(1000, 300);
    bucket.refill(t0);
    bucket.take(300);
    bucket.refill(t0 + seconds(10));
    EXPECT_EQ(bucket.available(), 300u);
}

TEST(TokenBucket, FractionalRateLosesNothingAcrossSmallSteps) {
    // 3 tokens/s refilled every millisecond: each step earns 0.003 tokens, which only the kept
    // remainder turns into whole tokens.
    TokenBucket bucket(3, 10);
    bucket.refill(t0);
    bucket.take(10);
    std::uint64_t got = 0;
    for (int ms = 1; ms <= 10'000; ++ms) {
        bucket.refill(t0 + milliseconds(ms));
        got += bucket.available();
        bucket.take(bucket.available());
        if (ms == 333) {
            EXPECT_EQ(got, 0u);
        }
        if (ms == 334) {
            EXPECT_EQ(got, 1u);  // 0.334 s * 3/s = 1.002
        }
    }
    EXPECT_EQ(got, 30u);
}

TEST(TokenBucket, FractionalRateOverSecondSteps) {
    TokenBucket bucket(3, 1000);
    bucket.refill(t0);
    bucket.take(1000);
    for (int s = 1; s <= 1000; ++s) {
        bucket.refill(t0 + milliseconds(1000 * s));
    }
    EXPECT_EQ(bucket.available(), 1000u);
    TokenBucket slow(3, 1'000'000);
    slow.refill(t0);
    slow.take(1'000'000);
    for (int s = 1; s <= 1000; ++s) {
        slow.refill(t0 + milliseconds(1000 * s));
    }
    EXPECT_EQ(slow.available(), 3000u);
}

TEST(TokenBucket, ExactOverAnHourOfMillisecondRefills) {
    // 7 tokens/s refilled 3.6 million times: exactly 25200 tokens, not one more or less.
    TokenBucket bucket(7, 1'000'000'000);
    bucket.refill(t0);
    bucket.take(1'000'000'000);
    for (std::int64_t ms = 1; ms <= 3'600'000; ++ms) {
        bucket.refill(t0 + milliseconds(ms));
    }
    EXPECT_EQ(bucket.available(), 25'200u);
}

TEST(TokenBucket, HugeRateAndYearsOfIdleDoNotOverflow) {
    constexpr std::uint64_t rate = std::uint64_t{1} << 40;
    constexpr std::uint64_t burst = std::uint64_t{1} << 50;
    TokenBucket bucket(rate, burst);
    bucket.refill(t0);
    bucket.take(burst);
    bucket.refill(t0 + hours(24 * 365 * 200));
    EXPECT_EQ(bucket.available(), burst);

    bucket.take(burst);
    bucket.refill(t0 + hours(24 * 365 * 200) + seconds(3));
    EXPECT_EQ(bucket.available(), 3 * rate);
}

TEST(TokenBucket, MaximalBurstAndRateStayExact) {
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    TokenBucket bucket(max, max);
    bucket.refill(t0);
    bucket.take(max);
    bucket.refill(t0 + nanoseconds(1));
    EXPECT_EQ(bucket.available(), max / 1'000'000'000);
    bucket.refill(t0 + hours(24 * 365 * 100));
    EXPECT_EQ(bucket.available(), max);
}

TEST(TokenBucket, TimeUntilIsExact) {
    TokenBucket bucket(3, 100);
    bucket.refill(t0);
    bucket.take(100);
    const nanoseconds wait = bucket.time_until(2, t0);
    EXPECT_EQ(wait, nanoseconds(666'666'667));  // ceil(2/3 s)

    TokenBucket early = bucket;
    early.refill(t0 + wait - nanoseconds(1));
    EXPECT_EQ(early.available(), 1u);
    bucket.refill(t0 + wait);
    EXPECT_EQ(bucket.available(), 2u);
}

TEST(TokenBucket, TimeUntilAccountsForTheKeptFraction) {
    TokenBucket bucket(1000, 1000);
    bucket.refill(t0);
    bucket.take(1000);
    bucket.refill(t0 + nanoseconds(1'500'000));  // 1.5 tokens earned
    EXPECT_EQ(bucket.available(), 1u);
    const Clock::time_point now = t0 + nanoseconds(1'700'000);  // 1.7 tokens by now
    EXPECT_EQ(bucket.time_until(2, now), nanoseconds(300'000));
    EXPECT_EQ(bucket.time_until(1, now), nanoseconds(0));
}

TEST(TokenBucket, TimeUntilClampsToBurst) {
    TokenBucket bucket(10, 20);
    bucket.refill(t0);
    bucket.take(20);
    EXPECT_EQ(bucket.time_until(1'000'000, t0), seconds(2));
    bucket.refill(t0 + seconds(2));
    EXPECT_EQ(bucket.time_until(1'000'000, t0 + seconds(2)), nanoseconds(0));
}

TEST(TokenBucket, TimeUntilFromRandomStatesMatchesRefill) {
    TokenBucket bucket(977, 5000);
    bucket.refill(t0);
    bucket.take(5000);
    Clock::time_point now = t0;
    for (int i = 0; i < 500; ++i) {
        const std::uint64_t want = 1 + (i * 37) % 3000;
        const nanoseconds wait = bucket.time_until(want, now);
        ASSERT_GT(wait.count(), 0);
        TokenBucket early = bucket;
        early.refill(now + wait - nanoseconds(1));
        EXPECT_LT(early.available(), want);
        now += wait;
        bucket.refill(now);
        ASSERT_GE(bucket.available(), want);
        bucket.take(bucket.available());
    }
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
    TokenBucket bucket(0, 0);
    bucket.refill(t0);
    EXPECT_TRUE(bucket.unlimited());
    EXPECT_EQ(bucket.available(), std::numeric_limits<std::uint64_t>::max());
    bucket.take(1'000'000'000);
    EXPECT_EQ(bucket.available(), std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(bucket.time_until(1'000'000'000, t0), nanoseconds(0));
}

TEST(TokenBucket, RejectsZeroBurstAndOvertaking) {
    EXPECT_THROW(TokenBucket(10, 0), std::invalid_argument);
    TokenBucket bucket(10, 5);
    EXPECT_THROW(bucket.take(6), std::invalid_argument);
    EXPECT_EQ(bucket.available(), 5u);
}

TEST(TokenBucket, ClockGoingBackwardsEarnsNothingTwice) {
    TokenBucket bucket(1000, 1000);
    bucket.refill(t0);
    bucket.take(1000);
    bucket.refill(t0 + milliseconds(10));
    bucket.take(bucket.available());
    bucket.refill(t0 + milliseconds(5));
    EXPECT_EQ(bucket.available(), 0u);
    bucket.refill(t0 + milliseconds(12));
    EXPECT_EQ(bucket.available(), 2u);
}

TEST(TokenBucketThrottle, AccumulatesClosedAndOpenIntervals) {
    ThrottleClock clock;
    EXPECT_EQ(clock.total(t0), nanoseconds(0));
    clock.begin(t0);
    clock.begin(t0 + milliseconds(5));  // repeated edge: ignored
    EXPECT_TRUE(clock.throttled());
    EXPECT_EQ(clock.total(t0 + milliseconds(7)), milliseconds(7));
    clock.end(t0 + milliseconds(10));
    clock.end(t0 + milliseconds(20));  // not throttled: ignored
    EXPECT_FALSE(clock.throttled());
    clock.add(milliseconds(3));
    clock.begin(t0 + seconds(1));
    clock.end(t0 + seconds(1) + microseconds(250));
    EXPECT_EQ(clock.total(t0 + seconds(5)), microseconds(13'250));
    EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(clock.total(t0)).count(),
              13'250);
}

TEST(TokenBucketLimiter, FramesLimitReadsIndependentlyOfBytes) {
    OutputLimiter limiter(1000, 500, 10, 2);
    limiter.refill(t0);
    EXPECT_EQ(limiter.readable(), 500u);
    limiter.consume(10);
    limiter.consume(290);
    EXPECT_EQ(limiter.readable(), 0u);  // bytes left, but no frame token
    EXPECT_THROW(limiter.consume(1), std::invalid_argument);
    EXPECT_EQ(limiter.time_until(10, t0), milliseconds(100));
    limiter.refill(t0 + milliseconds(100));
    EXPECT_EQ(limiter.readable(), 500u - 300u + 100u);
}

TEST(TokenBucketLimiter, BytesLimitWhenFramesAreUnlimited) {
    OutputLimiter limiter(1000, 500, 0, 0);
    limiter.refill(t0);
    limiter.consume(500);
    EXPECT_EQ(limiter.readable(), 0u);
    EXPECT_EQ(limiter.time_until(4096, t0), milliseconds(500));  // clamped to the burst
    limiter.throttle().begin(t0);
    limiter.refill(t0 + milliseconds(500));
    limiter.throttle().end(t0 + milliseconds(500));
    EXPECT_EQ(limiter.readable(), 500u);
    EXPECT_EQ(limiter.throttle().total(t0 + seconds(9)), milliseconds(500));
}

}  // namespace
}  // namespace ccjail::flow
