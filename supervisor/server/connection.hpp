#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "protocol/frame.hpp"
#include "server/peer.hpp"

namespace ccjail::server {

class Session;
class Connection;

// What a connection hands to the daemon: each complete frame, and its own end.
class ConnectionHandler {
  public:
    virtual ~ConnectionHandler() = default;
    virtual void on_frame(const std::shared_ptr<Connection>& connection, protocol::Frame frame) = 0;
    virtual void on_closed(const std::shared_ptr<Connection>& connection) = 0;
};

// One client connection: a frame decoder on the read side and a bounded queue on the write
// side. Reading never waits for writing: control frames are always queued, while session data
// is queued only while queued_bytes() is below the configured buffer, and the sessions that
// stopped are pumped again when the queue drains (so a client that grants credit but does not
// read stalls its sessions, never the daemon's memory).
class Connection : public std::enable_shared_from_this<Connection> {
  public:
    using Socket = boost::asio::local::stream_protocol::socket;

    Connection(Socket socket, PeerCredentials peer, Role role, ConnectionHandler& handler,
               std::size_t max_payload, std::size_t write_buffer_bytes, std::uint64_t number);

    // hello_timeout: the first request must be a hello within it. frame_timeout: a frame that has
    // begun to arrive must be complete within it, so a peer trickling one byte at a time cannot
    // hold a connection slot and a partial frame forever.
    void start(std::chrono::milliseconds hello_timeout, std::chrono::milliseconds frame_timeout);

    // Queues a frame. Data frames should check has_room() first.
    void send(const protocol::Frame& frame);
    // Queues already encoded frame bytes (protocol::encode_data). `written` runs once the bytes
    // are in the kernel's socket buffer (from where the client still gets them if the daemon
    // dies); never if the connection closes first.
    void send_encoded(std::string bytes, std::function<void()> written = {});
    void send_control(protocol::FrameType type, std::uint32_t channel, const nlohmann::json& body);
    void send_error_event(std::uint32_t channel, protocol::ErrorCode code,
                          const std::string& message);
    bool has_room() const { return queued_bytes_ < write_buffer_bytes_; }
    std::size_t queued_bytes() const { return queued_bytes_; }

    // Sends what is queued, then closes. No more frames are read.
    void close_after_flush();
    void close_now();
    bool closed() const { return closed_; }

    const PeerCredentials& peer() const { return peer_; }
    Role role() const { return role_; }
    bool greeted() const { return greeted_; }
    void set_greeted();
    std::uint64_t number() const { return number_; }

    // Channels are per connection: the daemon numbers them from 1.
    std::uint32_t new_channel() { return next_channel_++; }
    std::map<std::uint32_t, std::weak_ptr<Session>>& channels() { return channels_; }
    const std::map<std::uint32_t, std::weak_ptr<Session>>& channels() const { return channels_; }

    // Called whenever the write queue drains below the buffer again.
    void on_writable(std::function<void()> callback) { on_writable_ = std::move(callback); }

  private:
    void read_more();
    void write_more();
    void finish();

    Socket socket_;
    PeerCredentials peer_;
    Role role_;
    ConnectionHandler& handler_;
    protocol::FrameDecoder decoder_;
    std::size_t write_buffer_bytes_;
    std::uint64_t number_;
    std::string read_buffer_;
    struct Queued {
        std::string bytes;
        std::function<void()> written;
    };
    std::deque<Queued> queue_;
    std::size_t queued_bytes_ = 0;
    bool writing_ = false;
    bool closing_ = false;
    bool closed_ = false;
    bool greeted_ = false;
    std::uint32_t next_channel_ = 1;
    std::map<std::uint32_t, std::weak_ptr<Session>> channels_;
    boost::asio::steady_timer hello_timer_;
    boost::asio::steady_timer frame_timer_;
    std::chrono::milliseconds frame_timeout_{30000};
    bool frame_timer_armed_ = false;
    void watch_partial_frame();
    std::function<void()> on_writable_;
};

}  // namespace ccjail::server
