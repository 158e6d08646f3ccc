#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

TEST(ProfileParseSize, PlainBytes) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("1"), 1u);
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_EQ(parse_size("10B"), 10u);
}

TEST(ProfileParseSize, BinaryUnitsInAnyCase) {
    EXPECT_EQ(parse_size("64K"), 64u * 1024);
    EXPECT_EQ(parse_size("64k"), 64u * 1024);
    EXPECT_EQ(parse_size("512M"), 512ull << 20);
    EXPECT_EQ(parse_size("1G"), 1ull << 30);
    EXPECT_EQ(parse_size("2T"), 2ull << 40);
    EXPECT_EQ(parse_size("1g"), 1ull << 30);
}

TEST(ProfileParseSize, IecAndByteSuffixVariants) {
    EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
    EXPECT_EQ(parse_size("512MB"), 512ull << 20);
    EXPECT_EQ(parse_size("1Gi"), 1ull << 30);
    EXPECT_EQ(parse_size("4kib"), 4096u);
}

TEST(ProfileParseSize, LargestValueAndOverflow) {
    EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
    EXPECT_THROW(parse_size("18446744073709551616"), std::invalid_argument);
    EXPECT_EQ(parse_size("16777215T"), 16777215ull << 40);
    EXPECT_THROW(parse_size("16777216T"), std::invalid_argument);
    EXPECT_THROW(parse_size("17179869184G"), std::invalid_argument);
}

TEST(ProfileParseSize, RejectsGarbage) {
    for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.5G", "G", "1X", "1KK", "1iB", "0x10",
                            "1P", "1 M", "M1", "1Bi", "1MiBB"}) {
        EXPECT_THROW(parse_size(bad), std::invalid_argument) << '"' << bad << '"';
    }
}

TEST(ProfileParseDuration, Units) {
    EXPECT_EQ(parse_duration_ms("500ms"), 500u);
    EXPECT_EQ(parse_duration_ms("30s"), 30'000u);
    EXPECT_EQ(parse_duration_ms("15m"), 900'000u);
    EXPECT_EQ(parse_duration_ms("2h"), 7'200'000u);
    EXPECT_EQ(parse_duration_ms("1d"), 86'400'000u);
    EXPECT_EQ(parse_duration_ms("0"), 0u);
}

TEST(ProfileParseDuration, BareNumberIsSeconds) {
    EXPECT_EQ(parse_duration_ms("45"), 45'000u);
}

TEST(ProfileParseDuration, RejectsGarbageAndOverflow) {
    for (const char* bad : {"", "-1", "1.5h", "1H", "1 s", "1sec", "s", "1ms ", "1hm", "1M",
                            "18446744073709551615d", "18446744073709551615"}) {
        EXPECT_THROW(parse_duration_ms(bad), std::invalid_argument) << '"' << bad << '"';
    }
}

}  // namespace
}  // namespace ccjail
