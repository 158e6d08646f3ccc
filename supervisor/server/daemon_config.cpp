// ccjaild's configuration: one table of keys drives the file, the flags, the derived defaults
// and the printed config, so that a key cannot be documented in one and missing in another.

#include "server/daemon_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <system_error>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/json_error.hpp"
#include "common/text.hpp"
#include "common/unique_fd.hpp"
#include "net/dns_server_address.hpp"
#include "profile/profile_loader.hpp"

namespace ccjail::server {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using std::chrono::milliseconds;

// The config is a page of keys; a bound keeps a mistaken path (a log, a device) from being read
// into memory by a root process.
constexpr std::size_t kMaxConfigBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxShownChars = 60;

// A value that cannot be used. The caller prefixes where it came from (file and key, or flag).
class BadValue : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

std::string shown(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > kMaxShownChars) {
        text.resize(kMaxShownChars);
        text += "...";
    }
    return text;
}

[[noreturn]] void bad(const std::string& expected, const json& got) {
    throw BadValue("expected " + expected + ", got " + shown(got));
}

struct Range {
    std::uint64_t lo;
    std::uint64_t hi;
};

std::string range_text(Range range) {
    return std::to_string(range.lo) + ".." + std::to_string(range.hi);
}

// 65536 -> "64K": ranges of sizes read as the admin would write them.
std::string size_text(std::uint64_t bytes) {
    static constexpr const char* kUnits[] = {"", "K", "M", "G", "T"};
    std::size_t unit = 0;
    while (unit + 1 < std::size(kUnits) && bytes != 0 && bytes % 1024 == 0) {
        bytes /= 1024;
        ++unit;
    }
    return std::to_string(bytes) + kUnits[unit];
}

bool in_range(std::uint64_t value, Range range) {
    return value >= range.lo && value <= range.hi;
}

// JSON integers only: 1.0 or "1" is refused rather than guessed at.
std::optional<std::uint64_t> unsigned_integer(const json& value) {
    if (value.is_number_unsigned()) {
        return value.get<std::uint64_t>();
    }
    if (value.is_number_integer() && value.get<std::int64_t>() >= 0) {
        return static_cast<std::uint64_t>(value.get<std::int64_t>());
    }
    return std::nullopt;
}

std::size_t count_value(const json& value, Range range) {
    const auto number = unsigned_integer(value);
    if (!number || !in_range(*number, range)) {
        bad("an integer " + range_text(range), value);
    }
    return static_cast<std::size_t>(*number);
}

std::uint64_t size_value(const json& value, Range range) {
    const std::string expected = "a size " + size_text(range.lo) + ".." + size_text(range.hi) +
                                 " (bytes, or text like \"1M\")";
    std::optional<std::uint64_t> bytes = unsigned_integer(value);
    if (!bytes && value.is_string()) {
        try {
            bytes = parse_size(value.get<std::string>());
        } catch (const std::invalid_argument&) {
            bad(expected, value);
        }
    }
    if (!bytes || !in_range(*bytes, range)) {
        bad(expected, value);
    }
    return *bytes;
}

bool all_digits(std::string_view text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A bare number in a string is refused: profiles read "30" as seconds, these keys count
// milliseconds, and guessing would put a timeout 1000 times off in force.
milliseconds duration_value(const json& value, Range range) {
    const std::string expected =
        "a duration " + range_text(range) + " ms (an integer of milliseconds, or text like \"5s\")";
    std::optional<std::uint64_t> ms = unsigned_integer(value);
    if (!ms && value.is_string() && !all_digits(value.get<std::string>())) {
        try {
            ms = parse_duration_ms(value.get<std::string>());
        } catch (const std::invalid_argument&) {
            bad(expected, value);
        }
    }
    if (!ms || !in_range(*ms, range)) {
        bad(expected, value);
    }
    return milliseconds(static_cast<milliseconds::rep>(*ms));
}

// Octal text only: a JSON number 660 is decimal 660 (01224), never what was meant. Setuid,
// setgid and sticky bits mean nothing on a socket and are refused as a sign of a typo.
mode_t socket_mode_value(const json& value) {
    const std::string expected = "an octal mode string \"0000\"..\"0777\" like \"0660\"";
    if (!value.is_string()) {
        bad(expected, value);
    }
    const std::string text = value.get<std::string>();
    if (text.size() < 3 || text.size() > 4 ||
        !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '7'; })) {
        bad(expected, value);
    }
    const auto mode = static_cast<mode_t>(std::stoul(text, nullptr, 8));
    if (mode > 0777) {
        bad(expected, value);
    }
    return mode;
}

