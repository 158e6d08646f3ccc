// bwrap_peer: derives the bubblewrap jail that does what ccjail-exec does for a profile, so the
// benchmark compares like with like and follows the profile when it changes.
//
//   bwrap_peer PROFILE PROFILES_DIR WORKSPACE OUT_DIR
//
// Writes OUT_DIR/bwrap.args (one bwrap argument per line, the program not included),
// OUT_DIR/seccomp.bpf (ccjail's own compiled filter, for `bwrap --seccomp FD`) and the
// synthesized /etc/passwd, /etc/group and /etc/hosts that ccjail would write into its root.
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "jail/root_filesystem.hpp"
#include "jail/spec.hpp"
#include "profile/profile_loader.hpp"
#include "seccomp/seccomp_policy.hpp"

namespace ccjail::bench {
namespace {

// ccjail-exec's /proc hardening (jail/root_filesystem.cpp); bwrap already makes sys, irq, bus
// and sysrq-trigger read-only by itself.
constexpr const char* kMaskedProcFiles[] = {"kcore",      "keys",        "sysrq-trigger",
                                            "timer_list", "sched_debug", "latency_stats"};
constexpr const char* kMaskedProcDirs[] = {"acpi", "scsi"};

bool host_has(const std::string& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void write_file(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) {
        throw std::runtime_error("cannot write " + path);
    }
}

class Args {
  public:
    void add(std::initializer_list<std::string> words) {
        args_.insert(args_.end(), words.begin(), words.end());
    }
    void tmpfs(const std::string& target, std::uint64_t size, std::uint32_t mode) {
        char perms[8];
        std::snprintf(perms, sizeof perms, "%04o", mode);
        add({"--perms", perms, "--size", std::to_string(size), "--tmpfs", target});
    }
    const std::vector<std::string>& words() const { return args_; }

  private:
    std::vector<std::string> args_;
};

void add_namespaces_and_identity(const Profile& profile, Args& args) {
    // As root, a user namespace is the only way bwrap can run the program under another uid; it
    // also costs bwrap one more namespace than ccjail, which changes uid with setresuid.
    args.add(
        {"--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup"});
    if (profile.network.mode != NetworkMode::host) {
        args.add({"--unshare-net"});
    }
    const uid_t uid = profile.identity.mode == IdentityPolicy::Mode::fixed
                          ? profile.identity.uid
                          : profile.identity.range_first;
    const gid_t gid =
        profile.identity.mode == IdentityPolicy::Mode::fixed ? profile.identity.gid : uid;
    args.add({"--uid", std::to_string(uid), "--gid", std::to_string(gid)});
    args.add({"--hostname", profile.hostname, "--new-session", "--die-with-parent"});
}

void add_binds(const FilesystemPolicy& fs, const std::string& workspace, const std::string& out_dir,
               Args& args) {
    for (const auto& bind : fs.binds) {
        const std::string target = bind.target.empty() ? bind.source : bind.target;
        std::string op = bind.writable ? "--bind" : "--ro-bind";
        if (bind.optional) {
            op += "-try";
        }
        args.add({op, bind.source, target});
    }
    args.add({"--bind", workspace, fs.workspace});
    if (fs.home) {
        ::mkdir((out_dir + "/home").c_str(), 0755);
        args.add({"--bind", out_dir + "/home", *fs.home});
    }
}

void add_special_filesystems(const Profile& profile, Args& args) {
    const auto& fs = profile.filesystem;
    args.tmpfs("/tmp", profile.limits.tmp_size_bytes, 01777);
    for (const auto& tmpfs : fs.tmpfs) {
        args.tmpfs(tmpfs.target, tmpfs.size_bytes, tmpfs.mode);
    }
    // bwrap's /dev has the same nodes and a private devpts; /dev/shm is only a directory there.
    args.add({"--dev", "/dev"});
    args.tmpfs("/dev/shm", fs.dev_shm_size_bytes, 01777);
    args.add({"--proc", "/proc"});
    for (const char* name : kMaskedProcFiles) {
        if (host_has(std::string("/proc/") + name)) {
            args.add({"--ro-bind", "/dev/null", std::string("/proc/") + name});
        }
    }
    for (const char* name : kMaskedProcDirs) {
        if (host_has(std::string("/proc/") + name)) {
            args.tmpfs(std::string("/proc/") + name, 4096, 0555);
            args.add({"--remount-ro", std::string("/proc/") + name});
        }
    }
}

void add_files(const JailSpec& spec, const std::string& out_dir, Args& args) {
    const auto& fs = spec.profile.filesystem;
    for (const auto& link : fs.symlinks) {
        args.add({"--symlink", link.to, link.target});
    }
    if (fs.synthesize_etc) {
        write_file(out_dir + "/passwd", synthesized_passwd(spec));
        write_file(out_dir + "/group", synthesized_group(spec));
        write_file(out_dir + "/hosts", synthesized_hosts(spec));
        for (const char* name : {"passwd", "group", "hosts"}) {
            args.add({"--ro-bind", out_dir + "/" + name, std::string("/etc/") + name});
        }
    }
    // ccjail makes its root tmpfs read-only once everything is in place.
    args.add({"--remount-ro", "/"});
}

void add_process(const Profile& profile, Args& args) {
    args.add({"--chdir", profile.filesystem.workspace, "--clearenv"});
    for (const auto& [name, value] : profile.environment.set) {
        args.add({"--setenv", name, value});
    }
    args.add({"--setenv", "PATH", profile.environment.path});
}

void write_seccomp(const Profile& profile, const std::string& out_dir) {
    const SeccompProgram program = compile_seccomp(profile.seccomp);
    std::ofstream out(out_dir + "/seccomp.bpf", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(program.instructions.data()),
              static_cast<std::streamsize>(program.instructions.size() * sizeof(sock_filter)));
    if (!out) {
        throw std::runtime_error("cannot write " + out_dir + "/seccomp.bpf");
    }
}

int run(const std::string& profile_name, const std::string& profiles_dir,
        const std::string& workspace, const std::string& out_dir) {
    JailSpec spec;
    spec.profile = load_profile(profile_name, profiles_dir);
    const auto& identity = spec.profile.identity;
    if (identity.mode != IdentityPolicy::Mode::fixed) {
        std::cerr << "bwrap_peer: per-user uids: using the first uid of the range\n";
    }
    spec.uid = identity.mode == IdentityPolicy::Mode::fixed ? identity.uid : identity.range_first;
    spec.gid = identity.mode == IdentityPolicy::Mode::fixed ? identity.gid : spec.uid;
    Args args;
    add_namespaces_and_identity(spec.profile, args);
    add_binds(spec.profile.filesystem, workspace, out_dir, args);
    add_special_filesystems(spec.profile, args);
    add_files(spec, out_dir, args);
    add_process(spec.profile, args);
    write_seccomp(spec.profile, out_dir);
    std::ofstream out(out_dir + "/bwrap.args", std::ios::trunc);
    for (const auto& word : args.words()) {
        if (word.find('\n') != std::string::npos) {
            throw std::runtime_error("argument with a newline: " + word);
        }
        out << word << '\n';
    }
    return out ? 0 : 1;
}

}  // namespace
}  // namespace ccjail::bench

int main(int argc, char** argv) {
    if (argc != 5) {
        std::cerr << "usage: bwrap_peer PROFILE PROFILES_DIR WORKSPACE OUT_DIR\n";
        return 2;
    }
    try {
        return ccjail::bench::run(argv[1], argv[2], argv[3], argv[4]);
    } catch (const std::exception& error) {
        std::cerr << "bwrap_peer: " << error.what() << "\n";
        return 1;
    }
}
