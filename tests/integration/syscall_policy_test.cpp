// The seccomp policy as a jailed process meets it: dangerous calls are refused, ordinary work
// (a shell pipeline, git, node) still runs.
#include <sys/stat.h>

#include <cerrno>

#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

class SyscallPolicy : public JailTest {
  protected:
    JailRun shell(const std::string& script) {
        RunOptions options;
        options.argv = {"/bin/bash", "-c", script};
        return run(options);
    }
};

TEST_F(SyscallPolicy, DangerousCallsAreRefused) {
    RunOptions options;
    options.argv = {kSeccompProbe};
    const JailRun run = this->run(options);
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json result = run.out_json();
    ASSERT_TRUE(result.is_object()) << run.describe();
    for (const char* name : {"unshare",
                             "setns",
                             "clone_newuser",
                             "clone3",
                             "mount",
                             "umount2",
                             "pivot_root",
                             "open_tree",
                             "fsopen",
                             "move_mount",
                             "keyctl",
                             "add_key",
                             "request_key",
                             "bpf",
                             "io_uring_setup",
                             "ptrace",
                             "process_vm_readv",
                             "userfaultfd",
                             "perf_event_open",
                             "kexec_load",
                             "init_module",
                             "open_by_handle_at",
                             "socket_netlink",
                             "socket_vsock",
                             "socket_alg",
                             "ioctl_tiocsti",
                             "ioctl_tiocsti_high",
                             "ioctl_tioclinux"}) {
        ASSERT_TRUE(result.contains(name)) << name << " not probed\n" << run.describe();
        const int err = result[name].get<int>();
        EXPECT_TRUE(err == EPERM || err == ENOSYS)
            << name << " was not refused: errno " << err << "\n"
            << run.describe();
    }
    // Controls: the probe can tell an allowed call from a refused one.
    EXPECT_EQ(result["socket_unix"], 0);
    EXPECT_EQ(result["read"], EBADF);
    EXPECT_EQ(result["ioctl_tcgets"], EBADF);
}

TEST_F(SyscallPolicy, ShellPipelineRuns) {
    const JailRun run = shell("seq 1 100 | grep -c 1 | tr -d ' '");
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.out, "20\n") << run.describe();
}

TEST_F(SyscallPolicy, GitInitAndCommitInTheWorkspace) {
    const JailRun run = shell(
        "set -e; git init -q; echo hi > file; git add file; "
        "git -c user.email=t@example.invalid -c user.name=t commit -q -m first; "
        "git log --format=%s");
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.out, "first\n") << run.describe();
    struct stat st {};
    ASSERT_EQ(::stat((workspace() / ".git" / "HEAD").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, probe_uid_);
}

TEST_F(SyscallPolicy, NodeRuns) {
    if (!fs::exists("/usr/bin/node")) {
        GTEST_SKIP() << "no /usr/bin/node on this host";
    }
    RunOptions options;
    options.argv = {"/usr/bin/node", "-e",
                    "require('fs').writeFileSync('n.txt', String(6*7)); "
                    "console.log(require('fs').readFileSync('n.txt', 'utf8'))"};
    const JailRun run = this->run(options);
    EXPECT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.out, "42\n") << run.describe();
}

}  // namespace
}  // namespace ccjail::itest
