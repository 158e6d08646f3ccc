#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "flow/output_ring.hpp"
#include "flow/token_bucket.hpp"
#include "jail/monitor.hpp"
#include "jail/report.hpp"
#include "profile/profile.hpp"
#include "protocol/frame.hpp"
#include "protocol/spawn_request.hpp"
#include "server/connection.hpp"

namespace ccjail::server {

// What the daemon enforces for one session, fixed at spawn from the profile and the request and
// kept in the session's state file, so that an adopting daemon enforces the same.
struct SessionSettings {
    std::size_t ring_bytes = 1 << 20;
    flow::OverflowPolicy overflow = flow::OverflowPolicy::drop_oldest;
    std::uint64_t output_rate_bytes = 1 << 20;
    std::uint64_t output_burst_bytes = 4 << 20;
    std::uint64_t frames_per_sec = 1000;
    std::uint64_t frame_burst = 1000;
    std::uint64_t output_total_bytes = 1ull << 30;
    std::uint64_t input_rate_bytes = 1 << 20;
    std::uint64_t input_burst_bytes = 256 << 10;
    std::uint64_t max_input_frame_bytes = 64 << 10;
    NetworkPolicy network;  // what the egress proxy and gateway enforce for the session
};
nlohmann::json to_json(const SessionSettings& settings);
SessionSettings session_settings_from_json(const nlohmann::json& json);

// The closed set of session states (docs/protocol.md).
enum class SessionState {
    starting,  // the monitor is building the jail
    running,   // the program runs
    exited,    // the program ended; its output may still be draining to clients
    ended,     // report delivered and output drained; kept for inspection a while
};
std::string_view to_string(SessionState state);

// Who a session belongs to and what it runs; written to <run_dir>/sessions/<id>.json.
struct SessionIdentity {
    std::string id;
    std::string profile;
    std::string user;
    uid_t peer_uid = 0;
    pid_t peer_pid = 0;
    protocol::SpawnMode mode = protocol::SpawnMode::pty;
    std::chrono::system_clock::time_point created;
    nlohmann::json request;  // the validated spawn request, for the monitor and for adoption
    nlohmann::json limits;   // the effective limits, for inspect
    SessionSettings settings;
};
nlohmann::json to_json(const SessionIdentity& identity);
SessionIdentity session_identity_from_json(const nlohmann::json& json);

class Session;

// How a session tells the daemon about its life. Every call happens on the event loop.
class SessionObserver {
  public:
    virtual ~SessionObserver() = default;
    virtual void session_running(Session& session) = 0;
    virtual void session_start_failed(Session& session, const ExitReport& report) = 0;
    virtual void session_exited(Session& session, const ExitReport& report) = 0;
    virtual void session_ended(Session& session) = 0;
    virtual void session_output_limit(Session& session) = 0;
    virtual void session_relayed(Session& session, bool out, std::uint64_t bytes) = 0;
    virtual void session_throttled(Session& session, double seconds) = 0;
    // The monitor's link closed before it reported: it was killed (its jail dies with it).
    virtual void session_monitor_lost(Session& session) = 0;
    // Network modes proxy and gateway: the listeners in the jail's network namespace, once the
    // program runs (again after an adoption).
    virtual void session_egress(Session& session,
                                std::vector<std::pair<EgressListener, UniqueFd>> listeners) = 0;
};

// One session as the daemon sees it: the link to its monitor, the jail's pty master or pipes,
// the output rings (shared memory the monitor also holds), the token buckets, and the clients
// attached to it. Output is read only while the bucket has tokens and either an attached client
// has credit beyond what is already buffered for it, or nobody is attached and the ring may take
// more; otherwise the jail blocks on write.
class Session : public std::enable_shared_from_this<Session> {
  public:
    Session(boost::asio::io_context& io, SessionObserver& observer, SessionIdentity identity);
    ~Session();  // NOLINT(bugprone-exception-escape): cancelling timers throws nothing in practice
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Takes the daemon's end of the monitor link and starts listening on it. `start` is sent
    // for a new session (with the ring fds); for an adopted one `adopt` is sent instead.
    void open_link(UniqueFd link, pid_t monitor_pid);
    void send_start(const nlohmann::json& start_message, std::span<const int> ring_fds);
    void send_adopt();

    // Client operations. Each throws protocol::ProtocolError with the code for the client.
    struct AttachResult {
        std::uint64_t offset = 0;
        std::uint64_t begin_offset = 0;
        std::uint64_t in_credit = 0;
    };
    AttachResult attach(const std::shared_ptr<Connection>& connection, std::uint32_t channel,
                        bool read_only, std::optional<std::uint64_t> from_offset,
                        std::optional<std::uint64_t> from_err_offset);
    void detach(const Connection& connection, std::uint32_t channel);
    void grant_credit(const Connection& connection, std::uint32_t channel, std::uint32_t bytes);
    void input(const Connection& connection, std::uint32_t channel, std::string bytes);
    void close_stdin(const Connection& connection, std::uint32_t channel);
    void resize(std::uint16_t cols, std::uint16_t rows);
    void signal(int signal);
    void kill(std::chrono::milliseconds grace, ExitStatus status = ExitStatus::killed);
    // Sends queued output to the clients of `connection` again (its write queue drained).
    void connection_writable(const Connection& connection);

