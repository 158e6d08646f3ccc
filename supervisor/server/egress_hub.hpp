#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "common/unique_fd.hpp"
#include "jail/monitor.hpp"
#include "metrics/daemon_metrics.hpp"
#include "net/dns_resolver.hpp"
#include "profile/profile.hpp"

namespace ccjail::server {

struct DaemonConfig;

// Where network mode gateway sends the jails' API requests (docs/egress.md).
struct GatewayUpstream {
    std::string host;  // a name or an IP literal (without brackets)
    std::uint16_t port = 443;
    std::string host_header;  // host[:port] as the upstream expects it in Host
};

struct EgressConfig {
    GatewayUpstream upstream;
    std::filesystem::path key_file;
    std::string key_header = "x-api-key";
    std::optional<std::filesystem::path> ca_file;
    net::DnsOptions dns;
};
EgressConfig egress_config_from(const DaemonConfig& config);

// What a session's jail did on the network so far (inspect, the exit audit line).
struct EgressTotals {
    std::uint64_t connections = 0;  // proxy connections and gateway requests, allowed or not
    std::uint64_t denied = 0;
    std::uint64_t bytes_sent = 0;      // from the jail to the world
    std::uint64_t bytes_received = 0;  // from the world to the jail
    std::uint32_t open = 0;
};
nlohmann::json to_json(const EgressTotals& totals);

class EgressShared;
class EgressSession;

// The daemon's side of network modes proxy and gateway: for each session it accepts the TCP
// connections the jail makes to 127.0.0.1:<proxy_port> and :<gateway_port> (on listeners the
// jail's init made in the jail's network namespace), and serves them as an allowlisting
// CONNECT proxy and as the API gateway that adds the key. Everything runs on the daemon's one
// io_context.
class EgressHub {
  public:
    EgressHub(boost::asio::io_context& io, EgressConfig config, const audit::AuditLog& audit,
              metrics::DaemonMetrics& metrics);
    ~EgressHub();  // NOLINT(bugprone-exception-escape): close_all() throws nothing in practice
    EgressHub(const EgressHub&) = delete;
    EgressHub& operator=(const EgressHub&) = delete;

    // Starts serving a session's listeners (again, after an adoption: the old ones are closed).
    void open(const std::string& session, audit::AuditContext context, const NetworkPolicy& policy,
              std::vector<std::pair<EgressListener, UniqueFd>> listeners);
    // Stops accepting and cuts the session's open connections.
    void close(const std::string& session);
    void close_all();
    std::optional<EgressTotals> totals(const std::string& session) const;

  private:
    std::shared_ptr<EgressShared> shared_;
    std::map<std::string, std::shared_ptr<EgressSession>> sessions_;
};

}  // namespace ccjail::server