std::string string_value(const json& value, const std::string& expected) {
    if (!value.is_string()) {
        bad(expected, value);
    }
    return value.get<std::string>();
}

fs::path path_value(const json& value) {
    const std::string text = string_value(value, "a non-empty path");
    if (text.empty() || has_control_character(text)) {
        bad("a non-empty path without control characters", value);
    }
    return text;
}

// A directory inside the cgroup hierarchy (absolute or relative to its root), not a host path:
// it is not made absolute, and ".." is refused so that it cannot climb out of the hierarchy.
fs::path cgroup_parent_value(const json& value) {
    const std::string expected = "a cgroup directory without \"..\" (\"\" for ccjaild's own)";
    fs::path path = string_value(value, expected);
    if (has_control_character(path.native()) ||
        std::any_of(path.begin(), path.end(), [](const fs::path& part) { return part == ".."; })) {
        bad(expected, value);
    }
    return path;
}

bool valid_group_name(std::string_view name) {
    // ',' separates the names of a list flag; ':' and '/' never occur in /etc/group names.
    return !name.empty() && name.size() <= 64 && !has_control_character(name) &&
           name.find_first_of(" ,:/") == std::string_view::npos;
}

std::string group_name(const json& value) {
    const std::string expected = "a group name (1 to 64 characters, no space , : or /)";
    std::string name = string_value(value, expected);
    if (!valid_group_name(name)) {
        bad(expected, value);
    }
    return name;
}

std::string socket_group_value(const json& value) {
    // NOLINTNEXTLINE(readability-container-size-empty): json::empty() is false for any string.
    if (value == "") {
        return "";
    }
    return group_name(value);
}

std::vector<std::string> group_list_value(const json& value) {
    if (!value.is_array()) {
        bad("an array of group names", value);
    }
    std::vector<std::string> names;
    for (const json& element : value) {
        names.push_back(group_name(element));
    }
    return names;
}

std::vector<uid_t> uid_list_value(const json& value) {
    // (uid_t)-1 is "no uid" to chown and setresuid, never a peer's uid.
    constexpr Range kUids{0, std::numeric_limits<uid_t>::max() - 1};
    if (!value.is_array()) {
        bad("an array of uids", value);
    }
    std::vector<uid_t> uids;
    for (const json& element : value) {
        const auto uid = unsigned_integer(element);
        if (!uid || !in_range(*uid, kUids)) {
            bad("an array of uids " + range_text(kUids), value);
        }
        uids.push_back(static_cast<uid_t>(*uid));
    }
    return uids;
}

std::string log_level_value(const json& value) {
    static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
    const std::string expected = "one of \"trace\", \"debug\", \"info\", \"warn\", \"error\"";
    std::string level = string_value(value, expected);
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
        bad(expected, value);
    }
    return level;
}

// The resolver's own parser decides, so that a config that loads is one the resolver takes.
bool valid_dns_server(const std::string& text) {
    return net::parse_dns_server(text).has_value();
}

// https://host[:port] and nothing else: the gateway adds the request's own path.
std::string upstream_value(const json& value) {
    const std::string expected = "an https://host[:port] URL without a path";
    std::string text = string_value(value, expected);
    constexpr std::string_view kScheme = "https://";
    if (!text.empty() && text.back() == '/') {
        text.pop_back();
    }
    if (text.rfind(kScheme, 0) != 0 || text.size() == kScheme.size() ||
        has_control_character(text) ||
        text.find_first_of("/?#@ \\", kScheme.size()) != std::string::npos) {
        bad(expected, value);
    }
    return text;
}

