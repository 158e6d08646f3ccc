#include "jail/workspace.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/error.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

class WorkspaceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-workspace-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        base_ = tmpl;
        root_ = base_ / "root";
        outside_ = base_ / "outside";
        fs::create_directories(root_ / "ws");
        fs::create_directories(outside_ / "ws");
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(base_, ec);
    }

    static ino_t inode_of(const fs::path& p) {
        struct stat st {};
        EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
        return st.st_ino;
    }
    static ino_t inode_of(int fd) {
        struct stat st {};
        EXPECT_EQ(::fstat(fd, &st), 0);
        return st.st_ino;
    }

    // Asserts that opening `requested` fails at the workspace step with `err` and a message
    // containing `text`.
    void expect_refused(const fs::path& requested, int err, const std::string& text) {
        try {
            UniqueFd fd = open_workspace(root_, requested);
            ADD_FAILURE() << "opened " << requested << " but expected: " << text;
        } catch (const JailError& e) {
            EXPECT_EQ(e.step(), Step::workspace);
            EXPECT_EQ(e.err(), err) << e.what();
            EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
        }
    }

    fs::path base_;
    fs::path root_;
    fs::path outside_;
};

TEST_F(WorkspaceTest, OpensPlainSubdirectoryAsOPathFd) {
    const UniqueFd fd = open_workspace(root_, "ws");
    ASSERT_TRUE(fd);
    const int flags = ::fcntl(fd.get(), F_GETFL);
    ASSERT_GE(flags, 0);
    EXPECT_NE(flags & O_PATH, 0);
    EXPECT_NE(::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC, 0);
    EXPECT_EQ(inode_of(fd.get()), inode_of(root_ / "ws"));
}

TEST_F(WorkspaceTest, OpensNestedRelativePath) {
    fs::create_directories(root_ / "a" / "b");
    const UniqueFd fd = open_workspace(root_, "a/./b/");
    EXPECT_EQ(inode_of(fd.get()), inode_of(root_ / "a" / "b"));
}

TEST_F(WorkspaceTest, OpensAbsolutePathBelowRoot) {
    fs::create_directories(root_ / "a" / "b");
    const UniqueFd fd = open_workspace(root_, root_ / "a" / "b");
    EXPECT_EQ(inode_of(fd.get()), inode_of(root_ / "a" / "b"));

    // The root as configured may carry a trailing slash or "." components.
    const UniqueFd again = open_workspace(root_.string() + "/./", root_ / "a" / "b");
    EXPECT_EQ(inode_of(again.get()), inode_of(root_ / "a" / "b"));
}

TEST_F(WorkspaceTest, RefusesAbsolutePathOutsideRoot) {
    expect_refused(outside_ / "ws", EXDEV, "outside the workspace root");
    expect_refused("/etc", EXDEV, "outside the workspace root");
}

TEST_F(WorkspaceTest, RefusesSiblingSharingTheRootsPrefix) {
    fs::create_directories(base_ / "rootother" / "ws");
    expect_refused(base_ / "rootother" / "ws", EXDEV, "outside the workspace root");
}

TEST_F(WorkspaceTest, RefusesDotDotEvenWhenItStaysInside) {
    expect_refused("ws/../ws", EINVAL, "\"..\"");
    expect_refused("../outside/ws", EINVAL, "\"..\"");
    expect_refused(root_ / "ws" / ".." / "ws", EINVAL, "\"..\"");
    expect_refused(root_ / ".." / "outside" / "ws", EINVAL, "\"..\"");
}

TEST_F(WorkspaceTest, RefusesTheRootItself) {
    expect_refused(".", EINVAL, "the workspace root itself");
    expect_refused(root_, EINVAL, "the workspace root itself");
    expect_refused(root_.string() + "/", EINVAL, "the workspace root itself");
    expect_refused(root_.string() + "/./.", EINVAL, "the workspace root itself");
}

TEST_F(WorkspaceTest, RefusesEmptyControlCharactersAndOverlongPaths) {
    expect_refused("", EINVAL, "empty");
    expect_refused("ws\n", EINVAL, "control character");
    expect_refused(std::string("ws\0evil", 7), EINVAL, "control character");
    expect_refused("w\x1bs", EINVAL, "control character");
    expect_refused(std::string(PATH_MAX, 'a'), ENAMETOOLONG, "PATH_MAX");
}

