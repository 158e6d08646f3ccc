#include "server/session.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <limits>
#include <stdexcept>

#include <boost/asio/post.hpp>

#include "flow/ring_memory.hpp"
#include "link/link_codec.hpp"
#include "profile/network_policy_json.hpp"

namespace ccjail::server {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::ErrorCode;
using protocol::FrameType;
using protocol::ProtocolError;

// One read from the jail takes at most this much: big enough for a pipe's whole 1 MiB buffer
// in a few calls, small enough that one busy session cannot hold the loop for long.
constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kMaxDataFrame = 256 * 1024;
// Reads per pump before the loop is given back to other sessions and clients.
constexpr int kReadsPerPump = 16;
constexpr auto kThrottledEventEvery = std::chrono::seconds(1);

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags >= 0) {
        ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
}

flow::OverflowPolicy overflow_from_json(const nlohmann::json& value) {
    const auto policy = flow::overflow_policy_from_string(value.get<std::string>());
    if (!policy) {
        throw std::invalid_argument("settings.overflow: not block or drop_oldest");
    }
    return *policy;
}

}  // namespace

nlohmann::json to_json(const SessionSettings& s) {
    return {{"ring_bytes", s.ring_bytes},
            {"overflow", flow::to_string(s.overflow)},
            {"output_rate_bytes", s.output_rate_bytes},
            {"output_burst_bytes", s.output_burst_bytes},
            {"frames_per_sec", s.frames_per_sec},
            {"frame_burst", s.frame_burst},
            {"output_total_bytes", s.output_total_bytes},
            {"input_rate_bytes", s.input_rate_bytes},
            {"input_burst_bytes", s.input_burst_bytes},
            {"max_input_frame_bytes", s.max_input_frame_bytes},
            {"network", to_json(s.network)}};
}

SessionSettings session_settings_from_json(const nlohmann::json& j) {
    SessionSettings s;
    s.ring_bytes = j.at("ring_bytes").get<std::size_t>();
    s.overflow = overflow_from_json(j.at("overflow"));
    s.output_rate_bytes = j.at("output_rate_bytes").get<std::uint64_t>();
    s.output_burst_bytes = j.at("output_burst_bytes").get<std::uint64_t>();
    s.frames_per_sec = j.at("frames_per_sec").get<std::uint64_t>();
    s.frame_burst = j.at("frame_burst").get<std::uint64_t>();
    s.output_total_bytes = j.at("output_total_bytes").get<std::uint64_t>();
    s.input_rate_bytes = j.at("input_rate_bytes").get<std::uint64_t>();
    s.input_burst_bytes = j.at("input_burst_bytes").get<std::uint64_t>();
    s.max_input_frame_bytes = j.at("max_input_frame_bytes").get<std::uint64_t>();
    // State files of sessions started before egress existed have no network key.
    if (const auto network = j.find("network"); network != j.end()) {
        s.network = network_policy_from_json(*network);
    }
    return s;
}

std::string_view to_string(SessionState state) {
    switch (state) {
        case SessionState::starting:
            return "starting";
        case SessionState::running:
            return "running";
        case SessionState::exited:
            return "exited";
        case SessionState::ended:
            return "ended";
    }
    return "ended";
}

nlohmann::json to_json(const SessionIdentity& i) {
    return {{"session", i.id},
            {"profile", i.profile},
            {"user", i.user},
            {"peer_uid", i.peer_uid},
            {"peer_pid", i.peer_pid},
            {"mode", protocol::to_string(i.mode)},
            {"created_ms",
             std::chrono::duration_cast<std::chrono::milliseconds>(i.created.time_since_epoch())
                 .count()},
            {"request", i.request},
            {"limits", i.limits},
            {"settings", to_json(i.settings)}};
}

SessionIdentity session_identity_from_json(const nlohmann::json& j) {
    SessionIdentity i;
    i.id = j.at("session").get<std::string>();
    i.profile = j.at("profile").get<std::string>();
    i.user = j.at("user").get<std::string>();
    i.peer_uid = j.at("peer_uid").get<uid_t>();
    i.peer_pid = j.at("peer_pid").get<pid_t>();
    i.mode = j.at("mode").get<std::string>() == "pipe" ? protocol::SpawnMode::pipe
                                                       : protocol::SpawnMode::pty;
    i.created = std::chrono::system_clock::time_point(
        std::chrono::milliseconds(j.at("created_ms").get<std::int64_t>()));
    i.request = j.at("request");
    i.limits = j.at("limits");
    i.settings = session_settings_from_json(j.at("settings"));
    return i;
}

