#include "flow/token_bucket.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace ccjail::flow {

namespace {

// rate * elapsed overflows 64 bits within hours at high rates; 128 bits hold any uint64 rate
// times any representable steady_clock interval (both < 2^64), so no clamping games are needed.
__extension__ using u128 = unsigned __int128;

constexpr std::uint64_t kNanosPerSec = 1'000'000'000;
constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();

}  // namespace

TokenBucket::TokenBucket(std::uint64_t rate_per_sec, std::uint64_t burst)
    : rate_(rate_per_sec), burst_(burst), level_{burst, 0} {
    if (rate_ != 0 && burst_ == 0) {
        throw std::invalid_argument("token bucket: a limited bucket needs a burst of at least 1");
    }
}

TokenBucket::Level TokenBucket::level_at(Clock::time_point now) const {
    if (rate_ == 0 || !last_ || now <= *last_ || level_.tokens >= burst_) {
        return level_;
    }
    const auto elapsed = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - *last_).count());
    const u128 earned = u128{rate_} * elapsed + level_.fraction;
    const u128 whole = earned / kNanosPerSec;
    const u128 room = burst_ - level_.tokens;
    if (whole >= room) {
        // A full bucket banks nothing more, not even the fraction.
        return Level{burst_, 0};
    }
    return Level{level_.tokens + static_cast<std::uint64_t>(whole),
                 static_cast<std::uint64_t>(earned % kNanosPerSec)};
}

void TokenBucket::refill(Clock::time_point now) {
    level_ = level_at(now);
    // A clock that went backwards must not let a later refill count the same interval twice.
    if (!last_ || now > *last_) {
        last_ = now;
    }
}

std::uint64_t TokenBucket::available() const {
    return rate_ == 0 ? kUnlimited : level_.tokens;
}

void TokenBucket::take(std::uint64_t n) {
    if (rate_ == 0) {
        return;
    }
    if (n > level_.tokens) {
        throw std::invalid_argument("token bucket: take() of more tokens than available");
    }
    level_.tokens -= n;
}

std::chrono::nanoseconds TokenBucket::time_until(std::uint64_t n, Clock::time_point now) const {
    if (rate_ == 0) {
        return std::chrono::nanoseconds{0};
    }
    n = std::min(n, burst_);
    const Level level = level_at(now);
    if (level.tokens >= n) {
        return std::chrono::nanoseconds{0};
    }
    // Smallest t with floor((rate * t + fraction) / 1e9) >= missing, i.e. the refill formula run
    // backwards, so that refill(now + t) yields exactly n tokens and refill(now + t - 1ns) not.
    const u128 needed = u128{n - level.tokens} * kNanosPerSec - level.fraction;
    const u128 t = (needed + rate_ - 1) / rate_;
    const u128 max_ns = static_cast<u128>(std::chrono::nanoseconds::max().count());
    return std::chrono::nanoseconds{static_cast<std::int64_t>(std::min(t, max_ns))};
}

void ThrottleClock::begin(Clock::time_point now) {
    if (!since_) {
        since_ = now;
    }
}

void ThrottleClock::end(Clock::time_point now) {
    if (since_) {
        total_ += std::max(now - *since_, Clock::duration::zero());
        since_.reset();
    }
}

void ThrottleClock::add(std::chrono::nanoseconds duration) {
    total_ += std::max(duration, std::chrono::nanoseconds::zero());
}

std::chrono::nanoseconds ThrottleClock::total(Clock::time_point now) const {
    if (!since_) {
        return total_;
    }
    return total_ + std::max(now - *since_, Clock::duration::zero());
}

OutputLimiter::OutputLimiter(std::uint64_t bytes_per_sec, std::uint64_t byte_burst,
                             std::uint64_t frames_per_sec, std::uint64_t frame_burst)
    : bytes_(bytes_per_sec, byte_burst), frames_(frames_per_sec, frame_burst) {}

void OutputLimiter::refill(Clock::time_point now) {
    bytes_.refill(now);
    frames_.refill(now);
}

std::uint64_t OutputLimiter::readable() const {
    return frames_.available() == 0 ? 0 : bytes_.available();
}

void OutputLimiter::consume(std::uint64_t bytes) {
    if (frames_.available() == 0 || bytes > bytes_.available()) {
        throw std::invalid_argument("output limiter: consume() beyond readable()");
    }
    bytes_.take(bytes);
    frames_.take(1);
}

std::chrono::nanoseconds OutputLimiter::time_until(std::uint64_t bytes,
                                                   Clock::time_point now) const {
    return std::max(bytes_.time_until(bytes, now), frames_.time_until(1, now));
}

}  // namespace ccjail::flow
