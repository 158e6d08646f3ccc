#include "jail/root_filesystem.hpp"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <functional>
#include <memory>
#include <optional>
#include <set>

#include "jail/mount_api.hpp"

namespace ccjail {
namespace {

constexpr unsigned kNoSuidDev = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;

// The host nodes a jail gets; everything else in /dev does not exist inside.
constexpr std::array<const char*, 6> kDevices{"null", "zero", "full", "random", "urandom", "tty"};

// Files of /proc that leak host state or give a lever on the host kernel; masked with /dev/null
// like OCI runtimes do. kcore: physical memory image; keys: every keyring description on the
// host; sysrq-trigger: host-wide emergency actions; timer_list/sched_debug/latency_stats: kernel
// pointers and other tasks' scheduling data.
// key-users lists every uid's key counts and quotas: the jail shares the initial user namespace,
// so it would show the host's (found by the security battery).
constexpr std::array<const char*, 7> kMaskedProcFiles{
    "kcore", "keys", "key-users", "sysrq-trigger", "timer_list", "sched_debug", "latency_stats"};
constexpr std::array<const char*, 2> kMaskedProcDirs{"acpi", "scsi"};
// Writable sysctls and IRQ affinity are global even inside namespaces.
constexpr std::array<const char*, 4> kReadOnlyProcDirs{"sys", "irq", "bus", "fs"};

std::size_t depth_of(const std::string& path) {
    return static_cast<std::size_t>(std::count(path.begin(), path.end(), '/'));
}

// One mount waiting to be attached. Sources are captured before the staging root covers any host
// path; `attach` runs later, in depth order, so a parent is always mounted before its children.
struct PendingMount {
    std::string target;
    std::function<void(int root_fd)> attach;
};

void write_file(int root_fd, const std::string& target, const std::string& content, mode_t mode) {
    auto [parent, name] = open_parent(Step::write_file, root_fd, target);
    UniqueFd file(::openat(parent.get(), name.c_str(),
                           O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!file) {
        throw_errno(Step::write_file, "cannot create " + target);
    }
    std::size_t done = 0;
    while (done < content.size()) {
        const ssize_t n = ::write(file.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw_errno(Step::write_file, "cannot write " + target);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(file.get(), mode) != 0) {
        throw_errno(Step::write_file, "cannot chmod " + target);
    }
}

void make_symlink(Step step, int root_fd, const std::string& target, const std::string& to) {
    auto [parent, name] = open_parent(step, root_fd, target);
    if (::symlinkat(to.c_str(), parent.get(), name.c_str()) != 0) {
        throw_errno(step, "cannot create symlink " + target + " -> " + to);
    }
}

std::string octal(std::uint32_t mode) {
    char buffer[16];
    static_cast<void>(std::snprintf(buffer, sizeof buffer, "%o", mode));  // at most 11 digits
    return buffer;
}

std::vector<std::pair<std::string, std::string>> tmpfs_options(std::uint64_t size,
                                                               std::uint32_t mode) {
    // Inodes are capped with the size so a jail cannot fill the kernel's inode caches with
    // empty files while staying under the byte limit.
    const std::uint64_t inodes = std::max<std::uint64_t>(1024, size / 4096);
    return {{"size", std::to_string(size)},
            {"nr_inodes", std::to_string(inodes)},
            {"mode", octal(mode)}};
}

// Empty optional when the source is missing and the bind is optional.
std::optional<PendingMount> pending_bind(const BindMount& bind) {
    UniqueFd tree(::open_tree(AT_FDCWD, bind.source.c_str(),
                              OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE));
    if (!tree) {
        if (errno == ENOENT && bind.optional) {
            return std::nullopt;
        }
        throw_errno(Step::mount_bind, "cannot bind " + bind.source);
    }
    unsigned set = kNoSuidDev | (bind.writable ? 0 : MOUNT_ATTR_RDONLY);
    set_mount_attrs(Step::mount_bind, tree.get(), set, 0, true, bind.source);
    struct stat st {};
    if (::fstat(tree.get(), &st) != 0) {
        throw_errno(Step::mount_bind, "cannot stat " + bind.source);
    }
    const bool directory = S_ISDIR(st.st_mode);
    auto shared = std::make_shared<UniqueFd>(std::move(tree));
    return PendingMount{bind.target, [shared, directory, target = bind.target](int root_fd) {
                            auto point =
                                make_mount_point(Step::mount_bind, root_fd, target, directory);
                            attach_mount(Step::mount_bind, shared->get(), point.get(), target);
                        }};
}

// `tree` is a detached mount the monitor cloned on the host (JailSpec::workspace, ::home).
PendingMount pending_tree_bind(int tree, const std::string& target, Step step) {
    set_mount_attrs(step, tree, kNoSuidDev, 0, true, target);
    return {target, [tree, target, step](int root_fd) {
                auto point = make_mount_point(step, root_fd, target, true);
                attach_mount(step, tree, point.get(), target);
            }};
}

PendingMount pending_tmpfs(const std::string& target, std::uint64_t size, std::uint32_t mode) {
    return {target, [target, size, mode](int root_fd) {
                auto fs = new_filesystem(Step::mount_tmpfs, "tmpfs", tmpfs_options(size, mode),
                                         kNoSuidDev);
                auto point = make_mount_point(Step::mount_tmpfs, root_fd, target, true);
                attach_mount(Step::mount_tmpfs, fs.get(), point.get(), target);
            }};
}

// Host device nodes are cloned now (they are about to be covered); /dev itself is built later.
PendingMount pending_dev(std::uint64_t shm_size) {
    auto nodes = std::make_shared<std::vector<std::pair<std::string, UniqueFd>>>();
    for (const char* name : kDevices) {
        auto tree = clone_mount(Step::mount_dev, AT_FDCWD, std::string("/dev/") + name, false);
        set_mount_attrs(Step::mount_dev, tree.get(), MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC,
                        MOUNT_ATTR_NODEV, false, std::string("/dev/") + name);
        nodes->emplace_back(name, std::move(tree));
    }
    return {"/dev", [nodes, shm_size](int root_fd) {
                auto dev = new_filesystem(Step::mount_dev, "tmpfs", tmpfs_options(64 << 10, 0755),
                                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
                auto point = make_mount_point(Step::mount_dev, root_fd, "/dev", true);
                attach_mount(Step::mount_dev, dev.get(), point.get(), "/dev");
                for (auto& [name, tree] : *nodes) {
                    const std::string target = "/dev/" + name;
                    auto node = make_mount_point(Step::mount_dev, root_fd, target, false);
                    attach_mount(Step::mount_dev, tree.get(), node.get(), target);
                }
                // A private devpts instance: the jail's ptys are invisible outside, and the
                // host's ptys are invisible inside.
                auto pts = new_filesystem(Step::mount_dev, "devpts",
                                          {{"ptmxmode", "0666"}, {"mode", "0620"}},
                                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC);
                auto pts_point = make_mount_point(Step::mount_dev, root_fd, "/dev/pts", true);
                attach_mount(Step::mount_dev, pts.get(), pts_point.get(), "/dev/pts");
                auto shm = new_filesystem(Step::mount_dev, "tmpfs", tmpfs_options(shm_size, 01777),
                                          kNoSuidDev | MOUNT_ATTR_NOEXEC);
                auto shm_point = make_mount_point(Step::mount_dev, root_fd, "/dev/shm", true);
                attach_mount(Step::mount_dev, shm.get(), shm_point.get(), "/dev/shm");
                make_symlink(Step::mount_dev, root_fd, "/dev/ptmx", "pts/ptmx");
                make_symlink(Step::mount_dev, root_fd, "/dev/fd", "/proc/self/fd");
                make_symlink(Step::mount_dev, root_fd, "/dev/stdin", "/proc/self/fd/0");
                make_symlink(Step::mount_dev, root_fd, "/dev/stdout", "/proc/self/fd/1");
                make_symlink(Step::mount_dev, root_fd, "/dev/stderr", "/proc/self/fd/2");
            }};
}

bool exists_in(int dir_fd, const char* name) {
    struct stat st {};
    return ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

// A fresh procfs of the jail's pid namespace. Mounted after /dev: the masks are clones of the
// jail's own /dev/null (open_tree can only clone mounts of our namespace, not detached ones).
PendingMount pending_proc() {
    return {
        "/proc", [](int root_fd) {
            auto proc =
                new_filesystem(Step::mount_proc, "proc", {}, kNoSuidDev | MOUNT_ATTR_NOEXEC);
            auto point = make_mount_point(Step::mount_proc, root_fd, "/proc", true);
            attach_mount(Step::mount_proc, proc.get(), point.get(), "/proc");
            UniqueFd proc_dir(::openat(root_fd, "proc", O_PATH | O_DIRECTORY | O_CLOEXEC));
            if (!proc_dir) {
                throw_errno(Step::mount_proc, "cannot open /proc");
            }
            for (const char* name : kReadOnlyProcDirs) {
                if (!exists_in(proc_dir.get(), name)) {
                    continue;
                }
                auto tree = clone_mount(Step::mount_proc, proc_dir.get(), name, true);
                set_mount_attrs(Step::mount_proc, tree.get(), MOUNT_ATTR_RDONLY, 0, true,
                                std::string("/proc/") + name);
                auto dir =
                    make_mount_point(Step::mount_proc, root_fd, std::string("/proc/") + name, true);
                attach_mount(Step::mount_proc, tree.get(), dir.get(), std::string("/proc/") + name);
            }
            for (const char* name : kMaskedProcFiles) {
                if (!exists_in(proc_dir.get(), name)) {
                    continue;
                }
                auto null = clone_mount(Step::mount_proc, root_fd, "dev/null", false);
                set_mount_attrs(Step::mount_proc, null.get(), MOUNT_ATTR_RDONLY, 0, false,
                                "/dev/null");
                UniqueFd file(::openat(proc_dir.get(), name, O_PATH | O_NOFOLLOW | O_CLOEXEC));
                if (!file) {
                    throw_errno(Step::mount_proc, std::string("cannot open /proc/") + name);
                }
                attach_mount(Step::mount_proc, null.get(), file.get(),
                             std::string("/proc/") + name);
            }
            for (const char* name : kMaskedProcDirs) {
                if (!exists_in(proc_dir.get(), name)) {
                    continue;
                }
                auto empty = new_filesystem(Step::mount_proc, "tmpfs", tmpfs_options(4096, 0555),
                                            kNoSuidDev | MOUNT_ATTR_RDONLY);
                UniqueFd dir(
                    ::openat(proc_dir.get(), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
                if (!dir) {
                    throw_errno(Step::mount_proc, std::string("cannot open /proc/") + name);
                }
                attach_mount(Step::mount_proc, empty.get(), dir.get(),
                             std::string("/proc/") + name);
            }
        }};
}

std::vector<PendingMount> capture_mounts(const JailSpec& spec) {
    const auto& fs = spec.profile.filesystem;
    std::vector<PendingMount> mounts;
    for (const auto& bind : fs.binds) {
        if (auto pending = pending_bind(bind)) {
            mounts.push_back(std::move(*pending));
        }
    }
    mounts.push_back(pending_tree_bind(spec.workspace.get(), fs.workspace, Step::mount_bind));
    if (fs.home && spec.home) {
        mounts.push_back(pending_tree_bind(spec.home.get(), *fs.home, Step::mount_bind));
    }
    mounts.push_back(pending_tmpfs("/tmp", spec.profile.limits.tmp_size_bytes, 01777));
    for (const auto& tmpfs : fs.tmpfs) {
        mounts.push_back(pending_tmpfs(tmpfs.target, tmpfs.size_bytes, tmpfs.mode));
    }
    mounts.push_back(pending_dev(fs.dev_shm_size_bytes));
    mounts.push_back(pending_proc());
    // Parents before children; equal depth keeps the profile's order (and /dev before /proc).
    std::stable_sort(mounts.begin(), mounts.end(), [](const auto& a, const auto& b) {
        return depth_of(a.target) < depth_of(b.target);
    });
    return mounts;
}

void write_files(const JailSpec& spec, int root_fd) {
    const auto& fs = spec.profile.filesystem;
    std::set<std::string> written;
    for (const auto& file : fs.files) {
        write_file(root_fd, file.target, file.content, file.mode);
        written.insert(file.target);
    }
    if (!fs.synthesize_etc) {
        return;
    }
    const std::array<std::pair<const char*, std::string>, 3> etc{{
        {"/etc/passwd", synthesized_passwd(spec)},
        {"/etc/group", synthesized_group(spec)},
        {"/etc/hosts", synthesized_hosts(spec)},
    }};
    for (const auto& [target, content] : etc) {
        if (!written.contains(target)) {
            write_file(root_fd, target, content, 0644);
        }
    }
}

void switch_root(int root_fd) {
    if (::fchdir(root_fd) != 0) {
        throw_errno(Step::pivot_root, "cannot enter the new root");
    }
    // pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then drops
    // the old root without needing a directory for it inside the jail.
    if (::syscall(SYS_pivot_root, ".", ".") != 0) {
        throw_errno(Step::pivot_root, "pivot_root");
    }
    if (::umount2(".", MNT_DETACH) != 0) {
        throw_errno(Step::pivot_root, "cannot detach the old root");
    }
    if (::chdir("/") != 0) {
        throw_errno(Step::pivot_root, "chdir /");
    }
}

}  // namespace

std::string synthesized_passwd(const JailSpec& spec) {
    const auto& fs = spec.profile.filesystem;
    const std::string home = fs.home ? *fs.home : fs.workspace;
    return "root:x:0:0:root:/root:/usr/sbin/nologin\n" + spec.profile.identity.user_name +
           ":x:" + std::to_string(spec.uid) + ":" + std::to_string(spec.gid) + "::" + home +
           ":/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
}

std::string synthesized_group(const JailSpec& spec) {
    std::string group = "root:x:0:\n";
    if (spec.gid != 65534) {
        group += spec.profile.identity.user_name + ":x:" + std::to_string(spec.gid) + ":\n";
    }
    return group + "nogroup:x:65534:\n";
}

std::string synthesized_hosts(const JailSpec& spec) {
    return "127.0.0.1\tlocalhost " + spec.profile.hostname + "\n::1\tlocalhost ip6-localhost\n";
}

void build_root_filesystem(const JailSpec& spec) {
    // Nothing we mount may propagate back to the host, and nothing the host mounts later may
    // appear in the jail.
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        throw_errno(Step::mount_private, "cannot make / private");
    }
    auto mounts = capture_mounts(spec);
    auto root =
        new_filesystem(Step::mount_root, "tmpfs",
                       tmpfs_options(spec.profile.filesystem.root_size_bytes, 0755), kNoSuidDev);
    // The root needs a place in the tree before anything can be mounted below it; every source
    // is already held as a detached clone, so covering /tmp hides nothing we still need.
    if (::move_mount(root.get(), "", AT_FDCWD, "/tmp", MOVE_MOUNT_F_EMPTY_PATH) != 0) {
        throw_errno(Step::mount_root, "cannot attach the root tmpfs");
    }
    for (auto& pending : mounts) {
        pending.attach(root.get());
    }
    write_files(spec, root.get());
    for (const auto& link : spec.profile.filesystem.symlinks) {
        make_symlink(Step::symlink, root.get(), link.target, link.to);
    }
    // Only the root tmpfs itself: the writable mounts below it stay writable.
    set_mount_attrs(Step::mount_root, root.get(), MOUNT_ATTR_RDONLY, 0, false, "/");
    switch_root(root.get());
}

}  // namespace ccjail
