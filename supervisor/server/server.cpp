#include "server/server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <fstream>

#include <boost/asio/post.hpp>

#include "cgroup/stale_cgroups.hpp"
#include "flow/ring_memory.hpp"
#include "jail/spec.hpp"
#include "jail/state_file.hpp"
#include "jail/workspace.hpp"
#include "profile/profile_loader.hpp"
#include "protocol/spawn_request.hpp"
#include "server/monitor_launcher.hpp"
#include "server/service_manager.hpp"
#include "server/session_settings.hpp"
#include "server/signal_names.hpp"
#include "server/wait_for_exit.hpp"

namespace ccjail::server {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using protocol::ErrorCode;
using protocol::FrameType;
using protocol::ProtocolError;

constexpr int kProtocolVersion = 1;
constexpr std::string_view kDaemonName = "ccjaild 0.1.0";
// Channels a connection may hold at once (spawned or attached sessions).
constexpr std::size_t kMaxChannelsPerConnection = 256;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string request_tag(const Connection& connection, const json& id) {
    return std::to_string(connection.number()) + "." + (id.is_null() ? "-" : id.dump());
}

json limits_json(const Limits& limits) {
    return {{"memory_bytes", limits.memory_bytes},
            {"swap_bytes", limits.swap_bytes},
            {"cpus", limits.cpus},
            {"pids", limits.pids},
            {"wall_time_ms", limits.wall_time_ms},
            {"cpu_time_ms", limits.cpu_time_ms},
            {"output_rate_bytes", limits.output_rate_bytes},
            {"output_burst_bytes", limits.output_burst_bytes},
            {"output_total_bytes", limits.output_total_bytes}};
}

// Only what the spawn op defines reaches the monitor: the envelope's id and op are not part of
// the request the jail engine checks.
json spawn_body(const json& body) {
    json copy = body;
    copy.erase("id");
    copy.erase("op");
    return copy;
}

audit::AuditContext context_for_identity(const SessionIdentity& identity) {
    audit::AuditContext context;
    context.session = identity.id;
    context.user = identity.user;
    context.profile = identity.profile;
    context.peer_uid = identity.peer_uid;
    context.peer_pid = identity.peer_pid;
    return context;
}

void remove_file(const std::filesystem::path& path) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
}

}  // namespace

Server::Server(boost::asio::io_context& io, DaemonConfig config, audit::AuditLog audit,
               DaemonLog log)
    : io_(io),
      config_(std::move(config)),
      audit_(std::move(audit)),
      log_(std::move(log)),
      profiles_(config_.profiles_dir),
      egress_(io, egress_config_from(config_), audit_, metrics_),
      admission_(AdmissionLimits{config_.max_sessions, config_.max_sessions_per_uid,
                                 config_.max_sessions_per_user, config_.spawn_rate_per_user_per_min,
                                 std::max<std::uint64_t>(1, config_.spawn_burst_per_user)}),
      signals_(io, SIGTERM, SIGINT),
      reload_signals_(io, SIGHUP),
      child_signals_(io, SIGCHLD) {
    apply_access_and_limits();
}

// What a reload can change without a restart: who may connect (new connections), the session
// and spawn-rate limits (new spawns), and the log level.
void Server::apply_access_and_limits() {
    std::vector<std::string> missing;
    AccessPolicy access;
    access.client_uids = config_.client_uids;
    access.client_gids = resolve_groups(config_.client_groups, missing);
    access.admin_gids = resolve_groups(config_.admin_groups, missing);
    access_ = std::move(access);
    for (const auto& name : missing) {
        log_.write(spdlog::level::warn, "config_group_missing",
                   {{"group", name},
                    {"hint", "create it or fix the config; nobody gets access through it"}});
    }
    admission_.set_limits(
        AdmissionLimits{config_.max_sessions, config_.max_sessions_per_uid,
                        config_.max_sessions_per_user, config_.spawn_rate_per_user_per_min,
                        std::max<std::uint64_t>(1, config_.spawn_burst_per_user)});
    log_.set_level(spdlog::level::from_str(config_.log_level));
}

Server::~Server() = default;

// ---- start-up -------------------------------------------------------------------------------

void Server::start() {
    // The run directory holds the socket, which clients must reach: 0755. The sessions below it
    // (state files, the monitors' sockets) are root's alone: 0700.
    make_directories(config_.run_dir, 0755, Step::supervise);
    make_directories(config_.sessions_dir(), 0700, Step::supervise);
    reload_profiles("start");
    watch_signals();
    enter_supervisor_cgroup();
    adopt_existing_sessions();
    sweep_stale_cgroups();
    listen();
    accept_next();
}

void Server::listen() {
    using boost::asio::local::stream_protocol;
    if (auto activated = activated_socket()) {
        // The socket unit created, owns and will remove the socket file, with its own mode and
        // group (SocketMode=, SocketGroup=): nothing to bind, chmod or unlink here.
        acceptor_.emplace(io_);
        acceptor_->assign(stream_protocol(), activated->release());
        socket_activated_ = true;
        return;
    }
    const std::string path = config_.socket.string();
    struct sockaddr_un address {};
    if (path.size() >= sizeof address.sun_path) {
        throw JailError(Step::supervise, ENAMETOOLONG, "socket path too long: " + path);
    }
    make_directories(config_.socket.parent_path(), 0755, Step::supervise);
    // A socket file left by a crashed daemon is replaced; one a live daemon answers on is not.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            throw JailError(Step::supervise, EEXIST, path + " exists and is not a socket");
        }
        UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        address.sun_family = AF_UNIX;
        path.copy(address.sun_path, path.size());
        if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
            throw JailError(Step::supervise, EADDRINUSE,
                            "another daemon answers on " + path + "; not replacing it");
        }
        ::unlink(path.c_str());
    }
    acceptor_.emplace(io_);
    acceptor_->open(stream_protocol());
    // The socket is created with no permissions for anyone but root, then opened up to the
    // configured mode and group: no window in which any user could connect.
    const mode_t old_umask = ::umask(0177);
    boost::system::error_code ec;
    acceptor_->bind(stream_protocol::endpoint(path), ec);
    ::umask(old_umask);
    if (ec) {
        throw JailError(Step::supervise, ec.value(), "bind " + path + ": " + ec.message());
    }
    if (!config_.socket_group.empty()) {
        std::vector<std::string> missing;
        const auto gids = resolve_groups({config_.socket_group}, missing);
        if (gids.empty()) {
            log_.write(spdlog::level::warn, "socket_group_missing",
                       {{"group", config_.socket_group},
                        {"socket", path},
                        {"hint", "the socket keeps root's group: only root can connect"}});
        } else if (::chown(path.c_str(), 0, gids.front()) != 0) {
            throw_errno(Step::supervise, "chown " + path);
        }
    }
    if (::chmod(path.c_str(), config_.socket_mode) != 0) {
        throw_errno(Step::supervise, "chmod " + path);
    }
    acceptor_->listen(static_cast<int>(std::min<std::size_t>(config_.max_connections, 4096)));
}

