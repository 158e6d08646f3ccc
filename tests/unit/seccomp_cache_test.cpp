// The on-disk cache of compiled seccomp programs: hits, what it refuses to believe, and that a
// cache it cannot write is no error.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.hpp"
#include "seccomp/seccomp_policy.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

class SeccompCache : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-seccomp-cache-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = fs::path(tmpl) / "cache";
    }
    void TearDown() override { fs::remove_all(dir_.parent_path()); }

    // Replaces the program part of the entry the first call stored (after the key and its NUL)
    // with a one-instruction program no compilation would produce: seeing it back proves a hit.
    // `extra` bytes make the entry's size wrong.
    static void replace_program(const fs::path& file, mode_t mode, std::size_t extra = 0) {
        std::ifstream in(file, std::ios::binary);
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        const auto end_of_key = content.find('\0');
        ASSERT_NE(end_of_key, std::string::npos);
        const sock_filter allow = BPF_STMT(BPF_RET | BPF_K, 0x7fff0000U);
        content.resize(end_of_key + 1);
        content.append(reinterpret_cast<const char*>(&allow), sizeof allow);
        content.append(extra, '\0');
        std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
        ASSERT_EQ(::chmod(file.c_str(), mode), 0);
    }

    fs::path dir_;
};

TEST_F(SeccompCache, MissCompilesAndStoresAPrivateFile) {
    const SeccompPolicy policy;
    const auto program = compile_seccomp_cached(policy, dir_);
    EXPECT_EQ(program.instructions.size(), compile_seccomp(policy).instructions.size());
    const auto file = seccomp_cache_file(policy, dir_);
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    // The key text and a NUL, then the instructions.
    EXPECT_GT(static_cast<std::size_t>(st.st_size),
              program.instructions.size() * sizeof(sock_filter));
    ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(SeccompCache, HitReturnsTheStoredProgram) {
    const SeccompPolicy policy;
    compile_seccomp_cached(policy, dir_);
    replace_program(seccomp_cache_file(policy, dir_), 0600);
    EXPECT_EQ(compile_seccomp_cached(policy, dir_).instructions.size(), 1u);
}

TEST_F(SeccompCache, AnEntryForAnotherKeyIsNotBelieved) {
    SeccompPolicy policy;
    compile_seccomp_cached(policy, dir_);
    const auto file = seccomp_cache_file(policy, dir_);
    replace_program(file, 0600);
    // Same file name, different key text inside: as after a name collision.
    std::ifstream in(file, std::ios::binary);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    content[content.find("allow ")] = 'A';
    std::ofstream(file, std::ios::binary | std::ios::trunc) << content;
    EXPECT_GT(compile_seccomp_cached(policy, dir_).instructions.size(), 1u);
}

TEST_F(SeccompCache, AFileOthersCanWriteIsNotBelieved) {
    const SeccompPolicy policy;
    const auto file = seccomp_cache_file(policy, dir_);
    compile_seccomp_cached(policy, dir_);
    replace_program(file, 0666);
    EXPECT_GT(compile_seccomp_cached(policy, dir_).instructions.size(), 1u);
    struct stat st {};
    ASSERT_EQ(::stat(file.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << "the untrusted entry is replaced";
}

TEST_F(SeccompCache, ATruncatedFileIsNotBelieved) {
    const SeccompPolicy policy;
    compile_seccomp_cached(policy, dir_);
    replace_program(seccomp_cache_file(policy, dir_), 0600, 3);
    EXPECT_GT(compile_seccomp_cached(policy, dir_).instructions.size(), 1u);
}

TEST_F(SeccompCache, EachPolicyHasItsOwnEntry) {
    SeccompPolicy a;
    SeccompPolicy b;
    b.allow_ptrace = true;
    SeccompPolicy c;
    c.deny = {"uname"};
    EXPECT_NE(seccomp_cache_file(a, dir_), seccomp_cache_file(b, dir_));
    EXPECT_NE(seccomp_cache_file(a, dir_), seccomp_cache_file(c, dir_));
    EXPECT_EQ(seccomp_cache_file(a, dir_), seccomp_cache_file(SeccompPolicy{}, dir_));
}

TEST_F(SeccompCache, AnUnwritableCacheIsNoError) {
    fs::create_directories(dir_.parent_path());
    std::ofstream(dir_) << "a file where the directory should be";
    const SeccompPolicy policy;
    EXPECT_GT(compile_seccomp_cached(policy, dir_).instructions.size(), 1u);
}

TEST_F(SeccompCache, BadPoliciesStillFailOnAMiss) {
    SeccompPolicy policy;
    policy.allow = {"no_such_syscall"};
    EXPECT_THROW(compile_seccomp_cached(policy, dir_), JailError);
}

}  // namespace
}  // namespace ccjail
