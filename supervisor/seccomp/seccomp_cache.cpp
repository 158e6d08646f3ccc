#include <fcntl.h>
#include <linux/filter.h>
#include <openssl/evp.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "common/unique_fd.hpp"
#include "seccomp/seccomp_policy.hpp"

namespace ccjail {
namespace {

std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& name : names) {
        out += name;
        out += ',';
    }
    return out;
}

// The program depends on the policy, on libseccomp and on this very binary (its syscall
// tables and rules): all three are in the key, so an upgrade of either never meets a stale entry.
std::string cache_key_text(const SeccompPolicy& policy) {
    std::string text = "ccjail-seccomp-cache-1\n";
    const scmp_version* version = seccomp_version();
    text += "libseccomp " + std::to_string(version->major) + "." + std::to_string(version->minor) +
            "." + std::to_string(version->micro) + "\n";
    struct stat self {};
    if (::stat("/proc/self/exe", &self) == 0) {
        text += "exe " + std::to_string(self.st_dev) + ":" + std::to_string(self.st_ino) + ":" +
                std::to_string(self.st_size) + ":" + std::to_string(self.st_mtim.tv_sec) + "." +
                std::to_string(self.st_mtim.tv_nsec) + "\n";
    }
    text += "allow " + join(policy.allow) + "\ndeny " + join(policy.deny) + "\n";
    text += std::string("ptrace ") + (policy.allow_ptrace ? "1" : "0") + "\nnetlink " +
            (policy.allow_netlink ? "1" : "0") + "\n";
    return text;
}

std::string sha256_hex(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
        return {};
    }
    std::string hex;
    for (unsigned int i = 0; i < length; ++i) {
        char byte[3];
        std::snprintf(byte, sizeof byte, "%02x", digest[i]);
        hex += byte;
    }
    return hex;
}

// A cached program is believed only from a regular file of ours that nobody else can write:
// whoever can replace it decides what the jail may call.
std::optional<SeccompProgram> read_cached(const std::filesystem::path& file) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return std::nullopt;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0 || st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0 ||
        static_cast<std::size_t>(st.st_size) > BPF_MAXINSNS * sizeof(sock_filter)) {
        return std::nullopt;
    }
    SeccompProgram program;
    program.instructions.resize(static_cast<std::size_t>(st.st_size) / sizeof(sock_filter));
    const auto bytes = static_cast<std::size_t>(st.st_size);
    if (::pread(fd.get(), program.instructions.data(), bytes, 0) != static_cast<ssize_t>(bytes)) {
        return std::nullopt;
    }
    return program;
}

// Best effort: a cache that cannot be written only costs the next spawn a compilation.
void write_cached(const std::filesystem::path& file, const SeccompProgram& program) {
    std::error_code ignored;
    std::filesystem::create_directories(file.parent_path(), ignored);
    ::chmod(file.parent_path().c_str(), 0700);
    const std::string temporary = file.string() + ".tmp." + std::to_string(::getpid());
    UniqueFd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
        return;
    }
    const std::size_t bytes = program.instructions.size() * sizeof(sock_filter);
    const bool written =
        ::write(fd.get(), program.instructions.data(), bytes) == static_cast<ssize_t>(bytes);
    fd.reset();
    if (!written || ::rename(temporary.c_str(), file.c_str()) != 0) {
        ::unlink(temporary.c_str());
    }
}

}  // namespace

std::filesystem::path seccomp_cache_file(const SeccompPolicy& policy,
                                         const std::filesystem::path& cache_dir) {
    return cache_dir / ("seccomp-" + sha256_hex(cache_key_text(policy)) + ".bpf");
}

SeccompProgram compile_seccomp_cached(const SeccompPolicy& policy,
                                      const std::filesystem::path& cache_dir) {
    const auto file = seccomp_cache_file(policy, cache_dir);
    if (auto cached = read_cached(file)) {
        return std::move(*cached);
    }
    SeccompProgram program = compile_seccomp(policy);
    write_cached(file, program);
    return program;
}

}  // namespace ccjail