void Server::accept_next() {
    if (!acceptor_ || shutting_down_) {
        return;
    }
    acceptor_->async_accept([this](const boost::system::error_code& ec, Connection::Socket socket) {
        if (ec == boost::asio::error::operation_aborted || shutting_down_) {
            return;
        }
        if (!ec) {
            accepted(std::move(socket));
        }
        accept_next();
    });
}

void Server::accepted(Connection::Socket socket) {
    // asio's accept gives a close-on-exec socket already; the explicit flag guards against a
    // launcher that would leak it into a monitor (Boost.Process 1.81 closes fds unreliably).
    ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
    PeerCredentials peer;
    try {
        peer = read_peer_credentials(socket.native_handle());
    } catch (const JailError&) {
        metrics_.auth_failure();
        audit_.record(audit::AuditEvent::auth_failure, {}, {{"reason", "no peer credentials"}});
        return;
    }
    audit::AuditContext context;
    context.peer_uid = peer.uid;
    context.peer_pid = peer.pid;
    const auto role = role_for(peer, access_);
    if (!role) {
        metrics_.auth_failure();
        audit_.record(audit::AuditEvent::auth_failure, context,
                      {{"reason", "uid and groups not allowed"}, {"gid", peer.gid}});
        auto refused = std::make_shared<Connection>(std::move(socket), peer, Role::client, *this,
                                                    config_.max_payload_bytes,
                                                    config_.client_write_buffer_bytes, 0);
        refused->send_error_event(0, ErrorCode::forbidden,
                                  "this uid may not use ccjaild (see docs/operations.md)");
        refused->close_after_flush();
        return;
    }
    if (connections_.size() >= config_.max_connections) {
        metrics_.rejection(ErrorCode::too_many_sessions);
        auto refused = std::make_shared<Connection>(std::move(socket), peer, *role, *this,
                                                    config_.max_payload_bytes,
                                                    config_.client_write_buffer_bytes, 0);
        refused->send_error_event(0, ErrorCode::too_many_sessions,
                                  "the daemon has its maximum of connections (max_connections)");
        refused->close_after_flush();
        return;
    }
    auto connection = std::make_shared<Connection>(
        std::move(socket), peer, *role, *this, config_.max_payload_bytes,
        config_.client_write_buffer_bytes, next_connection_++);
    connections_.insert(connection);
    std::weak_ptr<Connection> weak = connection;
    connection->on_writable([this, weak] {
        auto c = weak.lock();
        if (!c) {
            return;
        }
        for (auto& [channel, session] : c->channels()) {
            if (auto s = session.lock()) {
                s->connection_writable(*c);
            }
        }
    });
    connection->start(config_.hello_timeout_ms, config_.request_timeout_ms);
}

void Server::watch_signals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (!ec) {
            shutdown();
        }
    });
    watch_reload();
    watch_children();
}

// SIGHUP (systemctl reload): the config file and every profile are read again. Running sessions
// keep what they were started with; what changed applies to the next connection or spawn.
void Server::watch_reload() {
    reload_signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec) {
            return;
        }
        reload();
        watch_reload();
    });
}

void Server::reload() {
    reload_config();
    reload_profiles("reload");
}

// An invalid file is refused whole and the running configuration kept. Keys that only a
// restart can change (the socket, directories, the egress setup, buffer sizes of connections)
// keep their running values and are named in the log line.
void Server::reload_config() {
    if (!config_loader_) {
        return;
    }
    DaemonConfig next;
    try {
        next = config_loader_();
    } catch (const std::exception& error) {
        log_.write(spdlog::level::err, "config_reload_failed",
                   {{"message", error.what()}, {"kept", "the running configuration"}});
        return;
    }
    const ConfigChanges changes = apply_reloadable(config_, next);
    apply_access_and_limits();
    log_.write(changes.needs_restart.empty() ? spdlog::level::info : spdlog::level::warn,
               "config_reloaded",
               {{"applied", changes.applied}, {"needs_restart", changes.needs_restart}});
}

void Server::reload_profiles(const char* reason) {
    const CatalogReload result = profiles_.reload();
    if (!result.dir_error.empty()) {
        log_.write(spdlog::level::err, "profiles_loaded",
                   {{"reason", reason},
                    {"message", result.dir_error},
                    {"kept", "every profile loaded before"}});
        return;
    }
    audit::RedactionRules rules;
    rules.home_roots = {config_.homes_root.string()};
    for (const auto& [name, entry] : profiles_.entries()) {
        if (entry.profile) {
            for (const auto& secret : entry.profile->environment.secrets) {
                rules.secret_env_names.push_back(secret.name);
            }
        }
    }
    const audit::Redactor redactor(rules);
    audit_.set_redactor(redactor);
    log_.set_redactor(redactor);
    const bool clean = result.kept.empty() && result.invalid.empty();
    log_.write(clean ? spdlog::level::info : spdlog::level::err, "profiles_loaded",
               {{"reason", reason},
                {"loaded", result.loaded},
                {"kept_previous", result.kept},
                {"invalid", result.invalid},
                {"removed", result.removed}});
}

void Server::watch_children() {
    child_signals_.async_wait([this](const boost::system::error_code& ec, int) {
        if (!ec) {
            reap_children();
            watch_children();
        }
    });
}

