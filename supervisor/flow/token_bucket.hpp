#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace ccjail::flow {

using Clock = std::chrono::steady_clock;

// One token bucket: `rate_per_sec` tokens per second, at most `burst` banked.
//
// Time is never read here: the caller passes `now`, so the daemon's event loop decides when time
// moves and tests step it exactly. Arithmetic is integer only. The fraction of a token earned
// but not yet whole is kept in billionths of a token, so a bucket refilled every millisecond for
// days earns exactly rate * elapsed tokens, with no float drift and no rounding loss per refill.
//
// rate_per_sec == 0 means unlimited: available() is UINT64_MAX, take() is a no-op and
// time_until() is zero; burst is then ignored. A limited bucket needs burst >= 1 (a bucket that
// can never hold a token would stall its reader forever).
//
// The bucket starts full; the first refill() only fixes the reference time.
class TokenBucket {
  public:
    TokenBucket(std::uint64_t rate_per_sec, std::uint64_t burst);

    void refill(Clock::time_point now);
    std::uint64_t available() const;
    // Precondition: n <= available(); violating it throws std::invalid_argument.
    void take(std::uint64_t n);
    // Time from `now` until n tokens are available (zero if they already are). n above burst is
    // clamped to burst so that a reader asking for a big chunk is woken once the bucket is full.
    std::chrono::nanoseconds time_until(std::uint64_t n, Clock::time_point now) const;

    std::uint64_t rate() const { return rate_; }
    std::uint64_t burst() const { return burst_; }
    bool unlimited() const { return rate_ == 0; }

  private:
    struct Level {
        std::uint64_t tokens;
        std::uint64_t fraction;  // billionths of a token, < 1e9
    };
    Level level_at(Clock::time_point now) const;

    std::uint64_t rate_;
    std::uint64_t burst_;
    Level level_;
    std::optional<Clock::time_point> last_;
};

// Time a session spent not reading its output for lack of tokens, for the exit report's
// throttled_usec and the throttled-seconds metric. The caller reports the edges; a second begin
// while throttled or an end while not throttled is ignored, so an event loop may report edges
// idempotently.
class ThrottleClock {
  public:
    void begin(Clock::time_point now);
    void end(Clock::time_point now);
    void add(std::chrono::nanoseconds duration);
    bool throttled() const { return since_.has_value(); }
    // Total throttled time, including a still-open interval up to `now`.
    std::chrono::nanoseconds total(Clock::time_point now) const;

  private:
    std::chrono::nanoseconds total_{0};
    std::optional<Clock::time_point> since_;
};

// The output limit of one session: a byte bucket (rate + burst) and a frame bucket (frames/s +
// burst), where every read from the pty or a pipe costs one frame plus its bytes. A zero rate in
// either disables that limit.
class OutputLimiter {
  public:
    OutputLimiter(std::uint64_t bytes_per_sec, std::uint64_t byte_burst,
                  std::uint64_t frames_per_sec, std::uint64_t frame_burst);

    void refill(Clock::time_point now);
    // How many bytes the next read may take: zero while no frame token is left.
    std::uint64_t readable() const;
    // Precondition: bytes <= readable() and readable() > 0.
    void consume(std::uint64_t bytes);
    // Time until a read of `bytes` (clamped to the byte burst) is allowed.
    std::chrono::nanoseconds time_until(std::uint64_t bytes, Clock::time_point now) const;

    ThrottleClock& throttle() { return throttle_; }
    const ThrottleClock& throttle() const { return throttle_; }

  private:
    TokenBucket bytes_;
    TokenBucket frames_;
    ThrottleClock throttle_;
};

}  // namespace ccjail::flow
