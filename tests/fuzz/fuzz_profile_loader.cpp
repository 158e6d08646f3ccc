// The profile loader (docs/profiles.md) on any file text: strict JSON with duplicate keys
// refused, the per-file pass, `extends` of a fixed chain (mid -> base) so that the merge rules
// and the merged pass run, and the loader's error messages. A profile that loads satisfies the
// documented ranges and cross-key rules when re-checked here; a refusal names the file and,
// for a value, its JSON pointer.
//
// The input is written as p.json next to base.json and mid.json in a private directory. When it
// is a JSON object without "extends", it is loaded a second time as q.json extending mid, so
// every input also exercises the merge.
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "egress/host_name.hpp"
#include "profile/network_policy_json.hpp"
#include "profile/profile.hpp"
#include "profile/profile_loader.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

[[noreturn]] void violated(const char* what, std::string_view detail = {}) {
    std::cerr << "fuzz_profile_loader: invariant violated: " << what << " [" << detail << "]\n";
    std::abort();
}

void check(bool ok, const char* what, std::string_view detail = {}) {
    if (!ok) {
        violated(what, detail);
    }
}

constexpr std::string_view kBase = R"({
  "description": "fuzz base",
  "environment": {"set": {"LANG": "C.UTF-8", "TERM": "xterm"}, "pass": ["TERM"]},
  "filesystem": {
    "binds": [{"source": "/usr"}, {"source": "/etc/ssl", "optional": true}],
    "tmpfs": [{"target": "/run", "size": "1M", "mode": "0755"}],
    "files": [{"target": "/etc/motd", "content": "hi\n"}],
    "symlinks": [{"target": "/bin", "to": "usr/bin"}],
    "home": null
  },
  "identity": {"uid": 60000, "gid": 60000},
  "limits": {"memory": "1G", "pids": 256, "wall_time": "1h"},
  "seccomp": {"deny": ["ptrace"]},
  "network": "none"
})";

constexpr std::string_view kMid = R"({
  "extends": "base",
  "command": {"executable": "/usr/bin/claude", "argv_prefix": ["claude"],
              "allowed_flags": ["-p", "--model"]},
  "environment": {"pass": ["LANG"], "secrets": {"API_KEY": "/etc/ccjail/key"}},
  "filesystem": {"home": "/home/user", "home_seed": [{"path": ".config/x.json", "content": "{}"}]},
  "limits": {"memory": "2G", "cpus": 2},
  "output": {"ring_bytes": "2M"},
  "network": {"mode": "proxy", "allow": ["registry.npmjs.org:443", "*.github.com:443"]}
})";

struct Workspace {
    fs::path dir;
    fs::path leaf;
    fs::path second;

    Workspace() {
        const char* parent = fs::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
        std::string tmpl = std::string(parent) + "/ccjail-fuzz-profile-XXXXXX";
        if (::mkdtemp(tmpl.data()) == nullptr) {
            violated("mkdtemp failed");
        }
        dir = tmpl;
        leaf = dir / "p.json";
        second = dir / "q.json";
        write(dir / "base.json", kBase);
        write(dir / "mid.json", kMid);
    }
    ~Workspace() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }

    static void write(const fs::path& file, std::string_view text) {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        if (!out) {
            violated("cannot write a profile file", file.string());
        }
    }
};

Workspace& workspace() {
    static Workspace instance;
    return instance;
}

// docs/profiles.md, "path".
bool normalized_path(std::string_view path) {
    if (path.size() < 2 || path.front() != '/' || path.size() > 4095) {
        return false;
    }
    std::size_t start = 1;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        start = end + 1;
    }
    for (const char c : path) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