void Server::reap_children() {
    // Monitors are our children until they exit; their status is in their report already.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

// ---- frames ---------------------------------------------------------------------------------

void Server::on_frame(const std::shared_ptr<Connection>& connection, protocol::Frame frame) {
    switch (frame.type) {
        case FrameType::req: {
            json body;
            try {
                body = protocol::parse_control(frame);
            } catch (const ProtocolError& error) {
                metrics_.rejection(error.code());
                respond_error(*connection, frame.channel, nullptr, error.code(), error.what());
                return;
            }
            on_request(connection, frame.channel, body);
            return;
        }
        case FrameType::in:
        case FrameType::eof:
        case FrameType::credit:
            on_data_frame(connection, std::move(frame));
            return;
        default:
            connection->send_error_event(frame.channel, ErrorCode::bad_request,
                                         std::string("a client may not send ") +
                                             std::string(protocol::to_string(frame.type)) +
                                             " frames");
            return;
    }
}

void Server::on_data_frame(const std::shared_ptr<Connection>& connection, protocol::Frame frame) {
    const std::uint32_t channel = frame.channel;
    if (!connection->greeted()) {
        connection->send_error_event(channel, ErrorCode::unsupported_version,
                                     "hello with a protocol version must come first");
        connection->close_after_flush();
        return;
    }
    auto it = connection->channels().find(channel);
    auto session = it == connection->channels().end() ? nullptr : it->second.lock();
    try {
        if (!session) {
            throw ProtocolError(ErrorCode::not_found,
                                "no session on channel " + std::to_string(channel));
        }
        if (frame.type == FrameType::credit) {
            session->grant_credit(*connection, channel, protocol::credit_bytes(frame));
        } else if (frame.type == FrameType::in) {
            session->input(*connection, channel, std::move(frame.payload));
        } else {
            session->close_stdin(*connection, channel);
        }
    } catch (const ProtocolError& error) {
        metrics_.rejection(error.code());
        connection->send_error_event(channel, error.code(), error.what());
    }
}

void Server::respond_error(Connection& connection, std::uint32_t channel, const json& id,
                           ErrorCode code, const std::string& message, const json& extra) {
    json response = {{"id", id},
                     {"ok", false},
                     {"error", {{"code", protocol::to_string(code)}, {"message", message}}}};
    for (const auto& [key, value] : extra.items()) {
        response["error"][key] = value;
    }
    connection.send_control(FrameType::res, channel, response);
}

void Server::on_request(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                        const json& body) {
    const json id = body.contains("id") ? body["id"] : json();
    try {
        if (!id.is_number_unsigned() || id.get<std::uint64_t>() > 0xffffffffu) {
            throw ProtocolError(ErrorCode::bad_request, "/id: expected an integer 0..4294967295");
        }
        if (!body.contains("op") || !body["op"].is_string()) {
            throw ProtocolError(ErrorCode::bad_request, "/op: expected a string");
        }
        const std::string op = body["op"].get<std::string>();
        if (!connection->greeted() && op != "hello") {
            // No version was agreed on: nothing else can be understood (docs/protocol.md).
            respond_error(*connection, channel, id, ErrorCode::unsupported_version,
                          "hello with a protocol version must be the first request");
            connection->close_after_flush();
            return;
        }
        bool deferred = false;
        json result = dispatch(connection, channel, op, body, id, deferred);
        if (deferred) {
            return;
        }
        result["id"] = id;
        result["ok"] = true;
        connection->send_control(FrameType::res, channel, result);
    } catch (const ProtocolError& error) {
        metrics_.rejection(error.code());
        respond_error(*connection, channel, id, error.code(), error.what());
        if (error.code() == ErrorCode::unsupported_version) {
            connection->close_after_flush();
        }
    } catch (const std::exception& error) {
        metrics_.rejection(ErrorCode::internal);
        respond_error(*connection, channel, id, ErrorCode::internal, error.what());
    }
}

json Server::dispatch(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                      const std::string& op, const json& body, const json& id, bool& deferred) {
    if (op == "hello") {
        return op_hello(*connection, body);
    }
    if (op == "spawn") {
        if (channel != 0) {
            throw ProtocolError(ErrorCode::bad_request, "spawn is a channel-0 request");
        }
        deferred = true;
        op_spawn(connection, body, id);
        return {};
    }
    if (op == "attach") {
        return op_attach(connection, body);
    }
    if (op == "list") {
        return op_list(*connection);
    }
    if (op == "inspect") {
        deferred = true;
        op_inspect(connection, channel, body, id);
        return {};
    }
    if (op == "metrics") {
        return {{"text", metrics_.exposition()}};
    }
    if (op == "profiles") {
        return op_profiles();
    }
    if (op == "detach") {
        auto session = session_for(*connection, channel, body, false);
        if (channel == 0) {
            throw ProtocolError(ErrorCode::bad_request, "detach is sent on the session's channel");
        }
        session->detach(*connection, channel);
        connection->channels().erase(channel);
        audit_.record(audit::AuditEvent::detach, context_for(*session),
                      {{"by_uid", connection->peer().uid}, {"channel", channel}});
        return json::object();
    }
    if (op == "input") {
        if (!body.contains("data") || !body["data"].is_string()) {
            throw ProtocolError(ErrorCode::bad_request, "/data: expected a string");
        }
        auto session = session_for(*connection, channel, body, true);
        session->input(*connection, channel, body["data"].get<std::string>());
        return json::object();
    }
    if (op == "close_stdin") {
        auto session = session_for(*connection, channel, body, true);
        session->close_stdin(*connection, channel);
        return json::object();
    }
    if (op == "resize") {
        auto session = session_for(*connection, channel, body, true);
        auto side = [&](const char* key) {
            if (!body.contains(key) || !body[key].is_number_unsigned() || body[key] == 0 ||
                body[key].get<std::uint64_t>() > 1000) {
                throw ProtocolError(ErrorCode::bad_request,
                                    std::string("/") + key + ": expected an integer 1..1000");
            }
            return body[key].get<std::uint16_t>();
        };
        session->resize(side("cols"), side("rows"));
        return json::object();
    }
    if (op == "signal") {
        auto session = session_for(*connection, channel, body, true);
        if (!body.contains("signal")) {
            throw ProtocolError(ErrorCode::bad_request, "/signal: missing");
        }
        const auto number = signal_from_json(body["signal"]);
        if (!number) {
            throw ProtocolError(ErrorCode::bad_request,
                                "/signal: not one of " + allowed_signal_names());
        }
        session->signal(*number);
        return json::object();
    }
    if (op == "kill") {
        auto session = session_for(*connection, channel, body, true);
        auto grace = config_.kill_grace_ms;
        if (body.contains("grace_ms")) {
            if (!body["grace_ms"].is_number_unsigned() ||
                body["grace_ms"].get<std::uint64_t>() > 600000) {
                throw ProtocolError(ErrorCode::bad_request,
                                    "/grace_ms: expected an integer 0..600000");
            }
            grace = std::chrono::milliseconds(body["grace_ms"].get<std::uint64_t>());
        }
        audit::AuditContext context = context_for(*session);
        context.request_id = request_tag(*connection, id);
        audit_.record(audit::AuditEvent::kill, context,
                      {{"by_uid", connection->peer().uid}, {"grace_ms", grace.count()}});
        session->kill(grace);
        return json::object();
    }
    throw ProtocolError(ErrorCode::unknown_op, "/op: unknown op \"" + op.substr(0, 64) + "\"");
}

// ---- ops --------------------------------------------------------------------------------------

json Server::op_hello(Connection& connection, const json& body) {
    if (connection.greeted()) {
        throw ProtocolError(ErrorCode::bad_request, "hello was already sent");
    }
    if (!body.contains("version") || !body["version"].is_number_integer()) {
        throw ProtocolError(ErrorCode::bad_request, "/version: expected an integer");
    }
    if (body["version"].get<std::int64_t>() != kProtocolVersion) {
        throw ProtocolError(
            ErrorCode::unsupported_version,
            "protocol version " + body["version"].dump() + " is not supported; supported: [1]");
    }
    if (body.contains("client") &&
        (!body["client"].is_string() || body["client"].get<std::string>().size() > 64)) {
        throw ProtocolError(ErrorCode::bad_request,
                            "/client: expected a string of at most 64 bytes");
    }
    connection.set_greeted();
    return {{"version", kProtocolVersion},  {"versions", {kProtocolVersion}},
            {"daemon", kDaemonName},        {"role", to_string(connection.role())},
            {"uid", connection.peer().uid}, {"max_payload", config_.max_payload_bytes}};
}

Profile Server::load_requested_profile(const std::string& name) const {
    const auto* entry = profiles_.find(name);
    if (entry == nullptr) {
        throw ProtocolError(ErrorCode::unknown_profile,
                            "/profile: no profile named \"" + name + "\"");
    }
    if (!entry->profile) {
        throw ProtocolError(ErrorCode::internal,
                            "profile \"" + name + "\" is invalid: " + entry->error);
    }
    return *entry->profile;
}

void Server::op_spawn(const std::shared_ptr<Connection>& connection, const json& body,
                      const json& id) {
    const auto requested = Clock::now();
    audit::AuditContext context = context_for(*connection);
    context.request_id = request_tag(*connection, id);
    const json request = spawn_body(body);
    if (request.contains("profile") && request["profile"].is_string()) {
        context.profile = request["profile"].get<std::string>().substr(0, 64);
    }
    if (request.contains("user") && request["user"].is_string()) {
        context.user = request["user"].get<std::string>().substr(0, 64);
    }
    audit_.record(audit::AuditEvent::spawn_requested, context,
                  {{"argv", request.value("argv", json::array())}});
    auto reject = [&](ErrorCode code, const std::string& message) {
        metrics_.spawn_failed(context.profile.value_or(""), code, seconds_since(requested));
        metrics_.rejection(code);
        audit_.record(audit::AuditEvent::spawn_rejected, context,
                      {{"reason", protocol::to_string(code)}, {"message", message}});
        respond_error(*connection, 0, id, code, message);
    };
    if (shutting_down_) {
        reject(ErrorCode::internal, "the daemon is shutting down");
        return;
    }
    if (connection->channels().size() >= kMaxChannelsPerConnection) {
        reject(ErrorCode::too_many_sessions, "this connection holds its maximum of channels");
        return;
    }
    protocol::SpawnRequest spawn;
    Profile profile;
    Limits limits;
    try {
        spawn = protocol::parse_spawn_request(request);
        context.user = spawn.user;
        context.profile = spawn.profile;
        profile = load_requested_profile(spawn.profile);
        try {
            checked_argv(profile.command, spawn.argv);
            built_environment(profile, spawn.env, {});
            jail_cwd(profile.filesystem, spawn.cwd);
            if (spawn.workspace) {
                open_workspace(config_.workspace_root, *spawn.workspace);
            }
        } catch (const JailError& error) {
            throw ProtocolError(ErrorCode::bad_request, error.what());
        }
        limits = protocol::apply_requested_limits(profile.limits, spawn.limits);
    } catch (const ProtocolError& error) {
        reject(error.code(), error.what());
        return;
    }
    if (auto refusal = admission_.admit(connection->peer().uid, spawn.user, requested)) {
        reject(refusal->code, refusal->message);
        return;
    }
    SessionIdentity identity;
    identity.id = new_jail_id();
    identity.profile = spawn.profile;
    identity.user = spawn.user;
    identity.peer_uid = connection->peer().uid;
    identity.peer_pid = connection->peer().pid;
    identity.mode = spawn.mode;
    identity.created = std::chrono::system_clock::now();
    identity.request = request;
    identity.limits = limits_json(limits);
    identity.settings = settings_for(profile, limits, spawn.mode);
    context.session = identity.id;

    auto session = std::make_shared<Session>(io_, *this, identity);
    sessions_[identity.id] = session;
    hold_slot(*session);
    PendingSpawn pending;
    pending.connection = connection;
    pending.request_id = id;
    pending.request_tag = *context.request_id;
    pending.requested = requested;
    pending.timeout = std::make_unique<boost::asio::steady_timer>(io_, config_.spawn_timeout_ms);
    pending.timeout->async_wait(
        [this, weak = std::weak_ptr<Session>(session)](const boost::system::error_code& ec) {
            auto s = weak.lock();
            if (!ec && s && s->state() == SessionState::starting) {
                s->kill(std::chrono::milliseconds(0));
            }
        });
    pending_spawns_[identity.id] = std::move(pending);
    try {
        launch(session);
    } catch (const JailError& error) {
        ExitReport report;
        report.id = identity.id;
        report.status = ExitStatus::setup_failed;
        report.failure = SetupFailure{error.step(), error.err(), error.what()};
        session_start_failed(*session, report);
    }
}

void Server::launch(const std::shared_ptr<Session>& session) {
    const auto& identity = session->identity();
    const std::size_t ring_count = identity.mode == protocol::SpawnMode::pipe ? 2 : 1;
    std::vector<flow::RingMemory> rings;
    std::vector<int> ring_fds;
    for (std::size_t i = 0; i < ring_count; ++i) {
        rings.push_back(flow::RingMemory::create(identity.settings.ring_bytes));
        ring_fds.push_back(rings.back().fd());
    }
    LaunchedMonitor monitor = launch_monitor(launch_context_, config_.exec_path);
    json start = {{"type", "start"},
                  {"session", identity.id},
                  {"request", identity.request},
                  {"profiles_dir", config_.profiles_dir.string()},
                  {"host",
                   {{"workspace_root", config_.workspace_root.string()},
                    {"homes_root", config_.homes_root.string()},
                    {"state_dir", config_.state_dir.string()},
                    {"cgroup_parent", config_.cgroup_parent.string()}}},
                  {"sessions_dir", config_.sessions_dir().string()},
                  {"kill_grace_ms", config_.kill_grace_ms.count()},
                  {"orphan_timeout_ms", config_.orphan_timeout_ms.count()}};
    // The version this spawn was checked against, not whatever the file holds by now.
    if (const auto* entry = profiles_.find(identity.request.value("profile", ""));
        entry != nullptr && entry->profile) {
        start["profile_document"] = entry->document;
    }
    session->open_link(std::move(monitor.link), monitor.pid);
    session->send_start(start, ring_fds);
    write_state_file(*session);
}

void Server::write_state_file(const Session& session) const {
    json state = to_json(session.identity());
    state["monitor_pid"] = session.monitor_pid();
    const auto path = config_.sessions_dir() / (session.id() + ".json");
    const auto temporary = config_.sessions_dir() / (session.id() + ".json.tmp");
    {
        UniqueFd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        if (!fd) {
            throw_errno(Step::supervise, "create " + temporary.string());
        }
        const std::string text = state.dump() + "\n";
        if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
            throw_errno(Step::supervise, "write " + temporary.string());
        }
    }
    if (::rename(temporary.c_str(), path.c_str()) != 0) {
        throw_errno(Step::supervise, "rename " + temporary.string());
    }
}

