#include "client/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace ccjail::client {
namespace {

using protocol::ErrorCode;
using protocol::Frame;
using protocol::FrameType;

// A daemon that stops reading for this long is wedged; a half-written frame cannot be taken
// back, so the connection is given up.
constexpr std::chrono::seconds kWriteStall{60};
constexpr std::size_t kReadChunk = 64 * 1024;

std::string errno_text(int err) {
    return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")";
}

void set_nonblocking(int fd) {
    const int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        throw ConnectionError("cannot make the socket non-blocking: " + errno_text(errno), errno);
    }
}

// Milliseconds left until `deadline` for poll(): -1 waits forever.
int poll_timeout(std::optional<std::chrono::steady_clock::time_point> deadline) {
    if (!deadline) {
        return -1;
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 24 * 3600 * 1000));
}

std::optional<std::chrono::steady_clock::time_point> deadline_after(Timeout timeout) {
    if (timeout < Timeout::zero()) {
        return std::nullopt;
    }
    return std::chrono::steady_clock::now() + timeout;
}

// A blocking connect() interrupted by a signal keeps going in the background: wait for it
// instead of calling connect() again (which would answer EALREADY).
int finish_interrupted_connect(int fd) {
    struct pollfd pfd {
        fd, POLLOUT, 0
    };
    while (::poll(&pfd, 1, -1) < 0) {
        if (errno != EINTR) {
            return errno;
        }
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
        return errno;
    }
    return err;
}

std::optional<std::uint32_t> response_id(const nlohmann::json& body) {
    const auto it = body.find("id");
    if (it == body.end() || !it->is_number_unsigned()) {
        return std::nullopt;
    }
    const auto id = it->get<std::uint64_t>();
    if (id > std::numeric_limits<std::uint32_t>::max()) {
        return std::nullopt;
    }
    return static_cast<std::uint32_t>(id);
}

// Fields of a response, tolerant of a daemon newer than this build: a missing or mistyped
// field reads as empty rather than throwing from inside the JSON library.
std::uint64_t unsigned_field(const nlohmann::json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
}

std::string string_field(const nlohmann::json& body, const char* key) {
    const auto it = body.find(key);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The daemon answers a REQ it could not parse (so could not read an id from) with `"id":null`.
// A blocking client has exactly one request outstanding, so that answer is ours.
bool answers_unreadable_request(const nlohmann::json& response) {
    const auto it = response.find("id");
    return it != response.end() && it->is_null();
}

nlohmann::json parse_from_daemon(const Frame& frame) {
    try {
        return protocol::parse_control(frame);
    } catch (const protocol::ProtocolError& e) {
        throw ClientError(ErrorCode::bad_request, std::string("the daemon sent an unreadable ") +
                                                      std::string(protocol::to_string(frame.type)) +
                                                      ": " + e.what());
    }
}

}  // namespace

ClientError::ClientError(ErrorCode code, const std::string& message, nlohmann::json report,
                         std::string code_name)
    : std::runtime_error(message),
      code_(code),
      code_name_(code_name.empty() ? std::string(protocol::to_string(code)) : std::move(code_name)),
      report_(std::move(report)) {}

ClientError error_from_response(const nlohmann::json& response) {
    const auto error = response.value("error", nlohmann::json::object());
    std::string name = "internal";
    std::string message = "the daemon refused the request without saying why";
    if (error.is_object()) {
        if (const auto it = error.find("code"); it != error.end() && it->is_string()) {
            name = it->get<std::string>();
        }
        if (const auto it = error.find("message"); it != error.end() && it->is_string()) {
            message = it->get<std::string>();
        }
    }
    nlohmann::json report = nullptr;
    if (const auto it = response.find("report"); it != response.end() && it->is_object()) {
        report = *it;
    } else if (error.is_object() && error.contains("report") && error["report"].is_object()) {
        report = error["report"];
    }
    const auto code = protocol::error_code_from_string(name);
    return ClientError(code.value_or(ErrorCode::internal), message, std::move(report), name);
}

Client Client::connect(const std::filesystem::path& path) {
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    const std::string text = path.string();
    if (text.empty() || text.size() >= sizeof addr.sun_path) {
        throw ConnectionError("cannot connect to " + text + ": a socket path must be 1 to " +
                                  std::to_string(sizeof addr.sun_path - 1) + " bytes",
                              ENAMETOOLONG);
    }
    std::memcpy(addr.sun_path, text.data(), text.size());
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        throw ConnectionError("cannot create a socket: " + errno_text(errno), errno);
    }
    int err = 0;
    if (::connect(fd.get(), reinterpret_cast<const struct sockaddr*>(&addr), sizeof addr) < 0) {
        err = errno == EINTR ? finish_interrupted_connect(fd.get()) : errno;
    }
    if (err != 0) {
        throw ConnectionError("cannot connect to " + text + ": " + errno_text(err), err);
    }
    return Client(std::move(fd));
}