Session::Session(boost::asio::io_context& io, SessionObserver& observer, SessionIdentity identity)
    : io_(io),
      observer_(observer),
      identity_(std::move(identity)),
      limiter_(identity_.settings.output_rate_bytes,
               std::max<std::uint64_t>(1, identity_.settings.output_burst_bytes),
               identity_.settings.frames_per_sec,
               std::max<std::uint64_t>(1, identity_.settings.frame_burst)),
      input_bucket_(identity_.settings.input_rate_bytes,
                    std::max<std::uint64_t>(1, identity_.settings.input_burst_bytes)),
      refill_timer_(io),
      input_timer_(io) {}

// Cancelling a timer throws nothing in practice: it has no error to report on the epoll reactor.
Session::~Session() {  // NOLINT(bugprone-exception-escape): see above
    refill_timer_.cancel();
    input_timer_.cancel();
}

// ---- the monitor link ---------------------------------------------------------------------

void Session::open_link(UniqueFd link, pid_t monitor_pid) {
    set_nonblocking(link.get());
    link_ = std::make_unique<boost::asio::posix::stream_descriptor>(io_, link.release());
    monitor_pid_ = monitor_pid;
    read_link();
}

void Session::send_link(const nlohmann::json& body) {
    if (link_ && link_->is_open()) {
        link::send_link_message(link_->native_handle(), body);
    }
}

void Session::send_start(const nlohmann::json& start_message, std::span<const int> ring_fds) {
    if (!link_) {
        return;
    }
    if (!link::send_link_message(link_->native_handle(), start_message, ring_fds)) {
        on_link_lost();
    }
}

void Session::send_adopt() {
    send_link({{"type", "adopt"}});
}

void Session::read_link() {
    if (!link_) {
        return;
    }
    link_->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                      [weak = weak_from_this()](const boost::system::error_code& ec) {
                          auto self = weak.lock();
                          if (!self || ec || !self->link_) {
                              return;
                          }
                          for (;;) {
                              link::LinkMessage message;
                              link::ReceiveResult result;
                              try {
                                  result = link::receive_link_message(self->link_->native_handle(),
                                                                      message);
                              } catch (const JailError&) {
                                  result = link::ReceiveResult::eof;
                              }
                              if (result == link::ReceiveResult::would_block) {
                                  self->read_link();
                                  return;
                              }
                              if (result == link::ReceiveResult::eof) {
                                  self->on_link_lost();
                                  return;
                              }
                              self->on_link_message(message.body, std::move(message.fds));
                              if (!self->link_) {
                                  return;
                              }
                          }
                      });
}

void Session::on_link_message(const nlohmann::json& body, std::vector<UniqueFd> fds) {
    const std::string type = body.value("type", "");
    if (type == "ready") {
        on_ready(body, std::move(fds));
    } else if (type == "exit") {
        on_exit_message(body);
    } else if (type == "usage" && !usage_callbacks_.empty()) {
        auto callback = std::move(usage_callbacks_.front());
        usage_callbacks_.pop_front();
        callback(body);
    }
}

// The kinds of the listeners at the end of `ready` (docs/link.md): each at most once, and only
// those the session's network mode has. nullopt for anything else.
std::optional<std::vector<EgressListener>> Session::egress_kinds(const nlohmann::json& body) const {
    std::vector<EgressListener> kinds;
    const auto list = body.find("egress");
    if (list == body.end()) {
        return kinds;
    }
    if (!list->is_array() || list->size() > 2) {
        return std::nullopt;
    }
    const NetworkMode mode = identity_.settings.network.mode;
    for (const auto& name : *list) {
        std::optional<EgressListener> kind;
        if (name == "proxy" && (mode == NetworkMode::proxy || mode == NetworkMode::gateway)) {
            kind = EgressListener::proxy;
        } else if (name == "gateway" && mode == NetworkMode::gateway) {
            kind = EgressListener::gateway;
        }
        if (!kind || std::find(kinds.begin(), kinds.end(), *kind) != kinds.end()) {
            return std::nullopt;
        }
        kinds.push_back(*kind);
    }
    return kinds;
}