std::string header_name_value(const json& value) {
    const std::string expected = "an HTTP header name (letters, digits and -)";
    std::string name = string_value(value, expected);
    if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
        })) {
        bad(expected, value);
    }
    return name;
}

fs::path optional_path_value(const json& value) {
    // NOLINTNEXTLINE(readability-container-size-empty): json::empty() is false for any string.
    if (value == "") {
        return {};
    }
    fs::path path = path_value(value);
    if (!path.is_absolute()) {
        bad("an absolute path, or \"\"", value);
    }
    return path;
}

std::vector<std::string> dns_server_list_value(const json& value) {
    const std::string expected = "an array of resolver addresses (\"ip\" or \"ip:port\")";
    if (!value.is_array()) {
        bad(expected, value);
    }
    std::vector<std::string> servers;
    for (const json& element : value) {
        const std::string text = string_value(element, expected);
        if (!valid_dns_server(text)) {
            bad(expected, value);
        }
        servers.push_back(text);
    }
    return servers;
}

std::string mode_text(mode_t mode) {
    char text[8];
    static_cast<void>(std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode)));
    return text;
}

// How a flag's text becomes the JSON value the key's parser takes.
enum class FlagText {
    string,       // as it is
    number,       // digits become a JSON integer; other text stays a string ("5s", "1M")
    string_list,  // comma-separated; "" is the empty list
    number_list,
};

// One key: how to read it (from the file or a flag), print it, and override it.
struct KeyRule {
    std::string_view key;
    std::string_view help;
    std::string_view value_name;  // in --help: --max-sessions N
    FlagText flag_text;
    bool host_path;  // made absolute (against the file's directory or the current directory)
    std::function<void(DaemonConfig&, const json&)> read;
    std::function<json(const DaemonConfig&)> write;
    std::function<void(ConfigOverrides&, const json&)> read_flag;
    std::function<bool(DaemonConfig&, const ConfigOverrides&)> apply;  // false: flag not given
    std::function<fs::path*(DaemonConfig&)> path_member;               // host paths only
};

template <class T, class Parse, class Write>
KeyRule make_rule(std::string_view key, std::string_view help, FlagText flag_text,
                  T DaemonConfig::*member, std::optional<T> ConfigOverrides::*flag, Parse parse,
                  Write write) {
    KeyRule rule;
    rule.key = key;
    rule.help = help;
    rule.value_name = "TEXT";
    rule.flag_text = flag_text;
    rule.host_path = false;
    rule.read = [member, parse](DaemonConfig& config, const json& value) {
        config.*member = parse(value);
    };
    rule.write = [member, write](const DaemonConfig& config) { return write(config.*member); };
    rule.read_flag = [flag, parse](ConfigOverrides& overrides, const json& value) {
        overrides.*flag = parse(value);
    };
    rule.apply = [member, flag](DaemonConfig& config, const ConfigOverrides& overrides) {
        if (!(overrides.*flag)) {
            return false;
        }
        config.*member = *(overrides.*flag);
        return true;
    };
    return rule;
}

KeyRule host_path_rule(std::string_view key, std::string_view help, fs::path DaemonConfig::*member,
                       std::optional<fs::path> ConfigOverrides::*flag) {
    KeyRule rule = make_rule(key, help, FlagText::string, member, flag, path_value,
                             [](const fs::path& path) { return json(path.string()); });
    rule.host_path = true;
    rule.value_name = "PATH";
    rule.path_member = [member](DaemonConfig& config) { return &(config.*member); };
    return rule;
}

KeyRule named(KeyRule rule, std::string_view value_name) {
    rule.value_name = value_name;
    return rule;
}

KeyRule count_rule(std::string_view key, std::string_view help, Range range,
                   std::size_t DaemonConfig::*member,
                   std::optional<std::size_t> ConfigOverrides::*flag) {
    return named(make_rule(
                     key, help, FlagText::number, member, flag,
                     [range](const json& value) { return count_value(value, range); },
                     [](std::size_t count) { return json(count); }),
                 "N");
}