json Server::op_attach(const std::shared_ptr<Connection>& connection, const json& body) {
    static const std::set<std::string> allowed = {
        "id", "op", "session", "from_offset", "from_err_offset", "read_only"};
    for (const auto& [key, value] : body.items()) {
        if (!allowed.contains(key)) {
            throw ProtocolError(ErrorCode::bad_request,
                                "/" + key.substr(0, 64) + ": unknown field");
        }
    }
    if (!body.contains("session") || !body["session"].is_string()) {
        throw ProtocolError(ErrorCode::bad_request, "/session: expected a string");
    }
    auto offset = [&](const char* key) -> std::optional<std::uint64_t> {
        if (!body.contains(key)) {
            return std::nullopt;
        }
        if (!body[key].is_number_unsigned()) {
            throw ProtocolError(ErrorCode::bad_request,
                                std::string("/") + key + ": expected an unsigned integer");
        }
        return body[key].get<std::uint64_t>();
    };
    bool read_only = false;
    if (body.contains("read_only")) {
        if (!body["read_only"].is_boolean()) {
            throw ProtocolError(ErrorCode::bad_request, "/read_only: expected a boolean");
        }
        read_only = body["read_only"].get<bool>();
    }
    auto session = visible_session(*connection, body["session"].get<std::string>());
    if (session->state() == SessionState::starting) {
        throw ProtocolError(ErrorCode::not_found, "the session is still starting");
    }
    if (connection->channels().size() >= kMaxChannelsPerConnection) {
        throw ProtocolError(ErrorCode::too_many_sessions,
                            "this connection holds its maximum of channels");
    }
    const std::uint32_t channel = connection->new_channel();
    const auto result = session->attach(connection, channel, read_only, offset("from_offset"),
                                        offset("from_err_offset"));
    connection->channels()[channel] = session;
    audit_.record(audit::AuditEvent::attach, context_for(*session),
                  {{"by_uid", connection->peer().uid},
                   {"channel", channel},
                   {"read_only", read_only},
                   {"from_offset", offset("from_offset").value_or(result.begin_offset)}});
    return {{"session", session->id()},
            {"channel", channel},
            {"mode", protocol::to_string(session->identity().mode)},
            {"state", to_string(session->state())},
            {"offset", result.offset},
            {"begin_offset", result.begin_offset},
            {"in_credit", result.in_credit},
            {"max_input_frame_bytes", session->identity().settings.max_input_frame_bytes},
            {"pid", session->pid()}};
}