void Session::on_ready(const nlohmann::json& body, std::vector<UniqueFd> fds) {
    if (have_streams_) {
        return;  // an adopting daemon only needs the first
    }
    const bool pipe = identity_.mode == protocol::SpawnMode::pipe;
    const std::size_t rings = pipe ? 2 : 1;
    const auto egress = egress_kinds(body);
    const std::size_t expected = (pipe ? 5 : 2) + (egress ? egress->size() : 0);
    if (!egress || fds.size() != expected) {
        // A monitor that does not speak our link cannot be trusted with the session: end it
        // rather than leave a jail nobody reads.
        kill(std::chrono::milliseconds(0));
        on_link_lost();
        return;
    }
    init_pid_ = body.value("init_pid", -1);
    monitor_pid_ = body.value("monitor_pid", monitor_pid_);
    cgroup_ = body.value("cgroup", "");
    streams_.resize(rings);
    for (std::size_t i = 0; i < rings; ++i) {
        auto& stream = streams_[i];
        stream.frame_type = i == 0 ? FrameType::out : FrameType::err;
        stream.ring = std::make_unique<flow::OutputRing>(flow::RingMemory::map(std::move(fds[i])),
                                                         identity_.settings.overflow);
    }
    auto take = [&](UniqueFd fd) {
        set_nonblocking(fd.get());
        return std::make_unique<boost::asio::posix::stream_descriptor>(io_, fd.release());
    };
    if (pipe) {
        input_ = take(std::move(fds[2]));
        streams_[0].fd = take(std::move(fds[3]));
        streams_[1].fd = take(std::move(fds[4]));
    } else {
        // The pty master is both ends: output is read from it, input written to a dup of it.
        UniqueFd dup(::fcntl(fds[1].get(), F_DUPFD_CLOEXEC, 3));
        streams_[0].fd = take(std::move(fds[1]));
        if (dup) {
            input_ = take(std::move(dup));
        }
    }
    if (!egress->empty()) {
        std::vector<std::pair<EgressListener, UniqueFd>> listeners;
        for (std::size_t i = 0; i < egress->size(); ++i) {
            listeners.emplace_back((*egress)[i], std::move(fds[expected - egress->size() + i]));
        }
        observer_.session_egress(*this, std::move(listeners));
    }
    have_streams_ = true;
    if (state_ == SessionState::starting) {
        state_ = SessionState::running;
        observer_.session_running(*this);
    }
    pump();
}

void Session::on_exit_message(const nlohmann::json& body) {
    ExitReport report;
    try {
        report = exit_report_from_json(body.at("report"));
    } catch (const std::exception&) {
        report.status = ExitStatus::killed;
        report.failure = SetupFailure{Step::supervise, 0, "the monitor sent an unreadable report"};
    }
    report.id = identity_.id;
    if (output_limit_hit_ && report.status != ExitStatus::setup_failed) {
        // The output was cut at the cap: whatever the program did next, that is how it ended
        // for its clients (the kill may have raced with a normal exit).
        report.status = ExitStatus::output_limit;
    }
    report.output_bytes = bytes_out();
    report.throttled_usec = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(throttled()).count());
    if (report_) {
        return;
    }
    report_ = report;
    if (state_ == SessionState::starting) {
        state_ = SessionState::ended;
        send_link({{"type", "exit_ack"}});
        exit_acked_ = true;
        observer_.session_start_failed(*this, report);
        return;
    }
    state_ = SessionState::exited;
    observer_.session_exited(*this, report);
    pump();
}

