#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/unique_fd.hpp"
#include "jail/home_seed.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

constexpr uid_t kUid = 54321;
constexpr gid_t kGid = 54322;

class HomeSeedTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "seeding gives files to another uid: needs root";
        }
        char tmpl[] = "/tmp/ccjail-home-seed-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        home_ = tmpl;
        fd_ = UniqueFd(::open(home_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        ASSERT_TRUE(fd_);
    }
    void TearDown() override {
        if (!home_.empty()) {
            fs::remove_all(home_);
        }
    }
    std::string read(const std::string& relative) const {
        std::ifstream in(home_ / relative);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }
    struct stat stat_of(const std::string& relative) const {
        struct stat st {};
        EXPECT_EQ(::lstat((home_ / relative).c_str(), &st), 0) << relative;
        return st;
    }

    fs::path home_;
    UniqueFd fd_;
};

TEST_F(HomeSeedTest, CreatesMissingFilesOwnedByTheJailUserWithTheirMode) {
    seed_home(fd_.get(),
              {{".claude.json", "{\"hasCompletedOnboarding\":true}", 0600},
               {".config/app/settings.json", "x", 0640}},
              kUid, kGid);
    EXPECT_EQ(read(".claude.json"), "{\"hasCompletedOnboarding\":true}");
    const auto file = stat_of(".claude.json");
    EXPECT_EQ(file.st_uid, kUid);
    EXPECT_EQ(file.st_gid, kGid);
    EXPECT_EQ(file.st_mode & 07777, 0600u);
    EXPECT_EQ(stat_of(".config/app/settings.json").st_mode & 07777, 0640u);
    const auto dir = stat_of(".config/app");
    EXPECT_TRUE(S_ISDIR(dir.st_mode));
    EXPECT_EQ(dir.st_uid, kUid);
    EXPECT_EQ(dir.st_mode & 07777, 0700u);
}

TEST_F(HomeSeedTest, NeverOverwritesWhatTheProgramWrote) {
    std::ofstream(home_ / ".claude.json") << "the program's own state";
    seed_home(fd_.get(), {{".claude.json", "seed", 0600}}, kUid, kGid);
    EXPECT_EQ(read(".claude.json"), "the program's own state");
}

// The home is writable by the jail's earlier sessions: a link planted there must not make root
// write (or chown) through it.
TEST_F(HomeSeedTest, ASymlinkPlantedInTheHomeIsNotFollowed) {
    const fs::path outside = home_.string() + "-outside";
    fs::create_directory(outside);
    fs::create_symlink(outside / "victim", home_ / ".claude.json");
    fs::create_directory_symlink(outside, home_ / ".config");
    seed_home(fd_.get(), {{".claude.json", "seed", 0600}, {".config/app.json", "seed", 0600}}, kUid,
              kGid);
    EXPECT_FALSE(fs::exists(outside / "victim"));
    EXPECT_FALSE(fs::exists(outside / "app.json"));
    EXPECT_TRUE(fs::is_symlink(home_ / ".claude.json"));
    struct stat st {};
    ASSERT_EQ(::stat(outside.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 0u);
    fs::remove_all(outside);
}

TEST_F(HomeSeedTest, AFileWhereADirectoryShouldBeSkipsTheSeed) {
    std::ofstream(home_ / ".config") << "not a directory";
    EXPECT_NO_THROW(seed_home(fd_.get(), {{".config/app.json", "seed", 0600}}, kUid, kGid));
    EXPECT_EQ(read(".config"), "not a directory");
}

}  // namespace
}  // namespace ccjail