json Server::op_list(const Connection& connection) {
    json sessions = json::array();
    const auto now = Clock::now();
    for (const auto& [id, session] : sessions_) {
        if (!may_see(connection, *session)) {
            continue;
        }
        const auto& identity = session->identity();
        sessions.push_back({{"session", id},
                            {"profile", identity.profile},
                            {"user", identity.user},
                            {"state", to_string(session->state())},
                            {"mode", protocol::to_string(identity.mode)},
                            {"pid", session->pid()},
                            {"peer_uid", identity.peer_uid},
                            {"created", audit::format_timestamp(identity.created)},
                            {"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                              now - session->started())
                                              .count()},
                            {"attached", session->attached_count()}});
    }
    return {{"sessions", sessions}};
}

void Server::op_inspect(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                        const json& body, const json& id) {
    auto session = session_for(*connection, channel, body, false);
    const auto& identity = session->identity();
    json result = {{"id", id},
                   {"ok", true},
                   {"session", identity.id},
                   {"profile", identity.profile},
                   {"user", identity.user},
                   {"peer_uid", identity.peer_uid},
                   {"mode", protocol::to_string(identity.mode)},
                   {"state", to_string(session->state())},
                   {"pid", session->pid()},
                   {"monitor_pid", session->monitor_pid()},
                   {"cgroup", session->cgroup()},
                   {"limits", identity.limits},
                   {"settings", to_json(identity.settings)},
                   {"created", audit::format_timestamp(identity.created)},
                   {"uptime_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                     Clock::now() - session->started())
                                     .count()},
                   {"bytes_out", session->bytes_out()},
                   {"bytes_in", session->bytes_in()},
                   {"dropped_bytes", session->dropped_bytes()},
                   {"offset", session->output_offset()},
                   {"throttled_ms", session->throttled().count()},
                   {"attached", session->attached_count()}};
    if (const auto egress = egress_.totals(identity.id)) {
        result["egress"] = to_json(*egress);
    }
    if (session->report()) {
        result["report"] = to_json(*session->report());
    }
    if (session->state() != SessionState::running) {
        result["usage"] = nullptr;
        connection->send_control(FrameType::res, channel, result);
        return;
    }
    std::weak_ptr<Connection> weak = connection;
    session->request_usage([weak, channel, result](const json& reply) mutable {
        auto c = weak.lock();
        if (!c) {
            return;
        }
        result["usage"] = reply.is_object() && reply.contains("usage") ? reply["usage"] : json();
        if (reply.is_object() && reply.contains("pids") && reply["pids"].is_array()) {
            result["pids"] = reply["pids"];
            if (result["usage"].is_object()) {
                result["usage"]["pids"] = reply["pids"].size();
            }
        }
        c->send_control(FrameType::res, channel, result);
    });
}