void Session::on_link_lost() {
    link_.reset();
    for (auto& callback : usage_callbacks_) {
        callback(nlohmann::json());
    }
    usage_callbacks_.clear();
    if (report_) {
        return;  // the monitor left after exit_ack, or after sending its report
    }
    observer_.session_monitor_lost(*this);
    ExitReport lost;
    lost.id = identity_.id;
    lost.status = ExitStatus::killed;
    lost.failure = SetupFailure{Step::supervise, 0, "the session's monitor ended without a report"};
    on_exit_message({{"report", to_json(lost)}});
    // No monitor means no more output can be trusted to end: close what is left.
    for (auto& stream : streams_) {
        if (!stream.eof) {
            stream.eof = true;
            stream.fd.reset();
        }
    }
    pump();
}

// ---- output ---------------------------------------------------------------------------------

void Session::pump() {
    if (pumping_) {
        pump_again_ = true;
        return;
    }
    pumping_ = true;
    do {
        pump_again_ = false;
        flush_all();
        for (auto& stream : streams_) {
            read_stream(stream);
        }
        flush_all();
        finish_if_done();
    } while (pump_again_);
    pumping_ = false;
}

bool Session::may_read(const OutputStream& stream) const {
    if (output_limit_hit_) {
        return true;  // draining to EOF, nothing is kept
    }
    // The ring takes output while it has room without overwriting anything a client may still
    // need (released only up to the slowest attachment's sent offset): it is where output waits
    // for credit. Past that, only a drop_oldest ring nobody is attached to overwrites (or one
    // whose program has ended, so that the stream reaches its end); otherwise the jail blocks.
    if (stream.ring->room() > 0) {
        return true;
    }
    return stream.ring->policy() == flow::OverflowPolicy::drop_oldest &&
           (attachments_.empty() || report_);
}

void Session::read_stream(OutputStream& stream) {
    for (int reads = 0; !stream.eof && stream.fd; ++reads) {
        if (reads == kReadsPerPump) {
            boost::asio::post(io_, [weak = weak_from_this()] {
                if (auto self = weak.lock()) {
                    self->pump();
                }
            });
            return;
        }
        if (!may_read(stream)) {
            return;
        }
        const int fd = stream.fd->native_handle();
        if (output_limit_hit_) {
            // The session is being killed for its output: read to EOF and keep nothing.
            char scratch[16384];
            const ssize_t n = ::read(fd, scratch, sizeof scratch);
            if (n > 0 || (n < 0 && errno == EINTR)) {
                continue;
            }
            if (n < 0 && errno == EAGAIN) {
                wait_readable(stream);
            } else {
                stream_ended(stream);
            }
            return;
        }
        const auto now = Clock::now();
        limiter_.refill(now);
        const std::uint64_t allowed = limiter_.readable();
        if (allowed == 0) {
            note_throttled(true);
            schedule_refill(limiter_.time_until(kReadChunk, now));
            return;
        }
        note_throttled(false);
        const std::uint64_t total = bytes_out();
        const std::uint64_t left_total = identity_.settings.output_total_bytes > total
                                             ? identity_.settings.output_total_bytes - total
                                             : 0;
        // Under drop_oldest the span's slots leave the replay window until commit(): ask for
        // no more than this read may take.
        std::size_t limit = static_cast<std::size_t>(
            std::min<std::uint64_t>({allowed, kReadChunk, left_total + 1}));
        if (stream.ring->room() > 0) {
            limit = std::min(limit, stream.ring->room());
        }
        std::span<char> space = stream.ring->writable_span(limit);
        const std::size_t want = space.size();
        if (want == 0) {
            return;
        }
        const ssize_t n = ::read(fd, space.data(), want);
        if (n <= 0) {
            stream.ring->commit(0);  // an uncommitted span would stay out of the replay window
        }
        if (n > 0) {
            auto keep = static_cast<std::size_t>(n);
            if (keep > left_total) {
                keep = static_cast<std::size_t>(left_total);
            }
            stream.ring->commit(keep);
            limiter_.consume(static_cast<std::uint64_t>(n));
            observer_.session_relayed(*this, true, keep);
            if (keep < static_cast<std::size_t>(n) ||
                bytes_out() >= identity_.settings.output_total_bytes) {
                enforce_output_total();
            }
            // No flush per read: small pty reads coalesce into one frame when pump() flushes.
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            wait_readable(stream);
            return;
        }
        stream_ended(stream);  // 0 from a pipe, EIO from a pty whose slave is closed
        return;
    }
}