Client::Client(UniqueFd fd) : fd_(std::move(fd)) {
    set_nonblocking(fd_.get());
}

HelloResult Client::hello(std::string_view client_name, int version, Timeout timeout) {
    nlohmann::json body{{"op", "hello"}, {"version", version}};
    if (!client_name.empty()) {
        body["client"] = std::string(client_name);
    }
    HelloResult result;
    result.raw = request(std::move(body), timeout);
    const auto& r = result.raw;
    result.version = static_cast<int>(unsigned_field(r, "version"));
    result.daemon = string_field(r, "daemon");
    result.role = string_field(r, "role");
    result.uid = static_cast<uid_t>(unsigned_field(r, "uid"));
    const auto limit = unsigned_field(r, "max_payload");
    if (limit > 0) {
        result.max_payload = static_cast<std::size_t>(
            std::min<std::uint64_t>(limit, std::numeric_limits<std::uint32_t>::max()));
        send_limit_ = result.max_payload;
    }
    return result;
}

nlohmann::json Client::request(nlohmann::json body, Timeout timeout, std::uint32_t channel) {
    try {
        return exchange(std::move(body), timeout, channel);
    } catch (const ConnectionClosed&) {
        if (!connection_error_) {
            throw;
        }
        const auto& [name, message] = *connection_error_;
        throw ClientError(protocol::error_code_from_string(name).value_or(ErrorCode::internal),
                          message + " (the daemon closed the connection)", nullptr, name);
    }
}

nlohmann::json Client::exchange(nlohmann::json body, Timeout timeout, std::uint32_t channel) {
    const std::uint32_t id = next_id();
    body["id"] = id;
    send_frame(protocol::control_frame(FrameType::req, channel, body));
    const auto deadline = deadline_after(timeout);
    for (;;) {
        while (auto frame = take_decoded_from_stream()) {
            if (frame->type == FrameType::res) {
                auto response = parse_from_daemon(*frame);
                if (response_id(response) == id || answers_unreadable_request(response)) {
                    const auto ok = response.find("ok");
                    if (ok == response.end() || *ok != true) {
                        throw error_from_response(response);
                    }
                    return response;
                }
            }
            pending_.push_back(std::move(*frame));
        }
        if (!fill(deadline)) {
            abandoned_ids_.insert(id);
            throw TimeoutError("no response to '" + body.value("op", std::string("?")) +
                               "' within " + std::to_string(timeout.count()) + " ms");
        }
    }
}

std::optional<Frame> Client::next_frame(Timeout timeout) {
    const auto deadline = deadline_after(timeout);
    for (;;) {
        if (!pending_.empty()) {
            Frame frame = std::move(pending_.front());
            pending_.pop_front();
            return frame;
        }
        if (auto frame = take_decoded_from_stream()) {
            return frame;
        }
        if (!fill(deadline)) {
            return std::nullopt;
        }
    }
}

void Client::send_credit(std::uint32_t channel, std::uint32_t bytes) {
    send_frame(protocol::credit_frame(channel, bytes));
}

void Client::send_input(std::uint32_t channel, std::string_view bytes, std::size_t max_frame) {
    const std::size_t chunk = std::max<std::size_t>(1, std::min(max_frame, send_limit_));
    while (!bytes.empty()) {
        const std::size_t n = std::min(chunk, bytes.size());
        send_frame(Frame{FrameType::in, 0, channel, std::string(bytes.substr(0, n))});
        bytes.remove_prefix(n);
    }
}

void Client::send_eof(std::uint32_t channel) {
    send_frame(Frame{FrameType::eof, 0, channel, {}});
}

void Client::send_frame(const Frame& frame) {
    write_all(protocol::encode(frame, send_limit_));
}

void Client::send_raw(std::string_view bytes) {
    write_all(bytes);
}

std::uint32_t Client::next_id() {
    // 0 is never used, so a response without a usable id cannot match a request.
    if (++last_id_ == 0) {
        ++last_id_;
    }
    abandoned_ids_.erase(last_id_);
    return last_id_;
}

