#include "server/connection.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <nlohmann/json.hpp>

namespace ccjail::server {
namespace {

constexpr std::size_t kReadChunk = 64 * 1024;
// Writes gather queued frames up to this many bytes per system call.
constexpr std::size_t kMaxGather = 16;

}  // namespace

Connection::Connection(Socket socket, PeerCredentials peer, Role role, ConnectionHandler& handler,
                       std::size_t max_payload, std::size_t write_buffer_bytes,
                       std::uint64_t number)
    : socket_(std::move(socket)),
      peer_(std::move(peer)),
      role_(role),
      handler_(handler),
      decoder_(max_payload),
      write_buffer_bytes_(write_buffer_bytes),
      number_(number),
      hello_timer_(socket_.get_executor()),
      frame_timer_(socket_.get_executor()) {}

void Connection::start(std::chrono::milliseconds hello_timeout,
                       std::chrono::milliseconds frame_timeout) {
    frame_timeout_ = frame_timeout;
    hello_timer_.expires_after(hello_timeout);
    hello_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec && !self->greeted_ && !self->closed_) {
            self->send_error_event(0, protocol::ErrorCode::bad_request,
                                   "no hello within the hello timeout");
            self->close_after_flush();
        }
    });
    read_more();
}

void Connection::set_greeted() {
    greeted_ = true;
    hello_timer_.cancel();
}

void Connection::read_more() {
    if (closing_ || closed_) {
        return;
    }
    read_buffer_.resize(kReadChunk);
    socket_.async_read_some(
        boost::asio::buffer(read_buffer_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
            if (ec || n == 0) {
                self->finish();
                return;
            }
            self->decoder_.feed(std::string_view(self->read_buffer_.data(), n));
            try {
                while (auto frame = self->decoder_.next()) {
                    if (self->closing_ || self->closed_) {
                        return;
                    }
                    self->handler_.on_frame(self, std::move(*frame));
                }
            } catch (const protocol::ProtocolError& error) {
                self->send_error_event(0, error.code(), error.what());
                self->close_after_flush();
                return;
            }
            self->watch_partial_frame();
            self->read_more();
        });
}

void Connection::watch_partial_frame() {
    if (decoder_.buffered() == 0) {
        if (frame_timer_armed_) {
            frame_timer_armed_ = false;
            frame_timer_.cancel();
        }
        return;
    }
    if (frame_timer_armed_) {
        return;  // the deadline runs from the first byte of the frame
    }
    frame_timer_armed_ = true;
    frame_timer_.expires_after(frame_timeout_);
    frame_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || !self->frame_timer_armed_ || self->closed_) {
            return;
        }
        self->send_error_event(0, protocol::ErrorCode::bad_frame,
                               "a frame was not completed within request_timeout_ms");
        self->close_after_flush();
    });
}

void Connection::send(const protocol::Frame& frame) {
    if (closed_ || closing_) {
        return;
    }
    send_encoded(protocol::encode(frame, protocol::kDefaultMaxPayload));
}

void Connection::send_encoded(std::string bytes, std::function<void()> written) {
    if (closed_ || closing_) {
        return;
    }
    queued_bytes_ += bytes.size();
    queue_.push_back(Queued{std::move(bytes), std::move(written)});
    write_more();
}

void Connection::send_control(protocol::FrameType type, std::uint32_t channel,
                              const nlohmann::json& body) {
    send(protocol::control_frame(type, channel, body));
}

void Connection::send_error_event(std::uint32_t channel, protocol::ErrorCode code,
                                  const std::string& message) {
    send_control(protocol::FrameType::evt, channel,
                 {{"event", "error"}, {"code", protocol::to_string(code)}, {"message", message}});
}

void Connection::write_more() {
    if (writing_ || closed_) {
        return;
    }
    if (queue_.empty()) {
        if (closing_) {
            close_now();
        }
        return;
    }
    writing_ = true;
    std::vector<boost::asio::const_buffer> buffers;
    for (std::size_t i = 0; i < queue_.size() && i < kMaxGather; ++i) {
        buffers.emplace_back(boost::asio::buffer(queue_[i].bytes));
    }
    boost::asio::async_write(socket_, buffers,
                             [self = shared_from_this(), count = buffers.size()](
                                 const boost::system::error_code& ec, std::size_t) {
                                 self->writing_ = false;
                                 if (ec) {
                                     self->finish();
                                     return;
                                 }
                                 std::vector<std::function<void()>> done;
                                 for (std::size_t i = 0; i < count; ++i) {
                                     self->queued_bytes_ -= self->queue_.front().bytes.size();
                                     if (self->queue_.front().written) {
                                         done.push_back(std::move(self->queue_.front().written));
                                     }
                                     self->queue_.pop_front();
                                 }
                                 self->write_more();
                                 // Callbacks may queue more frames on this connection: run them
                                 // after the queue is consistent again.
                                 for (auto& callback : done) {
                                     callback();
                                 }
                                 if (self->has_room() && self->on_writable_ && !self->closed_) {
                                     self->on_writable_();
                                 }
                             });
}

void Connection::close_after_flush() {
    if (closed_) {
        return;
    }
    closing_ = true;
    if (!writing_ && queue_.empty()) {
        close_now();
    }
}

void Connection::close_now() {
    if (closed_) {
        return;
    }
    boost::system::error_code ignored;
    socket_.shutdown(Socket::shutdown_both, ignored);
    socket_.close(ignored);
    finish();
}

void Connection::finish() {
    if (closed_) {
        return;
    }
    closed_ = true;
    hello_timer_.cancel();
    frame_timer_.cancel();
    queue_.clear();
    queued_bytes_ = 0;
    boost::system::error_code ignored;
    socket_.close(ignored);
    handler_.on_closed(shared_from_this());
}

}  // namespace ccjail::server
