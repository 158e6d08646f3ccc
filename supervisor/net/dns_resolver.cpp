#include "net/dns_resolver.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>

#include "common/error.hpp"
#include "net/dns_server_address.hpp"

namespace ccjail::net {

namespace asio = boost::asio;
using WaitType = asio::posix::descriptor_base::wait_type;

std::string_view to_string(ResolveError error) {
    switch (error) {
        case ResolveError::ok:
            return "ok";
        case ResolveError::not_found:
            return "not_found";
        case ResolveError::timeout:
            return "timeout";
        case ResolveError::server_failure:
            return "server_failure";
        case ResolveError::refused:
            return "refused";
        case ResolveError::cancelled:
            return "cancelled";
        case ResolveError::other:
            return "other";
    }
    return "other";
}

namespace {

void init_cares_once() {
    // c-ares asks for one global initialisation per process; a function-local static makes it
    // happen on first use and never again.
    static const int status = ares_library_init(ARES_LIB_INIT_ALL);
    if (status != ARES_SUCCESS) {
        throw JailError(Step::supervise, 0,
                        std::string("ares_library_init: ") + ares_strerror(status));
    }
}

ResolveError error_of(int status) {
    switch (status) {
        case ARES_SUCCESS:
            return ResolveError::ok;
        case ARES_ENOTFOUND:
        case ARES_ENODATA:
        case ARES_ENONAME:
            return ResolveError::not_found;
        case ARES_ETIMEOUT:
            return ResolveError::timeout;
        case ARES_ESERVFAIL:
        case ARES_ECONNREFUSED:
            return ResolveError::server_failure;
        case ARES_EREFUSED:
            return ResolveError::refused;
        case ARES_ECANCELLED:
        case ARES_EDESTRUCTION:
            return ResolveError::cancelled;
        default:
            return ResolveError::other;
    }
}

std::vector<asio::ip::address> addresses_of(const ares_addrinfo* info) {
    std::vector<asio::ip::address> addresses;
    for (auto* node = info ? info->nodes : nullptr; node != nullptr; node = node->ai_next) {
        if (node->ai_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
            addresses.emplace_back(asio::ip::address_v4(ntohl(in->sin_addr.s_addr)));
        } else if (node->ai_family == AF_INET6) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
            asio::ip::address_v6::bytes_type bytes;
            std::memcpy(bytes.data(), in6->sin6_addr.s6_addr, bytes.size());
            addresses.emplace_back(asio::ip::address_v6(bytes, in6->sin6_scope_id));
        }
    }
    return addresses;
}

ResolveResult result_of(int status, ares_addrinfo* info) {
    ResolveResult result;
    result.error = error_of(status);
    result.message = ares_strerror(status);
    result.addresses = addresses_of(info);
    if (info != nullptr) {
        ares_freeaddrinfo(info);
    }
    if (result.error == ResolveError::ok && result.addresses.empty()) {
        result.error = ResolveError::not_found;
        result.message = "no addresses";
    }
    if (result.error != ResolveError::ok) {
        result.addresses.clear();
    }
    return result;
}

ResolveResult failure(ResolveError error, std::string message) {
    return ResolveResult{error, std::move(message), {}};
}

// Boost.Process 1.81 leaks every parent fd without CLOEXEC into the monitors it launches
// (DESIGN §9): c-ares' own sockets must not be among them.
int mark_cloexec(ares_socket_t fd, int /*type*/, void* /*data*/) {
    const int flags = ::fcntl(fd, F_GETFD);
    return flags >= 0 && ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 ? ARES_SUCCESS : -1;
}

ares_addr_port_node server_node(const DnsServerAddress& server) {
    ares_addr_port_node node{};
    node.udp_port = server.port;
    node.tcp_port = server.port;
    if (server.address.is_v4()) {
        node.family = AF_INET;
        node.addr.addr4.s_addr = htonl(server.address.to_v4().to_uint());
    } else {
        node.family = AF_INET6;
        const auto bytes = server.address.to_v6().to_bytes();
        std::memcpy(&node.addr.addr6, bytes.data(), bytes.size());
    }
    return node;
}

std::vector<ares_addr_port_node> server_nodes(const std::vector<std::string>& servers) {
    std::vector<ares_addr_port_node> nodes;
    for (const auto& text : servers) {
        auto server = parse_dns_server(text);
        if (!server) {
            throw JailError(Step::supervise, EINVAL, "bad DNS server \"" + text + "\"");
        }
        nodes.push_back(server_node(*server));
    }
    for (std::size_t i = 0; i + 1 < nodes.size(); ++i) {
        nodes[i].next = &nodes[i + 1];
    }
    return nodes;
}

// "localhost" and "*.localhost", any case, with or without the root's trailing dot.
bool is_localhost_name(std::string name) {
    if (!name.empty() && name.back() == '.') {
        name.pop_back();
    }
    for (auto& c : name) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const std::string_view suffix = ".localhost";
    return name == "localhost" || (name.size() > suffix.size() && name.ends_with(suffix));
}

int bytes_readable(int fd) {
    int count = 0;
    return ::ioctl(fd, FIONREAD, &count) == 0 ? count : 0;
}

}  // namespace

