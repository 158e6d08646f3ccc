#pragma once

// The configuration of ccjaild (docs/operations.md is the reference): built-in defaults, a JSON
// file over them, command-line flags over the file.

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace CLI {
class App;
}

namespace ccjail::server {

inline constexpr std::string_view kDefaultConfigPath = "/etc/ccjail/ccjaild.json";

// `ccjail-exec` next to the running binary (/proc/self/exe); when it is not there but
// `<dir>/../bin/ccjail-exec` is (ccjaild installed in sbin, ccjail-exec in bin), that one.
std::filesystem::path default_exec_path();

// One member per key of the config file, named like the key. Durations are milliseconds, sizes
// bytes, counts plain numbers; every path is absolute once loaded (cgroup_parent excepted: it
// is a path inside the cgroup hierarchy, empty meaning below ccjaild's own cgroup).
struct DaemonConfig {
    std::filesystem::path socket = "/run/ccjail/ccjaild.sock";
    mode_t socket_mode = 0660;
    std::string socket_group = "ccjail";  // empty: the socket keeps root's group
    std::vector<std::string> client_groups{"ccjail"};
    std::vector<std::string> admin_groups{"ccjail-admin"};
    std::vector<uid_t> client_uids;
    std::filesystem::path profiles_dir = "/etc/ccjail/profiles";
    std::filesystem::path state_dir = "/var/lib/ccjail";
    std::filesystem::path run_dir = "/run/ccjail";
    std::filesystem::path workspace_root = "/var/lib/ccjail/workspaces";
    std::filesystem::path homes_root = "/var/lib/ccjail/homes";
    std::filesystem::path cgroup_parent;
    std::filesystem::path exec_path = default_exec_path();
    std::size_t max_sessions = 64;
    std::size_t max_sessions_per_uid = 16;
    std::size_t max_sessions_per_user = 4;
    std::size_t spawn_rate_per_user_per_min = 30;  // 0: no rate limit
    std::size_t spawn_burst_per_user = 10;
    std::size_t max_connections = 256;
    std::uint64_t max_payload_bytes = std::uint64_t{1} << 20;
    std::uint64_t client_write_buffer_bytes = std::uint64_t{4} << 20;
    std::chrono::milliseconds hello_timeout_ms{5000};
    std::chrono::milliseconds request_timeout_ms{30000};
    std::chrono::milliseconds spawn_timeout_ms{30000};
    std::chrono::milliseconds kill_grace_ms{5000};
    std::chrono::milliseconds ended_retention_ms{300000};
    std::chrono::milliseconds orphan_timeout_ms{600000};
    std::chrono::milliseconds shutdown_grace_ms{10000};
    std::string log_level = "info";  // trace, debug, info, warn or error (spdlog's names)
    // Network mode gateway (docs/egress.md): where the jails' API requests go, and the key the
    // daemon adds to them. The key file is read at each request, so a rotated key needs no
    // restart; it must be root's and unreadable by others.
    std::string gateway_upstream = "https://api.anthropic.com";
    std::filesystem::path gateway_key_file = "/etc/ccjail/secrets/anthropic-api-key";
    std::string gateway_key_header = "x-api-key";
    std::filesystem::path gateway_ca_file;  // empty: the system's trust store
    // Network modes proxy and gateway: the resolvers the daemon asks ("ip" or "ip:port";
    // empty: those of /etc/resolv.conf) and how long one lookup may take.
    std::vector<std::string> dns_servers;
    std::chrono::milliseconds dns_timeout_ms{5000};

    // Keys the config file or a flag set; the others may be derived (see apply_overrides).
    std::set<std::string> explicitly_set;

    // One <id>.json, <id>.sock and <id>.exit.json per session (the monitors' rendezvous).
    std::filesystem::path sessions_dir() const { return run_dir / "sessions"; }
};

// A config file or flag value that cannot be used. what() names the file (or flag) and key:
//   ccjaild.json: max_sessions: expected an integer 1..100000, got "x"
class ConfigError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The keys of the config file, in the order docs/operations.md and to_json list them.
const std::vector<std::string_view>& config_keys();

// Reads `path` over the defaults. A missing file is fine only when `path_was_given` is false
// (the default path). Refused with ConfigError: a file that is not a regular file, larger than
// 1 MiB, or (when running as root) not owned by root or writable by group or others; text that
// is not one JSON object; duplicate keys; unknown keys; values of the wrong type or out of range.
// Relative paths in the file are taken relative to the file's directory.
//
// Keys the file does not set are derived: workspace_root = <state_dir>/workspaces, homes_root =
// <state_dir>/homes, socket = <run_dir>/ccjaild.sock (run_dir itself stays /run/ccjail).
DaemonConfig load_daemon_config(const std::filesystem::path& path, bool path_was_given);

// The command line: one flag per key (`--max-sessions` for max_sessions; lists as
// comma-separated text, "" for an empty list), plus --config. Values are checked as the file's
// are while parsing (CLI::ValidationError naming the flag).
struct ConfigOverrides {
    std::optional<std::filesystem::path> config;

