#pragma once

// The daemon's metrics (issue 3, "Logs and metrics"), named and typed once here so that call
// sites read like the spec. Not thread-safe, like the Registry it owns.

#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/metrics.hpp"
#include "protocol/error_code.hpp"

namespace ccjail::metrics {

// Which way relayed bytes travel: out of the jail to clients, or in from clients to the jail.
enum class Direction { out, in };

class DaemonMetrics {
  public:
    // The per-metric series cap must exceed the number of error codes: every rejection code is
    // exported from the start.
    explicit DaemonMetrics(std::size_t max_series_per_metric = default_max_series);

    void session_started(std::string_view profile);
    void session_ended(std::string_view profile);

    // result is "ok" or an ErrorCode's wire name; latency runs from the request to the result.
    void spawn_result(std::string_view profile, std::string_view result, double latency_seconds);
    void spawn_succeeded(std::string_view profile, double latency_seconds);
    void spawn_failed(std::string_view profile, protocol::ErrorCode code, double latency_seconds);

    void bytes_relayed(Direction direction, std::uint64_t bytes);
    void throttled(double seconds);
    void oom_kill();
    void auth_failure();
    void rejection(protocol::ErrorCode code);
    // One proxy connection or gateway request of a jail ("proxy"/"gateway"), and its bytes.
    void egress(std::string_view kind, bool allowed, std::uint64_t bytes_sent,
                std::uint64_t bytes_received);

    std::string exposition() const { return registry_.exposition(); }
    Registry& registry() { return registry_; }

  private:
    Registry registry_;
    Gauge& sessions_active_;
    Counter& spawns_;
    Histogram& spawn_latency_;
    Counter& bytes_;
    Counter& throttled_;
    Counter& oom_kills_;
    Counter& auth_failures_;
    Counter& rejections_;
    Counter& egress_requests_;
    Counter& egress_bytes_;
};

}  // namespace ccjail::metrics