class DnsResolver::Impl : public std::enable_shared_from_this<Impl> {
  public:
    Impl(asio::io_context& io, const DnsOptions& options);
    // shutdown() throws nothing in practice: ares_destroy is C, unwatch() only erases, and the
    // timer's cancel() has no error to report on the epoll reactor.
    ~Impl() { shutdown(); }  // NOLINT(bugprone-exception-escape): see above
    Impl(const Impl&) = delete;
    Impl& operator=(const Impl&) = delete;

    void resolve(const std::string& host, Callback callback);
    void cancel_all();
    void shutdown();
    std::size_t pending() const { return lookups_.size(); }

  private:
    struct Lookup {
        Callback callback;
        std::optional<ResolveResult> result;
    };
    struct Watcher {
        explicit Watcher(asio::io_context& io) : descriptor(io) {}
        // c-ares owns and closes the fd: the descriptor only watches it, so it is released,
        // never closed.
        ~Watcher() {
            if (descriptor.is_open()) {
                descriptor.release();
            }
        }
        asio::posix::stream_descriptor descriptor;
        bool want_read = false;
        bool want_write = false;
        bool read_armed = false;
        bool write_armed = false;
        bool closed = false;
    };
    struct QueryTag {
        Impl* impl;
        std::uint64_t id;
    };

    static void on_socket_state(void* data, ares_socket_t fd, int readable, int writable);
    static void on_addrinfo(void* arg, int status, int timeouts, ares_addrinfo* info);

    void init_channel(const DnsOptions& options);
    void watch(int fd, bool readable, bool writable);
    void unwatch(int fd);
    void arm(const std::shared_ptr<Watcher>& watcher, WaitType type);
    void on_ready(const std::shared_ptr<Watcher>& watcher, WaitType type);
    void reschedule_timer();
    void on_timer();
    void complete(std::uint64_t id, ResolveResult result);
    void post_delivery(std::uint64_t id);
    void deliver(std::uint64_t id);

    asio::io_context& io_;
    ares_channel channel_ = nullptr;
    asio::steady_timer timer_;
    std::unordered_map<int, std::shared_ptr<Watcher>> watchers_;
    std::map<std::uint64_t, Lookup> lookups_;
    std::uint64_t next_id_ = 1;
    std::size_t max_pending_;
    bool use_hosts_file_;
};

DnsResolver::Impl::Impl(asio::io_context& io, const DnsOptions& options)
    : io_(io),
      timer_(io),
      max_pending_(options.max_pending),
      use_hosts_file_(options.use_hosts_file) {
    if (options.timeout.count() <= 0 || options.tries < 1 || options.max_pending == 0) {
        throw JailError(Step::supervise, EINVAL, "DNS timeout, tries and max_pending must be > 0");
    }
    auto nodes = server_nodes(options.servers);
    init_cares_once();
    init_channel(options);
    ares_set_socket_callback(channel_, &mark_cloexec, nullptr);
    if (!nodes.empty()) {
        const int status = ares_set_servers_ports(channel_, nodes.data());
        if (status != ARES_SUCCESS) {
            shutdown();
            throw JailError(Step::supervise, 0,
                            std::string("ares_set_servers_ports: ") + ares_strerror(status));
        }
    }
}