    // Asks the monitor for the cgroup's usage; the reply arrives as a callback.
    void request_usage(std::function<void(const nlohmann::json&)> callback);

    const SessionIdentity& identity() const { return identity_; }
    const std::string& id() const { return identity_.id; }
    SessionState state() const { return state_; }
    pid_t pid() const { return init_pid_; }
    pid_t monitor_pid() const { return monitor_pid_; }
    const std::string& cgroup() const { return cgroup_; }
    const std::optional<ExitReport>& report() const { return report_; }
    std::size_t attached_count() const { return attachments_.size(); }
    std::uint64_t bytes_out() const;
    std::uint64_t bytes_in() const { return bytes_in_; }
    std::uint64_t dropped_bytes() const;
    std::uint64_t output_offset() const;
    std::chrono::milliseconds throttled() const;
    std::chrono::steady_clock::time_point started() const { return started_; }
    // Readable by someone attached (the spawner while starting, then anyone it may see).
    bool attached_by(const Connection& connection, std::uint32_t channel) const;
    bool attached_read_only(const Connection& connection, std::uint32_t channel) const;

    // The session ended and no more output is coming: closes the link (the monitor was told to
    // leave) and every fd. The rings stay mapped for replay until the session is destroyed.
    void release_resources();
    // The daemon is shutting down: output nobody has read yet is given up, so that an exited
    // session ends now instead of waiting for a client's credit.
    void abandon_output();

  private:
    struct OutputStream {
        protocol::FrameType frame_type = protocol::FrameType::out;
        std::unique_ptr<boost::asio::posix::stream_descriptor> fd;
        std::unique_ptr<flow::OutputRing> ring;
        bool eof = false;
        bool waiting = false;
    };
    struct Attachment {
        std::weak_ptr<Connection> connection;
        const Connection* key = nullptr;
        std::uint32_t channel = 0;
        bool read_only = false;
        std::uint64_t credit = 0;
        std::array<std::uint64_t, 2> sent{};   // queued to the connection
        std::array<std::uint64_t, 2> acked{};  // written into the client's socket
        bool eof_sent = false;
        bool exit_sent = false;
        std::uint64_t in_credit = 0;    // IN bytes the client may still send
        std::uint64_t in_to_grant = 0;  // IN bytes written to the jail, not yet re-granted
        std::chrono::steady_clock::time_point last_throttled_event{};
    };
    struct PendingInput {
        const Connection* key = nullptr;
        std::uint32_t channel = 0;
        std::string bytes;
        std::size_t written = 0;
    };

    void read_link();
    void on_link_message(const nlohmann::json& body, std::vector<UniqueFd> fds);
    void on_ready(const nlohmann::json& body, std::vector<UniqueFd> fds);
    std::optional<std::vector<EgressListener>> egress_kinds(const nlohmann::json& body) const;
    void on_exit_message(const nlohmann::json& body);
    void on_link_lost();
    void send_link(const nlohmann::json& body);

    void pump();
    void read_stream(OutputStream& stream);
    bool may_read(const OutputStream& stream) const;
    void wait_readable(OutputStream& stream);
    void schedule_refill(std::chrono::nanoseconds delay);
    void stream_ended(OutputStream& stream);
    void flush_all();
    void flush(Attachment& attachment);
    void release_rings();
    void frame_written(const Connection* key, std::uint32_t channel, std::size_t stream,
                       std::uint64_t offset);
    void note_throttled(bool limited);
    void finish_if_done();
    void enforce_output_total();

    void write_input();
    void wait_writable();
    void grant_input();
    void input_done(const Connection* key, std::uint32_t channel, std::size_t bytes);

    Attachment* find(const Connection& connection, std::uint32_t channel);
    Attachment& checked(const Connection& connection, std::uint32_t channel, bool for_input);
    std::vector<OutputStream*> live_streams();

    boost::asio::io_context& io_;
    SessionObserver& observer_;
    SessionIdentity identity_;
    SessionState state_ = SessionState::starting;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

    std::unique_ptr<boost::asio::posix::stream_descriptor> link_;
    pid_t monitor_pid_ = -1;
    pid_t init_pid_ = -1;
    std::string cgroup_;
    bool exit_acked_ = false;

    std::vector<OutputStream> streams_;  // [out] in pty mode, [out, err] in pipe mode
    std::unique_ptr<boost::asio::posix::stream_descriptor> input_;
    std::deque<PendingInput> pending_input_;
    bool input_waiting_ = false;
    bool input_closed_ = false;
    bool close_input_when_drained_ = false;
    bool have_streams_ = false;

    std::vector<Attachment> attachments_;
    flow::OutputLimiter limiter_;
    flow::TokenBucket input_bucket_;
    boost::asio::steady_timer refill_timer_;
    bool refill_pending_ = false;
    boost::asio::steady_timer input_timer_;
    bool input_timer_pending_ = false;
    bool pumping_ = false;
    bool pump_again_ = false;
    std::uint64_t bytes_in_ = 0;
    bool output_limit_hit_ = false;
    std::chrono::nanoseconds throttle_reported_{0};
    std::optional<ExitReport> report_;
    std::deque<std::function<void(const nlohmann::json&)>> usage_callbacks_;
};

}  // namespace ccjail::server
