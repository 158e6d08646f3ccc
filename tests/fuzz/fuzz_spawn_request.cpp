// The daemon's path for a `spawn` request, from the REQ payload on: the depth-limited JSON
// parse (parse_control), the envelope stripped, parse_spawn_request's shape checks, then the
// request checks against a profile (argv policy, env allowlist, cwd) and the lowering of the
// profile's limits. A request is accepted with every documented constraint holding
// (docs/protocol.md, "Spawn validation"), or refused with a documented code and a message that
// starts with a JSON pointer.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "jail/spec.hpp"
#include "profile/profile.hpp"
#include "protocol/error_code.hpp"
#include "protocol/frame.hpp"
#include "protocol/spawn_request.hpp"

namespace {

using ccjail::protocol::ErrorCode;
using ccjail::protocol::ProtocolError;
using ccjail::protocol::SpawnMode;
using ccjail::protocol::SpawnRequest;
using nlohmann::json;

[[noreturn]] void violated(const char* what, const std::string& detail = {}) {
    std::cerr << "fuzz_spawn_request: invariant violated: " << what << " " << detail << "\n";
    std::abort();
}

void check(bool ok, const char* what, const std::string& detail = {}) {
    if (!ok) {
        violated(what, detail);
    }
}

bool user_label_shape(std::string_view text) {
    if (text.empty() || text.size() > 64) {
        return false;
    }
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool lower_or_digit = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!(lower_or_digit || (i > 0 && (c == '.' || c == '_' || c == '-')))) {
            return false;
        }
    }
    return true;
}

bool env_name_shape(std::string_view name) {
    if (name.empty() || name.size() > 256) {
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

bool has_control(std::string_view text) {
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            return true;
        }
    }
    return false;
}

void check_path(const std::optional<std::string>& path) {
    if (path) {
        check(!path->empty() && path->size() <= 4096 && !has_control(*path),
              "an accepted workspace/cwd breaks its constraints");
    }
}

// docs/protocol.md, "Spawn validation", restated on what was accepted.
void check_accepted(const SpawnRequest& r) {
    check(user_label_shape(r.profile) && !r.profile.ends_with(".json"), "accepted profile name",
          r.profile);
    check(user_label_shape(r.user), "accepted user label", r.user);
    check(r.argv.size() <= 4096, "argv has more than 4096 entries");
    std::size_t total = 0;
    for (const std::string& arg : r.argv) {
        check(arg.size() <= 128 * 1024, "an argv entry over 128 KiB");
        check(arg.find('\0') == std::string::npos, "an argv entry with NUL");
        total += arg.size();
    }
    check(total <= 1024 * 1024, "argv over 1 MiB in all");
    check_path(r.workspace);
    check_path(r.cwd);
    check(r.env.size() <= 256, "env has more than 256 entries");
    for (const auto& [name, value] : r.env) {
        check(env_name_shape(name), "accepted env name", name);
        check(value.size() <= 32 * 1024 && value.find('\0') == std::string::npos,
              "accepted env value");
    }
    check(r.cols >= 1 && r.cols <= 1000 && r.rows >= 1 && r.rows <= 1000, "terminal size");
    const auto& l = r.limits;
    for (const auto& limit : {l.memory_bytes, l.pids, l.wall_time_ms, l.cpu_time_ms,
                              l.output_rate_bytes, l.output_total_bytes}) {
        check(!limit || *limit > 0, "a zero limit was accepted");
    }
    check(!l.cpus || (std::isfinite(*l.cpus) && *l.cpus > 0), "accepted cpus");
}

// The request written back as JSON: parsing it again must give the same request.
json as_json(const SpawnRequest& r) {
    json body{{"profile", r.profile},
              {"user", r.user},
              {"argv", r.argv},
              {"env", r.env},
              {"mode", std::string(ccjail::protocol::to_string(r.mode))},
              {"cols", r.cols},
              {"rows", r.rows}};
    if (r.workspace) {
        body["workspace"] = *r.workspace;
    }
    if (r.cwd) {
        body["cwd"] = *r.cwd;
    }
    json limits = json::object();
    const auto& l = r.limits;
    if (l.memory_bytes) {
        limits["memory"] = *l.memory_bytes;
    }
    if (l.pids) {
        limits["pids"] = *l.pids;
    }
    if (l.output_rate_bytes) {
        limits["output_rate"] = *l.output_rate_bytes;
    }
    if (l.output_total_bytes) {
        limits["output_total"] = *l.output_total_bytes;
    }
    if (l.cpus) {
        limits["cpus"] = *l.cpus;
    }
    // Durations in JSON are whole seconds; only those round-trip exactly.
    if (l.wall_time_ms && *l.wall_time_ms % 1000 == 0) {
        limits["wall_time"] = *l.wall_time_ms / 1000;
    }
    if (l.cpu_time_ms && *l.cpu_time_ms % 1000 == 0) {
        limits["cpu_time"] = *l.cpu_time_ms / 1000;
    }
    body["limits"] = limits;
    return body;
}

