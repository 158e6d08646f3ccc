// ccjailctl: the command-line client of ccjaild (docs/protocol.md). Each command opens one
// connection, says hello, and makes its requests; `run` and `attach` then relay the session to
// this terminal until it ends.
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "client/doctor.hpp"
#include "client/session_relay.hpp"

namespace {

using ccjail::client::Client;
using ccjail::client::ClientError;
using ccjail::client::ConnectionError;
using nlohmann::json;

constexpr const char* kDefaultSocket = "/run/ccjail/ccjaild.sock";
constexpr const char* kDefaultProfilesDir = "/etc/ccjail/profiles";
// The daemon's own spawn timeout is 30 s by default; ours leaves it room to answer first.
constexpr ccjail::client::Timeout kSpawnTimeout{90'000};
// `run` exits like ccjail-exec when the program never ran.
constexpr int kExitNotRun = 125;
constexpr int kExitUsage = 2;

// Once `run` has a session, its failures are no longer "the program did not run" (125).
bool g_session_started = false;

// A command-line mistake found after parsing.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string socket = kDefaultSocket;
    // run
    std::string profile = "shell";
    std::string workspace;
    std::string user;
    bool pipe = false;
    bool detach = false;
    std::vector<std::string> env;
    std::vector<std::string> argv;
    // attach, inspect, kill
    std::string session;
    bool read_only = false;
    std::optional<std::uint64_t> from_offset;
    std::optional<std::uint64_t> grace_ms;
    // list, profiles
    bool json_output = false;
    // check
    std::string profiles_dir = kDefaultProfilesDir;
};

Client open_client(const Options& options) {
    Client client = Client::connect(options.socket);
    client.hello("ccjailctl");
    return client;
}

// --- formatting ---

std::string text_of(const json& body, const char* key) {
    const auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
        return "-";
    }
    return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string format_duration_ms(std::uint64_t ms) {
    const std::uint64_t s = ms / 1000;
    std::ostringstream out;
    if (s >= 86400) {
        out << s / 86400 << "d" << (s % 86400) / 3600 << "h";
    } else if (s >= 3600) {
        out << s / 3600 << "h" << (s % 3600) / 60 << "m";
    } else if (s >= 60) {
        out << s / 60 << "m" << s % 60 << "s";
    } else {
        out << s << "s";
    }
    return out.str();
}

std::string format_bytes(std::uint64_t bytes) {
    constexpr std::array<const char*, 5> kUnits{"", "K", "M", "G", "T"};
    std::size_t unit = 0;
    while (unit + 1 < kUnits.size() && bytes >= 1024 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    return std::to_string(bytes) + kUnits[unit];
}

std::uint64_t number_of(const json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

// Columns padded to their widest cell; the last column is not padded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> widths;
    for (const auto& row : rows) {
        widths.resize(std::max(widths.size(), row.size()));
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], row[i].size());
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (std::size_t i = 0; i < row.size(); ++i) {
            line += row[i];
            if (i + 1 < row.size()) {
                line += std::string(widths[i] - row[i].size() + 2, ' ');
            }
        }
        std::cout << line << '\n';
    }
}

// --- run / attach ---

