#include "jail/spec.hpp"
#include "common/text.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/error.hpp"
#include "jail/executable_hash.hpp"
#include "jail/home_seed.hpp"
#include "jail/identity_map.hpp"
#include "jail/mount_api.hpp"
#include "jail/workspace.hpp"

namespace ccjail {
namespace {

constexpr std::size_t kMaxSecretBytes = 64 * 1024;

bool has_refused_character(std::string_view text, bool allow_multiline) {
    return std::any_of(text.begin(), text.end(), [allow_multiline](char c) {
        return is_control_character(c) && !(allow_multiline && (c == '\n' || c == '\t'));
    });
}

std::string printable(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) {
        const auto u = static_cast<unsigned char>(c);
        if (is_control_character(c)) {
            char buffer[8];
            static_cast<void>(std::snprintf(buffer, sizeof buffer, "\\x%02x", u));  // 4 chars
            out += buffer;
        } else {
            out += c;
        }
    }
    return text.size() > 64 ? out + "..." : out;
}

[[noreturn]] void reject(const std::string& message) {
    throw JailError(Step::request, 0, message);
}

// "-x", "--flag" and "--flag=value" name a flag; "-" alone and everything after "--" (when the
// profile allows "--") are plain arguments.
void check_flags(const std::vector<std::string>& allowed, const std::vector<std::string>& args) {
    const bool separator_allowed = std::find(allowed.begin(), allowed.end(), "--") != allowed.end();
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--" && separator_allowed) {
            return;
        }
        if (arg.size() < 2 || arg.front() != '-') {
            continue;
        }
        const std::string flag = arg.substr(0, arg.find('='));
        if (std::find(allowed.begin(), allowed.end(), flag) == allowed.end()) {
            reject("argv[" + std::to_string(i) + "]: flag \"" + printable(flag) +
                   "\" is not allowed by the profile");
        }
    }
}

std::string read_secret(const SecretEnv& secret) {
    const int fd = ::open(secret.file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        throw_errno(Step::secrets, "secret for " + secret.name + ": cannot open " + secret.file);
    }
    UniqueFd file(fd);
    struct stat st {};
    if (::fstat(file.get(), &st) != 0) {
        throw_errno(Step::secrets, "secret for " + secret.name + ": cannot stat " + secret.file);
    }
    // A secret others can read or write is no secret and no longer the admin's word.
    if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0) {
        throw JailError(Step::secrets, EPERM,
                        "secret for " + secret.name + ": " + secret.file +
                            " must be a regular file owned by root with mode 0600 or 0400");
    }
    if (static_cast<std::size_t>(st.st_size) > kMaxSecretBytes) {
        throw JailError(Step::secrets, EFBIG, "secret for " + secret.name + ": file too large");
    }
    std::string value(static_cast<std::size_t>(st.st_size), '\0');
    const ssize_t n = ::pread(file.get(), value.data(), value.size(), 0);
    if (n < 0) {
        throw_errno(Step::secrets, "secret for " + secret.name + ": cannot read " + secret.file);
    }
    value.resize(static_cast<std::size_t>(n));
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) {
        value.pop_back();
    }
    if (value.find('\0') != std::string::npos) {
        throw JailError(Step::secrets, EINVAL, "secret for " + secret.name + ": contains NUL");
    }
    return value;
}

std::map<std::string, std::string> read_secrets(const EnvironmentPolicy& env) {
    std::map<std::string, std::string> secrets;
    for (const auto& secret : env.secrets) {
        secrets[secret.name] = read_secret(secret);
    }
    return secrets;
}

