// jail_probe: runs INSIDE a jail and reports what it sees or what happened when it tried
// something, as one JSON object on stdout. Linked statically with no project code, because the
// jail has only what its profile binds; the integration tests bind it at /probe/jail_probe.
//
//   jail_probe identity            uid/gid/groups and the capability, no_new_privs and seccomp
//                                  lines of /proc/self/status
//   jail_probe procs               the pids visible in /proc
//   jail_probe paths P...          lstat of each path: exists, errno, type, uid, gid, mode
//   jail_probe write PATH [TEXT]   errno of creating/opening PATH for writing and writing TEXT
//   jail_probe read PATH           errno and content (first 64 KiB) of PATH
//   jail_probe ls DIR              the names in DIR
//   jail_probe fill DIR            writes files in DIR until an error: bytes written and errno
//   jail_probe env                 the whole environment, in order
//   jail_probe fds                 the open fds (from /proc/self/fd) and what they point to
//   jail_probe hostname            uname's nodename
//   jail_probe netifs              the interfaces of the network namespace and their flags
//   jail_probe mounts              mount points and per-mount options from /proc/self/mountinfo
//   jail_probe balloon MB          allocates and touches MB MiB, then reports
//   jail_probe forkbomb            forks sleeping children until fork fails; the first errno
//   jail_probe spin SECONDS [N]    N processes burn CPU for SECONDS of wall time
//   jail_probe sleep SECONDS       prints {"sleeping":...} first (a readiness marker), sleeps
//   jail_probe sleep-ignoring-term SECONDS   the same with SIGTERM ignored
//   jail_probe daemonize FILE      double-forks a session leader that appends to FILE every
//                                  100 ms for a minute; returns once the first byte is written
//   jail_probe exit N              exits with N
//   jail_probe raise SIG           kills itself with SIG
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using json = nlohmann::json;
using Args = std::vector<std::string>;

void print(const json& value) {
    const std::string text = value.dump() + "\n";
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

std::string read_text(const std::string& path, int& err) {
    err = 0;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        err = errno;
        return {};
    }
    std::string text;
    char buffer[4096];
    while (text.size() < 65536) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) {
            err = errno;
            break;
        }
        if (n == 0) {
            break;
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

std::vector<std::string> names_in(const std::string& dir, int& err) {
    err = 0;
    std::vector<std::string> names;
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
        err = errno;
        return names;
    }
    while (const dirent* entry = ::readdir(d)) {
        const std::string name = entry->d_name;
        if (name != "." && name != "..") {
            names.push_back(name);
        }
    }
    ::closedir(d);
    return names;
}

