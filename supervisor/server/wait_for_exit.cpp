#include "server/wait_for_exit.hpp"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/unique_fd.hpp"

namespace ccjail::server {

void wait_for_monitors(const std::vector<pid_t>& pids, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (const pid_t pid : pids) {
        UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
        if (!fd) {
            continue;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            return;
        }
        struct pollfd p = {fd.get(), POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(left.count()));
    }
}

}  // namespace ccjail::server