void Session::wait_readable(OutputStream& stream) {
    if (stream.waiting || !stream.fd) {
        return;
    }
    stream.waiting = true;
    const auto index = static_cast<std::size_t>(&stream - streams_.data());
    stream.fd->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                          [weak = weak_from_this(), index](const boost::system::error_code& ec) {
                              auto self = weak.lock();
                              if (!self || index >= self->streams_.size()) {
                                  return;
                              }
                              self->streams_[index].waiting = false;
                              if (!ec) {
                                  self->pump();
                              }
                          });
}

void Session::schedule_refill(std::chrono::nanoseconds delay) {
    if (refill_pending_) {
        return;
    }
    refill_pending_ = true;
    refill_timer_.expires_after(
        std::max<std::chrono::nanoseconds>(delay, std::chrono::milliseconds(1)));
    refill_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self) {
            return;
        }
        self->refill_pending_ = false;
        if (!ec) {
            self->pump();
        }
    });
}

void Session::note_throttled(bool limited) {
    const auto now = Clock::now();
    auto& clock = limiter_.throttle();
    if (!limited) {
        if (clock.throttled()) {
            clock.end(now);
            const auto total = clock.total(now);
            observer_.session_throttled(
                *this, std::chrono::duration<double>(total - throttle_reported_).count());
            throttle_reported_ = total;
        }
        return;
    }
    if (clock.throttled()) {
        return;
    }
    clock.begin(now);
    for (auto& a : attachments_) {
        if (now - a.last_throttled_event < kThrottledEventEvery) {
            continue;
        }
        if (auto connection = a.connection.lock()) {
            a.last_throttled_event = now;
            connection->send_control(
                FrameType::evt, a.channel,
                {{"event", "throttled"},
                 {"session", identity_.id},
                 {"throttled_ms",
                  std::chrono::duration_cast<std::chrono::milliseconds>(throttled()).count()},
                 {"rate_bytes", identity_.settings.output_rate_bytes}});
        }
    }
}

void Session::enforce_output_total() {
    if (output_limit_hit_) {
        return;
    }
    output_limit_hit_ = true;
    observer_.session_output_limit(*this);
    if (report_ && report_->status != ExitStatus::setup_failed) {
        // The program had already ended (its output sat in the pipe): the report, sent to
        // clients after the last byte, says the output was cut.
        report_->status = ExitStatus::output_limit;
    }
    kill(std::chrono::milliseconds(0), ExitStatus::output_limit);
}

void Session::stream_ended(OutputStream& stream) {
    stream.eof = true;
    stream.fd.reset();
    flush_all();
    finish_if_done();
}

void Session::flush_all() {
    for (auto& a : attachments_) {
        flush(a);
    }
    std::erase_if(attachments_, [](const Attachment& a) {
        auto connection = a.connection.lock();
        return !connection || connection->closed();
    });
    release_rings();
}

void Session::flush(Attachment& a) {
    auto connection = a.connection.lock();
    if (!connection || connection->closed() || !have_streams_) {
        return;
    }
    bool drained = true;
    for (std::size_t i = 0; i < streams_.size(); ++i) {
        auto& stream = streams_[i];
        auto& ring = *stream.ring;
        if (a.sent[i] < ring.begin_offset()) {
            const std::uint64_t lost = ring.begin_offset() - a.sent[i];
            connection->send_control(FrameType::evt, a.channel,
                                     {{"event", "dropped"},
                                      {"session", identity_.id},
                                      {"stream", i == 0 ? "out" : "err"},
                                      {"bytes", lost}});
            a.sent[i] = ring.begin_offset();
        }
        while (a.credit > 0 && a.sent[i] < ring.end_offset() && connection->has_room()) {
            const auto n =
                std::min<std::uint64_t>({a.credit, ring.end_offset() - a.sent[i], kMaxDataFrame});
            const auto segments = ring.peek(a.sent[i], static_cast<std::size_t>(n));
            a.sent[i] += segments.size();
            // The ring keeps these bytes until they are in the client's socket: a daemon killed
            // with them still in its write queue can replay them after a restart.
            connection->send_encoded(
                protocol::encode_data(stream.frame_type, a.channel, segments.first,
                                      segments.second),
                [weak = weak_from_this(), key = a.key, channel = a.channel, i, offset = a.sent[i]] {
                    if (auto self = weak.lock()) {
                        self->frame_written(key, channel, i, offset);
                    }
                });
            a.credit -= segments.size();
        }
        if (!stream.eof || a.sent[i] < ring.end_offset()) {
            drained = false;
        }
    }
    if (drained && !a.eof_sent) {
        a.eof_sent = true;
        connection->send(protocol::Frame{FrameType::eof, 0, a.channel, {}});
    }
    if (a.eof_sent && report_ && !a.exit_sent) {
        a.exit_sent = true;
        report_->output_bytes = bytes_out();  // now final: every stream reached its end
        connection->send_control(
            FrameType::evt, a.channel,
            {{"event", "exit"}, {"session", identity_.id}, {"report", to_json(*report_)}});
    }
}

