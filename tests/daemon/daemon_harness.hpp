// The daemon tier's harness: a real ccjaild started as a child of the test on a temporary
// socket, state dir and profiles dir (the shipped base.json plus tests/daemon/profiles/), its
// stderr (JSON log lines) collected in a file for assertions on audit events. It can SIGKILL
// and restart the daemon on the same state dir, SIGTERM it and wait, and tell what a session
// left behind: processes, cgroups, state files.
//
// The test process makes itself a child subreaper, so that monitors orphaned by a killed daemon
// are reparented to it: "no process left" is then simply "no descendant of the test left".
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "protocol/frame.hpp"

namespace ccjail::dtest {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

// Where the probe lands inside a jail of the dt-* profiles.
inline constexpr const char* kProbe = "/probe/daemon_probe";

struct DaemonOptions {
    // Keys of the config file, over the harness's defaults (no socket group, no client groups,
    // short kill grace). The file is always written: ccjaild must not read /etc/ccjail.
    json config = json::object();
    std::vector<std::string> extra_args;
    // Create <state>/run as 0755 before the daemon starts, as a service manager's
    // RuntimeDirectory would; false leaves it to ccjaild.
    bool precreate_run_dir = true;
};

class Daemon {
  public:
    explicit Daemon(DaemonOptions options = {});
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Starts ccjaild and waits until its socket accepts connections. Fails the test (fatal
    // assertion in the caller via HasFatalFailure) when it exits or does not listen in time.
    void start();
    // SIGKILL and reap: a daemon crash.
    void kill_hard();
    // SIGTERM and wait; the exit status as waitpid reports it, nullopt on timeout.
    std::optional<int> terminate(std::chrono::milliseconds timeout = 30s);
    // The two halves of terminate(), for a test that keeps reading in between.
    void send_signal(int signal);
    // systemctl reload: SIGHUP, then waits for the reload's `profiles_loaded` line (the last
    // thing a reload logs) and returns it; null when none came within `timeout`.
    json reload(std::chrono::milliseconds timeout = 10s);
    std::optional<int> wait(std::chrono::milliseconds timeout);
    bool running();
    pid_t pid() const { return pid_; }

    const fs::path& root() const { return root_; }
    fs::path state_dir() const { return root_ / "state"; }
    fs::path socket() const { return state_dir() / "run" / "ccjaild.sock"; }
    fs::path sessions_dir() const { return state_dir() / "run" / "sessions"; }
    fs::path workspace_root() const { return state_dir() / "workspaces"; }
    fs::path profiles_dir() const { return root_ / "profiles"; }

    // A connection that has said hello.
    client::Client connect(std::string_view name = "daemon-tests");

    // The daemon's log (its stderr and that of its monitors), one JSON object per line that
    // parses; other lines are skipped.
    std::string log_text() const;
    std::vector<json> log_lines() const;
    // Lines whose "event" is `event` (and, when given, whose "session" is `session`).
    std::vector<json> events(const std::string& event, const std::string& session = {}) const;

    // Resident memory of the daemon, from /proc/<pid>/status.
    std::uint64_t vm_rss_bytes() const;

  private:
    void write_config(const DaemonOptions& options);
    void copy_profiles();

    fs::path root_;
    fs::path config_path_;
    std::vector<std::string> args_;
    pid_t pid_ = -1;
};

// ---- what is tested ---------------------------------------------------------------------------

// The programs and profiles the harness runs: those of this build, or, when the variable is set,
// the installed ones (the full-system tier runs the suites against the package this way):
//   CCJAIL_DTEST_CCJAILD       ccjaild              (/usr/sbin/ccjaild)
//   CCJAIL_DTEST_EXEC          ccjail-exec          (/usr/bin/ccjail-exec)
//   CCJAIL_DTEST_CTL           ccjailctl            (/usr/bin/ccjailctl)
//   CCJAIL_DTEST_BASE_PROFILE  the shipped base.json (/etc/ccjail/profiles/base.json)
//   CCJAIL_DTEST_PROBE_DIR     the directory bound at /probe (the probes built with the tests)
//   CCJAIL_DTEST_PROFILES_DIR  the suite's own profiles (tests/daemon/profiles or its copy)
fs::path ccjaild_path();
fs::path exec_path();
fs::path ccjailctl_path();
fs::path base_profile_path();
fs::path probe_dir();
fs::path test_profiles_dir();

// ---- files -----------------------------------------------------------------------------------

std::string read_file(const fs::path& path);
// Writes `text` (replacing the file) and sets `mode`.
void write_file(const fs::path& path, const std::string& text, mode_t mode);
void replace_all(std::string& text, const std::string& from, const std::string& to);

// ---- what a test leaves behind --------------------------------------------------------------

// Reaps exited descendants of the test process (orphaned monitors come to it).
void reap_orphans();
// Every live process below the test process other than `except`, as "pid comm cmdline".
std::vector<std::string> descendant_processes(pid_t except = -1);
// Cgroup directories named jail-<id> for any of `ids`, under every mounted hierarchy.
std::vector<fs::path> session_cgroups(const std::set<std::string>& ids);
// Files in the sessions dir.
std::vector<fs::path> files_in(const fs::path& dir);

// ---- reading a connection ---------------------------------------------------------------------

// What arrived on one channel of a connection.
struct ChannelState {
    std::string out;  // OUT bytes (kept only when keep_data)
    std::string err;  // ERR bytes (kept only when keep_data)
    std::uint64_t out_bytes = 0;
    std::uint64_t err_bytes = 0;
    bool eof = false;
    std::vector<json> events;
    json exit_report;  // the exit event's report once it came
    std::uint64_t in_credit = 0;
    bool keep_data = true;
    // Auto credit: keep this much OUT/ERR credit outstanding (0: the test grants by hand).
    std::uint32_t window = 0;
    std::uint64_t outstanding = 0;
    // Called for every OUT (true) and ERR (false) payload, before it is stored.
    std::function<void(bool out, std::string_view bytes)> sink;
    // Slept after each OUT/ERR frame: a slow reader.
    std::chrono::microseconds delay_per_frame{0};

