#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

namespace ccjail::net {

// Why a lookup ended; a closed set.
enum class ResolveError {
    ok,
    not_found,       // NXDOMAIN, or the name has neither A nor AAAA records
    timeout,         // no server answered within timeout x tries
    server_failure,  // SERVFAIL, or no server could be reached at all
    refused,         // the server answered REFUSED
    cancelled,       // cancel_all()
    other,           // malformed name or answer, too many pending lookups, out of memory
};

std::string_view to_string(ResolveError error);

struct ResolveResult {
    ResolveError error = ResolveError::other;
    std::string message;
    // IPv4 and IPv6, in the order c-ares returns them (RFC 6724 sorted); empty unless ok.
    std::vector<boost::asio::ip::address> addresses;
};

struct DnsOptions {
    // "ip", "ip:port", "[ipv6]:port"; empty means the servers of /etc/resolv.conf. The next
    // server is tried when one does not answer in time, not when it answers SERVFAIL/REFUSED.
    std::vector<std::string> servers;
    // The wait for the first try; c-ares doubles it for each later round over the servers.
    std::chrono::milliseconds timeout{2000};
    int tries = 2;
    bool use_hosts_file = true;
    // Lookups in flight at once; more complete with `other` at once. Each one is a c-ares
    // query and a callback: the cap bounds what a jail opening connections in a loop can cost.
    std::size_t max_pending = 256;
};

// Resolves host names with c-ares on the caller's single-threaded io_context: c-ares' sockets
// are watched with posix::stream_descriptor and its retries driven by a steady_timer, so no
// thread is ever started (the daemon forks monitors, see DESIGN §9).
//
// Callbacks:
// - run on the io_context, never inside async_resolve(), cancel_all() or the destructor;
// - each runs at most once, and exactly once while the resolver lives;
// - cancel_all(): every lookup started before it completes with `cancelled`;
// - destruction: callbacks that have not run yet are destroyed without being called (their
//   captures released before ~DnsResolver returns), and none runs afterwards. Calling them
//   from the destructor would call into an owner that is itself being torn down.
//
// Search domains from resolv.conf are never applied: the egress proxy resolves exactly the name
// it allowlisted, and "internal" must not silently become "internal.corp.example".
class DnsResolver {
  public:
    using Callback = std::function<void(ResolveResult)>;

    // Throws JailError(Step::supervise, ...) for a malformed server or a c-ares failure.
    DnsResolver(boost::asio::io_context& io, const DnsOptions& options);
    ~DnsResolver();  // NOLINT(bugprone-exception-escape): shutdown() throws nothing in practice
    DnsResolver(const DnsResolver&) = delete;
    DnsResolver& operator=(const DnsResolver&) = delete;

    void async_resolve(const std::string& host, Callback callback);
    void cancel_all();
    // Lookups whose callback has not run yet.
    std::size_t pending() const;

  private:
    class Impl;
    std::shared_ptr<Impl> impl_;
};

}  // namespace ccjail::net
