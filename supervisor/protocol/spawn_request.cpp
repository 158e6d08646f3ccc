// The shape of a `spawn` request (docs/protocol.md). Only bounds and character sets are checked
// here; the profile's argv policy and env allowlist, and the host's workspace root, are the jail
// engine's checks (checked_argv, built_environment, resolve_spec).

#include "protocol/spawn_request.hpp"
#include "common/text.hpp"

#include <array>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include <nlohmann/json.hpp>

#include "jail/identity_map.hpp"
#include "profile/profile_loader.hpp"
#include "protocol/error_code.hpp"

namespace ccjail::protocol {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxArgs = 4096;
constexpr std::size_t kMaxArgBytes = 128 * 1024;
constexpr std::size_t kMaxArgvBytes = 1024 * 1024;
constexpr std::size_t kMaxPathBytes = 4096;
constexpr std::size_t kMaxEnvEntries = 256;
constexpr std::size_t kMaxEnvNameBytes = 256;
constexpr std::size_t kMaxEnvValueBytes = 32 * 1024;
constexpr std::uint64_t kMaxTerminalSide = 1000;
// A hostile key can be a megabyte of anything; the message (which reaches the audit log) shows
// only its start.
constexpr std::size_t kMaxShownKeyBytes = 64;

constexpr std::array<std::string_view, 10> kFields = {
    "profile", "argv", "workspace", "cwd", "user", "env", "mode", "cols", "rows", "limits",
};

[[noreturn]] void fail(const std::string& pointer, const std::string& problem) {
    throw ProtocolError(ErrorCode::bad_request, pointer + ": " + problem);
}

// RFC 6901 escaping, so a key holding '/' or '~' still names exactly one member.
std::string child(const std::string& parent, std::string_view key) {
    std::string out = parent + "/";
    const std::size_t shown = std::min(key.size(), kMaxShownKeyBytes);
    for (std::size_t i = 0; i < shown; ++i) {
        const char c = key[i];
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else if (is_control_character(c)) {
            out += '?';
        } else {
            out += c;
        }
    }
    if (shown < key.size()) {
        out += "...";
    }
    return out;
}

std::string child(const std::string& parent, std::size_t index) {
    return parent + "/" + std::to_string(index);
}

void expect_type(const json& value, json::value_t type, std::string_view name,
                 const std::string& pointer) {
    const bool ok =
        type == json::value_t::number_integer ? value.is_number_integer() : value.type() == type;
    if (!ok) {
        fail(pointer, "expected " + std::string(name) + ", got " + value.type_name());
    }
}

const std::string& as_string(const json& value, const std::string& pointer) {
    expect_type(value, json::value_t::string, "a string", pointer);
    return value.get_ref<const std::string&>();
}

// nlohmann keeps non-negative integers it parsed as unsigned, but ones built in code as signed.
std::int64_t as_integer_sign(const json& value) {
    return value.is_number_unsigned() ? 0 : value.get<std::int64_t>();
}

std::uint64_t as_unsigned(const json& value, const std::string& pointer) {
    expect_type(value, json::value_t::number_integer, "an integer", pointer);
    if (as_integer_sign(value) < 0) {
        fail(pointer, "must not be negative");
    }
    return value.get<std::uint64_t>();
}

std::uint64_t in_range(const json& value, std::uint64_t low, std::uint64_t high,
                       const std::string& pointer) {
    const std::uint64_t n = as_unsigned(value, pointer);
    if (n < low || n > high) {
        fail(pointer, "must be between " + std::to_string(low) + " and " + std::to_string(high));
    }
    return n;
}

void no_nul(std::string_view text, const std::string& pointer) {
    if (text.find('\0') != std::string_view::npos) {
        fail(pointer, "contains NUL");
    }
}

void at_most(std::size_t size, std::size_t limit, std::string_view unit,
             const std::string& pointer) {
    if (size > limit) {
        fail(pointer,
             std::to_string(size) + " " + std::string(unit) + ", at most " + std::to_string(limit));
    }
}

// The profile loader reads a name holding '/' or ending in ".json" as a file path: this rule is
// what keeps a client from making the daemon load a file of its choosing.
// The user-label pattern, and never a file name the loader would take as a path.
bool plain_profile_name(std::string_view name) {
    return valid_user_label(name) && !name.ends_with(".json");
}

std::string parse_profile(const json& value) {
    const std::string& name = as_string(value, "/profile");
    if (!plain_profile_name(name)) {
        fail("/profile", "must be a plain name matching ^[a-z0-9][a-z0-9._-]{0,63}$");
    }
    return name;
}

std::string parse_user(const json& value) {
    const std::string& label = as_string(value, "/user");
    if (!valid_user_label(label)) {
        fail("/user", "must match ^[a-z0-9][a-z0-9._-]{0,63}$");
    }
    return label;
}

// Control characters other than NUL are left to the profile's argv policy (checked_argv), which
// lets newlines and tabs through for multi-line profiles only.
std::vector<std::string> parse_argv(const json& value) {
    expect_type(value, json::value_t::array, "an array of strings", "/argv");
    at_most(value.size(), kMaxArgs, "entries", "/argv");
    std::vector<std::string> argv;
    argv.reserve(value.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const std::string pointer = child("/argv", i);
        const std::string& arg = as_string(value[i], pointer);
        at_most(arg.size(), kMaxArgBytes, "bytes", pointer);
        no_nul(arg, pointer);
        total += arg.size();
        if (total > kMaxArgvBytes) {
            fail("/argv", "more than " + std::to_string(kMaxArgvBytes) + " bytes in all");
        }
        argv.push_back(arg);
    }
    return argv;
}

// Resolved later by fd below the workspace root; here only what no path may hold.
std::string parse_path(const json& value, const std::string& pointer) {
    const std::string& path = as_string(value, pointer);
    if (path.empty()) {
        fail(pointer, "must not be empty");
    }
    at_most(path.size(), kMaxPathBytes, "bytes", pointer);
    no_nul(path, pointer);
    for (const char c : path) {
        if (is_control_character(c)) {
            fail(pointer, "contains a control character");
        }
    }
    return path;
}

bool valid_env_name(std::string_view name) {
    if (name.empty()) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        if (!(letter || (i > 0 && c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

std::map<std::string, std::string> parse_env(const json& value) {
    expect_type(value, json::value_t::object, "an object of strings", "/env");
    at_most(value.size(), kMaxEnvEntries, "entries", "/env");
    std::map<std::string, std::string> env;
    for (const auto& [name, entry] : value.items()) {
        const std::string pointer = child("/env", name);
        at_most(name.size(), kMaxEnvNameBytes, "bytes in the name", pointer);
        if (!valid_env_name(name)) {
            fail(pointer, "name must match ^[A-Za-z_][A-Za-z0-9_]*$");
        }
        const std::string& text = as_string(entry, pointer);
        at_most(text.size(), kMaxEnvValueBytes, "bytes", pointer);
        no_nul(text, pointer);
        env.emplace(name, text);
    }
    return env;
}

SpawnMode parse_mode(const json& value) {
    const std::string& mode = as_string(value, "/mode");
    if (mode == "pty") {
        return SpawnMode::pty;
    }
    if (mode == "pipe") {
        return SpawnMode::pipe;
    }
    fail("/mode", "must be \"pty\" or \"pipe\"");
}

// A zero limit is never a real request: zero memory or output rate would only wedge the jail.
std::uint64_t positive(std::uint64_t n, const std::string& pointer) {
    if (n == 0) {
        fail(pointer, "must be greater than 0");
    }
    return n;
}

std::uint64_t parse_size_limit(const json& value, const std::string& pointer) {
    if (value.is_number_integer()) {
        return positive(as_unsigned(value, pointer), pointer);
    }
    if (!value.is_string()) {
        fail(pointer,
             std::string("expected a size like \"512M\" or bytes, got ") + value.type_name());
    }
    try {
        return positive(parse_size(value.get_ref<const std::string&>()), pointer);
    } catch (const std::invalid_argument& e) {
        fail(pointer, std::string("expected a size like \"512M\": ") + e.what());
    }
}

std::uint64_t parse_duration_limit(const json& value, const std::string& pointer) {
    if (value.is_number_integer()) {
        const std::uint64_t seconds = as_unsigned(value, pointer);
        if (seconds > UINT64_MAX / 1000) {
            fail(pointer, "duration too large");
        }
        return positive(seconds * 1000, pointer);
    }
    if (!value.is_string()) {
        fail(pointer,
             std::string("expected a duration like \"30s\" or seconds, got ") + value.type_name());
    }
    try {
        return positive(parse_duration_ms(value.get_ref<const std::string&>()), pointer);
    } catch (const std::invalid_argument& e) {
        fail(pointer, std::string("expected a duration like \"30s\": ") + e.what());
    }
}

double parse_cpus(const json& value, const std::string& pointer) {
    if (!value.is_number()) {
        fail(pointer, std::string("expected a number, got ") + value.type_name());
    }
    const double cpus = value.get<double>();
    if (!std::isfinite(cpus) || cpus <= 0) {
        fail(pointer, "must be a number greater than 0");
    }
    return cpus;
}

SpawnLimits parse_limits(const json& value) {
    expect_type(value, json::value_t::object, "an object", "/limits");
    SpawnLimits limits;
    for (const auto& [key, entry] : value.items()) {
        const std::string pointer = child("/limits", key);
        if (key == "memory") {
            limits.memory_bytes = parse_size_limit(entry, pointer);
        } else if (key == "cpus") {
            limits.cpus = parse_cpus(entry, pointer);
        } else if (key == "pids") {
            limits.pids = positive(as_unsigned(entry, pointer), pointer);
        } else if (key == "wall_time") {
            limits.wall_time_ms = parse_duration_limit(entry, pointer);
        } else if (key == "cpu_time") {
            limits.cpu_time_ms = parse_duration_limit(entry, pointer);
        } else if (key == "output_rate") {
            limits.output_rate_bytes = parse_size_limit(entry, pointer);
        } else if (key == "output_total") {
            limits.output_total_bytes = parse_size_limit(entry, pointer);
        } else {
            fail(pointer,
                 "unknown limit (known: memory, cpus, pids, wall_time, cpu_time, output_rate, "
                 "output_total)");
        }
    }
    return limits;
}

void refuse_unknown_fields(const json& body) {
    for (const auto& [key, entry] : body.items()) {
        bool known = false;
        for (const std::string_view field : kFields) {
            known = known || key == field;
        }
        if (!known) {
            fail(child("", key), "unknown field");
        }
    }
}

const json& required(const json& body, const char* field) {
    const auto it = body.find(field);
    if (it == body.end()) {
        fail(std::string("/") + field, "is required");
    }
    return *it;
}

// The largest unit that states the value exactly, so the message shows what the profile wrote.
std::string format_size(std::uint64_t bytes) {
    static constexpr std::array<std::pair<char, unsigned>, 4> kUnits{
        {{'T', 40}, {'G', 30}, {'M', 20}, {'K', 10}}};
    for (const auto& [unit, shift] : kUnits) {
        const std::uint64_t factor = std::uint64_t{1} << shift;
        if (bytes != 0 && bytes % factor == 0) {
            return std::to_string(bytes / factor) + unit;
        }
    }
    return std::to_string(bytes);
}

std::string format_duration(std::uint64_t ms) {
    static constexpr std::array<std::pair<const char*, std::uint64_t>, 4> kUnits{
        {{"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}}};
    for (const auto& [unit, factor] : kUnits) {
        if (ms != 0 && ms % factor == 0) {
            return std::to_string(ms / factor) + unit;
        }
    }
    return std::to_string(ms) + "ms";
}

std::string format_count(std::uint64_t n) {
    return std::to_string(n);
}

std::string format_cpus(double cpus) {
    std::ostringstream out;
    out << cpus;
    return out.str();
}

template <typename Current, typename Asked, typename Format>
void lower(Current& current, const std::optional<Asked>& asked, const char* pointer,
           Format format) {
    if (!asked) {
        return;
    }
    if (*asked > current) {
        fail(pointer,
             "may only lower the profile's " + format(current) + ", asked for " + format(*asked));
    }
    current = static_cast<Current>(*asked);
}

}  // namespace

SpawnRequest parse_spawn_request(const json& body) {
    if (!body.is_object()) {
        fail("", std::string("expected an object, got ") + body.type_name());
    }
    refuse_unknown_fields(body);
    SpawnRequest request;
    request.profile = parse_profile(required(body, "profile"));
    request.user = parse_user(required(body, "user"));
    if (const auto it = body.find("argv"); it != body.end()) {
        request.argv = parse_argv(*it);
    }
    if (const auto it = body.find("workspace"); it != body.end()) {
        request.workspace = parse_path(*it, "/workspace");
    }
    if (const auto it = body.find("cwd"); it != body.end()) {
        request.cwd = parse_path(*it, "/cwd");
    }
    if (const auto it = body.find("env"); it != body.end()) {
        request.env = parse_env(*it);
    }
    if (const auto it = body.find("mode"); it != body.end()) {
        request.mode = parse_mode(*it);
    }
    if (const auto it = body.find("cols"); it != body.end()) {
        request.cols = static_cast<std::uint16_t>(in_range(*it, 1, kMaxTerminalSide, "/cols"));
    }
    if (const auto it = body.find("rows"); it != body.end()) {
        request.rows = static_cast<std::uint16_t>(in_range(*it, 1, kMaxTerminalSide, "/rows"));
    }
    if (const auto it = body.find("limits"); it != body.end()) {
        request.limits = parse_limits(*it);
    }
    return request;
}

Limits apply_requested_limits(const Limits& profile_limits, const SpawnLimits& requested) {
    Limits limits = profile_limits;
    lower(limits.memory_bytes, requested.memory_bytes, "/limits/memory", format_size);
    lower(limits.cpus, requested.cpus, "/limits/cpus", format_cpus);
    lower(limits.pids, requested.pids, "/limits/pids", format_count);
    lower(limits.wall_time_ms, requested.wall_time_ms, "/limits/wall_time", format_duration);
    lower(limits.cpu_time_ms, requested.cpu_time_ms, "/limits/cpu_time", format_duration);
    lower(limits.output_rate_bytes, requested.output_rate_bytes, "/limits/output_rate",
          format_size);
    lower(limits.output_total_bytes, requested.output_total_bytes, "/limits/output_total",
          format_size);
    return limits;
}

}  // namespace ccjail::protocol