json Server::op_profiles() {
    json profiles = json::array();
    for (const auto& [name, entry] : profiles_.entries()) {
        json item = {{"name", name}};
        if (entry.profile) {
            const Profile& profile = *entry.profile;
            item["description"] = profile.description;
            item["network"] = to_string(profile.network.mode);
            item["executable"] =
                profile.command.executable ? json(*profile.command.executable) : json();
            item["limits"] = {{"memory_bytes", profile.limits.memory_bytes},
                              {"pids", profile.limits.pids},
                              {"cpus", profile.limits.cpus},
                              {"wall_time_ms", profile.limits.wall_time_ms}};
        }
        if (!entry.error.empty()) {
            // With a profile: the file is broken and its last good version is still served.
            item["error"] = entry.error;
        }
        profiles.push_back(std::move(item));
    }
    return {{"profiles", profiles}};
}

// ---- visibility ---------------------------------------------------------------------------

bool Server::may_see(const Connection& connection, const Session& session) {
    return connection.role() == Role::admin || session.identity().peer_uid == connection.peer().uid;
}

std::shared_ptr<Session> Server::visible_session(const Connection& connection,
                                                 const std::string& id) const {
    auto it = sessions_.find(id);
    // Another uid's session is reported exactly like a missing one: no hint that it exists.
    if (it == sessions_.end() || !may_see(connection, *it->second)) {
        throw ProtocolError(ErrorCode::not_found, "/session: no such session");
    }
    return it->second;
}

std::shared_ptr<Session> Server::session_for(const Connection& connection, std::uint32_t channel,
                                             const json& body, bool needs_write) {
    if (channel != 0) {
        auto it = connection.channels().find(channel);
        auto session = it == connection.channels().end() ? nullptr : it->second.lock();
        if (!session || !session->attached_by(connection, channel)) {
            throw ProtocolError(ErrorCode::not_found,
                                "no session on channel " + std::to_string(channel));
        }
        if (needs_write && session->attached_read_only(connection, channel)) {
            throw ProtocolError(ErrorCode::forbidden, "this attachment is read-only");
        }
        return session;
    }
    if (!body.contains("session") || !body["session"].is_string()) {
        throw ProtocolError(ErrorCode::bad_request, "/session: expected a string");
    }
    return visible_session(connection, body["session"].get<std::string>());
}

// ---- session events -----------------------------------------------------------------------

void Server::session_running(Session& session) {
    auto it = pending_spawns_.find(session.id());
    audit::AuditContext context = context_for(session);
    if (it == pending_spawns_.end()) {
        audit_.record(audit::AuditEvent::spawn_started, context,
                      {{"pid", session.pid()}, {"adopted", true}});
        return;
    }
    PendingSpawn pending = std::move(it->second);
    pending_spawns_.erase(it);
    pending.timeout->cancel();
    context.request_id = pending.request_tag;
    metrics_.spawn_succeeded(session.identity().profile, seconds_since(pending.requested));
    audit_.record(audit::AuditEvent::spawn_started, context,
                  {{"pid", session.pid()},
                   {"monitor_pid", session.monitor_pid()},
                   {"cgroup", session.cgroup()},
                   {"limits", session.identity().limits}});
    auto connection = pending.connection.lock();
    if (!connection || connection->closed()) {
        return;  // the spawner left: the session runs detached, like any other
    }
    auto self = sessions_.at(session.id());
    const std::uint32_t channel = connection->new_channel();
    const auto attached = session.attach(connection, channel, false, 0, 0);
    connection->channels()[channel] = self;
    const std::string_view mode = protocol::to_string(session.identity().mode);
    connection->send_control(
        FrameType::res, 0,
        {{"id", pending.request_id},
         {"ok", true},
         {"session", session.id()},
         {"channel", channel},
         {"pid", session.pid()},
         {"mode", mode},
         {"in_credit", attached.in_credit},
         {"max_input_frame_bytes", session.identity().settings.max_input_frame_bytes}});
    connection->send_control(
        FrameType::evt, channel,
        {{"event", "spawned"}, {"session", session.id()}, {"pid", session.pid()}, {"mode", mode}});
}