std::optional<Frame> Client::take_decoded_from_stream() {
    for (;;) {
        std::optional<Frame> frame;
        try {
            frame = decoder_.next();
        } catch (const protocol::ProtocolError& e) {
            throw ClientError(ErrorCode::bad_frame,
                              std::string("the daemon sent a bad frame: ") + e.what());
        }
        if (!frame) {
            return std::nullopt;
        }
        if (is_stale_response(*frame)) {
            continue;
        }
        remember_connection_error(*frame);
        return frame;
    }
}

bool Client::is_stale_response(const Frame& frame) {
    if (frame.type != FrameType::res || abandoned_ids_.empty()) {
        return false;
    }
    const auto body = nlohmann::json::parse(frame.payload, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object()) {
        return false;
    }
    const auto id = response_id(body);
    return id && abandoned_ids_.erase(*id) > 0;
}

// An `error` event on channel 0 precedes the daemon closing the connection; when the close
// then interrupts a request, the caller learns the daemon's reason instead of a bare EOF.
void Client::remember_connection_error(const Frame& frame) {
    if (frame.type != FrameType::evt || frame.channel != 0) {
        return;
    }
    const auto body = nlohmann::json::parse(frame.payload, nullptr, /*allow_exceptions=*/false);
    if (body.is_object() && body.value("event", std::string()) == "error") {
        const auto code = body.value("code", std::string("internal"));
        const auto message = body.value("message", std::string());
        connection_error_ = std::make_pair(code, message);
    }
}

bool Client::fill(std::optional<Clock::time_point> deadline) {
    std::array<char, kReadChunk> buffer;
    for (;;) {
        if (peer_closed_) {
            throw_closed();
        }
        const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) {
            decoder_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            return true;
        }
        if (n == 0) {
            peer_closed_ = true;
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            const int err = errno;
            throw ConnectionError("reading from the daemon failed: " + errno_text(err), err);
        }
        struct pollfd pfd {
            fd_.get(), POLLIN, 0
        };
        const int ready = ::poll(&pfd, 1, poll_timeout(deadline));
        if (ready < 0 && errno != EINTR) {
            throw ConnectionError("poll failed: " + errno_text(errno), errno);
        }
        if (ready == 0) {
            return false;
        }
    }
}

void Client::read_available() {
    std::array<char, kReadChunk> buffer;
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
        if (n > 0) {
            decoder_.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
            return;
        }
        if (n == 0) {
            peer_closed_ = true;
            return;
        }
        if (errno != EINTR) {
            return;
        }
    }
}

// While the daemon's receive buffer is full, what it sends us is read into the decoder so
// that neither side can wait forever on the other's full buffer.
void Client::write_all(std::string_view bytes) {
    auto deadline = Clock::now() + kWriteStall;
    while (!bytes.empty()) {
        const ssize_t n =
            ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            deadline = Clock::now() + kWriteStall;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            const int err = errno;
            if (err == EPIPE || err == ECONNRESET) {
                // The daemon may have said why before closing (an `error` event, e.g. forbidden
                // for a uid it refuses): read what is left so that request() can report it.
                while (!peer_closed_) {
                    const std::size_t before = decoder_.buffered() + decoder_.ready();
                    read_available();
                    if (decoder_.buffered() + decoder_.ready() == before) {
                        break;
                    }
                }
                while (auto frame = take_decoded_from_stream()) {
                    pending_.push_back(std::move(*frame));
                }
                peer_closed_ = true;
                throw_closed();
            }
            throw ConnectionError("writing to the daemon failed: " + errno_text(err), err);
        }
        struct pollfd pfd {
            fd_.get(), static_cast<short>(POLLOUT | (peer_closed_ ? 0 : POLLIN)), 0
        };
        const int ready = ::poll(&pfd, 1, poll_timeout(deadline));
        if (ready < 0 && errno != EINTR) {
            throw ConnectionError("poll failed: " + errno_text(errno), errno);
        }
        if (ready == 0) {
            throw ConnectionError("the daemon stopped reading: a write stalled for " +
                                  std::to_string(kWriteStall.count()) + " s");
        }
        if (ready > 0 && (pfd.revents & POLLIN)) {
            read_available();
        }
    }
}

void Client::throw_closed() {
    if (decoder_.buffered() > 0) {
        throw ConnectionError("the daemon closed the connection in the middle of a frame (" +
                                  std::to_string(decoder_.buffered()) + " bytes of it received)",
                              ECONNRESET);
    }
    throw ConnectionClosed("the daemon closed the connection", ECONNRESET);
}

}  // namespace ccjail::client
