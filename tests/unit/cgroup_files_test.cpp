#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_files.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "common/error.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

class CgroupFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("ccjail-cgroup-files-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    fs::path dir_;
};

TEST_F(CgroupFiles, WriteErrorNamesFileAndErrno) {
    const fs::path missing = dir_ / "nope" / "memory.max";
    try {
        cgroup_fs::write_file(missing, "1024");
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup);
        EXPECT_EQ(error.err(), ENOENT);
        const std::string message = error.what();
        EXPECT_NE(message.find(missing.string()), std::string::npos) << message;
        EXPECT_NE(message.find("1024"), std::string::npos) << message;
        EXPECT_NE(message.find("errno 2"), std::string::npos) << message;
    }
    EXPECT_FALSE(cgroup_fs::write_file_if_exists(missing, "1"));
}

TEST_F(CgroupFiles, AttachErrorsCarryTheirStep) {
    try {
        cgroup_fs::write_file(dir_ / "x" / "cgroup.procs", "1", Step::cgroup_attach);
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup_attach);
    }
}

TEST_F(CgroupFiles, WriteThenRead) {
    std::ofstream(dir_ / "pids.max") << "";
    cgroup_fs::write_file(dir_ / "pids.max", "16");
    EXPECT_EQ(cgroup_fs::read_file(dir_ / "pids.max"), "16");
    EXPECT_EQ(cgroup_fs::read_number(dir_ / "pids.max"), 16u);
}

TEST_F(CgroupFiles, MissingOptionalFilesReadAsZero) {
    EXPECT_EQ(cgroup_fs::read_file_if_exists(dir_ / "memory.peak"), std::nullopt);
    EXPECT_EQ(cgroup_fs::read_number(dir_ / "memory.peak"), 0u);
    EXPECT_EQ(cgroup_fs::read_key(dir_ / "memory.events", "oom_kill"), 0u);
    EXPECT_THROW(cgroup_fs::read_file(dir_ / "memory.peak"), JailError);
}

TEST_F(CgroupFiles, ReadNumberRejectsNonNumbers) {
    std::ofstream(dir_ / "pids.max") << "max\n";
    EXPECT_EQ(cgroup_fs::read_number(dir_ / "pids.max"), 0u);
    std::ofstream(dir_ / "memory.peak") << "123456\n";
    EXPECT_EQ(cgroup_fs::read_number(dir_ / "memory.peak"), 123456u);
}

TEST_F(CgroupFiles, ReadKey) {
    std::ofstream(dir_ / "memory.oom_control") << "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n";
    EXPECT_EQ(cgroup_fs::read_key(dir_ / "memory.oom_control", "oom_kill"), 4u);
    EXPECT_EQ(cgroup_fs::read_key(dir_ / "memory.oom_control", "absent"), 0u);
}

TEST_F(CgroupFiles, ReadProcs) {
    std::ofstream(dir_ / "cgroup.procs") << "12\n345\nbogus\n-3\n\n";
    EXPECT_EQ(cgroup_fs::read_procs(dir_), (std::vector<pid_t>{12, 345}));
    EXPECT_TRUE(cgroup_fs::read_procs(dir_ / "gone").empty());
}

TEST_F(CgroupFiles, MakeAndRemoveDirectories) {
    const fs::path leaf = dir_ / "jail-1";
    EXPECT_TRUE(cgroup_fs::make_dir(leaf));
    EXPECT_FALSE(cgroup_fs::make_dir(leaf));
    EXPECT_TRUE(cgroup_fs::is_dir(leaf));
    try {
        cgroup_fs::make_new_dir(leaf);
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.err(), EEXIST);
    }
    EXPECT_TRUE(cgroup_fs::remove_dir(leaf, std::chrono::milliseconds(10)));
    EXPECT_FALSE(fs::exists(leaf));
    EXPECT_TRUE(cgroup_fs::remove_dir(leaf, std::chrono::milliseconds(10)));
}

TEST_F(CgroupFiles, RemoveDirGivesUpOnANonEmptyDirectory) {
    fs::create_directories(dir_ / "busy" / "child");
    EXPECT_FALSE(cgroup_fs::remove_dir(dir_ / "busy", std::chrono::milliseconds(10)));
    EXPECT_TRUE(fs::exists(dir_ / "busy"));
}

TEST_F(CgroupFiles, PollUntilTimesOut) {
    int calls = 0;
    EXPECT_FALSE(cgroup_fs::poll_until([&] { return ++calls < 0; }, std::chrono::milliseconds(20)));
    EXPECT_GT(calls, 1);
    EXPECT_TRUE(cgroup_fs::poll_until([] { return true; }, std::chrono::milliseconds(0)));
}

TEST_F(CgroupFiles, DetectFailsWithoutAnyHierarchy) {
    std::ofstream(dir_ / "cgroup") << "4:memory:/\n0::/\n";
    CgroupOptions options;
    options.mount_root = dir_;  // a plain directory: neither cgroup2 nor a v1 memory mount
    options.proc_self_cgroup = dir_ / "cgroup";
    try {
        detect_cgroup_version(options);
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup);
        EXPECT_NE(std::string(error.what()).find("no usable cgroup hierarchy"), std::string::npos);
    }
}

TEST_F(CgroupFiles, InvalidIdIsRejectedBeforeAnythingIsCreated) {
    CgroupOptions options;
    options.mount_root = dir_;
    options.proc_self_cgroup = dir_ / "cgroup";
    EXPECT_THROW(create_v1_jail_cgroup("../escape", {}, options), JailError);
    EXPECT_THROW(create_v2_jail_cgroup("a/b", {}, options), JailError);
    EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace ccjail