void DnsResolver::Impl::init_channel(const DnsOptions& options) {
    ares_options opts{};
    opts.sock_state_cb = &Impl::on_socket_state;
    opts.sock_state_cb_data = this;
    opts.timeout = static_cast<int>(options.timeout.count());
    opts.tries = options.tries;
    char lookups_files_then_dns[] = "fb";
    char lookups_dns_only[] = "b";
    opts.lookups = options.use_hosts_file ? lookups_files_then_dns : lookups_dns_only;
    opts.domains = nullptr;
    opts.ndomains = 0;
    // Without search domains a name with fewer dots than ndots is never asked for as it is
    // (c-ares 1.18 sends no query at all for "gitlab"): zero makes every name go as-is first.
    opts.ndots = 0;
    // A SERVFAIL or REFUSED answer is reported as such (ResolveError::server_failure / refused)
    // instead of c-ares' default of trying the next server and ending with "could not contact
    // DNS servers", which cannot be told apart from a dead server. Timeouts still fail over.
    opts.flags = ARES_FLAG_NOCHECKRESP;
    const int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
                     ARES_OPT_LOOKUPS | ARES_OPT_DOMAINS | ARES_OPT_NDOTS | ARES_OPT_FLAGS;
    const int status = ares_init_options(&channel_, &opts, mask);
    if (status != ARES_SUCCESS) {
        channel_ = nullptr;
        throw JailError(Step::supervise, 0,
                        std::string("ares_init_options: ") + ares_strerror(status));
    }
}

void DnsResolver::Impl::shutdown() {
    if (channel_ != nullptr) {
        // ares_destroy reports every query with ARES_EDESTRUCTION, which on_addrinfo drops,
        // and closes its sockets through on_socket_state.
        ares_destroy(std::exchange(channel_, nullptr));
    }
    timer_.cancel();
    for (auto& [fd, watcher] : watchers_) {
        watcher->closed = true;
    }
    watchers_.clear();
    lookups_.clear();
}

void DnsResolver::Impl::resolve(const std::string& host, Callback callback) {
    const auto id = next_id_++;
    const bool full = lookups_.size() >= max_pending_;
    lookups_.emplace(id, Lookup{std::move(callback), std::nullopt});
    if (full) {
        complete(id, failure(ResolveError::other, "too many pending DNS lookups"));
        return;
    }
    // c-ares takes a C string: an embedded NUL would make it resolve a different name than
    // the one the caller checked.
    if (host.empty() || host.find('\0') != std::string::npos) {
        complete(id, failure(ResolveError::other, "invalid host name"));
        return;
    }
    // c-ares never sends localhost names to a server (RFC 6761 §6.3) and, with the hosts
    // file off, reports "could not contact DNS servers", which would read as a dead server.
    if (!use_hosts_file_ && is_localhost_name(host)) {
        complete(id, failure(ResolveError::not_found, "localhost names are not sent to DNS"));
        return;
    }
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &Impl::on_addrinfo,
                     new QueryTag{this, id});
    reschedule_timer();
}

void DnsResolver::Impl::cancel_all() {
    std::vector<std::uint64_t> before;
    for (const auto& [id, lookup] : lookups_) {
        before.push_back(id);
    }
    ares_cancel(channel_);
    for (const auto id : before) {
        complete(id, failure(ResolveError::cancelled, "lookup cancelled"));
    }
    reschedule_timer();
}

void DnsResolver::Impl::on_addrinfo(void* arg, int status, int /*timeouts*/, ares_addrinfo* info) {
    std::unique_ptr<QueryTag> tag(static_cast<QueryTag*>(arg));
    auto result = result_of(status, info);
    if (status == ARES_EDESTRUCTION) {
        return;
    }
    tag->impl->complete(tag->id, std::move(result));
}

// The first result of a lookup schedules its delivery; a later one (cancel_all() overriding a
// result not yet delivered) only replaces what will be delivered.
void DnsResolver::Impl::complete(std::uint64_t id, ResolveResult result) {
    auto it = lookups_.find(id);
    if (it == lookups_.end()) {
        return;
    }
    const bool scheduled = it->second.result.has_value();
    it->second.result = std::move(result);
    if (!scheduled) {
        post_delivery(id);
    }
}

void DnsResolver::Impl::post_delivery(std::uint64_t id) {
    asio::post(io_, [weak = weak_from_this(), id] {
        // The lock keeps this Impl alive should the callback destroy the DnsResolver.
        if (auto self = weak.lock()) {
            self->deliver(id);
        }
    });
}

void DnsResolver::Impl::deliver(std::uint64_t id) {
    auto it = lookups_.find(id);
    if (it == lookups_.end()) {
        return;
    }
    auto callback = std::move(it->second.callback);
    auto result = std::move(*it->second.result);
    lookups_.erase(it);
    callback(std::move(result));
}