void Session::release_rings() {
    if (attachments_.empty()) {
        return;
    }
    for (std::size_t i = 0; i < streams_.size(); ++i) {
        std::uint64_t lowest = std::numeric_limits<std::uint64_t>::max();
        for (const auto& a : attachments_) {
            lowest = std::min(lowest, a.acked[i]);
        }
        streams_[i].ring->release_until(lowest);
    }
}

void Session::frame_written(const Connection* key, std::uint32_t channel, std::size_t stream,
                            std::uint64_t offset) {
    for (auto& a : attachments_) {
        if (a.key == key && a.channel == channel && stream < a.acked.size()) {
            a.acked[stream] = std::max(a.acked[stream], offset);
        }
    }
    const bool was_full = std::any_of(streams_.begin(), streams_.end(), [](const OutputStream& s) {
        return s.ring && s.ring->room() == 0;
    });
    release_rings();
    if (was_full) {
        pump();
    }
}

void Session::finish_if_done() {
    if (state_ != SessionState::exited || !report_) {
        return;
    }
    for (const auto& stream : streams_) {
        if (!stream.eof) {
            return;
        }
    }
    state_ = SessionState::ended;
    if (!exit_acked_) {
        exit_acked_ = true;
        send_link({{"type", "exit_ack"}});
    }
    input_.reset();
    pending_input_.clear();
    observer_.session_ended(*this);
}

// ---- clients ------------------------------------------------------------------------------

Session::Attachment* Session::find(const Connection& connection, std::uint32_t channel) {
    for (auto& a : attachments_) {
        if (a.key == &connection && a.channel == channel) {
            return &a;
        }
    }
    return nullptr;
}

bool Session::attached_by(const Connection& connection, std::uint32_t channel) const {
    return std::any_of(attachments_.begin(), attachments_.end(), [&](const Attachment& a) {
        return a.key == &connection && a.channel == channel;
    });
}

bool Session::attached_read_only(const Connection& connection, std::uint32_t channel) const {
    return std::any_of(attachments_.begin(), attachments_.end(), [&](const Attachment& a) {
        return a.key == &connection && a.channel == channel && a.read_only;
    });
}

Session::Attachment& Session::checked(const Connection& connection, std::uint32_t channel,
                                      bool for_input) {
    Attachment* a = find(connection, channel);
    if (!a) {
        throw ProtocolError(ErrorCode::not_found, "no session is attached on this channel");
    }
    if (for_input && a->read_only) {
        throw ProtocolError(ErrorCode::forbidden, "this attachment is read-only");
    }
    return *a;
}