TEST_F(WorkspaceTest, RefusesSymlinkAsLastComponent) {
    // Even a symlink that points inside the root is refused: it could be retargeted later.
    fs::create_directory_symlink(root_ / "ws", root_ / "inner-link");
    fs::create_directory_symlink(outside_ / "ws", root_ / "outer-link");
    expect_refused("inner-link", ELOOP, "goes through a symbolic link");
    expect_refused("outer-link", ELOOP, "goes through a symbolic link");
    expect_refused(root_ / "outer-link", ELOOP, "goes through a symbolic link");
}

TEST_F(WorkspaceTest, RefusesSymlinkAsMiddleComponent) {
    fs::create_directory_symlink(outside_, root_ / "mid");
    fs::create_directory_symlink("ws", root_ / "relative-mid");
    expect_refused("mid/ws", ELOOP, "goes through a symbolic link");
    fs::create_directories(root_ / "ws" / "sub");
    expect_refused("relative-mid/sub", ELOOP, "goes through a symbolic link");
}

TEST_F(WorkspaceTest, RefusesSymlinkToProcSelfRoot) {
    fs::create_directory_symlink("/proc/self/root", root_ / "host");
    expect_refused("host", ELOOP, "goes through a symbolic link");
    expect_refused("host/etc", ELOOP, "goes through a symbolic link");
}

TEST_F(WorkspaceTest, RefusesMissingDirectory) {
    expect_refused("nope", ENOENT, "does not exist");
    expect_refused("ws/nope/deeper", ENOENT, "does not exist");
}

TEST_F(WorkspaceTest, RefusesRegularFile) {
    std::ofstream(root_ / "file") << "x";
    expect_refused("file", ENOTDIR, "is not a directory");
    expect_refused("file/sub", ENOTDIR, "is not a directory");
}

TEST_F(WorkspaceTest, RefusesMissingRoot) {
    try {
        open_workspace(base_ / "no-such-root", "ws");
        ADD_FAILURE() << "opened a workspace below a missing root";
    } catch (const JailError& e) {
        EXPECT_EQ(e.step(), Step::workspace);
        EXPECT_EQ(e.err(), ENOENT);
    }
}

// A second thread keeps exchanging the middle directory with a symlink to a look-alike tree
// outside the root. Every open that succeeds must have landed on the real directory. Both
// threads yield now and then: on a busy two-core machine they otherwise tend to run in long
// turns, and a run that only ever saw one state would prove nothing.
TEST_F(WorkspaceTest, SwapRaceNeverOpensOutsideTheRoot) {
    fs::create_directories(root_ / "mid" / "ws");
    fs::create_directory_symlink(outside_, root_ / "evil");
    const ino_t real = inode_of(root_ / "mid" / "ws");
    const ino_t decoy = inode_of(outside_ / "ws");
    ASSERT_NE(real, decoy);

    std::atomic<bool> stop{false};
    std::atomic<long> swaps{0};
    std::atomic<int> swap_errno{0};
    const fs::path mid = root_ / "mid";
    const fs::path evil = root_ / "evil";
    std::thread swapper([&] {
        while (!stop.load()) {
            if (::renameat2(AT_FDCWD, mid.c_str(), AT_FDCWD, evil.c_str(), RENAME_EXCHANGE) != 0) {
                swap_errno.store(errno);
                return;
            }
            swaps.fetch_add(1);
            std::this_thread::yield();
        }
    });
    while (swaps.load() == 0 && swap_errno.load() == 0) {
        std::this_thread::yield();
    }

    constexpr int kMinimumOpens = 500;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int opened = 0;
    int refused = 0;
    for (int i = 0; i < kMinimumOpens ||
                    ((opened == 0 || refused == 0) && std::chrono::steady_clock::now() < deadline);
         ++i) {
        if (i % 8 == 0) {
            std::this_thread::yield();
        }
        try {
            const UniqueFd fd = open_workspace(root_, "mid/ws");
            ++opened;
            EXPECT_EQ(inode_of(fd.get()), real) << "open " << i << " escaped to the decoy";
        } catch (const JailError& e) {
            ++refused;
            EXPECT_TRUE(e.err() == ELOOP || e.err() == EAGAIN) << e.what();
        }
    }
    stop.store(true);
    swapper.join();

    EXPECT_EQ(swap_errno.load(), 0) << std::strerror(swap_errno.load());
    EXPECT_GT(opened, 0) << "no open saw the real directory; the race was not exercised";
    EXPECT_GT(refused, 0) << "no open saw the symlink; the race was not exercised";
    std::printf("swap race: %d opened, %d refused, %ld swaps\n", opened, refused, swaps.load());
}

}  // namespace
}  // namespace ccjail
