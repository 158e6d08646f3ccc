#include "link/start_message.hpp"

#include <algorithm>

#include "common/error.hpp"
#include "profile/profile_loader.hpp"
#include "protocol/error_code.hpp"

namespace ccjail::link {
namespace {

using nlohmann::json;

constexpr std::uint64_t kMaxMilliseconds = 24ull * 3600 * 1000;

[[noreturn]] void reject(const std::string& field, const std::string& problem) {
    throw JailError(Step::request, 0, "start." + field + ": " + problem);
}

std::filesystem::path absolute_path(const json& object, const char* name,
                                    const std::filesystem::path& fallback, const char* prefix) {
    if (!object.contains(name)) {
        return fallback;
    }
    const json& value = object.at(name);
    if (!value.is_string() || value.get<std::string>().empty() ||
        value.get<std::string>().front() != '/') {
        reject(std::string(prefix) + name, "expected an absolute path");
    }
    return value.get<std::string>();
}

std::chrono::milliseconds milliseconds_field(const json& body, const char* name,
                                             std::chrono::milliseconds fallback) {
    if (!body.contains(name)) {
        return fallback;
    }
    const json& value = body.at(name);
    if (!value.is_number_unsigned() || value.get<std::uint64_t>() > kMaxMilliseconds) {
        reject(name, "expected milliseconds (0..86400000)");
    }
    return std::chrono::milliseconds(value.get<std::uint64_t>());
}

HostConfig host_config(const json& body) {
    HostConfig host;
    if (!body.contains("host")) {
        return host;
    }
    const json& object = body.at("host");
    if (!object.is_object()) {
        reject("host", "expected an object");
    }
    host.workspace_root = absolute_path(object, "workspace_root", host.workspace_root, "host.");
    host.homes_root = absolute_path(object, "homes_root", host.homes_root, "host.");
    host.state_dir = absolute_path(object, "state_dir", host.state_dir, "host.");
    // NOLINTNEXTLINE(readability-container-size-empty): json::empty() is false for any string
    if (object.contains("cgroup_parent") && object.at("cgroup_parent") != "") {
        host.cgroup.parent = absolute_path(object, "cgroup_parent", {}, "host.");
    }
    return host;
}

}  // namespace

bool valid_session_id(const std::string& id) {
    return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

StartMessage parse_start_message(const json& body) {
    StartMessage start;
    if (!body.contains("session") || !body.at("session").is_string() ||
        !valid_session_id(body.at("session").get<std::string>())) {
        reject("session", "expected 16 lowercase hex digits");
    }
    start.session = body.at("session").get<std::string>();
    if (!body.contains("request") || !body.at("request").is_object()) {
        reject("request", "expected the spawn request object");
    }
    start.request = body.at("request");
    start.profiles_dir = absolute_path(body, "profiles_dir", start.profiles_dir, "");
    if (body.contains("profile_document")) {
        if (!body.at("profile_document").is_object()) {
            reject("profile_document", "expected the merged profile object");
        }
        start.profile_document = body.at("profile_document");
    }
    if (!body.contains("sessions_dir")) {
        reject("sessions_dir", "missing");
    }
    start.sessions_dir = absolute_path(body, "sessions_dir", {}, "");
    start.host = host_config(body);
    start.kill_grace = milliseconds_field(body, "kill_grace_ms", start.kill_grace);
    start.orphan_timeout = milliseconds_field(body, "orphan_timeout_ms", start.orphan_timeout);
    return start;
}

SessionJail resolve_session_jail(const StartMessage& start) {
    protocol::SpawnRequest request;
    Profile profile;
    try {
        request = protocol::parse_spawn_request(start.request);
    } catch (const protocol::ProtocolError& error) {
        throw JailError(Step::request, 0, error.what());
    }
    try {
        profile = start.profile_document.is_object()
                      ? profile_from_json(start.profile_document, request.profile,
                                          start.profiles_dir / (request.profile + ".json"))
                      : load_profile(request.profile, start.profiles_dir);
    } catch (const ProfileError& error) {
        throw JailError(Step::profile, 0, error.what());
    }
    try {
        profile.limits = protocol::apply_requested_limits(profile.limits, request.limits);
    } catch (const protocol::ProtocolError& error) {
        throw JailError(Step::request, 0, error.what());
    }
    JailRequest jail;
    jail.argv = request.argv;
    jail.env = request.env;
    jail.user_label = request.user;
    if (request.workspace) {
        jail.workspace = *request.workspace;
    }
    jail.cwd = request.cwd;
    jail.terminal.pty = request.mode == protocol::SpawnMode::pty;
    jail.terminal.rows = request.rows;
    jail.terminal.cols = request.cols;
    SessionJail session{resolve_spec(profile, jail, start.host), request.mode};
    // The daemon names the session: the cgroup, the files and the report carry that name.
    session.spec.id = start.session;
    return session;
}

}  // namespace ccjail::link