Session::AttachResult Session::attach(const std::shared_ptr<Connection>& connection,
                                      std::uint32_t channel, bool read_only,
                                      std::optional<std::uint64_t> from_offset,
                                      std::optional<std::uint64_t> from_err_offset) {
    Attachment a;
    a.connection = connection;
    a.key = connection.get();
    a.channel = channel;
    a.read_only = read_only;
    for (std::size_t i = 0; i < streams_.size(); ++i) {
        const auto& ring = *streams_[i].ring;
        const auto requested = i == 0 ? from_offset : from_err_offset;
        const std::uint64_t from = requested.value_or(ring.begin_offset());
        if (from > ring.end_offset()) {
            throw ProtocolError(ErrorCode::bad_request,
                                std::string(i == 0 ? "from_offset" : "from_err_offset") +
                                    ": beyond the output end " + std::to_string(ring.end_offset()));
        }
        a.sent[i] = from;
        a.acked[i] = from;
    }
    const bool accepts_input = !read_only && input_ && !input_closed_;
    a.in_credit = accepts_input ? identity_.settings.input_burst_bytes : 0;
    attachments_.push_back(a);
    AttachResult result;
    if (!streams_.empty()) {
        result.offset = streams_[0].ring->end_offset();
        result.begin_offset = streams_[0].ring->begin_offset();
    }
    result.in_credit = a.in_credit;
    // Replay and the dropped event must follow the response the caller is about to queue.
    boost::asio::post(io_, [weak = weak_from_this()] {
        if (auto self = weak.lock()) {
            self->pump();
        }
    });
    return result;
}

void Session::detach(const Connection& connection, std::uint32_t channel) {
    std::erase_if(attachments_, [&](const Attachment& a) {
        return a.key == &connection && a.channel == channel;
    });
    pump();
}

void Session::grant_credit(const Connection& connection, std::uint32_t channel,
                           std::uint32_t bytes) {
    Attachment& a = checked(connection, channel, false);
    if (a.credit + bytes > std::numeric_limits<std::uint32_t>::max()) {
        throw ProtocolError(ErrorCode::bad_request,
                            "credit beyond 2^32-1 bytes outstanding on one channel");
    }
    a.credit += bytes;
    pump();
}

void Session::connection_writable(const Connection& connection) {
    for (const auto& a : attachments_) {
        if (a.key == &connection) {
            pump();
            return;
        }
    }
}

// ---- input ----------------------------------------------------------------------------------

void Session::input(const Connection& connection, std::uint32_t channel, std::string bytes) {
    Attachment& a = checked(connection, channel, true);
    if (!input_ || input_closed_ || close_input_when_drained_) {
        throw ProtocolError(ErrorCode::bad_request, "the session's input is closed");
    }
    if (bytes.size() > identity_.settings.max_input_frame_bytes) {
        throw ProtocolError(ErrorCode::bad_request,
                            "IN frame of " + std::to_string(bytes.size()) +
                                " bytes exceeds max_input_frame_bytes (" +
                                std::to_string(identity_.settings.max_input_frame_bytes) + ")");
    }
    if (bytes.size() > a.in_credit) {
        throw ProtocolError(ErrorCode::rate_limited,
                            "IN frame of " + std::to_string(bytes.size()) +
                                " bytes exceeds the granted input credit (" +
                                std::to_string(a.in_credit) + ")");
    }
    if (bytes.empty()) {
        return;
    }
    a.in_credit -= bytes.size();
    bytes_in_ += bytes.size();
    observer_.session_relayed(*this, false, bytes.size());
    PendingInput pending;
    pending.key = &connection;
    pending.channel = channel;
    pending.bytes = std::move(bytes);
    pending_input_.push_back(std::move(pending));
    write_input();
}

void Session::write_input() {
    while (input_ && !pending_input_.empty()) {
        auto& front = pending_input_.front();
        const ssize_t n = ::write(input_->native_handle(), front.bytes.data() + front.written,
                                  front.bytes.size() - front.written);
        if (n > 0) {
            front.written += static_cast<std::size_t>(n);
            input_done(front.key, front.channel, static_cast<std::size_t>(n));
            if (front.written == front.bytes.size()) {
                pending_input_.pop_front();
            }
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            wait_writable();
            return;
        }
        // EPIPE or EIO: the program closed its input or ended; what is queued has no reader.
        pending_input_.clear();
        input_closed_ = true;
        input_.reset();
        return;
    }
    if (close_input_when_drained_ && pending_input_.empty() && input_) {
        input_.reset();
        input_closed_ = true;
        send_link({{"type", "close_stdin"}});
    }
}

void Session::wait_writable() {
    if (input_waiting_ || !input_) {
        return;
    }
    input_waiting_ = true;
    input_->async_wait(boost::asio::posix::stream_descriptor::wait_write,
                       [weak = weak_from_this()](const boost::system::error_code& ec) {
                           auto self = weak.lock();
                           if (!self) {
                               return;
                           }
                           self->input_waiting_ = false;
                           if (!ec) {
                               self->write_input();
                           }
                       });
}

