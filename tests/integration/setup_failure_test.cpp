// A jail that cannot be built: ccjail-exec exits 125, names the failing step in its status JSON,
// and leaves the host as it found it (no cgroup, no mount, no process).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "common/unique_fd.hpp"
#include "jail/executable_hash.hpp"
#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

class SetupFailure : public JailTest {
  protected:
    void SetUp() override {
        JailTest::SetUp();
        if (!IsSkipped()) {
            before_ = snapshot_host();
        }
    }

    // Runs, then checks the failure contract; returns the run for further checks.
    JailRun expect_failure(const RunOptions& options, const std::string& step) {
        const JailRun run = this->run(options);
        EXPECT_EQ(run.exit_code, 125) << run.describe();
        EXPECT_EQ(run.status(), "setup_failed") << run.describe();
        EXPECT_EQ(run.report.value("step", ""), step) << run.describe();
        EXPECT_FALSE(run.report.value("message", "").empty()) << run.describe();
        EXPECT_TRUE(run.out.empty()) << run.describe();
        expect_host_as_before(before_, run.report.value("id", ""));
        return run;
    }

    HostSnapshot before_;
};

TEST_F(SetupFailure, MissingExecutable) {
    RunOptions options;
    options.argv = {"/no/such/program"};
    const JailRun run = expect_failure(options, "exec");
    EXPECT_EQ(run.report["errno"], ENOENT);
    EXPECT_FALSE(run.report["id"].get<std::string>().empty()) << "failed inside a built jail";
}

TEST_F(SetupFailure, ProgramNotInTheJailsPath) {
    RunOptions options;
    options.argv = {"ccjail-no-such-program"};
    const JailRun run = expect_failure(options, "exec");
    EXPECT_EQ(run.report["errno"], ENOENT);
}

TEST_F(SetupFailure, Sha256Mismatch) {
    derive_profile("pinned",
                   {{"command", {{"executable", kJailProbe}, {"sha256", std::string(64, '0')}}}});
    RunOptions options = in_profile("pinned");
    options.argv = {"identity"};
    const JailRun run = expect_failure(options, "executable");
    // The same profile pinning the real digest runs: the mismatch was the reason.
    UniqueFd probe_file(::open(CCJAIL_JAIL_PROBE_PATH, O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(probe_file);
    derive_profile(
        "pinned",
        {{"command", {{"executable", kJailProbe}, {"sha256", sha256_of_fd(probe_file.get())}}}});
    const JailRun ok = this->run(options);
    EXPECT_EQ(ok.exit_code, 0) << ok.describe();
    EXPECT_EQ(ok.out_json()["uid"][0], probe_uid_);
}

TEST_F(SetupFailure, WorkspaceOutsideTheRoot) {
    const fs::path outside = root_ / "outside";
    fs::create_directories(outside);
    RunOptions options;
    options.argv = {kJailProbe, "identity"};
    options.workspace = outside;
    expect_failure(options, "workspace");
    options.workspace = workspace_root_ / ".." / "outside";
    expect_failure(options, "workspace");
}

TEST_F(SetupFailure, WorkspaceThroughASymlink) {
    const fs::path outside = root_ / "outside";
    fs::create_directories(outside);
    fs::create_directory_symlink(outside, workspace_root_ / "escape");
    fs::create_directory_symlink(workspace(), workspace_root_ / "alias");
    RunOptions options;
    options.argv = {kJailProbe, "identity"};
    options.workspace = workspace_root_ / "escape";
    const JailRun escape = expect_failure(options, "workspace");
    EXPECT_EQ(escape.report["errno"], ELOOP);
    // Even a link that stays inside the root is refused: the path is not what is bound.
    options.workspace = workspace_root_ / "alias";
    expect_failure(options, "workspace");
}

TEST_F(SetupFailure, BadProfile) {
    derive_profile("broken", {{"limits", {{"memory", true}}}});
    RunOptions options = in_profile("broken");
    options.argv = {kJailProbe, "identity"};
    expect_failure(options, "profile");
    options.profile = "no-such-profile";
    expect_failure(options, "profile");
    write_profile("garbage", json::parse("\"not an object\""));
    options.profile = "garbage";
    expect_failure(options, "profile");
}

TEST_F(SetupFailure, MissingBindSourceFailsInsideTheJail) {
    derive_profile("lostbind",
                   {{"filesystem", {{"binds", {{{"source", (root_ / "gone").string()}}}}}}});
    RunOptions options = in_profile("lostbind");
    options.argv = {kJailProbe, "identity"};
    const JailRun run = expect_failure(options, "mount_bind");
    EXPECT_EQ(run.report["errno"], ENOENT);
}

}  // namespace
}  // namespace ccjail::itest
