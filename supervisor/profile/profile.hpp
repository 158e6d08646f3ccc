#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flow/overflow_policy.hpp"

namespace ccjail {

// The validated, fully merged form of one profile (profiles/*.json, docs/profiles.md).
// Every field has its default here; the loader only overrides what a profile sets.

struct CommandPolicy {
    // When set, the jail always runs this program (a path inside the jail) and a request's argv
    // is appended to argv_prefix. When unset, a request's argv[0] names the program, looked up
    // in the jail's PATH.
    std::optional<std::string> executable;
    std::optional<std::string> sha256;     // lowercase hex, 64 digits; pins the executable
    std::vector<std::string> argv_prefix;  // argv[0..] placed before the request's args
    std::optional<std::vector<std::string>>
        allowed_flags;                          // when set, "-x"/"--x[=..]" must be listed
    std::size_t max_args = 256;                 // request args, prefix not counted
    std::size_t max_arg_bytes = 128 * 1024;     // one argument
    std::size_t max_total_bytes = 1024 * 1024;  // all request args together
    // Lets request args hold newlines and tabs (multi-line prompts, `bash -c` scripts, commit
    // messages); every other control character stays refused.
    bool allow_multiline = false;
};

struct SecretEnv {
    std::string name;  // environment variable
    std::string file;  // root-owned, not group/world readable; its content (trailing \n cut)
};

struct EnvironmentPolicy {
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    std::map<std::string, std::string> set;  // fixed values
    std::vector<std::string> pass;           // names a request may set
    std::vector<SecretEnv> secrets;
};

struct BindMount {
    std::string source;  // host path, absolute
    std::string target;  // jail path, absolute
    bool writable = false;
    bool optional = false;  // a missing source is skipped instead of failing the build
};

struct TmpfsMount {
    std::string target;
    std::uint64_t size_bytes = 64ull << 20;
    std::uint32_t mode = 01777;
};

struct SynthFile {
    std::string target;
    std::string content;
    std::uint32_t mode = 0644;
};

struct Symlink {
    std::string target;  // the link's path in the jail
    std::string to;      // what it points to
};

// A file put into the user's persistent home when it is not there yet (an app's first-run state,
// so no onboarding wizard runs). Never overwritten: the program owns it afterwards.
struct HomeSeedFile {
    std::string path;  // relative to the home; missing directories are created (0700)
    std::string content;
    std::uint32_t mode = 0600;
};

struct FilesystemPolicy {
    std::uint64_t root_size_bytes = 16ull << 20;  // the tmpfs the new root is built on
    std::vector<BindMount> binds;
    std::vector<TmpfsMount> tmpfs;
    std::vector<SynthFile> files;
    std::vector<Symlink> symlinks;
    std::string workspace = "/workspace";            // where the workspace is mounted
    std::optional<std::string> home = "/home/user";  // unset: no persistent home
    std::vector<HomeSeedFile> home_seed;
    std::uint64_t dev_shm_size_bytes = 64ull << 20;
    bool synthesize_etc = true;  // /etc/passwd, /etc/group, /etc/hosts
};

struct IdentityPolicy {
    // Either a fixed uid/gid, or one stable uid per user label from [range_first, +range_count).
    enum class Mode { fixed, per_user };
    Mode mode = Mode::fixed;
    uid_t uid = 65534;
    gid_t gid = 65534;
    uid_t range_first = 0;
    std::uint32_t range_count = 0;
    std::string user_name = "user";  // the name in the synthesized /etc/passwd
};

struct Limits {
    std::uint64_t memory_bytes = 1ull << 30;
    std::uint64_t swap_bytes = 0;
    double cpus = 1.0;  // cores; cpu.max / cfs quota
    std::uint32_t pids = 256;
    std::uint64_t nofile = 1024;
    std::uint64_t file_size_bytes = 1ull << 30;
    std::uint64_t wall_time_ms = 3600'000;
    std::uint64_t cpu_time_ms = 3600'000;  // the whole session's CPU time (user+system)
    std::uint64_t tmp_size_bytes = 256ull << 20;
    std::uint64_t output_rate_bytes = 1ull << 20;  // bytes/s, enforced by the daemon
    std::uint64_t output_burst_bytes = 4ull << 20;
    std::uint64_t output_total_bytes = 1ull << 30;
};

struct SeccompPolicy {
    std::vector<std::string> allow;  // syscall names removed from the default deny list
    std::vector<std::string> deny;   // syscall names added to the deny list
    bool allow_ptrace = false;       // ptrace of the jail's own processes
    bool allow_netlink = false;      // socket(AF_NETLINK, ...)
};

// How the daemon buffers a session's output and paces its input (docs/profiles.md, `output`).
struct OutputPolicy {
    std::uint64_t ring_bytes = 1ull << 20;  // output held per stream for replay on attach
    // A terminal redraws, so losing old screen output beats stalling the program; piped output
    // is data, and a lost byte corrupts it.
    flow::OverflowPolicy pty_overflow = flow::OverflowPolicy::drop_oldest;
    flow::OverflowPolicy pipe_overflow = flow::OverflowPolicy::block;
    std::uint64_t frames_per_sec = 1000;  // output frames per second; 0 = unlimited
    std::uint64_t frame_burst = 1000;
    std::uint64_t input_rate_bytes = 1ull << 20;  // bytes/s written to the jail
    std::uint64_t input_burst_bytes = 256ull << 10;
    std::uint64_t max_input_frame_bytes = 64ull << 10;  // one IN frame from a client
};

enum class NetworkMode { none, host, proxy, gateway };
// The names profiles use ("none", "host", "proxy", "gateway").
constexpr std::string_view to_string(NetworkMode mode) {
    switch (mode) {
        case NetworkMode::none:
            return "none";
        case NetworkMode::host:
            return "host";
        case NetworkMode::proxy:
            return "proxy";
        case NetworkMode::gateway:
            return "gateway";
    }
    return "none";
}

// One entry of network.allow: a host name, or every name below a domain ("*.example.com"
// matches "a.example.com" and "a.b.example.com", not "example.com"), and a port range.
struct AllowRule {
    std::string host;         // canonical (lowercase, no trailing dot); for a wildcard, the suffix
    bool subdomains = false;  // written "*.<host>"
    std::uint16_t port_first = 443;
    std::uint16_t port_last = 443;
};

// How a session reaches the network (docs/profiles.md, `network`; docs/egress.md).
struct NetworkPolicy {
    NetworkMode mode = NetworkMode::none;
    // proxy and gateway: the destinations the daemon's CONNECT proxy lets through.
    std::vector<AllowRule> allow;
    // Addresses in refused ranges (loopback, private, link-local, CGNAT, metadata, ...) that
    // may be reached anyway; each one exact, in canonical text form.
    std::vector<std::string> allow_addresses;
    bool allow_ip_literals = false;  // CONNECT 192.0.2.1:443 instead of a name
    bool allow_plain_http = false;   // "GET http://host/..." through the proxy
    // Where the jail's init listens on 127.0.0.1 inside the jail's network namespace.
    std::uint16_t proxy_port = 3128;
    std::uint16_t gateway_port = 3129;
    std::uint32_t max_connections = 32;  // open proxy and gateway connections per session
    std::uint64_t connect_timeout_ms = 10'000;
    std::uint64_t idle_timeout_ms = 300'000;  // a relayed connection with no bytes either way
};

struct Profile {
    std::string name;              // file stem
    std::filesystem::path source;  // the file it was loaded from
    std::string description;
    CommandPolicy command;
    EnvironmentPolicy environment;
    FilesystemPolicy filesystem;
    IdentityPolicy identity;
    Limits limits;
    SeccompPolicy seccomp;
    OutputPolicy output;
    NetworkPolicy network;
    std::string hostname = "ccjail";
};

}  // namespace ccjail
