#include "metrics/daemon_metrics.hpp"

#include <vector>

namespace ccjail::metrics {

namespace {

// From a warm spawn (a few ms) to a cold one that builds a rootfs and cgroup (seconds).
std::vector<double> spawn_latency_bounds() {
    return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string_view direction_name(Direction direction) {
    return direction == Direction::out ? "out" : "in";
}

}  // namespace

DaemonMetrics::DaemonMetrics(std::size_t max_series_per_metric)
    : registry_(max_series_per_metric),
      sessions_active_(registry_.gauge("ccjail_sessions_active",
                                       "Sessions currently running, by profile.", {"profile"})),
      spawns_(registry_.counter("ccjail_spawns_total",
                                "Spawn requests by profile and result (ok or an error code).",
                                {"profile", "result"})),
      spawn_latency_(registry_.histogram("ccjail_spawn_latency_seconds",
                                         "Time from a spawn request to its result.",
                                         spawn_latency_bounds())),
      bytes_(registry_.counter("ccjail_relayed_bytes_total",
                               "Bytes relayed out of sessions to clients and in from clients.",
                               {"direction"})),
      throttled_(registry_.counter("ccjail_throttled_seconds_total",
                                   "Time sessions spent held back by their rate limits.")),
      oom_kills_(registry_.counter("ccjail_oom_kills_total",
                                   "Session processes killed by the OOM killer.")),
      auth_failures_(registry_.counter("ccjail_auth_failures_total",
                                       "Connections refused by peer authentication.")),
      rejections_(registry_.counter("ccjail_rejections_total", "Requests refused, by error code.",
                                    {"code"})),
      egress_requests_(registry_.counter(
          "ccjail_egress_requests_total",
          "Proxy connections and gateway requests of jails, by kind and decision.",
          {"kind", "decision"})),
      egress_bytes_(registry_.counter(
          "ccjail_egress_bytes_total",
          "Bytes jails sent and received through the proxy and gateway.", {"direction"})) {
    // Both directions and every code are known up front: exporting them at 0 lets a rate()
    // see the first event instead of a series appearing from nowhere.
    bytes_.labels({std::string(direction_name(Direction::out))});
    bytes_.labels({std::string(direction_name(Direction::in))});
    for (const char* kind : {"proxy", "gateway"}) {
        for (const char* decision : {"allowed", "denied"}) {
            egress_requests_.labels({kind, decision});
        }
    }
    egress_bytes_.labels({"sent"});
    egress_bytes_.labels({"received"});
    for (protocol::ErrorCode code : protocol::all_error_codes()) {
        rejections_.labels({std::string(protocol::to_string(code))});
    }
}

void DaemonMetrics::session_started(std::string_view profile) {
    sessions_active_.labels({std::string(profile)}).inc();
}

void DaemonMetrics::session_ended(std::string_view profile) {
    sessions_active_.labels({std::string(profile)}).dec();
}

void DaemonMetrics::spawn_result(std::string_view profile, std::string_view result,
                                 double latency_seconds) {
    spawns_.labels({std::string(profile), std::string(result)}).inc();
    spawn_latency_.observe(latency_seconds);
}

void DaemonMetrics::spawn_succeeded(std::string_view profile, double latency_seconds) {
    spawn_result(profile, "ok", latency_seconds);
}

void DaemonMetrics::spawn_failed(std::string_view profile, protocol::ErrorCode code,
                                 double latency_seconds) {
    spawn_result(profile, protocol::to_string(code), latency_seconds);
}

void DaemonMetrics::bytes_relayed(Direction direction, std::uint64_t bytes) {
    bytes_.labels({std::string(direction_name(direction))}).inc(static_cast<double>(bytes));
}

void DaemonMetrics::egress(std::string_view kind, bool allowed, std::uint64_t bytes_sent,
                           std::uint64_t bytes_received) {
    egress_requests_.labels({std::string(kind), allowed ? "allowed" : "denied"}).inc();
    egress_bytes_.labels({"sent"}).inc(static_cast<double>(bytes_sent));
    egress_bytes_.labels({"received"}).inc(static_cast<double>(bytes_received));
}

void DaemonMetrics::throttled(double seconds) {
    throttled_.inc(seconds);
}

void DaemonMetrics::oom_kill() {
    oom_kills_.inc();
}

void DaemonMetrics::auth_failure() {
    auth_failures_.inc();
}

void DaemonMetrics::rejection(protocol::ErrorCode code) {
    rejections_.labels({std::string(protocol::to_string(code))}).inc();
}

}  // namespace ccjail::metrics
