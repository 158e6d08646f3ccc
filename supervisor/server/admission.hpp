#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "flow/token_bucket.hpp"
#include "protocol/error_code.hpp"

namespace ccjail::server {

struct AdmissionLimits {
    std::uint64_t max_sessions = 64;
    std::uint64_t max_sessions_per_uid = 16;
    std::uint64_t max_sessions_per_user = 4;
    std::uint64_t spawns_per_minute_per_user = 30;  // 0: unlimited
    std::uint64_t spawn_burst_per_user = 10;
};

// Decides whether one more session may start: concurrent sessions (all, per peer uid, per user
// label) and the spawn rate per user label. Sessions count from admit() until release(), so a
// storm of spawn requests cannot overshoot the limits while jails are still being built.
class Admission {
  public:
    explicit Admission(AdmissionLimits limits) : limits_(limits) {}
    // A config reload: counts stay, new admissions meet the new limits.
    void set_limits(AdmissionLimits limits) {
        limits_ = limits;
        spawn_rate_.clear();
    }

    struct Refusal {
        protocol::ErrorCode code;
        std::string message;
    };

    // On success the session is counted; a refusal changes nothing.
    std::optional<Refusal> admit(uid_t peer_uid, const std::string& user,
                                 flow::Clock::time_point now);
    void release(uid_t peer_uid, const std::string& user);
    // For sessions found running at start-up: counted, whatever the limits say.
    void count_adopted(uid_t peer_uid, const std::string& user);

    std::uint64_t active() const { return total_; }
    std::size_t tracked_rate_buckets() const { return spawn_rate_.size(); }

  private:
    flow::TokenBucket& spawn_bucket(const std::string& user);
    void forget_full_buckets(flow::Clock::time_point now);

    AdmissionLimits limits_;
    std::uint64_t total_ = 0;
    std::map<uid_t, std::uint64_t> per_uid_;
    std::map<std::string, std::uint64_t> per_user_;
    // Per-minute rates are kept as a bucket per user label with a rate in tokens per minute:
    // the bucket's unit is "spawns * 60" so that integer tokens per second still work.
    std::map<std::string, flow::TokenBucket> spawn_rate_;
};

}  // namespace ccjail::server