void Server::session_start_failed(Session& session, const ExitReport& report) {
    audit::AuditContext context = context_for(session);
    auto it = pending_spawns_.find(session.id());
    if (it != pending_spawns_.end()) {
        PendingSpawn pending = std::move(it->second);
        pending_spawns_.erase(it);
        pending.timeout->cancel();
        context.request_id = pending.request_tag;
        metrics_.spawn_failed(session.identity().profile, ErrorCode::spawn_failed,
                              seconds_since(pending.requested));
        metrics_.rejection(ErrorCode::spawn_failed);
        const std::string message = report.failure
                                        ? "setup failed at step " +
                                              std::string(to_string(report.failure->step)) + ": " +
                                              report.failure->message
                                        : "the jail could not be built";
        if (auto connection = pending.connection.lock()) {
            respond_error(*connection, 0, pending.request_id, ErrorCode::spawn_failed, message,
                          {{"report", to_json(report)}});
        }
    }
    audit_.record(audit::AuditEvent::spawn_rejected, context,
                  {{"reason", "spawn_failed"}, {"report", to_json(report)}});
    const std::string& id = session.id();
    // Not from inside the session's own call stack: the session is destroyed by forget().
    release_slot(session);
    boost::asio::post(io_, [this, id] {
        forget(id);
        finish_shutdown_if_done();
    });
}

void Server::session_exited(Session& session, const ExitReport& report) {
    release_slot(session);
    if (shutting_down_) {
        boost::asio::post(io_, [weak = std::weak_ptr<Session>(sessions_.at(session.id()))] {
            if (auto s = weak.lock()) {
                s->abandon_output();
            }
        });
    }
    const auto context = context_for(session);
    json fields = {{"report", to_json(report)}};
    if (const auto egress = egress_.totals(session.id())) {
        fields["egress"] = to_json(*egress);
    }
    // The jail's processes are gone; its network namespace lives on only through our sockets.
    egress_.close(session.id());
    audit_.record(audit::AuditEvent::exit, context, fields);
    if (report.status == ExitStatus::oom) {
        metrics_.oom_kill();
    }
    if (report.status != ExitStatus::exited && report.status != ExitStatus::signaled &&
        report.status != ExitStatus::killed) {
        audit_.record(audit::AuditEvent::limit_hit, context, {{"limit", to_string(report.status)}});
    }
}

void Server::session_ended(Session& session) {
    release_slot(session);
    const std::string& id = session.id();
    if (shutting_down_) {
        boost::asio::post(io_, [this, id] {
            forget(id);
            finish_shutdown_if_done();
        });
        return;
    }
    auto timer = std::make_unique<boost::asio::steady_timer>(io_, config_.ended_retention_ms);
    timer->async_wait([this, id](const boost::system::error_code& ec) {
        if (!ec) {
            forget(id);
        }
    });
    retention_timers_[id] = std::move(timer);
}

void Server::session_output_limit(Session& session) {
    audit_.record(audit::AuditEvent::limit_hit, context_for(session),
                  {{"limit", "output_total_bytes"},
                   {"bytes", session.bytes_out()},
                   {"output_total_bytes", session.identity().settings.output_total_bytes}});
}

void Server::session_relayed(Session&, bool out, std::uint64_t bytes) {
    metrics_.bytes_relayed(out ? metrics::Direction::out : metrics::Direction::in, bytes);
}

void Server::session_throttled(Session&, double seconds) {
    metrics_.throttled(seconds);
}

// Before any monitor is forked: they inherit the leaf, and build their jails beside it.
void Server::enter_supervisor_cgroup() {
    try {
        if (const auto leaf = enter_supervisor_leaf(cgroup_options())) {
            log_.write(spdlog::level::info, "cgroup_supervisor_leaf", {{"cgroup", leaf->string()}});
        }
    } catch (const JailError& error) {
        // Not fatal: sessions then fail at their cgroup step with the kernel's reason, and
        // `ccjailctl check` tells the admin, while the re-adopted sessions keep being served.
        log_.write(spdlog::level::warn, "cgroup_supervisor_leaf_failed",
                   {{"message", error.what()}});
    }
}

CgroupOptions Server::cgroup_options() const {
    CgroupOptions options;
    if (!config_.cgroup_parent.empty()) {
        options.parent = config_.cgroup_parent;
    }
    return options;
}

// What monitors killed while no daemon watched left behind. Only empty cgroups older than a
// minute go: a jail being built elsewhere right now has an empty cgroup for a moment.
void Server::sweep_stale_cgroups() {
    std::set<std::string> live;
    for (const auto& [id, session] : sessions_) {
        live.insert(id);
    }
    try {
        const auto sweep = remove_stale_jail_cgroups(jail_cgroup_parents(cgroup_options()), live,
                                                     std::chrono::seconds(60));
        for (const auto& path : sweep.removed) {
            log_.write(spdlog::level::info, "stale_cgroup_removed", {{"cgroup", path.string()}});
        }
    } catch (const JailError& error) {
        log_.write(spdlog::level::warn, "stale_cgroup_sweep_failed", {{"message", error.what()}});
    }
}

void Server::session_monitor_lost(Session& session) {
    remove_jail_cgroups(session.id());
}

void Server::session_egress(Session& session,
                            std::vector<std::pair<EgressListener, UniqueFd>> listeners) {
    if (session.state() == SessionState::exited || session.state() == SessionState::ended) {
        return;
    }
    egress_.open(session.id(), context_for(session), session.identity().settings.network,
                 std::move(listeners));
}

// A monitor killed with SIGKILL takes its jail with it (PDEATHSIG) but leaves the cgroup
// directories; they are empty, so rmdir is enough. A populated one refuses and stays.
void Server::remove_jail_cgroups(const std::string& id) {
    try {
        for (const auto& parent : jail_cgroup_parents(cgroup_options())) {
            const auto leaf = parent / ("jail-" + id);
            for (int attempt = 0; attempt < 20 && ::rmdir(leaf.c_str()) != 0 && errno == EBUSY;
                 ++attempt) {
                // The jail's last processes are still being reaped after the monitor died.
                ::usleep(10000);
            }
        }
    } catch (const JailError& error) {
        log_.write(spdlog::level::warn, "jail_cgroup_not_removed",
                   {{"session", id}, {"message", error.what()}});
    }
}