void DnsResolver::Impl::on_socket_state(void* data, ares_socket_t fd, int readable, int writable) {
    auto* self = static_cast<Impl*>(data);
    if (readable == 0 && writable == 0) {
        self->unwatch(fd);
    } else {
        self->watch(fd, readable != 0, writable != 0);
    }
}

void DnsResolver::Impl::watch(int fd, bool readable, bool writable) {
    auto& watcher = watchers_[fd];
    if (!watcher) {
        watcher = std::make_shared<Watcher>(io_);
        boost::system::error_code ec;
        watcher->descriptor.assign(fd, ec);
        if (ec) {
            // Unwatched, the socket's queries still end: the timer runs c-ares' timeouts.
            watchers_.erase(fd);
            return;
        }
    }
    watcher->want_read = readable;
    watcher->want_write = writable;
    if (readable) {
        arm(watcher, WaitType::wait_read);
    }
    if (writable) {
        arm(watcher, WaitType::wait_write);
    }
}

// c-ares calls this right before it closes the fd: release() takes it out of epoll first, so
// that a new socket reusing the number starts clean.
void DnsResolver::Impl::unwatch(int fd) {
    auto it = watchers_.find(fd);
    if (it == watchers_.end()) {
        return;
    }
    it->second->closed = true;
    it->second->descriptor.release();
    watchers_.erase(it);
}

void DnsResolver::Impl::arm(const std::shared_ptr<Watcher>& watcher, WaitType type) {
    bool& armed = type == WaitType::wait_read ? watcher->read_armed : watcher->write_armed;
    if (armed) {
        return;
    }
    armed = true;
    watcher->descriptor.async_wait(
        type, [weak = weak_from_this(), watcher, type](const boost::system::error_code& ec) {
            (type == WaitType::wait_read ? watcher->read_armed : watcher->write_armed) = false;
            auto self = weak.lock();
            if (ec || !self || watcher->closed) {
                return;
            }
            self->on_ready(watcher, type);
        });
}

void DnsResolver::Impl::on_ready(const std::shared_ptr<Watcher>& watcher, WaitType type) {
    const int fd = watcher->descriptor.native_handle();
    if (type == WaitType::wait_read && watcher->want_read) {
        ares_process_fd(channel_, fd, ARES_SOCKET_BAD);
        // asio's epoll is edge-triggered and its waits never test readiness up front: bytes
        // c-ares left unread (a TCP answer read in pieces) would otherwise raise no new event.
        for (int round = 0;
             round < 16 && !watcher->closed && watcher->want_read && bytes_readable(fd) > 0;
             ++round) {
            ares_process_fd(channel_, fd, ARES_SOCKET_BAD);
        }
    } else if (type == WaitType::wait_write && watcher->want_write) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, fd);
    }
    if (!watcher->closed && watcher->want_read) {
        arm(watcher, WaitType::wait_read);
    }
    if (!watcher->closed && watcher->want_write) {
        arm(watcher, WaitType::wait_write);
    }
    reschedule_timer();
}

void DnsResolver::Impl::reschedule_timer() {
    timeval left{};
    if (channel_ == nullptr || ares_timeout(channel_, nullptr, &left) == nullptr) {
        timer_.cancel();
        return;
    }
    timer_.expires_after(std::chrono::seconds(left.tv_sec) +
                         std::chrono::microseconds(left.tv_usec));
    timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!ec && self) {
            self->on_timer();
        }
    });
}

void DnsResolver::Impl::on_timer() {
    if (channel_ == nullptr) {
        return;
    }
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    reschedule_timer();
}

DnsResolver::DnsResolver(asio::io_context& io, const DnsOptions& options)
    : impl_(std::make_shared<Impl>(io, options)) {}

DnsResolver::~DnsResolver() {  // NOLINT(bugprone-exception-escape): as ~Impl
    // Another owner of the Impl may be a delivery in progress (the callback destroying this
    // resolver): shut down now rather than when that owner lets go.
    impl_->shutdown();
}

void DnsResolver::async_resolve(const std::string& host, Callback callback) {
    impl_->resolve(host, std::move(callback));
}

void DnsResolver::cancel_all() {
    impl_->cancel_all();
}

std::size_t DnsResolver::pending() const {
    return impl_->pending();
}

}  // namespace ccjail::net
