#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "cgroup/cgroup_internal.hpp"
#include "cgroup/cgroup_mounts.hpp"
#include "common/error.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

// The mountinfo of the hybrid development machine (cpu and cpuacct mounted separately).
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST(ParseMountinfo, KeepsOnlyCgroupMounts) {
    const auto mounts = parse_mountinfo_cgroups(kHybridMountinfo);
    ASSERT_EQ(mounts.size(), 7u);
    EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu");
    EXPECT_EQ(mounts[0].fstype, "cgroup");
    EXPECT_EQ(mounts[0].super_options, (std::vector<std::string>{"rw", "cpu"}));
    EXPECT_EQ(mounts[6].fstype, "cgroup2");
    EXPECT_EQ(mounts[6].mount_point, "/sys/fs/cgroup/unified");
}

TEST(ParseMountinfo, OptionalFieldsEscapesAndMalformedLines) {
    const auto mounts = parse_mountinfo_cgroups(
        "25 20 0:22 /docker/abc /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 master:2 - cgroup "
        "cgroup rw,cpu,cpuacct\n"
        "26 20 0:23 / /mnt/with\\040space rw - cgroup2 none rw,nsdelegate\n"
        "27 20 0:24 / /short - cgroup\n"
        "not a mountinfo line\n"
        "\n");
    ASSERT_EQ(mounts.size(), 2u);
    EXPECT_EQ(mounts[0].root, "/docker/abc");
    EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu,cpuacct");
    EXPECT_EQ(mounts[0].super_options, (std::vector<std::string>{"rw", "cpu", "cpuacct"}));
    EXPECT_EQ(mounts[1].mount_point, "/mnt/with space");
}

class FakeProc : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("ccjail-cgroup-mounts-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
        options_.mount_root = "/sys/fs/cgroup";
        options_.proc_self_cgroup = dir_ / "cgroup";
    }
    void TearDown() override { fs::remove_all(dir_); }
    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / name) << text;
    }

    fs::path dir_;
    CgroupOptions options_;
};

TEST_F(FakeProc, SeparateCpuAndCpuacctMounts) {
    write("mountinfo", kHybridMountinfo);
    write("cgroup", "4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n8:pids:/x\n0::/\n");
    const auto found =
        find_v1_hierarchies({"memory", "cpu", "cpuacct", "pids", "freezer"}, options_);
    ASSERT_EQ(found.size(), 4u);  // no freezer line in /proc/self/cgroup
    EXPECT_EQ(found.at("memory").mount_point, "/sys/fs/cgroup/memory");
    EXPECT_EQ(found.at("memory").own_dir, "/sys/fs/cgroup/memory/process_api/abc");
    EXPECT_EQ(found.at("cpu").own_dir, "/sys/fs/cgroup/cpu");
    EXPECT_EQ(found.at("cpuacct").own_dir, "/sys/fs/cgroup/cpuacct");
    EXPECT_EQ(found.at("pids").own_dir, "/sys/fs/cgroup/pids/x");
}

TEST_F(FakeProc, CoMountedCpuCpuacctShareOneMount) {
    write("mountinfo",
          "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
          "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    write("cgroup", "3:cpu,cpuacct:/system.slice/x.service\n2:memory:/system.slice/x.service\n");
    const auto found = find_v1_hierarchies({"memory", "cpu", "cpuacct"}, options_);
    ASSERT_EQ(found.size(), 3u);
    EXPECT_EQ(found.at("cpu").mount_point, found.at("cpuacct").mount_point);
    EXPECT_EQ(found.at("cpu").own_dir, "/sys/fs/cgroup/cpu,cpuacct/system.slice/x.service");
}

TEST_F(FakeProc, MountRootIsStrippedFromOwnPath) {
    write("mountinfo",
          "31 25 0:27 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    write("cgroup", "2:memory:/docker/abc/inner\n");
    EXPECT_EQ(find_v1_hierarchies({"memory"}, options_).at("memory").own_dir,
              "/sys/fs/cgroup/memory/inner");
}

TEST_F(FakeProc, OwnCgroupOutsideTheMountIsAnError) {
    write("mountinfo",
          "31 25 0:27 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n");
    write("cgroup", "2:memory:/elsewhere\n");
    EXPECT_THROW(find_v1_hierarchies({"memory"}, options_), JailError);
}

TEST_F(FakeProc, OwnV2Cgroup) {
    write("cgroup", "0::/system.slice/ccjaild.service\n");
    EXPECT_EQ(own_v2_cgroup(options_), "/system.slice/ccjaild.service");
    write("cgroup", "4:memory:/\n");
    try {
        own_v2_cgroup(options_);
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup);
        EXPECT_NE(std::string(error.what()).find("0::"), std::string::npos);
    }
}

TEST(ResolveParent, AbsoluteBelowRootOrRelativeToRoot) {
    EXPECT_EQ(resolve_parent("/sys/fs/cgroup/ccjail.slice", "/sys/fs/cgroup"),
              "/sys/fs/cgroup/ccjail.slice");
    EXPECT_EQ(resolve_parent("/ccjail.slice", "/sys/fs/cgroup"), "/sys/fs/cgroup/ccjail.slice");
    EXPECT_EQ(resolve_parent("a/b", "/sys/fs/cgroup/memory"), "/sys/fs/cgroup/memory/a/b");
    EXPECT_THROW(resolve_parent("../../etc", "/sys/fs/cgroup"), JailError);
}

TEST(PathIsBelow, Lexical) {
    EXPECT_TRUE(path_is_below("/a/b", "/a"));
    EXPECT_TRUE(path_is_below("/a", "/a"));
    EXPECT_TRUE(path_is_below("/a/b", "/"));
    EXPECT_FALSE(path_is_below("/ab", "/a"));
    EXPECT_FALSE(path_is_below("/a/../b", "/a"));
}

TEST(ValidateJailId, RejectsPathTricks) {
    EXPECT_NO_THROW(validate_jail_id("s-0123.abc_DEF"));
    for (const std::string& bad :
         std::vector<std::string>{"", "..", ".", "a/b", "a\nb", "a b", std::string(129, 'a')}) {
        EXPECT_THROW(validate_jail_id(bad), JailError) << bad;
    }
}

}  // namespace
}  // namespace ccjail
