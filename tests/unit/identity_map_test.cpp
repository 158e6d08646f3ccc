#include "jail/identity_map.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

class TempDirTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-identity-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    static void write_text(const fs::path& p, const std::string& text) {
        std::ofstream(p) << text;
        ASSERT_EQ(::chmod(p.c_str(), 0600), 0);
    }
    static std::string read_text(const fs::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    static struct stat stat_of(const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
        return st;
    }

    fs::path base_;
};

// Runs `body` and asserts it throws a JailError at `step` whose message contains `text`.
template <typename Body>
void expect_jail_error(Body body, Step step, const std::string& text) {
    try {
        body();
        ADD_FAILURE() << "no error; expected: " << text;
    } catch (const JailError& e) {
        EXPECT_EQ(e.step(), step) << e.what();
        EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
}

// ---- labels -------------------------------------------------------------------------------

TEST(IdentityMapLabelTest, AcceptsTheDocumentedAlphabet) {
    EXPECT_TRUE(valid_user_label("a"));
    EXPECT_TRUE(valid_user_label("0"));
    EXPECT_TRUE(valid_user_label("alice"));
    EXPECT_TRUE(valid_user_label("a.b_c-d9"));
    EXPECT_TRUE(valid_user_label(std::string(64, 'x')));
}

TEST(IdentityMapLabelTest, RefusesEverythingElse) {
    EXPECT_FALSE(valid_user_label(""));
    EXPECT_FALSE(valid_user_label(std::string(65, 'x')));
    EXPECT_FALSE(valid_user_label("Alice"));
    EXPECT_FALSE(valid_user_label(".hidden"));
    EXPECT_FALSE(valid_user_label("-opt"));
    EXPECT_FALSE(valid_user_label("_x"));
    EXPECT_FALSE(valid_user_label(".."));
    EXPECT_FALSE(valid_user_label("a/b"));
    EXPECT_FALSE(valid_user_label("a b"));
    EXPECT_FALSE(valid_user_label("a\n"));
    EXPECT_FALSE(valid_user_label(std::string("a\0b", 3)));
    EXPECT_FALSE(valid_user_label("\xc3\xa4"));
}

// ---- uid map ------------------------------------------------------------------------------

class IdentityMapTest : public TempDirTest {
  protected:
    fs::path map() const { return base_ / "state" / "uids.json"; }
};

TEST_F(IdentityMapTest, AllocatesLowestFreeUidsAndKeepsThem) {
    EXPECT_EQ(uid_for_label(map(), "alice", 1000, 100), 1000u);
    EXPECT_EQ(uid_for_label(map(), "bob", 1000, 100), 1001u);
    EXPECT_EQ(uid_for_label(map(), "alice", 1000, 100), 1000u);
    EXPECT_EQ(uid_for_label(map(), "bob", 1000, 100), 1001u);

    const auto stored = nlohmann::json::parse(read_text(map()));
    EXPECT_EQ(stored, (nlohmann::json{{"alice", 1000}, {"bob", 1001}}));
    EXPECT_FALSE(fs::exists(base_ / "state" / "uids.json.tmp"));
    EXPECT_EQ(stat_of(map()).st_mode & 07777, 0600u);
    EXPECT_EQ(stat_of(base_ / "state").st_mode & 07777, 0700u);
}

TEST_F(IdentityMapTest, FillsTheLowestGap) {
    fs::create_directories(base_ / "state");
    write_text(map(), R"({"a": 1000, "c": 1002, "far": 5000})");
    EXPECT_EQ(uid_for_label(map(), "b", 1000, 10), 1001u);
    EXPECT_EQ(uid_for_label(map(), "d", 1000, 10), 1003u);
    EXPECT_EQ(uid_for_label(map(), "far", 4990, 20), 5000u);
}

TEST_F(IdentityMapTest, StableAcrossProcesses) {
    int pipefd[2];
    ASSERT_EQ(::pipe(pipefd), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(pipefd[0]);
        std::uint32_t uid = 0;
        try {
            uid_for_label(map(), "first", 2000, 10);
            uid = uid_for_label(map(), "carol", 2000, 10);
        } catch (...) {
        }
        const bool ok = ::write(pipefd[1], &uid, sizeof uid) == sizeof uid;
        ::_exit(ok ? 0 : 1);
    }
    ::close(pipefd[1]);
    std::uint32_t from_child = 0;
    EXPECT_EQ(::read(pipefd[0], &from_child, sizeof from_child),
              static_cast<ssize_t>(sizeof from_child));
    ::close(pipefd[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    EXPECT_EQ(from_child, 2001u);
    EXPECT_EQ(uid_for_label(map(), "carol", 2000, 10), 2001u);
    EXPECT_EQ(uid_for_label(map(), "dave", 2000, 10), 2002u);
}

TEST_F(IdentityMapTest, ConcurrentAllocationGivesDistinctUids) {
    constexpr int kProcesses = 8;
    int go[2];
    int results[2];
    ASSERT_EQ(::pipe(go), 0);
    ASSERT_EQ(::pipe(results), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
        const pid_t child = ::fork();
        ASSERT_GE(child, 0);
        if (child == 0) {
            ::close(go[1]);
            ::close(results[0]);
            char byte;
            // Every child waits here until the parent closes the write end: all start at once.
            (void)!::read(go[0], &byte, 1);
            std::uint32_t uid = 0;
            try {
                uid = uid_for_label(map(), "user" + std::to_string(i), 3000, kProcesses);
            } catch (...) {
            }
            const bool ok = ::write(results[1], &uid, sizeof uid) == sizeof uid;
            ::_exit(ok ? 0 : 1);
        }
        children.push_back(child);
    }
    ::close(go[0]);
    ::close(results[1]);
    ::close(go[1]);

    std::set<std::uint32_t> uids;
    std::uint32_t uid = 0;
    while (::read(results[0], &uid, sizeof uid) == static_cast<ssize_t>(sizeof uid)) {
        EXPECT_GE(uid, 3000u);
        EXPECT_LT(uid, 3000u + kProcesses);
        uids.insert(uid);
    }
    ::close(results[0]);
    for (const pid_t child : children) {
        int status = 0;
        ASSERT_EQ(::waitpid(child, &status, 0), child);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    EXPECT_EQ(uids.size(), static_cast<size_t>(kProcesses));
    EXPECT_EQ(nlohmann::json::parse(read_text(map())).size(), static_cast<size_t>(kProcesses));
}

TEST_F(IdentityMapTest, ReportsAnExhaustedRange) {
    EXPECT_EQ(uid_for_label(map(), "a", 1000, 2), 1000u);
    EXPECT_EQ(uid_for_label(map(), "b", 1000, 2), 1001u);
    expect_jail_error([&] { uid_for_label(map(), "c", 1000, 2); }, Step::identity_map, "exhausted");
    EXPECT_EQ(uid_for_label(map(), "a", 1000, 2), 1000u);
}

TEST_F(IdentityMapTest, RefusesInvalidLabels) {
    for (const char* label : {"", "Root", "../etc", "a/b", ".x"}) {
        expect_jail_error([&] { uid_for_label(map(), label, 1000, 10); }, Step::identity_map,
                          "invalid user label");
    }
    EXPECT_FALSE(fs::exists(map()));
}

TEST_F(IdentityMapTest, RefusesRangesWithSpecialUids) {
    expect_jail_error([&] { uid_for_label(map(), "a", 0, 10); }, Step::identity_map, "uid 0");
    expect_jail_error([&] { uid_for_label(map(), "a", 1000, 0); }, Step::identity_map, "empty");
    expect_jail_error([&] { uid_for_label(map(), "a", 4294967290u, 10); }, Step::identity_map,
                      "4294967295");
    EXPECT_EQ(uid_for_label(map(), "a", 4294967294u, 1), 4294967294u);
}

TEST_F(IdentityMapTest, RefusesALabelWhoseUidLeftTheRange) {
    EXPECT_EQ(uid_for_label(map(), "alice", 1000, 10), 1000u);
    expect_jail_error([&] { uid_for_label(map(), "alice", 2000, 10); }, Step::identity_map,
                      "outside the configured range [2000, 2010)");
}

TEST_F(IdentityMapTest, RefusesCorruptMaps) {
    fs::create_directories(base_ / "state");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{\"alice\": 1000", "not valid JSON"},
        {"[1000]", "not a JSON object"},
        {R"({"alice": "1000"})", "not a valid uid"},
        {R"({"alice": -5})", "not a valid uid"},
        {R"({"alice": 0})", "not a valid uid"},
        {R"({"Alice": 1000})", "invalid user label"},
        {R"({"a": 1000, "b": 1000})", "more than one label"},
    };
    for (const auto& [text, why] : cases) {
        write_text(map(), text);
        expect_jail_error([&] { uid_for_label(map(), "bob", 1000, 10); }, Step::identity_map,
                          "is corrupt");
        expect_jail_error([&] { uid_for_label(map(), "bob", 1000, 10); }, Step::identity_map, why);
        EXPECT_EQ(read_text(map()), text) << "a corrupt map must be left alone";
    }
}

TEST_F(IdentityMapTest, RefusesAMapOthersCanWrite) {
    EXPECT_EQ(uid_for_label(map(), "alice", 1000, 10), 1000u);
    ASSERT_EQ(::chmod(map().c_str(), 0666), 0);
    expect_jail_error([&] { uid_for_label(map(), "alice", 1000, 10); }, Step::identity_map,
                      "not writable by group or others");
    ASSERT_EQ(::chmod(map().c_str(), 0620), 0);
    expect_jail_error([&] { uid_for_label(map(), "alice", 1000, 10); }, Step::identity_map,
                      "not writable by group or others");
}

TEST_F(IdentityMapTest, RefusesAMapOwnedBySomeoneElse) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to give the map to another uid";
    }
    EXPECT_EQ(uid_for_label(map(), "alice", 1000, 10), 1000u);
    ASSERT_EQ(::chown(map().c_str(), 4242, 4242), 0);
    expect_jail_error([&] { uid_for_label(map(), "alice", 1000, 10); }, Step::identity_map,
                      "must be owned by uid 0");
}

TEST_F(IdentityMapTest, RefusesASymlinkedMap) {
    fs::create_directories(base_ / "state");
    write_text(base_ / "elsewhere.json", R"({"alice": 1000})");
    fs::create_symlink(base_ / "elsewhere.json", map());
    expect_jail_error([&] { uid_for_label(map(), "alice", 1000, 10); }, Step::identity_map,
                      "symbolic link");
}

// ---- homes --------------------------------------------------------------------------------

class HomeTest : public TempDirTest {
  protected:
    fs::path homes() const { return base_ / "var" / "homes"; }
};

TEST_F(HomeTest, CreatesTheHomeAndItsRoot) {
    const UniqueFd fd = prepare_home(homes(), "alice", ::geteuid(), ::getegid());
    ASSERT_TRUE(fd);
    EXPECT_NE(::fcntl(fd.get(), F_GETFL) & O_PATH, 0);

    const struct stat home = stat_of(homes() / "alice");
    EXPECT_TRUE(S_ISDIR(home.st_mode));
    EXPECT_EQ(home.st_mode & 07777, 0700u);
    EXPECT_EQ(home.st_uid, ::geteuid());
    struct stat opened {};
    ASSERT_EQ(::fstat(fd.get(), &opened), 0);
    EXPECT_EQ(opened.st_ino, home.st_ino);

    EXPECT_EQ(stat_of(homes()).st_mode & 07777, 0711u);
    EXPECT_EQ(stat_of(base_ / "var").st_mode & 07777, 0711u);
}

TEST_F(HomeTest, GivesTheHomeToTheUser) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to chown a home to another uid";
    }
    const UniqueFd fd = prepare_home(homes(), "bob", 54321, 54322);
    const struct stat home = stat_of(homes() / "bob");
    EXPECT_EQ(home.st_uid, 54321u);
    EXPECT_EQ(home.st_gid, 54322u);
    EXPECT_EQ(home.st_mode & 07777, 0700u);
    const struct stat root = stat_of(homes());
    EXPECT_EQ(root.st_uid, 0u);
    EXPECT_EQ(root.st_mode & 07777, 0711u);
}

