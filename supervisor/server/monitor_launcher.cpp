#include "server/monitor_launcher.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <boost/process/v2/environment.hpp>
// Boost 1.81 bug: in header-only mode environment.hpp never includes the definitions of
// process_environment (its on_setup is undefined at link time). They are inline there, so
// including them in this one user is enough.
#include <boost/process/v2/impl/environment.ipp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include "common/error.hpp"

namespace ccjail::server {
namespace {

namespace bp = boost::process::v2;

constexpr int kLinkFd = 3;

// posix::bind_fd is broken in Boost 1.81, so the link fd is placed by hand between fork and
// exec. dup2 onto itself would keep FD_CLOEXEC, hence the explicit clear in that case.
struct PlaceLinkFd {
    int fd;

    template <typename Launcher>
    bp::error_code on_setup(Launcher& launcher, const bp::filesystem::path&, const char* const*&) {
        launcher.fd_whitelist.push_back(kLinkFd);
        return {};
    }

    template <typename Launcher>
    bp::error_code on_exec_setup(Launcher&, const bp::filesystem::path&, const char* const*&) {
        if (fd == kLinkFd) {
            if (::fcntl(kLinkFd, F_SETFD, 0) != 0) {
                return bp::error_code(errno, bp::system_category());
            }
        } else if (::dup2(fd, kLinkFd) < 0) {
            return bp::error_code(errno, bp::system_category());
        }
        return {};
    }
};

}  // namespace

LaunchedMonitor launch_monitor(boost::asio::io_context& launch_context,
                               const std::filesystem::path& exec_path) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        throw_errno(Step::supervise, "socketpair for the monitor link");
    }
    UniqueFd daemon_end(pair[0]);
    UniqueFd monitor_end(pair[1]);
    // The daemon's environment (sudo leftovers, tokens) never reaches the monitor or the jail.
    const std::vector<std::string> environment = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                                  "LANG=C.UTF-8"};
    const std::vector<std::string> args = {"--daemon-fd", std::to_string(kLinkFd)};
    bp::default_process_launcher launcher;
    try {
        bp::process process =
            launcher(launch_context, bp::filesystem::path(exec_path.string()), args,
                     bp::process_environment(environment), bp::process_stdio{nullptr, nullptr, {}},
                     PlaceLinkFd{monitor_end.get()});
        LaunchedMonitor launched;
        launched.pid = process.id();
        // The monitor must outlive this object (and the daemon): detach, never terminate.
        process.detach();
        launched.link = std::move(daemon_end);
        return launched;
    } catch (const bp::system_error& error) {
        throw JailError(Step::supervise, error.code().value(),
                        "cannot start " + exec_path.string() + ": " + error.what());
    }
}

}  // namespace ccjail::server