KeyRule size_rule(std::string_view key, std::string_view help, Range range,
                  std::uint64_t DaemonConfig::*member,
                  std::optional<std::uint64_t> ConfigOverrides::*flag) {
    return named(make_rule(
                     key, help, FlagText::number, member, flag,
                     [range](const json& value) { return size_value(value, range); },
                     [](std::uint64_t bytes) { return json(bytes); }),
                 "BYTES|SIZE");
}

KeyRule duration_rule(std::string_view key, std::string_view help, Range range,
                      milliseconds DaemonConfig::*member,
                      std::optional<milliseconds> ConfigOverrides::*flag) {
    return named(make_rule(
                     key, help, FlagText::number, member, flag,
                     [range](const json& value) { return duration_value(value, range); },
                     [](milliseconds ms) { return json(ms.count()); }),
                 "MS|DURATION");
}

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t GiB = 1024 * MiB;
constexpr std::uint64_t kMinute = 60 * 1000;
constexpr std::uint64_t kHour = 60 * kMinute;
constexpr std::uint64_t kDay = 24 * kHour;
constexpr Range kCounts{1, 100000};

std::vector<KeyRule> build_rules() {
    using C = DaemonConfig;
    using O = ConfigOverrides;
    auto text = [](const std::string& value) { return json(value); };
    auto list = [](const auto& values) { return json(values); };
    return {
        host_path_rule("socket", "the client socket (default <run_dir>/ccjaild.sock)", &C::socket,
                       &O::socket),
        named(make_rule("socket_mode", "the socket's permissions, octal", FlagText::string,
                        &C::socket_mode, &O::socket_mode, socket_mode_value,
                        [](mode_t mode) { return json(mode_text(mode)); }),
              "MODE"),
        named(make_rule("socket_group", "the socket's group (\"\": root's)", FlagText::string,
                        &C::socket_group, &O::socket_group, socket_group_value, text),
              "GROUP"),
        named(make_rule("client_groups", "groups whose members may connect as clients",
                        FlagText::string_list, &C::client_groups, &O::client_groups,
                        group_list_value, list),
              "GROUP,..."),
        named(make_rule("admin_groups", "groups whose members connect as admins",
                        FlagText::string_list, &C::admin_groups, &O::admin_groups, group_list_value,
                        list),
              "GROUP,..."),
        named(make_rule("client_uids", "uids that may connect as clients", FlagText::number_list,
                        &C::client_uids, &O::client_uids, uid_list_value, list),
              "UID,..."),
        host_path_rule("profiles_dir", "where profiles are looked up", &C::profiles_dir,
                       &O::profiles_dir),
        host_path_rule("state_dir",
                       "uid map and hash cache; with this flag, everything ccjaild "
                       "writes goes below it unless given too",
                       &C::state_dir, &O::state_dir),
        host_path_rule("run_dir", "runtime state; sessions in <run_dir>/sessions", &C::run_dir,
                       &O::run_dir),
        host_path_rule("workspace_root", "workspaces must lie below it", &C::workspace_root,
                       &O::workspace_root),
        host_path_rule("homes_root", "per-user homes are created below it", &C::homes_root,
                       &O::homes_root),
        named(make_rule("cgroup_parent", "cgroup directory for jails (\"\": below ccjaild's own)",
                        FlagText::string, &C::cgroup_parent, &O::cgroup_parent, cgroup_parent_value,
                        [](const fs::path& path) { return json(path.string()); }),
              "DIR"),
        host_path_rule("exec_path", "the ccjail-exec binary (default: next to ccjaild)",
                       &C::exec_path, &O::exec_path),
        count_rule("max_sessions", "sessions at once, in all", kCounts, &C::max_sessions,
                   &O::max_sessions),
        count_rule("max_sessions_per_uid", "sessions at once per client uid", kCounts,
                   &C::max_sessions_per_uid, &O::max_sessions_per_uid),
        count_rule("max_sessions_per_user", "sessions at once per user label", kCounts,
                   &C::max_sessions_per_user, &O::max_sessions_per_user),
        count_rule("spawn_rate_per_user_per_min", "spawns per minute per user label (0: no limit)",
                   Range{0, 100000}, &C::spawn_rate_per_user_per_min,
                   &O::spawn_rate_per_user_per_min),
        count_rule("spawn_burst_per_user", "spawns a user label may make at once", kCounts,
                   &C::spawn_burst_per_user, &O::spawn_burst_per_user),
        count_rule("max_connections", "client connections at once", kCounts, &C::max_connections,
                   &O::max_connections),
        size_rule("max_payload_bytes", "largest frame payload accepted", Range{64 * KiB, 16 * MiB},
                  &C::max_payload_bytes, &O::max_payload_bytes),
        size_rule("client_write_buffer_bytes", "output queued per connection before it waits",
                  Range{64 * KiB, 1 * GiB}, &C::client_write_buffer_bytes,
                  &O::client_write_buffer_bytes),
        duration_rule("hello_timeout_ms", "time a new connection has to send hello",
                      Range{100, 10 * kMinute}, &C::hello_timeout_ms, &O::hello_timeout_ms),
        duration_rule("request_timeout_ms", "time a started frame has to arrive completely",
                      Range{100, kHour}, &C::request_timeout_ms, &O::request_timeout_ms),
        duration_rule("spawn_timeout_ms", "time a jail has to start", Range{1000, kHour},
                      &C::spawn_timeout_ms, &O::spawn_timeout_ms),
        duration_rule("kill_grace_ms", "SIGTERM to cgroup kill, when kill gives no grace",
                      Range{0, 10 * kMinute}, &C::kill_grace_ms, &O::kill_grace_ms),
        duration_rule("ended_retention_ms", "how long an ended session stays inspectable",
                      Range{0, 7 * kDay}, &C::ended_retention_ms, &O::ended_retention_ms),
        duration_rule("orphan_timeout_ms", "how long a monitor waits for a daemon to take an exit",
                      Range{1000, 30 * kDay}, &C::orphan_timeout_ms, &O::orphan_timeout_ms),
        duration_rule("shutdown_grace_ms", "on SIGTERM, time sessions have to end", Range{0, kHour},
                      &C::shutdown_grace_ms, &O::shutdown_grace_ms),
        named(make_rule("log_level", "trace, debug, info, warn or error", FlagText::string,
                        &C::log_level, &O::log_level, log_level_value, text),
              "LEVEL"),
        named(make_rule("gateway_upstream", "where network mode gateway sends API requests",
                        FlagText::string, &C::gateway_upstream, &O::gateway_upstream,
                        upstream_value, text),
              "URL"),
        host_path_rule("gateway_key_file", "the API key the gateway adds (root's, mode 0600)",
                       &C::gateway_key_file, &O::gateway_key_file),
        named(make_rule("gateway_key_header", "the header that carries the key upstream",
                        FlagText::string, &C::gateway_key_header, &O::gateway_key_header,
                        header_name_value, text),
              "NAME"),
        named(make_rule("gateway_ca_file", "CA bundle for the upstream (\"\": the system's)",
                        FlagText::string, &C::gateway_ca_file, &O::gateway_ca_file,
                        optional_path_value,
                        [](const fs::path& path) { return json(path.string()); }),
              "FILE"),
        named(make_rule("dns_servers", "resolvers for proxy and gateway (empty: resolv.conf)",
                        FlagText::string_list, &C::dns_servers, &O::dns_servers,
                        dns_server_list_value, list),
              "IP[:PORT],..."),
        duration_rule("dns_timeout_ms", "time one name lookup may take", Range{100, 10 * kMinute},
                      &C::dns_timeout_ms, &O::dns_timeout_ms),
        // The analyzer loses the std::function functors inside this initializer list and reports a
        // leak at the brace below; LeakSanitizer runs the config tests in the sanitize tier.
    };
}  // NOLINT(clang-analyzer-cplusplus.NewDeleteLeaks): a false positive, see above

