// A hostile program for the FileSystem class of the attack battery: each subcommand makes one
// file system call and prints one line, `RESULT <errno name>` (or `RESULT OK`), so that a test
// tells EROFS from EXDEV from EPERM without parsing a tool's messages. Plain libc only: the
// probe runs inside jails that hold nothing of the project.
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

int result_of(int rc) {
    if (rc < 0) {
        const char* name = strerrorname_np(errno);
        std::printf("RESULT %s\n", name != nullptr ? name : "E?");
    } else {
        std::printf("RESULT OK\n");
    }
    std::fflush(stdout);
    return 0;
}

// Creates (or truncates) `path` and writes one byte.
int write_file(const char* path) {
    const int fd = ::open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    const ssize_t n = ::write(fd, "x", 1);
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return n == 1 ? 0 : -1;
}

// A character device node with the given numbers (1 1 is /dev/mem, 1 3 /dev/null).
int make_char_device(const char* path, const char* major, const char* minor) {
    return ::mknod(
        path, S_IFCHR | 0666,
        makedev(static_cast<unsigned>(std::atoi(major)), static_cast<unsigned>(std::atoi(minor))));
}

// A Unix socket bound at `path`, left behind when the probe exits.
int bind_socket(const char* path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path, sizeof address.sun_path - 1);
    return ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
}

int usage() {
    std::fprintf(stderr,
                 "usage: fs_probe write PATH | link FROM TO | mknod PATH MAJOR MINOR |"
                 " mkfifo PATH | socket PATH | chmod PATH OCTAL | chown PATH UID\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        return usage();
    }
    const std::string op = argv[1];
    errno = 0;
    if (op == "write") {
        return result_of(write_file(argv[2]));
    }
    if (op == "mkfifo") {
        return result_of(::mkfifo(argv[2], 0666));
    }
    if (op == "socket") {
        return result_of(bind_socket(argv[2]));
    }
    if (argc < 4) {
        return usage();
    }
    if (op == "link") {
        return result_of(::link(argv[2], argv[3]));
    }
    if (op == "chmod") {
        return result_of(::chmod(argv[2], static_cast<mode_t>(std::strtol(argv[3], nullptr, 8))));
    }
    if (op == "chown") {
        const auto id = static_cast<uid_t>(std::strtoul(argv[3], nullptr, 10));
        return result_of(::chown(argv[2], id, id));
    }
    if (op == "mknod" && argc >= 5) {
        return result_of(make_char_device(argv[2], argv[3], argv[4]));
    }
    return usage();
}