    std::optional<std::filesystem::path> socket;
    std::optional<mode_t> socket_mode;
    std::optional<std::string> socket_group;
    std::optional<std::vector<std::string>> client_groups;
    std::optional<std::vector<std::string>> admin_groups;
    std::optional<std::vector<uid_t>> client_uids;
    std::optional<std::filesystem::path> profiles_dir;
    std::optional<std::filesystem::path> state_dir;
    std::optional<std::filesystem::path> run_dir;
    std::optional<std::filesystem::path> workspace_root;
    std::optional<std::filesystem::path> homes_root;
    std::optional<std::filesystem::path> cgroup_parent;
    std::optional<std::filesystem::path> exec_path;
    std::optional<std::size_t> max_sessions;
    std::optional<std::size_t> max_sessions_per_uid;
    std::optional<std::size_t> max_sessions_per_user;
    std::optional<std::size_t> spawn_rate_per_user_per_min;
    std::optional<std::size_t> spawn_burst_per_user;
    std::optional<std::size_t> max_connections;
    std::optional<std::uint64_t> max_payload_bytes;
    std::optional<std::uint64_t> client_write_buffer_bytes;
    std::optional<std::chrono::milliseconds> hello_timeout_ms;
    std::optional<std::chrono::milliseconds> request_timeout_ms;
    std::optional<std::chrono::milliseconds> spawn_timeout_ms;
    std::optional<std::chrono::milliseconds> kill_grace_ms;
    std::optional<std::chrono::milliseconds> ended_retention_ms;
    std::optional<std::chrono::milliseconds> orphan_timeout_ms;
    std::optional<std::chrono::milliseconds> shutdown_grace_ms;
    std::optional<std::string> log_level;
    std::optional<std::string> gateway_upstream;
    std::optional<std::filesystem::path> gateway_key_file;
    std::optional<std::string> gateway_key_header;
    std::optional<std::filesystem::path> gateway_ca_file;
    std::optional<std::vector<std::string>> dns_servers;
    std::optional<std::chrono::milliseconds> dns_timeout_ms;

    // The path load_daemon_config reads, and whether it was given explicitly.
    std::filesystem::path config_path() const;
    bool config_was_given() const { return config.has_value(); }
};

void add_config_flags(CLI::App& app, ConfigOverrides& overrides);

// Flags win over the file. Relative paths are made absolute against the current directory.
// `--state-dir` on the command line moves everything ccjaild writes below it: run_dir,
// workspace_root, homes_root and socket that are not themselves flags become <state_dir>/run,
// <state_dir>/workspaces, <state_dir>/homes and <run_dir>/ccjaild.sock, whatever the file says,
// so that a repo-local run never writes into /run or /var/lib nor meets a system daemon's socket.
void apply_overrides(DaemonConfig& config, const ConfigOverrides& overrides);

// The effective configuration, every key (a valid config file: loading it gives the same
// config), for `ccjaild --print-config` and the startup log.
nlohmann::json to_json(const DaemonConfig& config);

// What a reload (SIGHUP) did to the running configuration: keys taken over, and keys whose new
// value waits for a restart (the socket, every directory and path, cgroup_parent, the egress
// and DNS setup, per-connection buffer sizes).
struct ConfigChanges {
    std::vector<std::string> applied;
    std::vector<std::string> needs_restart;
};

// The keys a running daemon takes on reload: access (client_groups, admin_groups, client_uids),
// session and spawn-rate limits, max_connections, the timeouts and log_level.
const std::set<std::string_view>& reloadable_config_keys();

// Copies into `running` the reloadable keys whose value differs in `next`, and names the others
// that differ.
ConfigChanges apply_reloadable(DaemonConfig& running, const DaemonConfig& next);

}  // namespace ccjail::server
