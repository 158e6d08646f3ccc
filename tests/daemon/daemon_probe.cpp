// Runs inside a jail of the daemon tier's profiles (bound at /probe). Static, no project code:
// the jail holds only what the profile binds.
//
//   daemon_probe gen BYTES [--fd N] [--offset O] [--chunk C] [--then-sleep S]
//
// writes the bytes [O, O + BYTES) of the test stream (probe_stream.hpp) to fd N (default 1) in
// writes of C bytes (default 64 KiB), then sleeps S seconds (default 0) so that the session
// stays alive for a later attach, and exits 0. A failed write exits 3.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "probe_stream.hpp"

namespace {

int usage() {
    std::fprintf(stderr,
                 "usage: daemon_probe gen BYTES [--fd N] [--offset O] [--chunk C] "
                 "[--then-sleep S]\n");
    return 2;
}

bool write_all(int fd, const unsigned char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return false;
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3 || std::strcmp(argv[1], "gen") != 0) {
        return usage();
    }
    const unsigned long long total = std::strtoull(argv[2], nullptr, 10);
    int fd = 1;
    unsigned long long offset = 0;
    std::size_t chunk = 64 * 1024;
    unsigned sleep_seconds = 0;
    for (int i = 3; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const unsigned long long value = std::strtoull(argv[i + 1], nullptr, 10);
        if (flag == "--fd") {
            fd = static_cast<int>(value);
        } else if (flag == "--offset") {
            offset = value;
        } else if (flag == "--chunk" && value > 0) {
            chunk = static_cast<std::size_t>(value);
        } else if (flag == "--then-sleep") {
            sleep_seconds = static_cast<unsigned>(value);
        } else {
            return usage();
        }
    }
    std::vector<unsigned char> buffer(chunk);
    for (unsigned long long done = 0; done < total;) {
        const std::size_t n =
            static_cast<std::size_t>(std::min<unsigned long long>(chunk, total - done));
        ccjail::dtest::fill_stream(offset + done, buffer.data(), n);
        if (!write_all(fd, buffer.data(), n)) {
            std::fprintf(stderr, "daemon_probe: write failed at %llu: %s\n", offset + done,
                         std::strerror(errno));
            return 3;
        }
        done += n;
    }
    while (sleep_seconds > 0) {
        sleep_seconds = ::sleep(sleep_seconds);
    }
    return 0;
}