bool inside(std::string_view path, std::string_view dir) {
    return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

bool env_name(std::string_view name) {
    if (name.empty() || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    for (const char c : name) {
        const bool ok =
            (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t kDayMs = 24ull * 3600 * 1000;

void check_limits(const ccjail::Limits& l) {
    check(l.memory_bytes >= 4 * MiB, "memory below 4M");
    check(std::isfinite(l.cpus) && l.cpus >= 0.01 && l.cpus <= 1024, "cpus out of range");
    check(l.pids >= 2 && l.pids <= 4194304, "pids out of range");
    check(l.nofile >= 16 && l.nofile <= 1048576, "nofile out of range");
    check(l.file_size_bytes >= MiB, "file_size below 1M");
    check(l.wall_time_ms >= 1000 && l.wall_time_ms <= 365 * kDayMs, "wall_time out of range");
    check(l.cpu_time_ms >= 1000 && l.cpu_time_ms <= 365 * kDayMs, "cpu_time out of range");
    check(l.tmp_size_bytes >= 4 * KiB, "tmp_size below 4K");
    check(l.output_rate_bytes >= KiB, "output_rate below 1K");
    check(l.output_burst_bytes >= 4 * KiB, "output_burst below 4K");
    check(l.output_total_bytes >= KiB, "output_total below 1K");
}

void check_filesystem(const ccjail::FilesystemPolicy& f) {
    check(normalized_path(f.workspace), "workspace path", f.workspace);
    check(f.workspace != "/tmp" && !inside(f.workspace, "/proc") && !inside(f.workspace, "/dev"),
          "workspace in a refused place", f.workspace);
    if (f.home) {
        check(normalized_path(*f.home), "home path", *f.home);
        check(*f.home != f.workspace && !inside(*f.home, f.workspace) &&
                  !inside(f.workspace, *f.home),
              "home and workspace nested", *f.home);
    }
    std::vector<std::string_view> targets;
    for (const auto& b : f.binds) {
        check(normalized_path(b.source) && normalized_path(b.target), "bind paths", b.target);
        targets.push_back(b.target);
    }
    for (const auto& t : f.tmpfs) {
        check(normalized_path(t.target), "tmpfs target", t.target);
        check(t.mode <= 07777, "tmpfs mode");
        targets.push_back(t.target);
    }
    for (const auto& file : f.files) {
        check(normalized_path(file.target), "file target", file.target);
        check(file.mode <= 07777, "file mode");
        targets.push_back(file.target);
    }
    for (const auto& s : f.symlinks) {
        check(normalized_path(s.target), "symlink target", s.target);
        targets.push_back(s.target);
    }
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const std::string_view t = targets[i];
        check(
            t != "/proc" && t != "/dev" && t != "/tmp" && !inside(t, "/proc") && !inside(t, "/dev"),
            "a target the jail builds itself", t);
        check(t != f.workspace && !inside(t, f.workspace), "a target in the workspace", t);
        check(!f.home || (t != *f.home && !inside(t, *f.home)), "a target in the home", t);
        for (std::size_t j = i + 1; j < targets.size(); ++j) {
            check(targets[j] != t, "two entries share a target", t);
        }
    }
}

void check_network(const ccjail::NetworkPolicy& n, const ccjail::Profile& p) {
    for (const auto& rule : n.allow) {
        check(rule.port_first >= 1 && rule.port_first <= rule.port_last, "allow rule ports");
        const auto kind = rule.host.find(':') != std::string::npos ? ccjail::egress::HostKind::ipv6
                                                                   : ccjail::egress::HostKind::name;
        const std::string raw =
            kind == ccjail::egress::HostKind::ipv6 ? "[" + rule.host + "]" : rule.host;
        const auto canonical = ccjail::egress::canonicalize_host(raw);
        check(canonical.ok && canonical.host == rule.host, "allow rule host is not canonical",
              rule.host);
    }
    if (n.mode == ccjail::NetworkMode::gateway) {
        check(n.gateway_port != n.proxy_port, "gateway_port equals proxy_port");
    }
    if (n.mode == ccjail::NetworkMode::proxy || n.mode == ccjail::NetworkMode::gateway) {
        for (const auto& name : p.environment.pass) {
            for (const char* proxy_variable :
                 {"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                  "ANTHROPIC_BASE_URL"}) {
                check(name != proxy_variable, "a proxy variable in environment.pass", name);
            }
        }
    }
    check(n.max_connections >= 1 && n.max_connections <= 4096, "max_connections");
    check(n.connect_timeout_ms >= 100, "connect_timeout below 100ms");
    check(n.idle_timeout_ms >= 1000, "idle_timeout below 1s");
    // The session state file's form: what to_json writes, network_policy_from_json reads back.
    const json written = ccjail::to_json(n);
    check(ccjail::to_json(ccjail::network_policy_from_json(written)) == written,
          "the network policy does not round-trip through the state file form");
}

void check_loaded(const ccjail::Profile& p) {
    check_limits(p.limits);
    check_filesystem(p.filesystem);
    check_network(p.network, p);
    check(p.identity.uid != static_cast<uid_t>(-1) && p.identity.gid != static_cast<gid_t>(-1),
          "identity -1");
    if (p.command.sha256) {
        check(p.command.executable.has_value(), "sha256 without executable");
        check(p.command.sha256->size() == 64, "sha256 length");
    }
    for (const auto& name : p.environment.pass) {
        check(env_name(name), "environment.pass name", name);
    }
    for (const auto& [name, value] : p.environment.set) {
        check(env_name(name), "environment.set name", name);
        check(value.find('\0') == std::string::npos, "environment.set value with NUL", name);
    }
    // USER and LOGNAME are defaults the loader adds only where nothing else gives them; every
    // other fixed value would be shadowed by the secret, or shadow the daemon's own variable.
    for (const auto& secret : p.environment.secrets) {
        check(secret.name == "USER" || secret.name == "LOGNAME" ||
                  !p.environment.set.contains(secret.name),
              "a secret also in environment.set", secret.name);
    }
    const auto home = p.environment.set.find("HOME");
    check(home != p.environment.set.end() &&
              home->second == p.filesystem.home.value_or(p.filesystem.workspace),
          "HOME disagrees with the home mount");
    check(p.output.max_input_frame_bytes <= p.output.input_burst_bytes,
          "max_input_frame_bytes above input_burst_bytes");
    check(!p.hostname.empty() && p.hostname.size() <= 63 && p.hostname.front() != '-' &&
              p.hostname.back() != '-' && p.hostname.find('.') == std::string::npos,
          "hostname", p.hostname);
}

// "<file>: <problem>" or "<file>: <json pointer>: <problem>", the file one of the chain's.
void check_error(const ccjail::ProfileError& error, const fs::path& leaf) {
    const std::string_view message = error.what();
    const Workspace& w = workspace();
    std::string_view rest;
    for (const fs::path& file : {leaf, w.dir / "mid.json", w.dir / "base.json"}) {
        const std::string prefix = file.string() + ": ";
        if (message.starts_with(prefix)) {
            rest = message.substr(prefix.size());
            break;
        }
        // A base the input names that is missing or unreadable is named by its path.
        if (message.starts_with(w.dir.string() + "/")) {
            rest = message.substr(message.find(": ") + 2);
        }
    }
    check(!rest.empty(), "a profile error that does not start with its file", message);
    if (rest.front() == '/') {
        const std::string pointer(rest.substr(0, rest.find(": ")));
        try {
            (void)json::json_pointer(pointer);
        } catch (const json::exception&) {
            violated("an error's pointer is not a JSON pointer", message);
        }
    }
}

void load(const fs::path& file) {
    try {
        const ccjail::Profile profile = ccjail::load_profile(file.string(), workspace().dir);
        check(profile.name == file.stem().string(), "the profile's name is not its file stem");
        check_loaded(profile);
    } catch (const ccjail::ProfileError& error) {
        check_error(error, file);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    Workspace& w = workspace();
    Workspace::write(w.leaf, text);
    load(w.leaf);

    json document = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (document.is_object() && !document.contains("extends")) {
        document["extends"] = "mid";
        Workspace::write(w.second, document.dump(-1, ' ', false, json::error_handler_t::replace));
        load(w.second);
    }
    return 0;
}