void check_round_trip(const SpawnRequest& r) {
    const SpawnRequest again = ccjail::protocol::parse_spawn_request(as_json(r));
    check(again.profile == r.profile && again.user == r.user && again.argv == r.argv &&
              again.env == r.env && again.mode == r.mode && again.cols == r.cols &&
              again.rows == r.rows && again.workspace == r.workspace && again.cwd == r.cwd,
          "the request written back parses differently");
    check(again.limits.memory_bytes == r.limits.memory_bytes &&
              again.limits.pids == r.limits.pids && again.limits.cpus == r.limits.cpus,
          "the limits written back parse differently");
}

// Two profiles the daemon could hold: one naming its program with a flag allowlist, one taking
// argv[0] from the request with multi-line arguments.
ccjail::Profile fixed_program_profile() {
    ccjail::Profile p;
    p.command.executable = "/usr/bin/claude";
    p.command.argv_prefix = {"claude"};
    p.command.allowed_flags = std::vector<std::string>{"-p", "--print", "--model", "--verbose"};
    p.environment.pass = {"TERM", "LANG", "ANTHROPIC_MODEL"};
    p.limits.memory_bytes = 2ull << 30;
    return p;
}

ccjail::Profile shell_profile() {
    ccjail::Profile p;
    p.command.allow_multiline = true;
    p.command.max_args = 64;
    p.environment.pass = {"TERM", "COLUMNS", "LINES"};
    p.filesystem.workspace = "/work";
    return p;
}

void check_cwd(const ccjail::FilesystemPolicy& fs, const std::string& cwd) {
    check(cwd == fs.workspace || cwd.starts_with(fs.workspace + "/"), "cwd left the workspace",
          cwd);
    check(!has_control(cwd), "cwd with a control character");
    std::size_t start = 0;
    while (start <= cwd.size()) {
        const std::size_t end = std::min(cwd.find('/', start), cwd.size());
        check(cwd.compare(start, end - start, "..") != 0, "cwd with a .. component", cwd);
        start = end + 1;
    }
}

// The engine's checks, as op_spawn runs them; JailError is their documented refusal (the
// daemon turns it into bad_request).
void check_against(const ccjail::Profile& profile, const SpawnRequest& r) {
    try {
        const auto argv = ccjail::checked_argv(profile.command, r.argv);
        check(argv.size() <= profile.command.max_args + profile.command.argv_prefix.size() + 1,
              "checked_argv grew the argument list");
        const auto env = ccjail::built_environment(profile, r.env, {});
        for (const std::string& entry : env) {
            check(entry.find('\0') == std::string::npos, "environment entry with NUL");
        }
        check_cwd(profile.filesystem, ccjail::jail_cwd(profile.filesystem, r.cwd));
    } catch (const ccjail::JailError&) {
    }
    try {
        const ccjail::Limits limits =
            ccjail::protocol::apply_requested_limits(profile.limits, r.limits);
        const auto& granted = profile.limits;
        check(limits.memory_bytes <= granted.memory_bytes && limits.pids <= granted.pids &&
                  limits.cpus <= granted.cpus && limits.wall_time_ms <= granted.wall_time_ms &&
                  limits.cpu_time_ms <= granted.cpu_time_ms &&
                  limits.output_rate_bytes <= granted.output_rate_bytes &&
                  limits.output_total_bytes <= granted.output_total_bytes,
              "a request raised a profile limit");
    } catch (const ProtocolError& error) {
        check(error.code() == ErrorCode::bad_request, "limit refusal with another code");
        check(std::string_view(error.what()).starts_with("/limits/"),
              "limit refusal without its pointer", error.what());
    }
}

// "<pointer>: <problem>", the pointer empty for the whole body or RFC 6901 text.
void check_refusal(const ProtocolError& error) {
    check(error.code() == ErrorCode::bad_request, "spawn refused with another code");
    const std::string_view message = error.what();
    const auto colon = message.find(": ");
    check(colon != std::string_view::npos, "refusal without \"<pointer>: \"", error.what());
    const std::string_view pointer = message.substr(0, colon);
    check(pointer.empty() || pointer.front() == '/', "refusal pointer is not a JSON pointer",
          error.what());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // What on_frame does with a REQ: the depth-checked parse.
    ccjail::protocol::Frame frame{ccjail::protocol::FrameType::req, 0, 0,
                                  std::string(reinterpret_cast<const char*>(data), size)};
    json body;
    try {
        body = ccjail::protocol::parse_control(frame);
    } catch (const ProtocolError& error) {
        check(error.code() == ErrorCode::bad_request, "parse_control refused with another code");
        return 0;
    }
    check(body.is_object(), "parse_control returned a non-object");
    // op_spawn's spawn_body(): the envelope's keys are not spawn fields.
    body.erase("id");
    body.erase("op");

    SpawnRequest request;
    try {
        request = ccjail::protocol::parse_spawn_request(body);
    } catch (const ProtocolError& error) {
        check_refusal(error);
        return 0;
    }
    check_accepted(request);
    check_round_trip(request);
    static const ccjail::Profile fixed = fixed_program_profile();
    static const ccjail::Profile shell = shell_profile();
    check_against(fixed, request);
    check_against(shell, request);
    return 0;
}