    bool has_event(const std::string& name) const;
    std::optional<json> event(const std::string& name) const;
};

// Dispatches the frames of one client connection to per-channel state and keeps auto credit
// topped up.
class Reader {
  public:
    explicit Reader(client::Client& client) : client_(client) {}

    // Starts tracking `channel`: records its IN credit and, with a window, grants it.
    ChannelState& open(std::uint32_t channel, std::uint32_t window, std::uint64_t in_credit = 0);
    ChannelState& channel(std::uint32_t channel) { return channels_[channel]; }
    const std::vector<json>& connection_events() const { return connection_events_; }
    bool closed() const { return closed_; }

    // Reads frames until `done()` holds (true) or `timeout` passes (false). Stops (returning
    // done()) when the daemon closes the connection.
    bool until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
    // Convenience waits on one channel.
    bool until_out_contains(std::uint32_t channel, const std::string& text,
                            std::chrono::milliseconds timeout);
    bool until_exit(std::uint32_t channel, std::chrono::milliseconds timeout);
    // Reads whatever arrives during `duration`.
    void drain_for(std::chrono::milliseconds duration);

    // Sends a CREDIT of `bytes` on `channel` and counts it outstanding.
    void grant(std::uint32_t channel, std::uint32_t bytes);

  private:
    void dispatch(protocol::Frame frame);

    client::Client& client_;
    std::map<std::uint32_t, ChannelState> channels_;
    std::vector<json> connection_events_;
    bool closed_ = false;
};

// The code of an `error` event. The contract (docs/daemon-plan §3, docs/protocol.md) puts
// `code` and `message` at the top level of the event; an event that nests them under "error"
// is still read, and reported as a test failure.
std::string error_event_code(const json& event);

// ---- requests -------------------------------------------------------------------------------

// A spawn request body for `profile` as `user` running `argv`.
json spawn_body(const std::string& profile, const std::string& user,
                const std::vector<std::string>& argv, const std::string& mode = "pipe");

// A spawn that must succeed: the response's session, channel and pid; the channel is opened in
// `reader` with `window` bytes of auto credit (0: none granted).
struct Spawned {
    std::string session;
    std::uint32_t channel = 0;
    pid_t pid = -1;
    json response;
};
Spawned spawn(client::Client& client, Reader& reader, const json& body, std::uint32_t window);

// An attach that must succeed, opened in `reader` like spawn().
json attach(client::Client& client, Reader& reader, const json& body, std::uint32_t window);

// The error code of a request that must fail, or "ok" when it succeeded, or "closed"/"timeout".
std::string error_code_of(client::Client& client, const json& body,
                          std::chrono::milliseconds timeout = 30s, std::uint32_t channel = 0);

// A raw frame header (for frames the codec refuses to encode).
std::string raw_header(std::uint32_t length, std::uint8_t type, std::uint32_t channel,
                       std::uint8_t flags = 0);

// Runs `argv` (absolute program path) with stdout/stderr captured; the exit status or -1.
struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
};
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

// Runs `body` in a forked child as uid/gid `id`; the child's exit status is its result (0 for
// success). Messages the child prints to stderr become part of a failure. `body` must not
// throw past its own try; any exception is turned into exit code 99.
struct ChildResult {
    int exit_code = -1;
    std::string output;
};
ChildResult run_as(uid_t id, const std::function<int(std::FILE* out)>& body,
                   std::chrono::milliseconds timeout = 60s);

// ---- fixture ----------------------------------------------------------------------------------

// Each test gets its own running daemon; options() picks its config.
class DaemonTest : public ::testing::Test {
  protected:
    void SetUp() override;
    virtual DaemonOptions options() const { return {}; }
    Daemon& daemon() { return *daemon_; }

    std::unique_ptr<Daemon> daemon_;
};

}  // namespace ccjail::dtest
