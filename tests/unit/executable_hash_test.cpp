#include "jail/executable_hash.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <chrono>
#include <thread>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

constexpr const char* kAbcDigest =
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr const char* kEmptyDigest =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kFakeDigest =
    "1111111111111111111111111111111111111111111111111111111111111111";

class ExecutableHashTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-hash-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        exe_ = base_ / "claude";
        write_file(exe_, "abc");
        cache_ = base_ / "cache" / "hashes.json";
        // The cache only takes files whose ctime is older than 50 ms (racy-ctime guard).
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    static void write_file(const fs::path& p, const std::string& content) {
        std::ofstream(p, std::ios::binary) << content;
    }
    static std::string read_text(const fs::path& p) {
        std::ifstream in(p);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
    static UniqueFd open_ro(const fs::path& p) {
        UniqueFd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
        EXPECT_TRUE(fd) << p;
        return fd;
    }
    static std::int64_t ns(const timespec& ts) {
        return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    }

    // The cache entry the implementation would write for the file as it is now.
    nlohmann::json entry_for(const std::string& digest) const {
        struct stat st {};
        EXPECT_EQ(::stat(exe_.c_str(), &st), 0);
        const std::string key = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
        return {{key,
                 {{"size", st.st_size},
                  {"mtime_ns", ns(st.st_mtim)},
                  {"ctime_ns", ns(st.st_ctim)},
                  {"sha256", digest}}}};
    }

    void write_cache(const nlohmann::json& cache, mode_t mode = 0600) const {
        fs::create_directories(cache_.parent_path());
        write_file(cache_, cache.dump());
        ASSERT_EQ(::chmod(cache_.c_str(), mode), 0);
    }

    // Asserts that verifying `expected` fails with a mismatch against `actual`.
    void expect_mismatch(const std::string& expected, const std::string& actual,
                         const std::optional<fs::path>& cache) const {
        const UniqueFd fd = open_ro(exe_);
        try {
            verify_sha256(fd.get(), expected, cache, exe_.string());
            ADD_FAILURE() << "verified " << expected << " but expected a mismatch";
        } catch (const JailError& e) {
            EXPECT_EQ(e.step(), Step::executable);
            EXPECT_EQ(std::string(e.what()), "executable " + exe_.string() +
                                                 ": sha256 mismatch: expected " + expected +
                                                 ", got " + actual);
        }
    }

    fs::path base_;
    fs::path exe_;
    fs::path cache_;
};

TEST_F(ExecutableHashTest, HashesTheKnownVector) {
    const UniqueFd fd = open_ro(exe_);
    EXPECT_EQ(sha256_of_fd(fd.get()), kAbcDigest);
}

TEST_F(ExecutableHashTest, HashesAnEmptyFile) {
    write_file(exe_, "");
    const UniqueFd fd = open_ro(exe_);
    EXPECT_EQ(sha256_of_fd(fd.get()), kEmptyDigest);
}

TEST_F(ExecutableHashTest, HashesFromOffsetZeroWhateverTheFilePosition) {
    const UniqueFd fd = open_ro(exe_);
    ASSERT_EQ(::lseek(fd.get(), 2, SEEK_SET), 2);
    EXPECT_EQ(sha256_of_fd(fd.get()), kAbcDigest);
}

TEST_F(ExecutableHashTest, HashesFilesLargerThanOneReadChunk) {
    std::string content(3 * 1024 * 1024 + 17, '\0');
    for (size_t i = 0; i < content.size(); ++i) {
        content[i] = static_cast<char>((i * 131) % 251);
    }
    write_file(exe_, content);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    ASSERT_EQ(EVP_Digest(content.data(), content.size(), digest, &length, EVP_sha256(), nullptr),
              1);
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    const UniqueFd fd = open_ro(exe_);
    EXPECT_EQ(sha256_of_fd(fd.get()), hex);
}

TEST_F(ExecutableHashTest, VerifiesAMatchingDigest) {
    const UniqueFd fd = open_ro(exe_);
    EXPECT_NO_THROW(verify_sha256(fd.get(), kAbcDigest, std::nullopt));
    std::string upper = kAbcDigest;
    for (char& c : upper) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    EXPECT_NO_THROW(verify_sha256(fd.get(), upper, std::nullopt));
}

TEST_F(ExecutableHashTest, ReportsAMismatchNamingBothDigests) {
    expect_mismatch(kFakeDigest, kAbcDigest, std::nullopt);
}

TEST_F(ExecutableHashTest, MismatchWithoutANameStillReadsWell) {
    const UniqueFd fd = open_ro(exe_);
    try {
        verify_sha256(fd.get(), kFakeDigest, std::nullopt);
        ADD_FAILURE() << "verified a wrong digest";
    } catch (const JailError& e) {
        EXPECT_EQ(std::string(e.what()), std::string("executable: sha256 mismatch: expected ") +
                                             kFakeDigest + ", got " + kAbcDigest);
    }
}

TEST_F(ExecutableHashTest, RefusesAMalformedExpectedDigest) {
    const UniqueFd fd = open_ro(exe_);
    for (const std::string& bad : {std::string(), std::string("abc"), std::string(63, 'a'),
                                   std::string(65, 'a'), std::string(64, 'g')}) {
        try {
            verify_sha256(fd.get(), bad, std::nullopt);
            ADD_FAILURE() << "accepted " << bad;
        } catch (const JailError& e) {
            EXPECT_EQ(e.step(), Step::executable);
            EXPECT_NE(std::string(e.what()).find("64 hexadecimal digits"), std::string::npos);
        }
    }
}