void Session::input_done(const Connection* key, std::uint32_t channel, std::size_t bytes) {
    for (auto& a : attachments_) {
        if (a.key == key && a.channel == channel) {
            a.in_to_grant += bytes;
        }
    }
    grant_input();
}

void Session::grant_input() {
    const auto now = Clock::now();
    input_bucket_.refill(now);
    std::uint64_t waiting = 0;
    for (auto& a : attachments_) {
        if (a.in_to_grant == 0) {
            continue;
        }
        auto connection = a.connection.lock();
        if (!connection) {
            continue;
        }
        const std::uint64_t grant = std::min(a.in_to_grant, input_bucket_.available());
        if (grant > 0) {
            input_bucket_.take(grant);
            a.in_to_grant -= grant;
            a.in_credit += grant;
            connection->send(protocol::credit_frame(a.channel, static_cast<std::uint32_t>(grant)));
        }
        waiting = std::max(waiting, a.in_to_grant);
    }
    if (waiting == 0 || input_timer_pending_) {
        return;
    }
    input_timer_pending_ = true;
    input_timer_.expires_after(std::max<std::chrono::nanoseconds>(
        input_bucket_.time_until(waiting, now), std::chrono::milliseconds(1)));
    input_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!self) {
            return;
        }
        self->input_timer_pending_ = false;
        if (!ec) {
            self->grant_input();
        }
    });
}

void Session::close_stdin(const Connection& connection, std::uint32_t channel) {
    checked(connection, channel, true);
    if (identity_.mode == protocol::SpawnMode::pty) {
        throw ProtocolError(ErrorCode::bad_request,
                            "a pty session has no separate stdin: send the terminal's end-of-file "
                            "character (^D) as input");
    }
    close_input_when_drained_ = true;
    write_input();
}

// ---- control --------------------------------------------------------------------------------

void Session::resize(std::uint16_t cols, std::uint16_t rows) {
    if (identity_.mode != protocol::SpawnMode::pty) {
        throw ProtocolError(ErrorCode::bad_request, "resize: a pipe session has no terminal");
    }
    if (streams_.empty() || !streams_[0].fd) {
        return;  // the terminal is gone; the session is ending
    }
    struct winsize size {};
    size.ws_col = cols;
    size.ws_row = rows;
    ::ioctl(streams_[0].fd->native_handle(), TIOCSWINSZ, &size);
}

void Session::signal(int signal) {
    send_link({{"type", "signal"}, {"signal", signal}});
}

void Session::kill(std::chrono::milliseconds grace, ExitStatus status) {
    send_link({{"type", "kill"}, {"grace_ms", grace.count()}, {"status", to_string(status)}});
}

void Session::request_usage(std::function<void(const nlohmann::json&)> callback) {
    if (!link_) {
        callback(nlohmann::json());
        return;
    }
    usage_callbacks_.push_back(std::move(callback));
    send_link({{"type", "usage"}});
}

void Session::abandon_output() {
    for (auto& stream : streams_) {
        stream.eof = true;
        stream.fd.reset();
    }
    attachments_.clear();
    finish_if_done();
}

void Session::release_resources() {
    input_.reset();
    pending_input_.clear();
    for (auto& stream : streams_) {
        stream.fd.reset();
    }
}

// ---- figures --------------------------------------------------------------------------------

std::uint64_t Session::bytes_out() const {
    std::uint64_t total = 0;
    for (const auto& stream : streams_) {
        total += stream.ring->end_offset();
    }
    return total;
}

std::uint64_t Session::dropped_bytes() const {
    std::uint64_t total = 0;
    for (const auto& stream : streams_) {
        total += stream.ring->dropped_bytes();
    }
    return total;
}

std::uint64_t Session::output_offset() const {
    return streams_.empty() ? 0 : streams_[0].ring->end_offset();
}

std::chrono::milliseconds Session::throttled() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        limiter_.throttle().total(Clock::now()));
}

}  // namespace ccjail::server
