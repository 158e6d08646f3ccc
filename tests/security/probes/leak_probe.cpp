// The leak attacks of the security battery that need system calls bash cannot make: a static
// program bound at /probe/leak_probe in a jail, one subcommand per attack. Each prints one line
// "RESULT <name>=<outcome> ..." where an outcome is "OK" or the errno's name ("EPERM"), so a
// test reads exactly which call was refused and how. Long-running halves of two-session attacks
// print "READY" once their bait is in place.
//
// Plain libc on purpose: it runs inside jails that hold only /usr and /probe, and it must not
// share code with the thing it attacks.
#include <dirent.h>
#include <fcntl.h>
#include <mqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/ipc.h>
#include <sys/klog.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/keyctl.h>
#include <linux/vm_sockets.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

std::string errno_name(int e) {
    if (e == 0) {
        return "OK";
    }
    const char* name = ::strerrorname_np(e);
    return name != nullptr ? name : "E" + std::to_string(e);
}

// The outcome of a call that returns -1 with errno on failure.
std::string outcome(long rc) {
    return rc < 0 ? errno_name(errno) : "OK";
}

void result(const std::string& fields) {
    std::printf("RESULT %s\n", fields.c_str());
    std::fflush(stdout);
}

void ready() {
    std::printf("READY\n");
    std::fflush(stdout);
}

unsigned seconds_arg(int argc, char** argv, int index) {
    return argc > index ? static_cast<unsigned>(std::strtoul(argv[index], nullptr, 10)) : 30;
}

// Open descriptors of this process, without the one that lists them.
int fds() {
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) {
        result("fds=" + errno_name(errno));
        return 0;
    }
    const int own = ::dirfd(dir);
    std::vector<int> open;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] == '.') {
            continue;
        }
        const int fd = std::atoi(entry->d_name);
        if (fd != own) {
            open.push_back(fd);
        }
    }
    ::closedir(dir);
    std::sort(open.begin(), open.end());
    std::string list;
    for (const int fd : open) {
        list.append(list.empty() ? "" : ",").append(std::to_string(fd));
    }
    result("fds=" + list);
    return 0;
}

// An AF_UNIX address: a path, or an abstract name when `abstract`.
socklen_t unix_address(const std::string& name, bool abstract, sockaddr_un& address) {
    address = {};
    address.sun_family = AF_UNIX;
    const std::size_t skip = abstract ? 1 : 0;
    const std::size_t length = std::min(name.size(), sizeof address.sun_path - 1 - skip);
    std::memcpy(address.sun_path + skip, name.data(), length);
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + skip + length +
                                  (abstract ? 0 : 1));
}

int connect_unix(const std::string& name, bool abstract) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        result("socket=" + errno_name(errno));
        return 0;
    }
    sockaddr_un address;
    const socklen_t length = unix_address(name, abstract, address);
    result("connect=" + outcome(::connect(fd, reinterpret_cast<sockaddr*>(&address), length)));
    return 0;
}

// Listens on an abstract name for `seconds`; says ACCEPTED at once for every peer that reached
// it, so a test can stop it early and still know.
int listen_abstract(const std::string& name, unsigned seconds) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address;
    const socklen_t length = unix_address(name, true, address);
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd, 16) != 0) {
        result("listen=" + errno_name(errno));
        return 0;
    }
    ready();
    int accepted = 0;
    for (unsigned tick = 0; tick < seconds * 10; ++tick) {
        pollfd wait{fd, POLLIN, 0};
        if (::poll(&wait, 1, 100) == 1) {
            const int peer = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
            if (peer >= 0) {
                ++accepted;
                std::printf("ACCEPTED\n");
                std::fflush(stdout);
                ::close(peer);
            }
        }
    }
    result("accepted=" + std::to_string(accepted));
    return 0;
}

// A TCP connect that gives up after two seconds: an address without a route may also just
// swallow the SYN.
int connect_tcp(const std::string& host, int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        result("socket=" + errno_name(errno));
        return 0;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    ::inet_pton(AF_INET, host.c_str(), &address.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
        result("connect=OK");
        return 0;
    }
    if (errno != EINPROGRESS) {
        result("connect=" + errno_name(errno));
        return 0;
    }
    pollfd wait{fd, POLLOUT, 0};
    if (::poll(&wait, 1, 2000) == 0) {
        result("connect=ETIMEDOUT");
        return 0;
    }
    int error = 0;
    socklen_t size = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    result("connect=" + errno_name(error));
    return 0;
}

// Keyrings are not namespaced: a key one session adds, another could find.
int keyring() {
    const char payload[] = "secret";
    const long add = ::syscall(SYS_add_key, "user", "ccjail-battery", payload, sizeof payload,
                               KEY_SPEC_USER_KEYRING);
    const std::string add_outcome = outcome(add);
    const long get = ::syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0);
    const std::string get_outcome = outcome(get);
    const long join = ::syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "ccjail-battery");
    const std::string join_outcome = outcome(join);
    const long request =
        ::syscall(SYS_request_key, "user", "ccjail-battery", nullptr, KEY_SPEC_USER_KEYRING);
    result("add_key=" + add_outcome + " keyctl_get=" + get_outcome +
           " keyctl_join=" + join_outcome + " request_key=" + outcome(request));
    return 0;
}