std::string default_user_label() {
    const struct passwd* pw = ::getpwuid(::getuid());
    if (pw == nullptr || pw->pw_name == nullptr) {
        throw UsageError("cannot tell who you are: pass --user LABEL");
    }
    std::string label = pw->pw_name;
    std::transform(label.begin(), label.end(), label.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return label;
}

json env_object(const std::vector<std::string>& assignments) {
    json env = json::object();
    for (const auto& item : assignments) {
        const auto eq = item.find('=');
        if (eq == 0) {
            throw UsageError("--env " + item + ": expected NAME=VALUE or NAME");
        }
        if (eq != std::string::npos) {
            env[item.substr(0, eq)] = item.substr(eq + 1);
            continue;
        }
        // A bare NAME passes this shell's value, so secrets need not appear in argv.
        const char* value = std::getenv(item.c_str());
        if (value == nullptr) {
            throw UsageError("--env " + item + ": not set in this environment");
        }
        env[item] = value;
    }
    return env;
}

json spawn_body(const Options& o) {
    json body{{"op", "spawn"},
              {"profile", o.profile},
              {"argv", o.argv},
              {"user", o.user.empty() ? default_user_label() : o.user},
              {"mode", o.pipe ? "pipe" : "pty"}};
    if (!o.workspace.empty()) {
        body["workspace"] = o.workspace;
    }
    if (!o.env.empty()) {
        body["env"] = env_object(o.env);
    }
    if (!o.pipe) {
        if (const auto size = ccjail::client::terminal_size(STDOUT_FILENO, STDIN_FILENO)) {
            body["cols"] = size->first;
            body["rows"] = size->second;
        }
    }
    return body;
}

std::uint32_t channel_of(const json& result) {
    const auto channel = number_of(result, "channel");
    if (channel == 0 || channel > UINT32_MAX) {
        throw ClientError(ccjail::protocol::ErrorCode::internal,
                          "the daemon's answer has no usable channel: " + result.dump());
    }
    return static_cast<std::uint32_t>(channel);
}

std::uint32_t in_credit_of(const json& result) {
    return static_cast<std::uint32_t>(
        std::min<std::uint64_t>(number_of(result, "in_credit"), UINT32_MAX));
}

int relay(Client& client, const json& result, const std::string& session, bool read_only,
          bool attaching) {
    ccjail::client::RelayOptions relay;
    relay.session = session;
    relay.channel = channel_of(result);
    relay.pty = text_of(result, "mode") != "pipe";
    relay.read_only = read_only;
    relay.in_credit = read_only ? 0 : in_credit_of(result);
    if (const auto limit = number_of(result, "max_input_frame_bytes"); limit > 0) {
        relay.max_input_frame = static_cast<std::size_t>(limit);
    }
    relay.raw_terminal = relay.pty && !read_only && ::isatty(STDIN_FILENO);
    relay.resize_on_start = attaching && relay.pty && !read_only;
    relay.kill_on_output_closed = !attaching;
    return ccjail::client::relay_session(client, relay).exit_code;
}

int cmd_run(const Options& o) {
    const json body = spawn_body(o);
    Client client = open_client(o);
    const json result = client.request(body, kSpawnTimeout);
    g_session_started = true;
    const std::string session = text_of(result, "session");
    if (o.detach) {
        client.request({{"op", "detach"}}, ccjail::client::kDefaultRequestTimeout,
                       channel_of(result));
        std::cout << session << '\n';
        return 0;
    }
    return relay(client, result, session, false, false);
}

int cmd_attach(const Options& o) {
    Client client = open_client(o);
    json body{{"op", "attach"}, {"session", o.session}, {"read_only", o.read_only}};
    if (o.from_offset) {
        body["from_offset"] = *o.from_offset;
    }
    const json result = client.request(body);
    return relay(client, result, o.session, o.read_only, true);
}

// --- the other commands ---

json without_envelope(json result) {
    result.erase("id");
    result.erase("ok");
    return result;
}

int cmd_list(const Options& o) {
    Client client = open_client(o);
    const json result = client.request({{"op", "list"}});
    const json sessions = result.value("sessions", json::array());
    if (o.json_output) {
        std::cout << sessions.dump(2) << '\n';
        return 0;
    }
    std::vector<std::vector<std::string>> rows{
        {"SESSION", "PROFILE", "USER", "STATE", "MODE", "PID", "UID", "UPTIME", "ATTACHED"}};
    for (const auto& s : sessions) {
        rows.push_back({text_of(s, "session"), text_of(s, "profile"), text_of(s, "user"),
                        text_of(s, "state"), text_of(s, "mode"), text_of(s, "pid"),
                        text_of(s, "peer_uid"), format_duration_ms(number_of(s, "uptime_ms")),
                        text_of(s, "attached")});
    }
    print_table(rows);
    return 0;
}

int cmd_inspect(const Options& o) {
    Client client = open_client(o);
    const json result = client.request({{"op", "inspect"}, {"session", o.session}});
    std::cout << without_envelope(result).dump(2) << '\n';
    return 0;
}

int cmd_kill(const Options& o) {
    Client client = open_client(o);
    json body{{"op", "kill"}, {"session", o.session}};
    if (o.grace_ms) {
        body["grace_ms"] = *o.grace_ms;
    }
    client.request(body);
    return 0;
}

int cmd_metrics(const Options& o) {
    Client client = open_client(o);
    const json result = client.request({{"op", "metrics"}});
    std::cout << text_of(result, "text");
    return 0;
}

int cmd_profiles(const Options& o) {
    Client client = open_client(o);
    const json result = client.request({{"op", "profiles"}});
    const json profiles = result.value("profiles", json::array());
    if (o.json_output) {
        std::cout << profiles.dump(2) << '\n';
        return 0;
    }
    std::vector<std::vector<std::string>> rows{
        {"NAME", "NETWORK", "MEMORY", "PIDS", "CPUS", "WALL", "EXECUTABLE", "DESCRIPTION"}};
    for (const auto& p : profiles) {
        if (p.contains("error")) {
            rows.push_back({text_of(p, "name"), "-", "-", "-", "-", "-", "-",
                            "invalid: " + text_of(p, "error")});
            continue;
        }
        const json limits = p.value("limits", json::object());
        std::string description = text_of(p, "description");
        if (description.size() > 60) {
            description.replace(57, std::string::npos, "...");
        }
        rows.push_back({text_of(p, "name"), text_of(p, "network"),
                        format_bytes(number_of(limits, "memory_bytes")), text_of(limits, "pids"),
                        text_of(limits, "cpus"),
                        format_duration_ms(number_of(limits, "wall_time_ms")),
                        text_of(p, "executable"), description});
    }
    print_table(rows);
    return 0;
}

int cmd_check(const Options& o) {
    ccjail::client::DoctorOptions doctor;
    doctor.profiles_dir = o.profiles_dir;
    doctor.socket = o.socket;
    bool failed = false;
    std::vector<std::vector<std::string>> rows;
    for (const auto& check : ccjail::client::run_doctor(doctor)) {
        failed = failed || check.level == ccjail::client::CheckLevel::fail;
        std::string detail = check.detail;
        if (!check.hint.empty()) {
            detail += "  (" + check.hint + ")";
        }
        rows.push_back({std::string(to_string(check.level)), check.name, detail});
    }
    print_table(rows);
    return failed ? 1 : 0;
}

// --- errors ---

std::string error_line(const ClientError& e) {
    std::string line = "ccjailctl: " + e.code_name() + ": " + e.what();
    const json& report = e.report();
    if (report.is_object() && report.contains("step")) {
        line += " [step " + text_of(report, "step") + ": " + text_of(report, "message") + "]";
    }
    return line;
}

std::string connection_hint(const ConnectionError& e, const std::string& socket) {
    switch (e.err()) {
        case ENOENT:
        case ECONNREFUSED:
            return "is ccjaild running? (socket " + socket + "; --socket or CCJAIL_SOCKET)";
        case EACCES:
            return "your user may not use " + socket + " (group ccjail)";
        default:
            return {};
    }
}

void add_session_argument(CLI::App* command, Options& o) {
    command->add_option("session", o.session, "Session id (from list or run --detach)")->required();
}

}  // namespace

