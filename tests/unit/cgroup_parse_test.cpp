#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "cgroup/cgroup.hpp"
#include "common/error.hpp"

namespace ccjail {
namespace {

TEST(ParseProcCgroup, HybridV1Machine) {
    const auto paths = parse_proc_cgroup(
        "9:name=systemd:/\n"
        "8:pids:/\n"
        "4:memory:/process_api/ad4a3f6b\n"
        "2:cpuacct:/\n"
        "1:cpu:/\n"
        "0::/\n");
    EXPECT_EQ(paths.at("memory"), "/process_api/ad4a3f6b");
    EXPECT_EQ(paths.at("pids"), "/");
    EXPECT_EQ(paths.at("cpu"), "/");
    EXPECT_EQ(paths.at("cpuacct"), "/");
    EXPECT_EQ(paths.at("name=systemd"), "/");
    EXPECT_EQ(paths.at(""), "/");
    EXPECT_EQ(paths.size(), 6u);
}

TEST(ParseProcCgroup, CoMountedControllersMapToTheSamePath) {
    const auto paths = parse_proc_cgroup(
        "5:cpu,cpuacct:/system.slice/ccjaild.service\n"
        "3:net_cls,net_prio:/\n");
    EXPECT_EQ(paths.at("cpu"), "/system.slice/ccjaild.service");
    EXPECT_EQ(paths.at("cpuacct"), "/system.slice/ccjaild.service");
    EXPECT_EQ(paths.at("net_cls"), "/");
    EXPECT_EQ(paths.at("net_prio"), "/");
    EXPECT_FALSE(paths.contains("cpu,cpuacct"));
}

TEST(ParseProcCgroup, PureV2) {
    const auto paths = parse_proc_cgroup("0::/system.slice/ccjaild.service/supervisor\n");
    ASSERT_EQ(paths.size(), 1u);
    EXPECT_EQ(paths.at(""), "/system.slice/ccjaild.service/supervisor");
}

TEST(ParseProcCgroup, PathMayContainColonsAndLastLineNeedsNoNewline) {
    const auto paths = parse_proc_cgroup("0::/user.slice/odd:name");
    EXPECT_EQ(paths.at(""), "/user.slice/odd:name");
}

TEST(ParseProcCgroup, SkipsMalformedLines) {
    const auto paths = parse_proc_cgroup(
        "garbage\n"
        "\n"
        "x:memory:/a\n"        // hierarchy id not a number
        "4:memory\n"           // no path field
        "4:memory:relative\n"  // path not absolute
        "4::/not-unified\n"    // empty controller list outside hierarchy 0
        "7:pids:/ok\r\n");
    ASSERT_EQ(paths.size(), 1u);
    EXPECT_EQ(paths.at("pids"), "/ok");
}

TEST(ParseFlatKeyed, V2CpuStat) {
    const auto values = parse_flat_keyed(
        "usage_usec 1523456\n"
        "user_usec 1000000\n"
        "system_usec 523456\n"
        "nr_periods 40\n"
        "nr_throttled 12\n"
        "throttled_usec 600321\n"
        "nr_bursts 0\n"
        "burst_usec 0\n");
    EXPECT_EQ(values.at("user_usec"), 1000000u);
    EXPECT_EQ(values.at("system_usec"), 523456u);
    EXPECT_EQ(values.at("nr_throttled"), 12u);
    EXPECT_EQ(values.at("throttled_usec"), 600321u);
    EXPECT_EQ(values.size(), 8u);
}

TEST(ParseFlatKeyed, V1OomControlAndV2Events) {
    const auto oom = parse_flat_keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    EXPECT_EQ(oom.at("oom_kill"), 3u);
    EXPECT_EQ(oom.at("oom_kill_disable"), 0u);
    const auto events =
        parse_flat_keyed("low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\noom_group_kill 1\n");
    EXPECT_EQ(events.at("max"), 17u);
    EXPECT_EQ(events.at("oom_kill"), 2u);
    EXPECT_EQ(parse_flat_keyed("populated 1\nfrozen 0\n").at("populated"), 1u);
}

TEST(ParseFlatKeyed, LargeV1Counters) {
    const auto values =
        parse_flat_keyed("nr_periods 5\nnr_throttled 4\nthrottled_time 18446744073709551615\n");
    EXPECT_EQ(values.at("throttled_time"), std::numeric_limits<std::uint64_t>::max());
}

TEST(ParseFlatKeyed, SkipsMalformedLines) {
    const auto values = parse_flat_keyed(
        "novalue\n"
        " \n"
        "negative -1\n"
        "word max\n"
        "trailing 12abc\n"
        "overflow 18446744073709551616\n"
        "two 1 2\n"
        "  padded   42  \r\n"
        "tabbed\t7\n");
    EXPECT_EQ(values.size(), 2u);
    EXPECT_EQ(values.at("padded"), 42u);
    EXPECT_EQ(values.at("tabbed"), 7u);
}

TEST(CpuMaxValue, Fractions) {
    EXPECT_EQ(cpu_max_value(0.5), "50000 100000");
    EXPECT_EQ(cpu_max_value(2), "200000 100000");
    EXPECT_EQ(cpu_max_value(1.5, 200000), "300000 200000");
}

TEST(CpuMaxValue, NoLimit) {
    EXPECT_EQ(cpu_max_value(0), "max 100000");
    EXPECT_EQ(cpu_max_value(std::numeric_limits<double>::infinity()), "max 100000");
}

TEST(CpuMaxValue, TinyLimitIsRaisedToTheKernelMinimum) {
    EXPECT_EQ(cpu_max_value(0.001), "1000 100000");
}

TEST(CpuMaxValue, RejectsInvalidInput) {
    EXPECT_THROW(cpu_max_value(-1), JailError);
    EXPECT_THROW(cpu_max_value(std::nan("")), JailError);
    EXPECT_THROW(cpu_max_value(1, 0), JailError);
    EXPECT_THROW(cpu_max_value(1, 2000000), JailError);
    try {
        cpu_max_value(-0.5);
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup);
        EXPECT_EQ(error.err(), EINVAL);
    }
}

TEST(CgroupVersion, Names) {
    EXPECT_EQ(to_string(CgroupVersion::v1), "v1");
    EXPECT_EQ(to_string(CgroupVersion::v2), "v2");
}

}  // namespace
}  // namespace ccjail