TEST_F(ExecutableHashTest, RefusesSomethingThatIsNotARegularFile) {
    const UniqueFd fd(::open(base_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(fd);
    try {
        verify_sha256(fd.get(), kAbcDigest, std::nullopt);
        ADD_FAILURE() << "verified a directory";
    } catch (const JailError& e) {
        EXPECT_EQ(e.step(), Step::executable);
        EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos);
    }
}

TEST_F(ExecutableHashTest, WritesTheCacheOnAMiss) {
    const UniqueFd fd = open_ro(exe_);
    verify_sha256(fd.get(), kAbcDigest, cache_);
    EXPECT_EQ(nlohmann::json::parse(read_text(cache_)), entry_for(kAbcDigest));
    struct stat st {};
    ASSERT_EQ(::stat(cache_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(::stat(cache_.parent_path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
}

// A planted wrong digest is believed only while the file is unchanged, which proves the cache
// is consulted and that a change forces a rehash.
TEST_F(ExecutableHashTest, CacheHitAvoidsRehashUntilTheFileChanges) {
    write_cache(entry_for(kFakeDigest));
    {
        const UniqueFd fd = open_ro(exe_);
        EXPECT_NO_THROW(verify_sha256(fd.get(), kFakeDigest, cache_));
    }

    struct stat before {};
    ASSERT_EQ(::stat(exe_.c_str(), &before), 0);
    const timespec times[2] = {{before.st_atim.tv_sec + 10, 0}, {before.st_mtim.tv_sec + 10, 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, exe_.c_str(), times, 0), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(60));  // past the racy-ctime window

    expect_mismatch(kFakeDigest, kAbcDigest, cache_);
    const UniqueFd fd = open_ro(exe_);
    EXPECT_NO_THROW(verify_sha256(fd.get(), kAbcDigest, cache_));
    EXPECT_EQ(nlohmann::json::parse(read_text(cache_)), entry_for(kAbcDigest));
}

// Restoring the old mtime after rewriting the file leaves ctime changed: still a rehash.
TEST_F(ExecutableHashTest, CacheIsNotFooledByARestoredMtime) {
    struct stat before {};
    ASSERT_EQ(::stat(exe_.c_str(), &before), 0);
    write_cache(entry_for(kAbcDigest));
    {
        std::fstream f(exe_, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(0);
        f << "xyz";
    }
    struct stat after {};
    ASSERT_EQ(::stat(exe_.c_str(), &after), 0);
    ASSERT_NE(after.st_ctim.tv_nsec + after.st_ctim.tv_sec * 1000000000LL,
              before.st_ctim.tv_nsec + before.st_ctim.tv_sec * 1000000000LL)
        << "the fixture's sleep must put the rewrite in a later kernel tick";
    const timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, exe_.c_str(), times, 0), 0);
    // Same size, same mtime, new content.
    const UniqueFd fd = open_ro(exe_);
    const std::string actual = sha256_of_fd(fd.get());
    ASSERT_NE(actual, kAbcDigest);
    expect_mismatch(kAbcDigest, actual, cache_);
}

TEST_F(ExecutableHashTest, AFileChangedWithinTheLastTickIsNotCached) {
    write_file(exe_, "abc");  // ctime is now
    const UniqueFd fd = open_ro(exe_);
    verify_sha256(fd.get(), kAbcDigest, cache_);
    EXPECT_FALSE(fs::exists(cache_) && read_text(cache_).find(kAbcDigest) != std::string::npos);
}

TEST_F(ExecutableHashTest, IgnoresACacheOthersCanWrite) {
    write_cache(entry_for(kFakeDigest), 0666);
    expect_mismatch(kFakeDigest, kAbcDigest, cache_);

    // The untrusted file was replaced by one of ours holding the real digest.
    struct stat st {};
    ASSERT_EQ(::stat(cache_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(nlohmann::json::parse(read_text(cache_)), entry_for(kAbcDigest));
}

TEST_F(ExecutableHashTest, IgnoresACacheOwnedBySomeoneElse) {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root to give the cache to another uid";
    }
    write_cache(entry_for(kFakeDigest));
    ASSERT_EQ(::chown(cache_.c_str(), 4242, 4242), 0);
    expect_mismatch(kFakeDigest, kAbcDigest, cache_);
}

TEST_F(ExecutableHashTest, IgnoresACorruptCache) {
    fs::create_directories(cache_.parent_path());
    write_file(cache_, "{ not json");
    ASSERT_EQ(::chmod(cache_.c_str(), 0600), 0);
    const UniqueFd fd = open_ro(exe_);
    EXPECT_NO_THROW(verify_sha256(fd.get(), kAbcDigest, cache_));
    EXPECT_EQ(nlohmann::json::parse(read_text(cache_)), entry_for(kAbcDigest));
}

TEST_F(ExecutableHashTest, IgnoresMalformedCacheEntries) {
    nlohmann::json cache = entry_for(kFakeDigest);
    cache.begin().value()["sha256"] = "not-a-digest";
    write_cache(cache);
    const UniqueFd fd = open_ro(exe_);
    EXPECT_NO_THROW(verify_sha256(fd.get(), kAbcDigest, cache_));
}

TEST_F(ExecutableHashTest, KeepsOtherFilesEntries) {
    nlohmann::json cache = {
        {"1:2", {{"size", 1}, {"mtime_ns", 2}, {"ctime_ns", 3}, {"sha256", kEmptyDigest}}}};
    write_cache(cache);
    const UniqueFd fd = open_ro(exe_);
    verify_sha256(fd.get(), kAbcDigest, cache_);
    const auto stored = nlohmann::json::parse(read_text(cache_));
    EXPECT_TRUE(stored.contains("1:2"));
    EXPECT_EQ(stored.size(), 2u);
}

}  // namespace
}  // namespace ccjail
