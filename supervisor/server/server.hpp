#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "metrics/daemon_metrics.hpp"
#include "profile/profile.hpp"
#include "server/admission.hpp"
#include "server/connection.hpp"
#include "server/daemon_config.hpp"
#include "server/daemon_log.hpp"
#include "server/egress_hub.hpp"
#include "server/peer.hpp"
#include "server/profile_catalog.hpp"
#include "server/session.hpp"

namespace ccjail::server {

// The daemon: the listening socket, the connections, the session registry and the ops of
// docs/protocol.md, all on one io_context in one thread. Launching monitors forks, and a fork
// from a multi-threaded process can deadlock (DESIGN.md §9): there are no other threads.
class Server final : public ConnectionHandler, public SessionObserver {
  public:
    Server(boost::asio::io_context& io, DaemonConfig config, audit::AuditLog audit, DaemonLog log);
    ~Server() override;

    // Re-adopts the sessions a previous daemon left running, opens the socket and starts
    // accepting. Throws JailError naming the step on a failure to listen.
    void start();
    // Orderly shutdown: no new connections, every session killed with its grace period, the
    // socket removed; io_context::run returns once every monitor has left (or the deadline).
    void shutdown();

    // ConnectionHandler
    void on_frame(const std::shared_ptr<Connection>& connection, protocol::Frame frame) override;
    void on_closed(const std::shared_ptr<Connection>& connection) override;

    // SessionObserver
    void session_running(Session& session) override;
    void session_start_failed(Session& session, const ExitReport& report) override;
    void session_exited(Session& session, const ExitReport& report) override;
    void session_ended(Session& session) override;
    void session_output_limit(Session& session) override;
    void session_relayed(Session& session, bool out, std::uint64_t bytes) override;
    void session_throttled(Session& session, double seconds) override;
    void session_monitor_lost(Session& session) override;
    void session_egress(Session& session,
                        std::vector<std::pair<EgressListener, UniqueFd>> listeners) override;

    std::size_t session_count() const { return sessions_.size(); }

    // How SIGHUP (systemctl reload) reads the configuration again: the file and the command
    // line's flags over it. Without one, a reload re-reads the profiles only.
    void set_config_loader(std::function<DaemonConfig()> loader) {
        config_loader_ = std::move(loader);
    }

  private:
    struct PendingSpawn {
        std::weak_ptr<Connection> connection;
        nlohmann::json request_id;
        std::string request_tag;
        std::chrono::steady_clock::time_point requested;
        std::unique_ptr<boost::asio::steady_timer> timeout;
    };

    void listen();
    void accept_next();
    void accepted(Connection::Socket socket);
    void watch_signals();
    void watch_reload();
    void reload();
    void reload_config();
    void reload_profiles(const char* reason);
    void apply_access_and_limits();
    void watch_children();
    static void reap_children();

    void on_request(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                    const nlohmann::json& body);
    nlohmann::json dispatch(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                            const std::string& op, const nlohmann::json& body,
                            const nlohmann::json& id, bool& deferred);
    void on_data_frame(const std::shared_ptr<Connection>& connection, protocol::Frame frame);
    static void respond_error(Connection& connection, std::uint32_t channel,
                              const nlohmann::json& id, protocol::ErrorCode code,
                              const std::string& message,
                              const nlohmann::json& extra = nlohmann::json::object());

    nlohmann::json op_hello(Connection& connection, const nlohmann::json& body);
    void op_spawn(const std::shared_ptr<Connection>& connection, const nlohmann::json& body,
                  const nlohmann::json& id);
    nlohmann::json op_attach(const std::shared_ptr<Connection>& connection,
                             const nlohmann::json& body);
    nlohmann::json op_list(const Connection& connection);
    void op_inspect(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                    const nlohmann::json& body, const nlohmann::json& id);
    nlohmann::json op_profiles();

    std::shared_ptr<Session> session_for(const Connection& connection, std::uint32_t channel,
                                         const nlohmann::json& body, bool needs_write);
    std::shared_ptr<Session> visible_session(const Connection& connection,
                                             const std::string& id) const;
    static bool may_see(const Connection& connection, const Session& session);

    Profile load_requested_profile(const std::string& name) const;
    void launch(const std::shared_ptr<Session>& session);
    void write_state_file(const Session& session) const;
    void forget(const std::string& id);
    void adopt_existing_sessions();
    void finish_shutdown_if_done();
    void enter_supervisor_cgroup();
    CgroupOptions cgroup_options() const;
    void sweep_stale_cgroups();
    void remove_jail_cgroups(const std::string& id);
    // A session holds its admission slot and its place in the active-sessions gauge from the
    // request until its program has ended; released exactly once.
    void hold_slot(const Session& session);
    void release_slot(const Session& session);

    static audit::AuditContext context_for(const Connection& connection);
    static audit::AuditContext context_for(const Session& session);

    boost::asio::io_context& io_;
    boost::asio::io_context launch_context_;  // see launch_monitor: never run, holds nothing
    DaemonConfig config_;
    std::function<DaemonConfig()> config_loader_;
    audit::AuditLog audit_;
    DaemonLog log_;
    ProfileCatalog profiles_;
    metrics::DaemonMetrics metrics_;
    EgressHub egress_;
    AccessPolicy access_;
    Admission admission_;
    std::optional<boost::asio::local::stream_protocol::acceptor> acceptor_;
    boost::asio::signal_set signals_;
    boost::asio::signal_set reload_signals_;
    boost::asio::signal_set child_signals_;
    std::set<std::shared_ptr<Connection>> connections_;
    std::uint64_t next_connection_ = 1;
    std::map<std::string, std::shared_ptr<Session>> sessions_;
    std::map<std::string, PendingSpawn> pending_spawns_;
    std::map<std::string, std::unique_ptr<boost::asio::steady_timer>> retention_timers_;
    bool shutting_down_ = false;
    bool socket_activated_ = false;
    std::vector<pid_t> departing_monitors_;
    std::set<std::string> slots_;
    std::optional<boost::asio::steady_timer> shutdown_deadline_;
};

}  // namespace ccjail::server
