// The resource attacks of the security battery that bash cannot make precisely: a static
// program bound at /probe/resource_probe in a jail, one subcommand per attack. Each prints one
// line "RESULT <fields>" when the attack ran to its end; an attack the kernel or the monitor
// stopped for good prints nothing, and the session's exit report tells how it ended.
//
// Plain libc on purpose: it runs inside jails that hold only /usr and /probe, and it must not
// share code with the thing it attacks.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

// "EAGAIN" for EAGAIN: the tests compare names, not numbers.
std::string errno_name(int e) {
    if (e == 0) {
        return "OK";
    }
    const char* name = ::strerrorname_np(e);
    return name != nullptr ? name : "E" + std::to_string(e);
}

void result(const std::string& fields) {
    std::printf("RESULT %s\n", fields.c_str());
    std::fflush(stdout);
}

void say(const char* line) {
    std::printf("%s\n", line);
    std::fflush(stdout);
}

long number(int argc, char** argv, int index, long fallback) {
    return argc > index ? std::strtol(argv[index], nullptr, 10) : fallback;
}

// Children that only wait, forked until the kernel refuses: the pids controller's count.
int forkbomb() {
    long forked = 0;
    int error = 0;
    for (int i = 0; i < 100000; ++i) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            error = errno;
            break;
        }
        if (pid == 0) {
            ::pause();
            ::_exit(0);
        }
        ++forked;
    }
    result("forked=" + std::to_string(forked) + " errno=" + errno_name(error));
    return 0;
}

void* park(void*) {
    ::pause();
    return nullptr;
}

int threadbomb() {
    long created = 0;
    int error = 0;
    pthread_attr_t attr;
    ::pthread_attr_init(&attr);
    ::pthread_attr_setstacksize(&attr, 64 * 1024);
    for (int i = 0; i < 100000; ++i) {
        pthread_t thread;
        error = ::pthread_create(&thread, &attr, park, nullptr);
        if (error != 0) {
            break;
        }
        ++created;
    }
    result("threads=" + std::to_string(created) + " errno=" + errno_name(error));
    std::_Exit(0);
}

// Every process forks without end and some of the parents leave, so the set of processes keeps
// changing under whoever tries to kill them: the hard case for a cleanup that walks a list.
[[noreturn]] void storm_member() {
    unsigned seed = static_cast<unsigned>(::getpid());
    for (;;) {
        const pid_t pid = ::fork();
        if (pid > 0 && (::rand_r(&seed) & 1) != 0) {
            ::_exit(0);
        }
    }
}

int storm(long seconds) {
    for (int i = 0; i < 4; ++i) {
        if (::fork() == 0) {
            storm_member();
        }
    }
    say("STORM");
    if (seconds <= 0) {
        for (;;) {
            ::pause();
        }
    }
    ::sleep(static_cast<unsigned>(seconds));
    result("storm_over");
    return 0;
}

// Anonymous memory, touched so that every page is charged.
int balloon(long mib) {
    for (long i = 0; i < mib; ++i) {
        void* block =
            ::mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (block == MAP_FAILED) {
            result("allocated_mib=" + std::to_string(i) + " errno=" + errno_name(errno));
            return 0;
        }
        std::memset(block, 0x5a, 1 << 20);
    }
    result("allocated_mib=" + std::to_string(mib) + " errno=OK");
    return 0;
}

// Shared memory no mount bounds: a memfd lives on the kernel's internal shmem mount, so only the
// memory cgroup stands in the way of many of them. Each stays at 16 MiB, below the profile's
// file_size, which RLIMIT_FSIZE applies to a memfd as to any file.
int memfd_balloon(long mib) {
    constexpr long kPerFd = 16;
    std::vector<char> block(1 << 20, 0x5a);
    int fd = -1;
    for (long i = 0; i < mib; ++i) {
        if (i % kPerFd == 0) {
            fd = ::memfd_create("balloon", MFD_CLOEXEC);
            if (fd < 0) {
                result("written_mib=" + std::to_string(i) + " errno=" + errno_name(errno));
                return 0;
            }
        }
        if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
            result("written_mib=" + std::to_string(i) + " errno=" + errno_name(errno));
            return 0;
        }
    }
    result("written_mib=" + std::to_string(mib) + " errno=OK");
    return 0;
}

// Empty files until the file system refuses: its inode limit, not its byte limit.
int inode_fill(const char* dir) {
    long created = 0;
    int error = 0;
    for (long i = 0; i < 10'000'000; ++i) {
        const std::string path = std::string(dir) + "/i" + std::to_string(i);
        const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
        if (fd < 0) {
            error = errno;
            break;
        }
        ::close(fd);
        ++created;
    }
    result("files=" + std::to_string(created) + " errno=" + errno_name(error));
    return 0;
}

int fd_exhaustion() {
    struct rlimit limit {};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    long opened = 0;
    int error = 0;
    int highest = -1;
    for (int i = 0; i < 10'000'000; ++i) {
        const int fd = ::open("/dev/null", O_RDONLY);
        if (fd < 0) {
            error = errno;
            break;
        }
        highest = fd;
        ++opened;
    }
    // Raising the hard limit needs CAP_SYS_RESOURCE.
    struct rlimit raised = limit;
    raised.rlim_max = limit.rlim_max + 1;
    raised.rlim_cur = raised.rlim_max;
    const int raise_error = ::setrlimit(RLIMIT_NOFILE, &raised) == 0 ? 0 : errno;
    result("opened=" + std::to_string(opened) + " errno=" + errno_name(error) +
           " highest=" + std::to_string(highest) + " soft=" + std::to_string(limit.rlim_cur) +
           " hard=" + std::to_string(limit.rlim_max) + " raise=" + errno_name(raise_error));
    return 0;
}

// Every byte value, in a pattern the test can recompute at any offset.
unsigned char flood_byte(unsigned long long offset) {
    return static_cast<unsigned char>((offset ^ (offset >> 8) ^ (offset >> 16)) & 0xff);
}

int flood_binary(long mib) {
    std::vector<unsigned char> block(1 << 16);
    const unsigned long long total = static_cast<unsigned long long>(mib) << 20;
    unsigned long long offset = 0;
    while (offset < total) {
        for (std::size_t i = 0; i < block.size(); ++i) {
            block[i] = flood_byte(offset + i);
        }
        std::size_t done = 0;
        while (done < block.size()) {
            const ssize_t n = ::write(1, block.data() + done, block.size() - done);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return 3;
            }
            done += static_cast<std::size_t>(n);
        }
        offset += block.size();
    }
    return 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: resource_probe forkbomb | threads | storm SECONDS | balloon MIB |"
                 " memfd MIB | inodes DIR | fds | flood-binary MIB\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        return usage();
    }
    const std::string command = argv[1];
    if (command == "forkbomb") {
        return forkbomb();
    }
    if (command == "threads") {
        return threadbomb();
    }
    if (command == "storm") {
        return storm(number(argc, argv, 2, 0));
    }
    if (command == "balloon") {
        return balloon(number(argc, argv, 2, 256));
    }
    if (command == "memfd") {
        return memfd_balloon(number(argc, argv, 2, 256));
    }
    if (command == "inodes" && argc > 2) {
        return inode_fill(argv[2]);
    }
    if (command == "fds") {
        return fd_exhaustion();
    }
    if (command == "flood-binary") {
        return flood_binary(number(argc, argv, 2, 32));
    }
    return usage();
}
