#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "common/error.hpp"
#include "server/service_manager.hpp"

namespace ccjail::server {
namespace {

// Socket activation hands fds from 3 on to the process named by LISTEN_PID: each case runs in a
// child, where fd 3 and the environment are its own, and reports through its exit status.
int in_child(int (*body)()) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::_exit(body());
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

void pass_as_fd3(int fd) {
    ::dup2(fd, 3);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
}

int listening_unix_socket() {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(sa_family_t));  // autobind
    ::listen(fd, 1);
    return fd;
}

TEST(ServiceManager, WithoutActivationThereIsNoSocket) {
    EXPECT_EQ(in_child([] {
                  ::unsetenv("LISTEN_FDS");
                  return activated_socket() ? 1 : 0;
              }),
              0);
}

TEST(ServiceManager, TakesTheActivatedSocketCloseOnExecAndClearsTheEnvironment) {
    EXPECT_EQ(in_child([] {
                  pass_as_fd3(listening_unix_socket());
                  auto socket = activated_socket();
                  if (!socket || socket->get() != 3) {
                      return 1;
                  }
                  if ((::fcntl(3, F_GETFD) & FD_CLOEXEC) == 0) {
                      return 2;
                  }
                  // A monitor launched later must not believe the socket is its own.
                  return std::getenv("LISTEN_FDS") == nullptr ? 0 : 3;
              }),
              0);
}

TEST(ServiceManager, RefusesADescriptorThatIsNotAListeningUnixStreamSocket) {
    EXPECT_EQ(in_child([] {
                  int fds[2];
                  if (::pipe(fds) != 0) {
                      return 1;
                  }
                  pass_as_fd3(fds[0]);
                  try {
                      activated_socket();
                  } catch (const JailError&) {
                      return 0;
                  }
                  return 2;
              }),
              0);
}

// A stand-in for systemd's notification socket: what ccjaild sends is what systemctl shows.
TEST(ServiceManager, NotificationsReachTheNotifySocket) {
    const std::string path = "/tmp/ccjail-notify-" + std::to_string(::getpid());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    path.copy(address.sun_path, path.size());
    ::unlink(path.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    notify_ready(2);
    notify_status(1);
    notify_stopping();
    ::unsetenv("NOTIFY_SOCKET");
    auto next = [fd] {
        char text[256] = {};
        const ssize_t n = ::recv(fd, text, sizeof text - 1, MSG_DONTWAIT);
        return n > 0 ? std::string(text, static_cast<std::size_t>(n)) : std::string("<none>");
    };
    EXPECT_EQ(next(), "READY=1\nSTATUS=2 sessions");
    EXPECT_EQ(next(), "STATUS=1 session");
    EXPECT_EQ(next(), "STOPPING=1\nSTATUS=stopping: ending every session");
    ::close(fd);
    ::unlink(path.c_str());
}

}  // namespace
}  // namespace ccjail::server