// The commands run inside the try below, which reports every std::exception; what precedes it
// only builds the CLI11 app, whose exceptions are programming errors any run shows.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape): see above
    // A closed stdout or socket is an error to report, not a silent death.
    static_cast<void>(::signal(SIGPIPE, SIG_IGN));  // cannot fail for SIGPIPE

    Options o;
    CLI::App app{"ccjailctl: control ccjaild, the ccjail supervisor daemon"};
    app.require_subcommand(1);
    app.add_option("--socket", o.socket, "The daemon's socket")
        ->envname("CCJAIL_SOCKET")
        ->capture_default_str();

    auto* run = app.add_subcommand(
        "run",
        "Spawn ARGV in a jail and attach this terminal (Ctrl-] detaches). Exits with the "
        "session's code, 125 when it could not start");
    run->add_option("--profile", o.profile, "Profile name")->capture_default_str();
    run->add_option("--workspace", o.workspace,
                    "Workspace: absolute below the daemon's workspace root, or relative to it");
    run->add_option("--user", o.user, "User label (default: your login name)");
    run->add_flag("--pipe", o.pipe, "Pipe mode: stdout and stderr kept apart, no terminal");
    run->add_flag("--detach", o.detach, "Print the session id and return");
    run->add_option("--env", o.env, "NAME=VALUE, or NAME to pass this shell's value")
        ->allow_extra_args(false);
    run->add_option("argv", o.argv, "The program and its arguments, after --");

    auto* attach = app.add_subcommand("attach", "Attach this terminal to a session");
    add_session_argument(attach, o);
    attach->add_flag("--read-only", o.read_only, "Watch only (admins: any session)");
    attach->add_option("--from-offset", o.from_offset, "Replay output from this byte offset");

    auto* list = app.add_subcommand("list", "List sessions");
    list->add_flag("--json", o.json_output, "JSON instead of a table");
    auto* inspect = app.add_subcommand("inspect", "Show a session as JSON");
    add_session_argument(inspect, o);
    auto* kill = app.add_subcommand("kill", "Kill a session: SIGTERM, then SIGKILL after grace");
    add_session_argument(kill, o);
    kill->add_option("--grace", o.grace_ms, "Grace period in milliseconds");
    auto* metrics = app.add_subcommand("metrics", "Print the daemon's Prometheus metrics");
    auto* profiles = app.add_subcommand("profiles", "List the daemon's profiles");
    profiles->add_flag("--json", o.json_output, "JSON instead of a table");
    auto* check = app.add_subcommand("check", "Check this host, the profiles and the daemon");
    check->add_option("--profiles-dir", o.profiles_dir, "Profiles to validate")
        ->capture_default_str();

    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "ccjailctl: usage: " << e.what() << "\n(ccjailctl --help for more)\n";
        return kExitUsage;
    }

    const auto failure_code = [run] {
        return run->parsed() && !g_session_started ? kExitNotRun : 1;
    };
    try {
        if (run->parsed()) {
            return cmd_run(o);
        }
        if (attach->parsed()) {
            return cmd_attach(o);
        }
        if (list->parsed()) {
            return cmd_list(o);
        }
        if (inspect->parsed()) {
            return cmd_inspect(o);
        }
        if (kill->parsed()) {
            return cmd_kill(o);
        }
        if (metrics->parsed()) {
            return cmd_metrics(o);
        }
        if (profiles->parsed()) {
            return cmd_profiles(o);
        }
        if (check->parsed()) {
            return cmd_check(o);
        }
    } catch (const UsageError& e) {
        std::cerr << "ccjailctl: usage: " << e.what() << '\n';
        return kExitUsage;
    } catch (const ClientError& e) {
        std::cerr << error_line(e) << '\n';
        return failure_code();
    } catch (const ConnectionError& e) {
        std::cerr << "ccjailctl: connection: " << e.what() << '\n';
        if (const auto hint = connection_hint(e, o.socket); !hint.empty()) {
            std::cerr << "ccjailctl: hint: " << hint << '\n';
        }
        return failure_code();
    } catch (const std::exception& e) {
        std::cerr << "ccjailctl: internal: " << e.what() << '\n';
        return failure_code();
    }
    return kExitUsage;
}