void Server::hold_slot(const Session& session) {
    slots_.insert(session.id());
    metrics_.session_started(session.identity().profile);
    notify_status(slots_.size());
}

void Server::release_slot(const Session& session) {
    if (slots_.erase(session.id()) == 0) {
        return;
    }
    admission_.release(session.identity().peer_uid, session.identity().user);
    metrics_.session_ended(session.identity().profile);
    notify_status(slots_.size());
}

void Server::forget(const std::string& id) {
    egress_.close(id);
    retention_timers_.erase(id);
    pending_spawns_.erase(id);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) {
        return;
    }
    it->second->release_resources();
    if (shutting_down_ && it->second->monitor_pid() > 0) {
        departing_monitors_.push_back(it->second->monitor_pid());
    }
    sessions_.erase(it);
    remove_file(config_.sessions_dir() / (id + ".json"));
    remove_file(config_.sessions_dir() / (id + ".exit.json"));
}

void Server::on_closed(const std::shared_ptr<Connection>& connection) {
    for (auto& [channel, weak] : connection->channels()) {
        if (auto session = weak.lock()) {
            session->detach(*connection, channel);
            audit_.record(audit::AuditEvent::detach, context_for(*session),
                          {{"by_uid", connection->peer().uid},
                           {"channel", channel},
                           {"reason", "disconnected"}});
        }
    }
    connection->channels().clear();
    connections_.erase(connection);
}

// ---- adoption -------------------------------------------------------------------------------

void Server::adopt_existing_sessions() {
    std::error_code ec;
    std::vector<std::filesystem::path> states;
    for (const auto& entry : std::filesystem::directory_iterator(config_.sessions_dir(), ec)) {
        const auto name = entry.path().filename().string();
        if (name.ends_with(".json") && !name.ends_with(".exit.json")) {
            states.push_back(entry.path());
        } else if (name.ends_with(".json.tmp")) {
            remove_file(entry.path());
        }
    }
    for (const auto& path : states) {
        const std::string id = path.stem().string();
        SessionIdentity identity;
        pid_t monitor_pid = -1;
        try {
            std::ifstream in(path);
            const json state = json::parse(in);
            identity = session_identity_from_json(state);
            monitor_pid = state.value("monitor_pid", -1);
            if (identity.id != id) {
                throw std::runtime_error("the file names another session");
            }
        } catch (const std::exception& error) {
            log_.write(spdlog::level::warn, "session_state_unreadable",
                       {{"session", id}, {"message", error.what()}, {"action", "removed"}});
            remove_file(path);
            continue;
        }
        const auto socket_path = config_.sessions_dir() / (id + ".sock");
        UniqueFd link(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
        struct sockaddr_un address {};
        address.sun_family = AF_UNIX;
        const std::string socket_name = socket_path.string();
        socket_name.copy(address.sun_path, sizeof address.sun_path - 1);
        const bool alive =
            link && socket_name.size() < sizeof address.sun_path &&
            ::connect(link.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        if (!alive) {
            // The monitor is gone: its report, if it wrote one, is the session's last word.
            json report;
            std::ifstream exit_file(config_.sessions_dir() / (id + ".exit.json"));
            if (exit_file) {
                try {
                    report = json::parse(exit_file);
                } catch (const std::exception&) {
                }
            }
            audit_.record(audit::AuditEvent::exit, context_for_identity(identity),
                          {{"report", report},
                           {"adopted", false},
                           {"reason", "monitor gone before the daemon restarted"}});
            remove_file(path);
            remove_file(config_.sessions_dir() / (id + ".exit.json"));
            remove_file(socket_path);
            remove_jail_cgroups(id);
            continue;
        }
        auto session = std::make_shared<Session>(io_, *this, identity);
        sessions_[id] = session;
        admission_.count_adopted(identity.peer_uid, identity.user);
        hold_slot(*session);
        session->open_link(std::move(link), monitor_pid);
        session->send_adopt();
    }
}

// ---- shutdown -------------------------------------------------------------------------------

void Server::shutdown() {
    if (shutting_down_) {
        return;
    }
    shutting_down_ = true;
    notify_stopping();
    egress_.close_all();
    boost::system::error_code ignored;
    if (acceptor_) {
        acceptor_->close(ignored);
        if (!socket_activated_) {
            ::unlink(config_.socket.c_str());
        }
    }
    signals_.cancel(ignored);
    reload_signals_.cancel(ignored);
    for (auto& [id, session] : sessions_) {
        if (session->state() == SessionState::ended) {
            boost::asio::post(io_, [this, id = id] {
                forget(id);
                finish_shutdown_if_done();
            });
        } else if (session->state() == SessionState::exited) {
            boost::asio::post(io_, [weak = std::weak_ptr<Session>(session)] {
                if (auto s = weak.lock()) {
                    s->abandon_output();
                }
            });
        } else {
            session->kill(config_.kill_grace_ms);
        }
    }
    for (auto& connection : std::set<std::shared_ptr<Connection>>(connections_)) {
        connection->send_error_event(0, ErrorCode::internal, "the daemon is shutting down");
    }
    shutdown_deadline_.emplace(io_, config_.shutdown_grace_ms);
    shutdown_deadline_->async_wait([this](const boost::system::error_code& ec) {
        if (!ec) {
            io_.stop();
        }
    });
    finish_shutdown_if_done();
}

void Server::finish_shutdown_if_done() {
    if (!shutting_down_ || !sessions_.empty()) {
        return;
    }
    for (auto& connection : std::set<std::shared_ptr<Connection>>(connections_)) {
        connection->close_after_flush();
    }
    boost::asio::post(io_, [this] {
        wait_for_monitors(departing_monitors_, config_.kill_grace_ms);
        reap_children();
        io_.stop();
    });
}

// ---- audit context --------------------------------------------------------------------------

audit::AuditContext Server::context_for(const Connection& connection) {
    audit::AuditContext context;
    context.peer_uid = connection.peer().uid;
    context.peer_pid = connection.peer().pid;
    return context;
}

audit::AuditContext Server::context_for(const Session& session) {
    return context_for_identity(session.identity());
}

}  // namespace ccjail::server