int vsock() {
    const int stream = ::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const std::string stream_outcome = outcome(stream);
    const int datagram = ::socket(AF_VSOCK, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const std::string datagram_outcome = outcome(datagram);
    int pair[2];
    result("stream=" + stream_outcome + " dgram=" + datagram_outcome +
           " socketpair=" + outcome(::socketpair(AF_VSOCK, SOCK_STREAM, 0, pair)));
    return 0;
}

// POSIX message queue and SysV shared memory, created as bait for another session.
int ipc_hold(const std::string& name, key_t key, unsigned seconds) {
    mq_attr attr{};
    attr.mq_maxmsg = 4;
    attr.mq_msgsize = 64;
    const mqd_t queue = ::mq_open(("/" + name).c_str(), O_CREAT | O_RDWR, 0666, &attr);
    const std::string mq_outcome = outcome(queue == static_cast<mqd_t>(-1) ? -1 : 0);
    const int segment = ::shmget(key, 4096, IPC_CREAT | 0666);
    result("mq_create=" + mq_outcome + " shm_create=" + outcome(segment));
    ready();
    ::sleep(seconds);
    return 0;
}

int ipc_seek(const std::string& name, key_t key) {
    const mqd_t queue = ::mq_open(("/" + name).c_str(), O_RDWR);
    const std::string mq_outcome = outcome(queue == static_cast<mqd_t>(-1) ? -1 : 0);
    result("mq_open=" + mq_outcome + " shm_get=" + outcome(::shmget(key, 0, 0)));
    return 0;
}

int kernel_log() {
    std::vector<char> buffer(1 << 16);
    const int read =
        ::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buffer.data(), static_cast<int>(buffer.size()));
    const std::string read_outcome = outcome(read);
    result("read_all=" + read_outcome +
           " size_buffer=" + outcome(::klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, nullptr, 0)));
    return 0;
}

// The locks a session can take on a file it may only read: an exclusive flock (allowed: the
// documented channel), a lease (would stall other openers: must be refused), a POSIX write lock
// (needs a writable fd).
int lock_hold(const std::string& path, unsigned seconds) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result("open=" + errno_name(errno));
        return 0;
    }
    const std::string flock_outcome = outcome(::flock(fd, LOCK_EX | LOCK_NB));
    const std::string lease_outcome = outcome(::fcntl(fd, F_SETLEASE, F_RDLCK));
    struct flock write_lock {};
    write_lock.l_type = F_WRLCK;
    write_lock.l_whence = SEEK_SET;
    result("flock_ex=" + flock_outcome + " lease=" + lease_outcome +
           " posix_write_lock=" + outcome(::fcntl(fd, F_SETLK, &write_lock)));
    ready();
    ::sleep(seconds);
    return 0;
}

// What another session's lock does to this one: the lock itself is visible (the channel),
// reading the whole file is not stopped.
int lock_check(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        result("open=" + errno_name(errno));
        return 0;
    }
    const std::string try_lock = outcome(::flock(fd, LOCK_EX | LOCK_NB));
    std::vector<char> buffer(1 << 16);
    long total = 0;
    long n = 0;
    while ((n = ::read(fd, buffer.data(), buffer.size())) > 0) {
        total += n;
    }
    result("flock_ex=" + try_lock + " read=" + outcome(n) + " bytes=" + std::to_string(total));
    return 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: leak_probe fds | connect-unix PATH | connect-abstract NAME |"
                 " listen-abstract NAME SECONDS | connect-tcp ADDR PORT | keyring | vsock |"
                 " ipc-hold NAME KEY SECONDS | ipc-seek NAME KEY | syslog |"
                 " lock-hold PATH SECONDS | lock-check PATH\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        return usage();
    }
    const std::string command = argv[1];
    const std::string arg = argc > 2 ? argv[2] : "";
    if (command == "fds") {
        return fds();
    }
    if (command == "connect-unix" && argc > 2) {
        return connect_unix(arg, false);
    }
    if (command == "connect-abstract" && argc > 2) {
        return connect_unix(arg, true);
    }
    if (command == "listen-abstract" && argc > 2) {
        return listen_abstract(arg, seconds_arg(argc, argv, 3));
    }
    if (command == "connect-tcp" && argc > 3) {
        return connect_tcp(arg, std::atoi(argv[3]));
    }
    if (command == "keyring") {
        return keyring();
    }
    if (command == "vsock") {
        return vsock();
    }
    if (command == "ipc-hold" && argc > 3) {
        return ipc_hold(arg, std::atoi(argv[3]), seconds_arg(argc, argv, 4));
    }
    if (command == "ipc-seek" && argc > 3) {
        return ipc_seek(arg, std::atoi(argv[3]));
    }
    if (command == "syslog") {
        return kernel_log();
    }
    if (command == "lock-hold" && argc > 2) {
        return lock_hold(arg, seconds_arg(argc, argv, 3));
    }
    if (command == "lock-check" && argc > 2) {
        return lock_check(arg);
    }
    return usage();
}
