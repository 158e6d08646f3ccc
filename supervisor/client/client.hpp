#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/unique_fd.hpp"
#include "protocol/error_code.hpp"
#include "protocol/frame.hpp"

namespace ccjail::client {

// The transport failed: connect refused, the daemon closed the connection, a read or write
// failed. err() is the errno when one applies, else 0.
class ConnectionError : public std::runtime_error {
  public:
    ConnectionError(const std::string& message, int err = 0)
        : std::runtime_error(message), err_(err) {}
    int err() const { return err_; }

  private:
    int err_;
};

// The daemon closed the connection (clean EOF between frames).
class ConnectionClosed : public ConnectionError {
  public:
    using ConnectionError::ConnectionError;
};

// No answer within the caller's timeout. The connection is still usable; a late response to a
// timed-out request is discarded when it arrives.
class TimeoutError : public ConnectionError {
  public:
    using ConnectionError::ConnectionError;
};

// The daemon refused a request (`ok:false`) or reported a connection-level `error` event before
// closing. code_name() is the wire name, kept even when this build does not know the code (then
// code() is `internal`). report() is the exit report of a `spawn_failed`, else null.
class ClientError : public std::runtime_error {
  public:
    ClientError(protocol::ErrorCode code, const std::string& message,
                nlohmann::json report = nullptr, std::string code_name = {});
    protocol::ErrorCode code() const { return code_; }
    const std::string& code_name() const { return code_name_; }
    const nlohmann::json& report() const { return report_; }

  private:
    protocol::ErrorCode code_;
    std::string code_name_;
    nlohmann::json report_;
};

// The implicit move constructor moves `raw` with nlohmann::json's noexcept one, whose invariant
// assertions the exception-escape check cannot see through.
struct HelloResult {  // NOLINT(bugprone-exception-escape): see above
    int version = 0;
    std::string daemon;  // "ccjaild <version>"
    std::string role;    // "client" or "admin"
    uid_t uid = 0;
    std::size_t max_payload = protocol::kDefaultMaxPayload;
    nlohmann::json raw;  // the whole response, for fields this build does not know
};

using Timeout = std::chrono::milliseconds;
inline constexpr Timeout kWaitForever{-1};
inline constexpr Timeout kDefaultRequestTimeout{60'000};

// A blocking client of the ccjaild protocol (docs/protocol.md) over one Unix stream socket.
// Not thread-safe: one thread drives it. Frames that arrive while request() waits for its
// response (OUT/ERR data, events, CREDIT) are queued in order and handed out by next_frame(),
// so nothing is lost by making a request in the middle of a session.
class Client {
  public:
    // Connects to the daemon's socket. Throws ConnectionError naming the path and the errno.
    static Client connect(const std::filesystem::path& path);
    // Takes a connected stream socket (tests use a socketpair). The fd is made non-blocking.
    explicit Client(UniqueFd fd);

    // The first request on a connection. Throws ClientError (e.g. unsupported_version).
    HelloResult hello(std::string_view client_name = {}, int version = 1,
                      Timeout timeout = kDefaultRequestTimeout);

    // Sends `body` with a fresh `id` (any `id` in body is replaced) on `channel` and waits for
    // the RES with that id. Returns the response object (with `id` and `ok`). Throws ClientError
    // for `ok:false`, TimeoutError, ConnectionError.
    nlohmann::json request(nlohmann::json body, Timeout timeout = kDefaultRequestTimeout,
                           std::uint32_t channel = 0);

    // The next frame that is not a response to one of our requests: queued frames first, then
    // the socket. nullopt when none arrived within `timeout` (0: just poll). Throws
    // ConnectionClosed once the daemon closed the connection and nothing is left queued.
    std::optional<protocol::Frame> next_frame(Timeout timeout);

    void send_credit(std::uint32_t channel, std::uint32_t bytes);
    // Splits `bytes` into IN frames of at most `max_frame` bytes.
    void send_input(std::uint32_t channel, std::string_view bytes,
                    std::size_t max_frame = kDefaultInputFrame);
    void send_eof(std::uint32_t channel);
    // Any frame, as is; for tests and for ops this class has no helper for.
    void send_frame(const protocol::Frame& frame);
    // Raw bytes on the socket, unframed: only for tests that speak a broken protocol.
    void send_raw(std::string_view bytes);

    // For poll loops: readable means next_frame(0) has work. Frames already decoded do not
    // make the fd readable, so drain next_frame(0) until nullopt before polling again.
    int fd() const { return fd_.get(); }
    bool has_queued() const { return !pending_.empty() || decoder_.ready() > 0; }
    // The largest payload the daemon accepts (from hello; 1 MiB before).
    std::size_t max_payload() const { return send_limit_; }

    // IN frames stay below the smallest per-frame input limit a profile is expected to set.
    static constexpr std::size_t kDefaultInputFrame = 16 * 1024;
    // Frames from the daemon may be as large as its configured max_payload; this bounds what a
    // misbehaving peer can make the client buffer for one frame.
    static constexpr std::size_t kReceiveLimit = std::size_t{16} << 20;

  private:
    using Clock = std::chrono::steady_clock;
    std::uint32_t next_id();
    nlohmann::json exchange(nlohmann::json body, Timeout timeout, std::uint32_t channel);
    // Reads what the socket has into the decoder, waiting until `deadline` for something.
    // Returns false on timeout. Throws on EOF (after recording it) and errors.
    bool fill(std::optional<Clock::time_point> deadline);
    std::optional<protocol::Frame> take_decoded_from_stream();
    void read_available();
    void write_all(std::string_view bytes);
    [[noreturn]] void throw_closed();
    bool is_stale_response(const protocol::Frame& frame);
    void remember_connection_error(const protocol::Frame& frame);

    UniqueFd fd_;
    protocol::FrameDecoder decoder_{kReceiveLimit};
    std::deque<protocol::Frame> pending_;
    std::set<std::uint32_t> abandoned_ids_;
    std::uint32_t last_id_ = 0;
    std::size_t send_limit_ = protocol::kDefaultMaxPayload;
    bool peer_closed_ = false;
    std::optional<std::pair<std::string, std::string>> connection_error_;  // code, message
};

// The error a response carries, as a ClientError (for callers that read RES frames themselves).
ClientError error_from_response(const nlohmann::json& response);

}  // namespace ccjail::client