TEST_F(HomeTest, FixesOwnerAndModeOfAnExistingHome) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to chown a home to another uid";
    }
    fs::create_directories(homes() / "carol");
    ASSERT_EQ(::chmod(homes().c_str(), 0711), 0);
    ASSERT_EQ(::chmod((homes() / "carol").c_str(), 0777), 0);
    prepare_home(homes(), "carol", 54321, 54321);
    const struct stat home = stat_of(homes() / "carol");
    EXPECT_EQ(home.st_uid, 54321u);
    EXPECT_EQ(home.st_mode & 07777, 0700u);
}

TEST_F(HomeTest, ReusesAnExistingHome) {
    const UniqueFd first = prepare_home(homes(), "dave", ::geteuid(), ::getegid());
    std::ofstream(homes() / "dave" / ".claude.json") << "{}";
    const UniqueFd second = prepare_home(homes(), "dave", ::geteuid(), ::getegid());
    struct stat a {};
    struct stat b {};
    ASSERT_EQ(::fstat(first.get(), &a), 0);
    ASSERT_EQ(::fstat(second.get(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino);
    EXPECT_EQ(read_text(homes() / "dave" / ".claude.json"), "{}");
}

TEST_F(HomeTest, RefusesASymlinkAtTheLabel) {
    fs::create_directories(homes());
    ASSERT_EQ(::chmod(homes().c_str(), 0711), 0);
    fs::create_directories(base_ / "target");
    ASSERT_EQ(::chmod((base_ / "target").c_str(), 0755), 0);
    fs::create_directory_symlink(base_ / "target", homes() / "eve");
    expect_jail_error([&] { prepare_home(homes(), "eve", ::geteuid(), ::getegid()); }, Step::home,
                      "is a symbolic link");
    EXPECT_EQ(stat_of(base_ / "target").st_mode & 07777, 0755u) << "the target was modified";
}

TEST_F(HomeTest, RefusesAFileAtTheLabel) {
    fs::create_directories(homes());
    ASSERT_EQ(::chmod(homes().c_str(), 0711), 0);
    write_text(homes() / "frank", "x");
    expect_jail_error([&] { prepare_home(homes(), "frank", ::geteuid(), ::getegid()); }, Step::home,
                      "is not a directory");
}

TEST_F(HomeTest, RefusesInvalidLabels) {
    for (const char* label : {"..", "", "a/b", "Up"}) {
        expect_jail_error([&] { prepare_home(homes(), label, ::geteuid(), ::getegid()); },
                          Step::home, "invalid user label");
    }
}

TEST_F(HomeTest, RefusesAHomesRootOthersCanWrite) {
    fs::create_directories(homes());
    ASSERT_EQ(::chmod(homes().c_str(), 01777), 0);
    expect_jail_error([&] { prepare_home(homes(), "gina", ::geteuid(), ::getegid()); }, Step::home,
                      "not writable by group or others");
    EXPECT_FALSE(fs::exists(homes() / "gina"));
}

}  // namespace
}  // namespace ccjail