void sleep_ms(long ms) {
    timespec ts{ms / 1000, (ms % 1000) * 1000000};
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int identity(const Args&) {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    ::getresuid(&ruid, &euid, &suid);
    ::getresgid(&rgid, &egid, &sgid);
    std::vector<gid_t> groups(static_cast<std::size_t>(::getgroups(0, nullptr)));
    groups.resize(static_cast<std::size_t>(
        std::max(0, ::getgroups(static_cast<int>(groups.size()), groups.data()))));
    json out = {{"uid", {ruid, euid, suid}}, {"gid", {rgid, egid, sgid}}, {"groups", groups}};
    int err = 0;
    std::istringstream status(read_text("/proc/self/status", err));
    std::string line;
    while (std::getline(status, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        const std::string key = line.substr(0, colon);
        if (key.rfind("Cap", 0) == 0 || key == "NoNewPrivs" || key == "Seccomp") {
            const auto start = line.find_first_not_of(" \t", colon + 1);
            out[key] = start == std::string::npos ? "" : line.substr(start);
        }
    }
    print(out);
    return 0;
}

int procs(const Args&) {
    int err = 0;
    std::vector<long> pids;
    for (const auto& name : names_in("/proc", err)) {
        if (name.find_first_not_of("0123456789") == std::string::npos) {
            pids.push_back(std::stol(name));
        }
    }
    print({{"pids", pids}, {"self", ::getpid()}, {"errno", err}});
    return 0;
}

int paths(const Args& args) {
    json out = json::object();
    for (const auto& path : args) {
        struct stat st {};
        if (::lstat(path.c_str(), &st) != 0) {
            out[path] = {{"exists", false}, {"errno", errno}};
            continue;
        }
        const char* type = S_ISDIR(st.st_mode)    ? "dir"
                           : S_ISREG(st.st_mode)  ? "file"
                           : S_ISLNK(st.st_mode)  ? "symlink"
                           : S_ISCHR(st.st_mode)  ? "char"
                           : S_ISBLK(st.st_mode)  ? "block"
                           : S_ISFIFO(st.st_mode) ? "fifo"
                                                  : "other";
        out[path] = {{"exists", true},   {"errno", 0},       {"type", type},
                     {"uid", st.st_uid}, {"gid", st.st_gid}, {"mode", st.st_mode & 07777}};
    }
    print(out);
    return 0;
}

int write_file(const Args& args) {
    if (args.empty()) {
        return 2;
    }
    const std::string text = args.size() > 1 ? args[1] : "probe\n";
    int err = 0;
    const int fd = ::open(args[0].c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        err = errno;
    } else {
        if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
            err = errno;
        }
        if (::close(fd) != 0 && err == 0) {
            err = errno;
        }
    }
    print({{"path", args[0]}, {"errno", err}});
    return 0;
}

int read_file(const Args& args) {
    if (args.empty()) {
        return 2;
    }
    int err = 0;
    const std::string text = read_text(args[0], err);
    // Binary content (environ has NULs) is reported byte for byte, NULs as newlines.
    std::string printable = text;
    for (char& c : printable) {
        if (c == '\0') {
            c = '\n';
        } else if (static_cast<unsigned char>(c) >= 0x80) {
            c = '?';
        }
    }
    print({{"path", args[0]}, {"errno", err}, {"content", printable}});
    return 0;
}

int list_dir(const Args& args) {
    if (args.empty()) {
        return 2;
    }
    int err = 0;
    const auto names = names_in(args[0], err);
    print({{"names", names}, {"errno", err}});
    return 0;
}

int fill(const Args& args) {
    if (args.empty()) {
        return 2;
    }
    std::vector<char> chunk(64 * 1024, 'f');
    std::uint64_t bytes = 0;
    int err = 0;
    // Several files, so a per-file size limit (RLIMIT_FSIZE) is not what stops us.
    for (int file = 0; err == 0 && file < 100000; ++file) {
        const std::string path = args[0] + "/fill." + std::to_string(file);
        const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            err = errno;
            break;
        }
        for (int i = 0; i < 256; ++i) {
            const ssize_t n = ::write(fd, chunk.data(), chunk.size());
            if (n < 0) {
                err = errno;
                break;
            }
            bytes += static_cast<std::uint64_t>(n);
            if (n < static_cast<ssize_t>(chunk.size())) {
                continue;  // a short write: the next one reports the errno
            }
        }
        ::close(fd);
    }
    print({{"bytes", bytes}, {"errno", err}});
    return 0;
}

int env(const Args&) {
    std::vector<std::string> entries;
    for (char** e = environ; e && *e; ++e) {
        entries.emplace_back(*e);
    }
    print({{"env", entries}});
    return 0;
}

int fds(const Args&) {
    DIR* d = ::opendir("/proc/self/fd");
    if (!d) {
        print({{"errno", errno}});
        return 1;
    }
    const int own = ::dirfd(d);
    json out = json::object();
    std::vector<int> list;
    while (const dirent* entry = ::readdir(d)) {
        const std::string name = entry->d_name;
        if (name == "." || name == ".." || std::stoi(name) == own) {
            continue;
        }
        char target[4096] = {};
        const ssize_t n = ::readlinkat(own, name.c_str(), target, sizeof target - 1);
        list.push_back(std::stoi(name));
        out[name] = n > 0 ? std::string(target, static_cast<std::size_t>(n)) : "";
    }
    ::closedir(d);
    std::sort(list.begin(), list.end());
    print({{"fds", list}, {"targets", out}});
    return 0;
}

int hostname(const Args&) {
    utsname u{};
    ::uname(&u);
    print({{"hostname", u.nodename}});
    return 0;
}

// From /proc/net/dev rather than if_nameindex(): that one needs a netlink socket, which the
// seccomp policy denies.
int netifs(const Args&) {
    int err = 0;
    std::istringstream dev(read_text("/proc/net/dev", err));
    const int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    json interfaces = json::array();
    std::string line;
    while (std::getline(dev, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos) {
            continue;
        }
        const auto start = line.find_first_not_of(' ');
        const std::string name = line.substr(start, colon - start);
        ifreq request{};
        std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
        const bool flags_ok = sock >= 0 && ::ioctl(sock, SIOCGIFFLAGS, &request) == 0;
        interfaces.push_back(
            {{"name", name}, {"up", flags_ok && (request.ifr_flags & IFF_UP) != 0}});
    }
    if (sock >= 0) {
        ::close(sock);
    }
    print({{"interfaces", interfaces}, {"errno", err}});
    return 0;
}

