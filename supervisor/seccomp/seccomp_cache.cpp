#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
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

// The file name only spreads entries out; the full key text is stored in the file and compared
// on every read, so a name collision can only ever cost a recompilation. (No cryptographic hash
// here: OpenSSL's lazy initialisation alone cost more CPU than reading the entry.)
std::string file_name_for(const std::string& key) {
    char name[32];
    static_cast<void>(  // 16 hex digits always fit
        std::snprintf(name, sizeof name, "seccomp-%016zx.bpf", std::hash<std::string>{}(key)));
    return name;
}

// A cached program is believed only from a regular file of ours that nobody else can write:
// whoever can replace it decides what the jail may call.
// Layout: the key text, a NUL, then the BPF instructions.
std::optional<SeccompProgram> read_cached(const std::filesystem::path& file,
                                          const std::string& key) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
        return std::nullopt;
    }
    struct stat st {};
    const std::size_t header = key.size() + 1;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0 || static_cast<std::size_t>(st.st_size) <= header ||
        (static_cast<std::size_t>(st.st_size) - header) % sizeof(sock_filter) != 0 ||
        static_cast<std::size_t>(st.st_size) - header > BPF_MAXINSNS * sizeof(sock_filter)) {
        return std::nullopt;
    }
    std::string content(static_cast<std::size_t>(st.st_size), '\0');
    if (::pread(fd.get(), content.data(), content.size(), 0) !=
        static_cast<ssize_t>(content.size())) {
        return std::nullopt;
    }
    if (content.compare(0, key.size(), key) != 0 || content[key.size()] != '\0') {
        return std::nullopt;
    }
    SeccompProgram program;
    program.instructions.resize((content.size() - header) / sizeof(sock_filter));
    std::memcpy(program.instructions.data(), content.data() + header, content.size() - header);
    return program;
}

// Best effort: a cache that cannot be written only costs the next spawn a compilation.
void write_cached(const std::filesystem::path& file, const std::string& key,
                  const SeccompProgram& program) {
    std::error_code ignored;
    std::filesystem::create_directories(file.parent_path(), ignored);
    ::chmod(file.parent_path().c_str(), 0700);
    const std::string temporary = file.string() + ".tmp." + std::to_string(::getpid());
    UniqueFd fd(
        ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
        return;
    }
    std::string content = key;
    content.push_back('\0');
    content.append(reinterpret_cast<const char*>(program.instructions.data()),
                   program.instructions.size() * sizeof(sock_filter));
    const bool written =
        ::write(fd.get(), content.data(), content.size()) == static_cast<ssize_t>(content.size());
    fd.reset();
    if (!written || ::rename(temporary.c_str(), file.c_str()) != 0) {
        ::unlink(temporary.c_str());
    }
}

}  // namespace

std::filesystem::path seccomp_cache_file(const SeccompPolicy& policy,
                                         const std::filesystem::path& cache_dir) {
    return cache_dir / file_name_for(cache_key_text(policy));
}

SeccompProgram compile_seccomp_cached(const SeccompPolicy& policy,
                                      const std::filesystem::path& cache_dir) {
    const std::string key = cache_key_text(policy);
    const auto file = cache_dir / file_name_for(key);
    if (auto cached = read_cached(file, key)) {
        return std::move(*cached);
    }
    SeccompProgram program = compile_seccomp(policy);
    write_cached(file, key, program);
    return program;
}

}  // namespace ccjail
