#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/basic_stream_socket.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace ccjail::net {

// Why a relay ended; a closed set.
enum class RelayEnd {
    done,          // both sides sent EOF
    idle_timeout,  // no byte moved either way for idle_timeout
    error,         // a read or write failed (reset, broken pipe, TLS alert, ...)
    cancelled,     // cancel()
};

inline std::string_view to_string(RelayEnd end) {
    switch (end) {
        case RelayEnd::done:
            return "done";
        case RelayEnd::idle_timeout:
            return "idle_timeout";
        case RelayEnd::error:
            return "error";
        case RelayEnd::cancelled:
            return "cancelled";
    }
    return "error";
}

struct RelayOptions {
    // One buffer per direction, and the most a slow reader can make the relay hold.
    std::size_t buffer_size = 16 * 1024;
    // Zero: never.
    std::chrono::milliseconds idle_timeout{0};
};

struct RelayResult {
    std::uint64_t bytes_a_to_b = 0;
    std::uint64_t bytes_b_to_a = 0;
    RelayEnd end = RelayEnd::done;
    std::string message;
};

namespace relay_detail {

// Whether EOF can be passed on as a half-close. TLS cannot: SSL_shutdown waits for the peer's
// close_notify by reading, which would race the relay's own read on the same stream.
template <class Stream>
inline constexpr bool can_half_close = true;
template <class NextLayer>
inline constexpr bool can_half_close<boost::asio::ssl::stream<NextLayer>> = false;

template <class Stream>
void half_close(Stream& stream) {
    boost::system::error_code ignored;
    stream.shutdown(boost::asio::socket_base::shutdown_send, ignored);
}

template <class Stream>
void close(Stream& stream) {
    boost::system::error_code ignored;
    stream.lowest_layer().close(ignored);
}

// Many HTTPS servers close without close_notify (stream_truncated); HTTP's own framing, not
// TLS, tells the client whether a body is complete, so it counts as an ordinary EOF.
inline bool is_eof(const boost::system::error_code& ec) {
    return ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated;
}

}  // namespace relay_detail

// Pumps bytes both ways between two asio async streams it owns (tcp or unix sockets,
// ssl::stream over one): per direction one fixed buffer, read -> write all -> read, so a slow
// reader on one side stops the reads from the other (backpressure, memory bounded by
// 2 x buffer_size plus the streams' own buffers).
//
// EOF from one side half-closes the other (shutdown(send)); towards a TLS side, which cannot
// be half-closed (see can_half_close), EOF ends the relay as done instead. The relay ends when
// both directions saw EOF, on the first error, on idle timeout, or on cancel(). Ending closes both
// streams. The completion runs exactly once, posted to the streams' executor (never inside
// cancel()), and the relay holds itself alive until then: the owner may drop its pointer anywhere,
// including inside the completion.
template <class A, class B>
class Relay : public std::enable_shared_from_this<Relay<A, B>> {
  public:
    using Completion = std::function<void(const RelayResult&)>;

    static std::shared_ptr<Relay> create(A a, B b, RelayOptions options, Completion completion) {
        return std::shared_ptr<Relay>(
            new Relay(std::move(a), std::move(b), options, std::move(completion)));
    }

    void start() {
        touch();
        arm_idle_timer();
        pump(a_, b_, a_to_b_, "a->b");
        pump(b_, a_, b_to_a_, "b->a");
    }

    void cancel() { finish(RelayEnd::cancelled, "relay cancelled"); }

    // Bytes written so far, for live statistics.
    std::uint64_t bytes_a_to_b() const { return a_to_b_.bytes; }
    std::uint64_t bytes_b_to_a() const { return b_to_a_.bytes; }
    A& a() { return a_; }
    B& b() { return b_; }

  private:
    using Clock = std::chrono::steady_clock;

    struct Direction {
        std::vector<char> buffer;
        std::uint64_t bytes = 0;
        bool eof = false;
    };

    Relay(A a, B b, RelayOptions options, Completion completion)
        : a_(std::move(a)),
          b_(std::move(b)),
          options_(options),
          completion_(std::move(completion)),
          timer_(a_.get_executor()) {
        a_to_b_.buffer.resize(options.buffer_size);
        b_to_a_.buffer.resize(options.buffer_size);
    }