const std::vector<KeyRule>& rules() {
    static const std::vector<KeyRule> table = build_rules();
    return table;
}

const KeyRule* find_rule(std::string_view key) {
    for (const KeyRule& rule : rules()) {
        if (rule.key == key) {
            return &rule;
        }
    }
    return nullptr;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1])});
            diagonal = above;
        }
    }
    return row[b.size()];
}

std::string unknown_key_problem(std::string_view key) {
    std::string normalized(key);
    std::replace(normalized.begin(), normalized.end(), '-', '_');
    const KeyRule* closest = nullptr;
    std::size_t best = 3;
    for (const KeyRule& rule : rules()) {
        const std::size_t distance = edit_distance(normalized, rule.key);
        if (distance < best) {
            best = distance;
            closest = &rule;
        }
    }
    if (closest == nullptr) {
        return "unknown key";
    }
    return "unknown key (did you mean " + std::string(closest->key) + "?)";
}

// A key as it may appear in a message: a hostile or mistyped key must not break the line.
std::string printable_key(const std::string& key) {
    if (key.size() <= kMaxShownChars && !has_control_character(key)) {
        return key;
    }
    return shown(json(key));
}

// ---- the file ------------------------------------------------------------------------------

[[noreturn]] void fail(const fs::path& file, const std::string& problem) {
    throw ConfigError(file.string() + ": " + problem);
}

