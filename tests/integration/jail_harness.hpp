// The integration tier's harness: a fixture that gives each test its own workspace root, homes
// root, state dir and profiles dir (all under $TMPDIR), runs the real ccjail-exec as a child
// process with a timeout, and returns what came out. Tests assert real outcomes on that.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "profile/profile.hpp"

namespace ccjail::itest {

namespace fs = std::filesystem;
using nlohmann::json;

// Where the probes land inside a jail of the "probe" profile.
inline constexpr const char* kJailProbe = "/probe/jail_probe";
inline constexpr const char* kSeccompProbe = "/probe/seccomp_probe";
// Put into ccjail-exec's own environment on every run: a jail must never see it.
inline constexpr const char* kHostSecretName = "CCJAIL_ITEST_HOST_SECRET";

struct RunOptions {
    std::string profile = "probe";
    std::vector<std::string> argv;
    std::vector<std::string> exec_args;  // extra ccjail-exec options, placed before "--"
    std::string user = "default";
    std::optional<fs::path> workspace;  // --workspace; unset: <workspace root>/<user>
    std::chrono::milliseconds timeout{20000};
    // Called once with ccjail-exec's pid as soon as its stdout contains ready_marker.
    std::string ready_marker;
    std::function<void(pid_t)> on_ready;
    // Opened in ccjail-exec's process without O_CLOEXEC: what a careless caller leaks.
    std::optional<fs::path> leak_file;
};

// Options for a run in `profile` as user label `user`.
inline RunOptions in_profile(std::string profile, std::string user = "default") {
    RunOptions options;
    options.profile = std::move(profile);
    options.user = std::move(user);
    return options;
}

struct JailRun {
    int exit_code = -1;   // ccjail-exec's exit status; -1 when it did not exit normally
    int term_signal = 0;  // the signal that ended ccjail-exec, if any
    bool timed_out = false;
    std::string out;
    std::string err;
    json report;  // the --status-json document; null when none was written
    std::chrono::milliseconds elapsed{0};

    std::string status() const;
    // The last line of stdout as JSON (probes print one object per line); null if not JSON.
    json out_json() const;
    // For assertion messages: everything above in a few lines.
    std::string describe() const;
};

// What the host looks like from outside, to prove a jail left nothing behind.
struct HostSnapshot {
    std::set<fs::path> jail_cgroups;  // every jail-* directory below /sys/fs/cgroup
    std::vector<std::string> mount_points;
};
HostSnapshot snapshot_host();
std::set<fs::path> jail_cgroup_dirs();
std::vector<std::string> host_mount_points();
std::vector<pid_t> processes_with_uid(uid_t uid);
std::vector<pid_t> processes_whose_cmdline_contains(const std::string& text);

class JailTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    JailRun run(const RunOptions& options);
    // Runs /probe/jail_probe ARGS... in `profile`.
    JailRun probe(const std::vector<std::string>& args, const std::string& profile = "probe");
    JailRun probe(RunOptions options, const std::vector<std::string>& args);

    // Writes <profiles dir>/<name>.json verbatim.
    void write_profile(const std::string& name, const json& document);
    // Writes a profile that extends "probe" with `overrides` layered on top.
    void derive_profile(const std::string& name, json overrides);
    // The merged profile, as ccjail-exec will load it.
    Profile load(const std::string& name) const;

    // <workspace root>/<user>, created on first use and owned by uid:gid.
    fs::path workspace(const std::string& user, uid_t uid, gid_t gid);
    fs::path workspace() { return workspace("default", probe_uid_, probe_gid_); }

    // Fails the test if a jail cgroup, a mount or a process of this test is left on the host.
    void expect_host_as_before(const HostSnapshot& before, const std::string& jail_id);

    fs::path root_;  // this test's temp dir; every writable path lies below it
    fs::path workspace_root_;
    fs::path homes_root_;
    fs::path state_dir_;
    fs::path profiles_dir_;
    fs::path probe_dir_;  // the host directory bound at /probe
    uid_t probe_uid_ = 0;
    gid_t probe_gid_ = 0;

  private:
    int runs_ = 0;
};

}  // namespace ccjail::itest