// The pinned executable is a jail path; on the host it lives below the source of the bind whose
// target is its longest prefix. It is opened beneath that source, symlinks resolved as if the
// source were the root, so a link cannot redirect the hash check to another file.
UniqueFd open_pinned_on_host(const Profile& profile, const std::string& jail_path) {
    const BindMount* best = nullptr;
    for (const auto& bind : profile.filesystem.binds) {
        const auto& t = bind.target;
        const bool prefix = jail_path.size() > t.size() && jail_path.compare(0, t.size(), t) == 0 &&
                            jail_path[t.size()] == '/';
        if (prefix && (!best || t.size() > best->target.size())) {
            best = &bind;
        }
    }
    if (!best) {
        throw JailError(Step::executable, ENOENT,
                        "executable " + jail_path + " is not below any bind of the profile");
    }
    UniqueFd source(::open(best->source.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!source) {
        throw_errno(Step::executable, "cannot open bind source " + best->source);
    }
    const std::string rest = jail_path.substr(best->target.size() + 1);
    struct open_how how {};
    how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const long fd = ::syscall(SYS_openat2, source.get(), rest.c_str(), &how, sizeof how);
    if (fd < 0) {
        throw_errno(Step::executable, "cannot open executable " + jail_path);
    }
    return UniqueFd(static_cast<int>(fd));
}

std::pair<dev_t, ino_t> verify_pinned(const Profile& profile, const HostConfig& host) {
    const auto& command = profile.command;
    UniqueFd exe = open_pinned_on_host(profile, *command.executable);
    struct stat st {};
    if (::fstat(exe.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        throw JailError(Step::executable, EACCES,
                        "executable " + *command.executable + " is not a regular file");
    }
    verify_sha256(exe.get(), *command.sha256, host.state_dir / "sha256-cache.json",
                  "executable " + *command.executable);
    return {st.st_dev, st.st_ino};
}

void assign_identity(const Profile& profile, const JailRequest& request, const HostConfig& host,
                     JailSpec& spec) {
    const auto& id = profile.identity;
    if (id.mode == IdentityPolicy::Mode::fixed) {
        spec.uid = id.uid;
        spec.gid = id.gid;
        return;
    }
    spec.uid = uid_for_label(host.state_dir / "uids.json", request.user_label, id.range_first,
                             id.range_count);
    spec.gid = spec.uid;
}

// open_tree can clone only mounts of the caller's own mount namespace, and the jail has its own
// by then: the workspace and home are cloned here, on the host, into detached mounts that the
// jail attaches as they are.
UniqueFd detached_copy(UniqueFd dir, Step step) {
    return clone_mount(step, dir.get(), "", true);
}

}  // namespace

std::string jail_cwd(const FilesystemPolicy& fs, const std::optional<std::string>& cwd) {
    if (!cwd || cwd->empty() || *cwd == ".") {
        return fs.workspace;
    }
    if (cwd->front() == '/' || has_control_character(*cwd) ||
        cwd->find('\0') != std::string::npos) {
        reject("cwd: must be a path relative to the workspace");
    }
    std::size_t start = 0;
    while (start <= cwd->size()) {
        const std::size_t end = std::min(cwd->find('/', start), cwd->size());
        if (cwd->compare(start, end - start, "..") == 0) {
            reject("cwd: \"..\" is not allowed");
        }
        start = end + 1;
    }
    return fs.workspace + "/" + *cwd;
}

std::vector<std::string> checked_argv(const CommandPolicy& policy,
                                      const std::vector<std::string>& request_argv) {
    if (!policy.executable && request_argv.empty()) {
        reject("argv: the profile names no executable, so argv[0] must name the program");
    }
    if (request_argv.size() > policy.max_args) {
        reject("argv: " + std::to_string(request_argv.size()) + " arguments, the profile allows " +
               std::to_string(policy.max_args));
    }
    std::size_t total = 0;
    for (std::size_t i = 0; i < request_argv.size(); ++i) {
        const auto& arg = request_argv[i];
        if (has_refused_character(arg, policy.allow_multiline)) {
            reject("argv[" + std::to_string(i) + "]: contains a NUL or control character: \"" +
                   printable(arg) + "\"");
        }
        if (arg.size() > policy.max_arg_bytes) {
            reject("argv[" + std::to_string(i) + "]: " + std::to_string(arg.size()) +
                   " bytes, the profile allows " + std::to_string(policy.max_arg_bytes));
        }
        total += arg.size();
    }
    if (total > policy.max_total_bytes) {
        reject("argv: " + std::to_string(total) + " bytes in all, the profile allows " +
               std::to_string(policy.max_total_bytes));
    }
    if (policy.allowed_flags) {
        // argv[0] names the program when the profile does not; it is not a flag.
        const std::size_t first = policy.executable ? 0 : 1;
        check_flags(*policy.allowed_flags,
                    std::vector<std::string>(request_argv.begin() + static_cast<long>(first),
                                             request_argv.end()));
    }
    std::vector<std::string> argv = policy.argv_prefix;
    if (policy.executable && argv.empty()) {
        argv.push_back(*policy.executable);
    }
    argv.insert(argv.end(), request_argv.begin(), request_argv.end());
    return argv;
}

std::vector<std::string> built_environment(const Profile& profile,
                                           const std::map<std::string, std::string>& request_env,
                                           const std::map<std::string, std::string>& secrets) {
    const auto& policy = profile.environment;
    std::map<std::string, std::string> env = policy.set;
    for (const auto& [name, value] : request_env) {
        if (std::find(policy.pass.begin(), policy.pass.end(), name) == policy.pass.end()) {
            reject("env." + printable(name) + ": not a name the profile lets a request set");
        }
        if (value.find('\0') != std::string::npos) {
            reject("env." + name + ": value contains NUL");
        }
        env[name] = value;
    }
    for (const auto& [name, value] : secrets) {
        env[name] = value;
    }
    env["PATH"] = policy.path;
    std::vector<std::string> out;
    out.reserve(env.size());
    for (const auto& [name, value] : env) {
        out.push_back(name + "=" + value);
    }
    return out;
}

std::string new_jail_id() {
    unsigned char bytes[8];
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
        throw_errno(Step::clone, "getrandom");
    }
    std::string id;
    for (unsigned char b : bytes) {
        char hex[3];
        static_cast<void>(std::snprintf(hex, sizeof hex, "%02x", b));  // always 2 digits
        id += hex;
    }
    return id;
}