// mountinfo fields: id parent major:minor root mount-point per-mount-options ...
int mounts(const Args&) {
    int err = 0;
    std::istringstream info(read_text("/proc/self/mountinfo", err));
    json out = json::array();
    std::string line;
    while (std::getline(info, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno, root, point, options;
        fields >> id >> parent >> devno >> root >> point >> options;
        const auto dash = line.find(" - ");
        std::string fstype;
        if (dash != std::string::npos) {
            std::istringstream(line.substr(dash + 3)) >> fstype;
        }
        out.push_back({{"target", point}, {"options", options}, {"fstype", fstype}});
    }
    print({{"mounts", out}, {"errno", err}});
    return 0;
}

int balloon(const Args& args) {
    const long mb = args.empty() ? 512 : std::stol(args[0]);
    std::vector<char*> blocks;
    for (long i = 0; i < mb; ++i) {
        auto* block = static_cast<char*>(std::malloc(1 << 20));
        if (!block) {
            print({{"allocated_mb", i}, {"errno", ENOMEM}});
            return 1;
        }
        std::memset(block, static_cast<int>(i), 1 << 20);
        blocks.push_back(block);
    }
    print({{"allocated_mb", mb}, {"errno", 0}});
    return 0;
}

int forkbomb(const Args&) {
    long forked = 0;
    int err = 0;
    for (;;) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            ::pause();
            ::_exit(0);
        }
        ++forked;
        if (forked > 100000) {
            break;
        }
    }
    print({{"forked", forked}, {"errno", err}});
    return 0;
}

void burn_until(std::chrono::steady_clock::time_point end) {
    volatile unsigned long counter = 0;
    while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 100000; ++i) {
            counter = counter + 1;
        }
    }
}

int spin(const Args& args) {
    const double seconds = args.empty() ? 1.0 : std::stod(args[0]);
    const int workers = args.size() > 1 ? std::stoi(args[1]) : 1;
    const auto end = std::chrono::steady_clock::now() +
                     std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    for (int i = 1; i < workers; ++i) {
        if (::fork() == 0) {
            burn_until(end);
            ::_exit(0);
        }
    }
    burn_until(end);
    while (::wait(nullptr) > 0) {
    }
    print({{"spun_seconds", seconds}, {"workers", workers}});
    return 0;
}

int sleep_for(const Args& args) {
    const double seconds = args.empty() ? 60 : std::stod(args[0]);
    print({{"sleeping", seconds}});
    sleep_ms(static_cast<long>(seconds * 1000));
    print({{"slept", seconds}});
    return 0;
}

int sleep_ignoring_term(const Args& args) {
    ::signal(SIGTERM, SIG_IGN);
    return sleep_for(args);
}

int daemonize(const Args& args) {
    if (args.empty()) {
        return 2;
    }
    int ready[2];
    if (::pipe(ready) != 0) {
        return 1;
    }
    const pid_t child = ::fork();
    if (child == 0) {
        ::setsid();
        if (::fork() != 0) {
            ::_exit(0);
        }
        ::close(ready[0]);
        for (int i = 0; i < 600; ++i) {
            const int fd = ::open(args[0].c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            bool wrote = false;
            if (fd >= 0) {
                wrote = ::write(fd, "x", 1) == 1;
                ::close(fd);
            }
            if (i == 0) {
                if (wrote && ::write(ready[1], "r", 1) != 1) {
                    ::_exit(1);
                }
                ::close(ready[1]);
            }
            sleep_ms(100);
        }
        ::_exit(0);
    }
    ::close(ready[1]);
    ::waitpid(child, nullptr, 0);
    char byte = 0;
    const bool started = ::read(ready[0], &byte, 1) == 1;
    print({{"daemon_started", started}});
    return 0;
}

int exit_with(const Args& args) {
    return args.empty() ? 0 : std::stoi(args[0]);
}

int raise_signal(const Args& args) {
    const int sig = args.empty() ? SIGSEGV : std::stoi(args[0]);
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return 99;
}

const std::map<std::string, std::function<int(const Args&)>>& commands() {
    static const std::map<std::string, std::function<int(const Args&)>> table{
        {"identity", identity},
        {"procs", procs},
        {"paths", paths},
        {"write", write_file},
        {"read", read_file},
        {"ls", list_dir},
        {"fill", fill},
        {"env", env},
        {"fds", fds},
        {"hostname", hostname},
        {"netifs", netifs},
        {"mounts", mounts},
        {"balloon", balloon},
        {"forkbomb", forkbomb},
        {"spin", spin},
        {"sleep", sleep_for},
        {"sleep-ignoring-term", sleep_ignoring_term},
        {"daemonize", daemonize},
        {"exit", exit_with},
        {"raise", raise_signal},
    };
    return table;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2 || !commands().contains(argv[1])) {
        std::fprintf(stderr, "usage: jail_probe COMMAND [ARGS...] (see the source)\n");
        return 2;
    }
    const Args args(argv + 2, argv + argc);
    try {
        return commands().at(argv[1])(args);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "jail_probe %s: %s\n", argv[1], error.what());
        return 2;
    }
}
