#include "jail/executable_hash.hpp"

#define OPENSSL_SUPPRESS_DEPRECATED  // SHA256_*: see sha256_of_fd
#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/error.hpp"
#include "jail/state_file.hpp"

namespace ccjail {
namespace {

constexpr std::size_t kReadChunk = 1024 * 1024;
constexpr std::size_t kDigestHexLength = 64;

// Entries are keyed by inode, so replaced binaries leave stale ones behind; a bound keeps the
// file small. Which entries go does not matter: a missing one only costs a rehash.
constexpr std::size_t kMaxCacheEntries = 256;

// What must be unchanged for a cached digest to be believed. ctime is the one an unprivileged
// owner cannot set back after rewriting the file (utimensat can forge mtime, not ctime).
struct FileIdentity {
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::int64_t ctime_ns = 0;

    bool operator==(const FileIdentity&) const = default;
    std::string key() const { return std::to_string(dev) + ":" + std::to_string(ino); }
};

std::int64_t to_ns(const timespec& ts) {
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

FileIdentity identity_of(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw_errno(Step::executable, "executable: cannot stat");
    }
    if (!S_ISREG(st.st_mode)) {
        throw JailError(Step::executable, EACCES, "executable: not a regular file");
    }
    return FileIdentity{
        static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
        static_cast<std::int64_t>(st.st_size), to_ns(st.st_mtim), to_ns(st.st_ctim)};
}

bool is_lower_hex_digest(std::string_view text) {
    if (text.size() != kDigestHexLength) {
        return false;
    }
    for (const char c : text) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            return false;
        }
    }
    return true;
}

std::optional<std::int64_t> as_int64(const nlohmann::json& value) {
    if (value.is_number_unsigned()) {
        const auto v = value.get<std::uint64_t>();
        if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            return std::nullopt;
        }
        return static_cast<std::int64_t>(v);
    }
    if (value.is_number_integer()) {
        return value.get<std::int64_t>();
    }
    return std::nullopt;
}

std::optional<std::string> cached_digest(const nlohmann::json& cache, const FileIdentity& id) {
    const auto it = cache.find(id.key());
    if (it == cache.end() || !it->is_object()) {
        return std::nullopt;
    }
    const nlohmann::json& entry = *it;
    for (const char* field : {"size", "mtime_ns", "ctime_ns", "sha256"}) {
        if (!entry.contains(field)) {
            return std::nullopt;
        }
    }
    if (as_int64(entry["size"]) != id.size || as_int64(entry["mtime_ns"]) != id.mtime_ns ||
        as_int64(entry["ctime_ns"]) != id.ctime_ns || !entry["sha256"].is_string()) {
        return std::nullopt;
    }
    auto digest = entry["sha256"].get<std::string>();
    if (!is_lower_hex_digest(digest)) {
        return std::nullopt;
    }
    return digest;
}

std::optional<std::string> lookup_cache(const std::filesystem::path& cache_file,
                                        const FileIdentity& id) {
    const LockedStateFile state(cache_file, Step::executable);
    return cached_digest(state.read(UntrustedState::discard), id);
}

// Re-read under the lock: another daemon may have added entries since the lookup.
void store_in_cache(const std::filesystem::path& cache_file, const FileIdentity& id,
                    const std::string& digest) {
    const LockedStateFile state(cache_file, Step::executable);
    nlohmann::json cache = state.read(UntrustedState::discard);
    cache.erase(id.key());
    while (cache.size() >= kMaxCacheEntries) {
        cache.erase(cache.begin());
    }
    cache[id.key()] = {{"size", id.size},
                       {"mtime_ns", id.mtime_ns},
                       {"ctime_ns", id.ctime_ns},
                       {"sha256", digest}};
    state.write(cache);
}

std::string normalized_expected(const std::string& expected) {
    std::string digest = expected;
    for (char& c : digest) {
        if (c >= 'A' && c <= 'F') {
            c = static_cast<char>(c - 'A' + 'a');
        }
    }
    if (!is_lower_hex_digest(digest)) {
        throw JailError(Step::executable, EINVAL,
                        "executable: the expected sha256 is not 64 hexadecimal digits");
    }
    return digest;
}

std::string to_hex(const unsigned char* bytes, unsigned int length) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(length * 2);
    for (unsigned int i = 0; i < length; ++i) {
        hex.push_back(kDigits[bytes[i] >> 4]);
        hex.push_back(kDigits[bytes[i] & 0x0f]);
    }
    return hex;
}

[[noreturn]] void openssl_failed(const char* call) {
    throw JailError(Step::executable, 0, std::string("executable: OpenSSL ") + call + " failed");
}

// ctime advances only once per kernel tick (4–10 ms): a file rewritten within the tick in which
// it was hashed, its mtime set back, would match a cached entry. Like git's "racy" index
// entries, a file changed within the last 50 ms is hashed but not cached; any later change then
// moves its ctime past the cached one.
bool settled(const FileIdentity& id) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    const std::int64_t now_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
    return now_ns - id.ctime_ns >= 50'000'000;
}

}  // namespace

// OpenSSL's one-algorithm SHA256_* interface, not EVP: EVP's fetch machinery links in every
// provider and algorithm of libcrypto, and ccjail-exec is a static binary whose start-up cost
// grows with each relocation (docs/performance.md). The interface is deprecated in OpenSSL 3,
// not removed; it computes the same digest.
std::string sha256_of_fd(int fd) {
    SHA256_CTX ctx;
    if (SHA256_Init(&ctx) != 1) {
        openssl_failed("SHA256_Init");
    }
    std::vector<unsigned char> buffer(kReadChunk);
    off_t offset = 0;
    for (;;) {
        const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(Step::executable, "executable: cannot read for hashing");
        }
        if (n == 0) {
            break;
        }
        if (SHA256_Update(&ctx, buffer.data(), static_cast<size_t>(n)) != 1) {
            openssl_failed("SHA256_Update");
        }
        offset += n;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    if (SHA256_Final(digest, &ctx) != 1) {
        openssl_failed("SHA256_Final");
    }
    return to_hex(digest, SHA256_DIGEST_LENGTH);
}

void verify_sha256(int fd, const std::string& expected,
                   const std::optional<std::filesystem::path>& cache_file, std::string_view what) {
    const std::string want = normalized_expected(expected);
    const std::string label = what.empty() ? "executable" : "executable " + std::string(what);

    const FileIdentity before = identity_of(fd);
    std::optional<std::string> actual;
    if (cache_file) {
        actual = lookup_cache(*cache_file, before);
    }
    if (!actual) {
        actual = sha256_of_fd(fd);
        // A digest of a file that was written to while it was read describes no version of it:
        // neither trust it nor cache it.
        if (identity_of(fd) != before) {
            throw JailError(Step::executable, EAGAIN, label + ": changed while it was hashed");
        }
        if (cache_file && settled(before)) {
            store_in_cache(*cache_file, before, *actual);
        }
    }
    if (*actual != want) {
        throw JailError(Step::executable, 0,
                        label + ": sha256 mismatch: expected " + want + ", got " + *actual);
    }
}

}  // namespace ccjail