// ccjaild runs exec_path as root and creates directories where the file says: a file that a
// non-root user can change is a way to root.
void check_owner(const fs::path& file, const struct stat& st) {
    if (::geteuid() != 0) {
        return;
    }
    if (st.st_uid != 0) {
        fail(file, "owned by uid " + std::to_string(st.st_uid) +
                       ", not root; ccjaild runs as root and takes exec_path from it");
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        fail(file, "writable by group or others (mode " + mode_text(st.st_mode & 07777) +
                       "); ccjaild runs as root and takes exec_path from it");
    }
}

// The file's text, or nullopt when it does not exist.
std::optional<std::string> read_config_text(const fs::path& file) {
    // O_NONBLOCK: opening a FIFO named by mistake must not hang the daemon's start.
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        fail(file, std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        fail(file, std::string("cannot stat: ") + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
        fail(file, "not a regular file");
    }
    check_owner(file, st);
    std::string text;
    char buffer[8192];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            fail(file, std::string("cannot read: ") + std::strerror(errno));
        }
        if (n == 0) {
            return text;
        }
        text.append(buffer, static_cast<std::size_t>(n));
        if (text.size() > kMaxConfigBytes) {
            fail(file, "larger than 1 MiB; not a config file");
        }
    }
}

// nlohmann keeps the last of two equal keys without a word; a second "socket_mode" silently
// winning over the first is the kind of mistake strict loading exists to catch.
class TopLevelDuplicates {
  public:
    bool operator()(int depth, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::key && depth == 1 && !duplicate_ &&
            !seen_.insert(parsed.get<std::string>()).second) {
            duplicate_ = parsed.get<std::string>();
        }
        return true;
    }
    const std::optional<std::string>& duplicate() const { return duplicate_; }

  private:
    std::set<std::string> seen_;
    std::optional<std::string> duplicate_;
};

json parse_config_text(const fs::path& file, const std::string& text) {
    TopLevelDuplicates duplicates;
    json document;
    try {
        document = json::parse(text, std::ref(duplicates));
    } catch (const json::parse_error& e) {
        fail(file, "invalid JSON: " + parse_error_text(e));
    } catch (const json::out_of_range& e) {
        // A number past double's range ("1e999") is out_of_range (406), not a parse_error;
        // uncaught, it would escape as something other than a ConfigError (found by fuzzing
        // the profile loader, which had the same gap).
        fail(file, std::string("invalid JSON: ") + e.what());
    }
    if (!document.is_object()) {
        fail(file, std::string("expected a JSON object of keys, got ") + document.type_name());
    }
    if (duplicates.duplicate()) {
        fail(file, printable_key(*duplicates.duplicate()) + ": key given twice");
    }
    return document;
}

fs::path absolute_against(const fs::path& path, const fs::path& base) {
    return (path.is_absolute() ? path : base / path).lexically_normal();
}

bool was_set(const DaemonConfig& config, std::string_view key) {
    return config.explicitly_set.contains(std::string(key));
}

