// The attack battery's harness, over the daemon tier's (tests/daemon/daemon_harness.hpp): each
// test gets its own ccjaild with the sec-* profiles of tests/security/profiles, and runs an
// attack as a jailed program through the daemon's API, exactly as a hostile session would.
//
// Every case belongs to one class of docs/security.md's threat model. The class is the test
// suite's name (Resources, Leaks, Privilege, FileSystem, Api), so `--gtest_list_tests` counts
// them, and every case must have its row in docs/security.md's battery table (checked by
// Battery.EveryCaseHasARowInTheSecurityDoc).
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "daemon_harness.hpp"

namespace ccjail::sectest {

using namespace ccjail::dtest;

// Where the probes land inside a jail of the sec-* profiles: /probe/<name>, one per
// tests/security/probes/<name>.cpp.
std::string probe(const std::string& name);

// The value of `name` in a probe's "RESULT a=b c=d" line of `out`; "" when absent.
std::string result_field(const std::string& out, const std::string& name);

// The `<label> RESULT <what>` lines of `out` (a probe run after `printf '<label> '`), as
// label -> what.
std::map<std::string, std::string> labelled_results(const std::string& out);

// What one jailed program did.
struct Attack {
    std::string session;
    std::uint32_t channel = 0;
    pid_t pid = -1;
    std::string out;  // stdout (pipe mode) or the terminal (pty mode)
    std::string err;
    json report;  // the exit event's report; null when the program did not end in time
    bool ended = false;

    std::string status() const { return report.is_object() ? report.value("status", "") : ""; }
    int exit_code() const { return report.is_object() ? report.value("exit_code", -1) : -1; }
    int signal() const { return report.is_object() ? report.value("signal", 0) : 0; }
    // For failure messages: status, exit code, stdout and stderr, trimmed.
    std::string describe() const;
};

struct AttackOptions {
    std::string profile = "sec-attack";
    std::string user = "mallory";
    std::string mode = "pipe";
    std::chrono::milliseconds timeout = std::chrono::seconds(60);
    std::string stdin_data;       // sent, then EOF (pipe mode)
    json extra = json::object();  // more keys of the spawn request (cwd, env, limits, ...)
};

class SecurityTest : public DaemonTest {
  protected:
    // Spawns argv as the hostile program, feeds stdin_data, and reads until the exit event
    // (or the timeout: then ended is false and the session is killed).
    Attack run_attack(const std::vector<std::string>& argv, const AttackOptions& options = {});
    // Runs `script` with /bin/bash -c in the jail.
    Attack run_shell(const std::string& script, const AttackOptions& options = {});

    // A session left running (for cases with two sessions at once): kept on its own connection
    // with auto credit; wait_for_output reads until its stdout holds `text`.
    struct Running {
        std::unique_ptr<client::Client> client;
        std::unique_ptr<Reader> reader;
        Spawned spawned;
        bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout);
        const ChannelState& state() const { return reader->channel(spawned.channel); }
        // Kills the session and waits for its exit event.
        json kill_and_wait(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    };
    Running start_attack(const std::vector<std::string>& argv, const AttackOptions& options = {});
};

// The five classes of docs/security.md §"The attack battery".
class Resources : public SecurityTest {};
class Leaks : public SecurityTest {};
class Privilege : public SecurityTest {};
class FileSystem : public SecurityTest {};
class Api : public SecurityTest {};

}  // namespace ccjail::sectest