    template <class From, class To>
    void pump(From& from, To& to, Direction& direction, const char* name) {
        from.async_read_some(boost::asio::buffer(direction.buffer),
                             [self = this->shared_from_this(), &from, &to, &direction, name](
                                 const boost::system::error_code& ec, std::size_t read) {
                                 self->on_read(from, to, direction, name, ec, read);
                             });
    }

    template <class From, class To>
    void on_read(From& from, To& to, Direction& direction, const char* name,
                 const boost::system::error_code& ec, std::size_t read) {
        if (finished_) {
            return;
        }
        if (read == 0 && ec) {
            on_read_end(to, direction, name, ec);
            return;
        }
        touch();
        boost::asio::async_write(to, boost::asio::buffer(direction.buffer.data(), read),
                                 [self = this->shared_from_this(), &from, &to, &direction, name](
                                     const boost::system::error_code& ec, std::size_t written) {
                                     self->on_written(from, to, direction, name, ec, written);
                                 });
    }

    template <class To>
    void on_read_end(To& to, Direction& direction, const char* name,
                     const boost::system::error_code& ec) {
        if (!relay_detail::is_eof(ec)) {
            finish(RelayEnd::error, std::string(name) + " read: " + ec.message());
            return;
        }
        direction.eof = true;
        if constexpr (!relay_detail::can_half_close<To>) {
            // Waiting on would hold the upstream until it closes or the idle timeout fires, for
            // a peer that has nothing more to say: HTTP clients do not half-close and then wait
            // for a response.
            finish(RelayEnd::done, std::string(name) + ": EOF towards a TLS side, relay ends");
            return;
        } else {
            relay_detail::half_close(to);
        }
        if (a_to_b_.eof && b_to_a_.eof) {
            finish(RelayEnd::done, "");
        }
    }

    template <class From, class To>
    void on_written(From& from, To& to, Direction& direction, const char* name,
                    const boost::system::error_code& ec, std::size_t written) {
        direction.bytes += written;
        if (finished_) {
            return;
        }
        if (ec) {
            finish(RelayEnd::error, std::string(name) + " write: " + ec.message());
            return;
        }
        touch();
        pump(from, to, direction, name);
    }

    void touch() { last_activity_ = Clock::now(); }

    // One timer for the whole relay, set to the last activity plus the timeout, rather than a
    // timer reset per read and write.
    void arm_idle_timer() {
        if (options_.idle_timeout.count() <= 0 || finished_) {
            return;
        }
        timer_.expires_at(last_activity_ + options_.idle_timeout);
        timer_.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->finished_) {
                return;
            }
            if (Clock::now() - self->last_activity_ >= self->options_.idle_timeout) {
                self->finish(RelayEnd::idle_timeout,
                             "no data either way for " +
                                 std::to_string(self->options_.idle_timeout.count()) + " ms");
            } else {
                self->arm_idle_timer();
            }
        });
    }

    void finish(RelayEnd end, std::string message) {
        if (finished_) {
            return;
        }
        finished_ = true;
        timer_.cancel();
        relay_detail::close(a_);
        relay_detail::close(b_);
        // Bytes of writes cut short by the close above arrive with their aborted handlers; the
        // result counts what had been written when the relay ended.
        RelayResult result{a_to_b_.bytes, b_to_a_.bytes, end, std::move(message)};
        boost::asio::post(timer_.get_executor(),
                          [self = this->shared_from_this(), result = std::move(result)] {
                              auto completion = std::move(self->completion_);
                              completion(result);
                          });
    }

    A a_;
    B b_;
    RelayOptions options_;
    Completion completion_;
    boost::asio::steady_timer timer_;
    Direction a_to_b_;
    Direction b_to_a_;
    Clock::time_point last_activity_;
    bool finished_ = false;
};

// Creates and starts a relay; see Relay.
template <class A, class B>
std::shared_ptr<Relay<A, B>> start_relay(A a, B b, RelayOptions options,
                                         typename Relay<A, B>::Completion completion) {
    auto relay = Relay<A, B>::create(std::move(a), std::move(b), options, std::move(completion));
    relay->start();
    return relay;
}

}  // namespace ccjail::net