JailSpec resolve_spec(const Profile& profile, const JailRequest& request, const HostConfig& host) {
    JailSpec spec;
    spec.id = new_jail_id();
    spec.profile = profile;
    if (!valid_user_label(request.user_label)) {
        reject("user: \"" + printable(request.user_label) +
               "\" is not a valid label (^[a-z0-9][a-z0-9._-]{0,63}$)");
    }
    spec.user_label = request.user_label;
    spec.argv = checked_argv(profile.command, request.argv);
    spec.executable = profile.command.executable ? *profile.command.executable : request.argv[0];
    spec.cwd = jail_cwd(profile.filesystem, request.cwd);
    spec.terminal = request.terminal;
    spec.env = built_environment(profile, request.env, read_secrets(profile.environment));
    assign_identity(profile, request, host, spec);
    spec.workspace = detached_copy(
        request.workspace.empty()
            ? prepare_user_workspace(host.workspace_root, request.user_label, spec.uid, spec.gid)
            : open_workspace(host.workspace_root, request.workspace),
        Step::workspace);
    if (profile.filesystem.home) {
        UniqueFd home = prepare_home(host.homes_root, request.user_label, spec.uid, spec.gid);
        seed_home(home.get(), profile.filesystem.home_seed, spec.uid, spec.gid);
        spec.home = detached_copy(std::move(home), Step::home);
    }
    if (profile.command.sha256) {
        spec.pinned_executable = verify_pinned(profile, host);
    }
    spec.seccomp = compile_seccomp_cached(profile.seccomp, host.state_dir / "seccomp-cache");
    spec.cgroup_limits = CgroupLimits{profile.limits.memory_bytes, profile.limits.swap_bytes,
                                      profile.limits.cpus, profile.limits.pids};
    return spec;
}

}  // namespace ccjail
