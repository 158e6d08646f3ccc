#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_mounts.hpp"

namespace ccjail {

// Every move of a process between cgroups takes cgroup_threadgroup_rwsem for writing, and a
// percpu rwsem's writer first waits for an RCU grace period (rcu_sync) unless another writer
// passed within the last one: 5–10 ms on the development hosts, paid by the first attach of every
// jail on cgroup v1 (v2 uses CLONE_INTO_CGROUP and never migrates). A throwaway child that
// "moves" itself into the cgroup it is already in starts that grace period at once, so it runs
// while the profile loads and the cgroup is created instead of after. Nothing changes in the
// cgroup tree. (Holding the fast state longer, with repeated writes, made spawns slower: while
// it is held every fork and exit on the host takes the semaphore's slow read path.)
namespace {

// "0" is the writer itself, already a member: a move to where it is.
[[noreturn]] void migrate_to_where_we_are(const std::string& procs) {
    const int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        [[maybe_unused]] const ssize_t n = ::write(fd, "0", 1);
    }
    ::_exit(0);
}

}  // namespace

MigrationWarmup::MigrationWarmup(const CgroupOptions& options) {
    try {
        if (detect_cgroup_version(options) != CgroupVersion::v1) {
            return;
        }
        const auto hierarchies = find_v1_hierarchies({"pids", "memory"}, options);
        if (hierarchies.empty()) {
            return;
        }
        const std::string procs = (hierarchies.begin()->second.own_dir / "cgroup.procs").string();
        const pid_t pid = ::fork();
        if (pid == 0) {
            migrate_to_where_we_are(procs);
        }
        child_ = pid;
    } catch (const std::exception&) {
        // Only a head start: the attach works the same without it.
    }
}

MigrationWarmup::~MigrationWarmup() {
    if (child_ > 0) {
        int status = 0;
        ::waitpid(child_, &status, 0);
    }
}

}  // namespace ccjail