// Defaults that follow other keys, for the keys nobody set.
void derive_defaults(DaemonConfig& config) {
    if (!was_set(config, "workspace_root")) {
        config.workspace_root = config.state_dir / "workspaces";
    }
    if (!was_set(config, "homes_root")) {
        config.homes_root = config.state_dir / "homes";
    }
    if (!was_set(config, "socket")) {
        config.socket = config.run_dir / "ccjaild.sock";
    }
}

// --state-dir alone: everything written goes below it, whatever the file says.
void move_below_state_dir(DaemonConfig& config, const ConfigOverrides& overrides) {
    if (!overrides.run_dir) {
        config.run_dir = config.state_dir / "run";
        config.explicitly_set.erase("run_dir");
    }
    if (!overrides.workspace_root) {
        config.workspace_root = config.state_dir / "workspaces";
        config.explicitly_set.erase("workspace_root");
    }
    if (!overrides.homes_root) {
        config.homes_root = config.state_dir / "homes";
        config.explicitly_set.erase("homes_root");
    }
    if (!overrides.socket) {
        config.socket = config.run_dir / "ccjaild.sock";
        config.explicitly_set.erase("socket");
    }
}

// ---- flags ---------------------------------------------------------------------------------

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> parts;
    if (text.empty()) {
        return parts;
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t comma = text.find(',', start);
        parts.push_back(text.substr(start, comma - start));
        if (comma == std::string::npos) {
            return parts;
        }
        start = comma + 1;
    }
}

json number_or_text(const std::string& text) {
    if (all_digits(text) && text.size() <= 19) {
        return json(static_cast<std::uint64_t>(std::stoull(text)));
    }
    return json(text);
}

json flag_json(FlagText kind, const std::string& text) {
    switch (kind) {
        case FlagText::string:
            return json(text);
        case FlagText::number:
            return number_or_text(text);
        case FlagText::string_list:
            return json(split_commas(text));
        case FlagText::number_list: {
            json values = json::array();
            for (const std::string& part : split_commas(text)) {
                values.push_back(number_or_text(part));
            }
            return values;
        }
    }
    return json(text);
}

std::string flag_name(std::string_view key) {
    std::string name = "--" + std::string(key);
    std::replace(name.begin(), name.end(), '_', '-');
    return name;
}

}  // namespace

fs::path default_exec_path() {
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (ec) {
        return "/usr/bin/ccjail-exec";
    }
    fs::path beside = self.parent_path() / "ccjail-exec";
    fs::path installed = (self.parent_path() / ".." / "bin" / "ccjail-exec").lexically_normal();
    if (!fs::exists(beside, ec) && fs::exists(installed, ec)) {
        return installed;
    }
    return beside;
}

const std::vector<std::string_view>& config_keys() {
    static const std::vector<std::string_view> keys = [] {
        std::vector<std::string_view> names;
        for (const KeyRule& rule : rules()) {
            names.push_back(rule.key);
        }
        return names;
    }();
    return keys;
}

DaemonConfig load_daemon_config(const fs::path& path, bool path_was_given) {
    DaemonConfig config;
    const std::optional<std::string> text = read_config_text(path);
    if (!text) {
        if (path_was_given) {
            fail(path, "cannot open: " + std::string(std::strerror(ENOENT)));
        }
        derive_defaults(config);
        return config;
    }
    const json document = parse_config_text(path, *text);
    const fs::path base = fs::absolute(path).parent_path();
    for (const auto& [key, value] : document.items()) {
        const KeyRule* rule = find_rule(key);
        if (rule == nullptr) {
            fail(path, printable_key(key) + ": " + unknown_key_problem(key));
        }
        try {
            rule->read(config, value);
        } catch (const BadValue& e) {
            fail(path, key + ": " + e.what());
        }
        if (rule->host_path) {
            fs::path& member = *rule->path_member(config);
            member = absolute_against(member, base);
        }
        config.explicitly_set.insert(key);
    }
    derive_defaults(config);
    return config;
}

fs::path ConfigOverrides::config_path() const {
    return config.value_or(fs::path(kDefaultConfigPath));
}

