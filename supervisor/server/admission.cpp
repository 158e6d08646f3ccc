#include "server/admission.hpp"

namespace ccjail::server {
namespace {

// One spawn costs this many tokens; the bucket earns spawns_per_minute of them per second.
constexpr std::uint64_t kTokensPerSpawn = 60;
constexpr std::size_t kBucketsBeforePruning = 1024;

}  // namespace

// One bucket per user label ever seen would grow without bound under a stream of fresh labels;
// a full bucket carries no information (a new one starts full), so full ones are dropped once
// there are many.
void Admission::forget_full_buckets(flow::Clock::time_point now) {
    if (spawn_rate_.size() < kBucketsBeforePruning) {
        return;
    }
    for (auto it = spawn_rate_.begin(); it != spawn_rate_.end();) {
        it->second.refill(now);
        it = it->second.available() >= it->second.burst() ? spawn_rate_.erase(it) : std::next(it);
    }
}

flow::TokenBucket& Admission::spawn_bucket(const std::string& user) {
    auto it = spawn_rate_.find(user);
    if (it == spawn_rate_.end()) {
        it = spawn_rate_
                 .emplace(user, flow::TokenBucket(limits_.spawns_per_minute_per_user,
                                                  limits_.spawn_burst_per_user * kTokensPerSpawn))
                 .first;
    }
    return it->second;
}

std::optional<Admission::Refusal> Admission::admit(uid_t peer_uid, const std::string& user,
                                                   flow::Clock::time_point now) {
    using protocol::ErrorCode;
    if (total_ >= limits_.max_sessions) {
        return Refusal{ErrorCode::too_many_sessions, "the daemon runs its maximum of " +
                                                         std::to_string(limits_.max_sessions) +
                                                         " sessions (max_sessions)"};
    }
    if (per_uid_[peer_uid] >= limits_.max_sessions_per_uid) {
        return Refusal{ErrorCode::too_many_sessions,
                       "uid " + std::to_string(peer_uid) + " already runs " +
                           std::to_string(limits_.max_sessions_per_uid) +
                           " sessions (max_sessions_per_uid)"};
    }
    if (per_user_[user] >= limits_.max_sessions_per_user) {
        return Refusal{ErrorCode::too_many_sessions,
                       "user \"" + user + "\" already has " +
                           std::to_string(limits_.max_sessions_per_user) +
                           " sessions (max_sessions_per_user)"};
    }
    if (limits_.spawns_per_minute_per_user > 0) {
        forget_full_buckets(now);
        auto& bucket = spawn_bucket(user);
        bucket.refill(now);
        if (bucket.available() < kTokensPerSpawn) {
            return Refusal{ErrorCode::rate_limited,
                           "user \"" + user + "\" may start " +
                               std::to_string(limits_.spawns_per_minute_per_user) +
                               " sessions per minute (spawn_rate_per_user_per_min)"};
        }
        bucket.take(kTokensPerSpawn);
    }
    count_adopted(peer_uid, user);
    return std::nullopt;
}

void Admission::count_adopted(uid_t peer_uid, const std::string& user) {
    ++total_;
    ++per_uid_[peer_uid];
    ++per_user_[user];
}

void Admission::release(uid_t peer_uid, const std::string& user) {
    if (total_ > 0) {
        --total_;
    }
    if (auto it = per_uid_.find(peer_uid); it != per_uid_.end() && --it->second == 0) {
        per_uid_.erase(it);
    }
    if (auto it = per_user_.find(user); it != per_user_.end() && --it->second == 0) {
        per_user_.erase(it);
    }
}

}  // namespace ccjail::server
