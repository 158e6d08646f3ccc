#include "server/admission.hpp"

#include <gtest/gtest.h>

namespace ccjail::server {
namespace {

using protocol::ErrorCode;

AdmissionLimits small_limits() {
    AdmissionLimits limits;
    limits.max_sessions = 3;
    limits.max_sessions_per_uid = 2;
    limits.max_sessions_per_user = 2;
    limits.spawns_per_minute_per_user = 0;
    return limits;
}

TEST(Admission, RefusesBeyondTheGlobalLimit) {
    Admission admission(small_limits());
    const auto now = flow::Clock::now();
    EXPECT_FALSE(admission.admit(1000, "a", now));
    EXPECT_FALSE(admission.admit(1001, "b", now));
    EXPECT_FALSE(admission.admit(1002, "c", now));
    const auto refusal = admission.admit(1003, "d", now);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->code, ErrorCode::too_many_sessions);
    EXPECT_NE(refusal->message.find("max_sessions"), std::string::npos);
    EXPECT_EQ(admission.active(), 3u);
}

TEST(Admission, RefusesBeyondThePerUidAndPerUserLimits) {
    Admission admission(small_limits());
    const auto now = flow::Clock::now();
    EXPECT_FALSE(admission.admit(1000, "a", now));
    EXPECT_FALSE(admission.admit(1000, "b", now));
    auto refusal = admission.admit(1000, "c", now);
    ASSERT_TRUE(refusal);
    EXPECT_NE(refusal->message.find("max_sessions_per_uid"), std::string::npos);

    Admission per_user(small_limits());
    EXPECT_FALSE(per_user.admit(1, "same", now));
    EXPECT_FALSE(per_user.admit(2, "same", now));
    refusal = per_user.admit(3, "same", now);
    ASSERT_TRUE(refusal);
    EXPECT_NE(refusal->message.find("max_sessions_per_user"), std::string::npos);
}

TEST(Admission, ReleaseMakesRoomAgainAndARefusalCountsNothing) {
    Admission admission(small_limits());
    const auto now = flow::Clock::now();
    ASSERT_FALSE(admission.admit(1000, "a", now));
    ASSERT_FALSE(admission.admit(1000, "a", now));
    ASSERT_TRUE(admission.admit(1000, "a", now));
    EXPECT_EQ(admission.active(), 2u);
    admission.release(1000, "a");
    EXPECT_FALSE(admission.admit(1000, "a", now));
}

TEST(Admission, SpawnRatePerUserRefillsOverTime) {
    AdmissionLimits limits = small_limits();
    limits.max_sessions = limits.max_sessions_per_uid = limits.max_sessions_per_user = 100;
    limits.spawns_per_minute_per_user = 60;  // one per second
    limits.spawn_burst_per_user = 2;
    Admission admission(limits);
    const auto start = flow::Clock::now();
    EXPECT_FALSE(admission.admit(1, "u", start));
    EXPECT_FALSE(admission.admit(1, "u", start));
    const auto refusal = admission.admit(1, "u", start);
    ASSERT_TRUE(refusal);
    EXPECT_EQ(refusal->code, ErrorCode::rate_limited);
    // Another user has a bucket of its own.
    EXPECT_FALSE(admission.admit(1, "other", start));
    // One second later one more spawn is allowed, and only one.
    EXPECT_FALSE(admission.admit(1, "u", start + std::chrono::seconds(1)));
    EXPECT_TRUE(admission.admit(1, "u", start + std::chrono::seconds(1)));
}

TEST(Admission, ManyUserLabelsDoNotGrowTheRateStateForever) {
    AdmissionLimits limits = small_limits();
    limits.max_sessions = limits.max_sessions_per_uid = limits.max_sessions_per_user = 100000;
    limits.spawns_per_minute_per_user = 60;
    limits.spawn_burst_per_user = 1;
    Admission admission(limits);
    auto now = flow::Clock::now();
    for (int i = 0; i < 5000; ++i) {
        const std::string user = "u" + std::to_string(i);
        ASSERT_FALSE(admission.admit(1, user, now));
        admission.release(1, user);
        now += std::chrono::milliseconds(10);
    }
    // The labels whose buckets refilled were forgotten; a recent one still remembers its spawn.
    EXPECT_LT(admission.tracked_rate_buckets(), 1100u);
    EXPECT_TRUE(admission.admit(1, "u4999", now));
}

TEST(Admission, AdoptedSessionsCountEvenBeyondTheLimits) {
    Admission admission(small_limits());
    for (int i = 0; i < 5; ++i) {
        admission.count_adopted(1000, "a");
    }
    EXPECT_EQ(admission.active(), 5u);
    EXPECT_TRUE(admission.admit(2000, "b", flow::Clock::now()));
}

}  // namespace
}  // namespace ccjail::server