void add_config_flags(CLI::App& app, ConfigOverrides& overrides) {
    const std::string group = "Configuration (flags override the config file)";
    app.add_option_function<std::string>(
           "--config",
           [&overrides](const std::string& path) {
               if (path.empty()) {
                   throw CLI::ValidationError("--config", "expected a path, got \"\"");
               }
               overrides.config = path;
           },
           "the config file (default " + std::string(kDefaultConfigPath) +
               "; a missing default file is fine)")
        ->type_name("PATH")
        ->group(group);
    for (const KeyRule& rule : rules()) {
        const std::string name = flag_name(rule.key);
        app.add_option_function<std::string>(
               name,
               [&overrides, &rule, name](const std::string& text) {
                   try {
                       rule.read_flag(overrides, flag_json(rule.flag_text, text));
                   } catch (const BadValue& e) {
                       throw CLI::ValidationError(name, e.what());
                   }
               },
               std::string(rule.help))
            ->type_name(std::string(rule.value_name))
            ->group(group);
    }
}

void apply_overrides(DaemonConfig& config, const ConfigOverrides& overrides) {
    const fs::path cwd = fs::current_path();
    for (const KeyRule& rule : rules()) {
        if (!rule.apply(config, overrides)) {
            continue;
        }
        if (rule.host_path) {
            fs::path& member = *rule.path_member(config);
            member = absolute_against(member, cwd);
        }
        config.explicitly_set.insert(std::string(rule.key));
    }
    if (overrides.state_dir) {
        move_below_state_dir(config, overrides);
    } else {
        derive_defaults(config);
    }
}

nlohmann::json to_json(const DaemonConfig& config) {
    json out = json::object();
    for (const KeyRule& rule : rules()) {
        out[std::string(rule.key)] = rule.write(config);
    }
    return out;
}

const std::set<std::string_view>& reloadable_config_keys() {
    static const std::set<std::string_view> keys = {"client_groups",
                                                    "admin_groups",
                                                    "client_uids",
                                                    "max_sessions",
                                                    "max_sessions_per_uid",
                                                    "max_sessions_per_user",
                                                    "spawn_rate_per_user_per_min",
                                                    "spawn_burst_per_user",
                                                    "max_connections",
                                                    "hello_timeout_ms",
                                                    "request_timeout_ms",
                                                    "spawn_timeout_ms",
                                                    "kill_grace_ms",
                                                    "ended_retention_ms",
                                                    "orphan_timeout_ms",
                                                    "shutdown_grace_ms",
                                                    "log_level"};
    return keys;
}

ConfigChanges apply_reloadable(DaemonConfig& running, const DaemonConfig& next) {
    ConfigChanges changes;
    const nlohmann::json before = to_json(running);
    const nlohmann::json after = to_json(next);
    for (const auto key : config_keys()) {
        const std::string name(key);
        if (before.value(name, nlohmann::json()) == after.value(name, nlohmann::json())) {
            continue;
        }
        (reloadable_config_keys().contains(key) ? changes.applied : changes.needs_restart)
            .push_back(name);
    }
    if (changes.applied.empty()) {
        return changes;
    }
    running.client_groups = next.client_groups;
    running.admin_groups = next.admin_groups;
    running.client_uids = next.client_uids;
    running.max_sessions = next.max_sessions;
    running.max_sessions_per_uid = next.max_sessions_per_uid;
    running.max_sessions_per_user = next.max_sessions_per_user;
    running.spawn_rate_per_user_per_min = next.spawn_rate_per_user_per_min;
    running.spawn_burst_per_user = next.spawn_burst_per_user;
    running.max_connections = next.max_connections;
    running.hello_timeout_ms = next.hello_timeout_ms;
    running.request_timeout_ms = next.request_timeout_ms;
    running.spawn_timeout_ms = next.spawn_timeout_ms;
    running.kill_grace_ms = next.kill_grace_ms;
    running.ended_retention_ms = next.ended_retention_ms;
    running.orphan_timeout_ms = next.orphan_timeout_ms;
    running.shutdown_grace_ms = next.shutdown_grace_ms;
    running.log_level = next.log_level;
    return changes;
}

}  // namespace ccjail::server
