// How ccjaild places itself and its jails on a cgroup v2 host under a service manager
// (docs/operations.md, "Running under systemd"): the daemon leaves its own cgroup for a
// `supervisor` leaf, and `ccjaild --hold-cgroup` turns its unit's cgroup into the jails' parent.
// Each case runs in a forked child placed in a fresh cgroup, as a service's main process would
// be, and reports what it saw through a pipe. cgroup v2 only: they run in the vm-cgroup-v2 tier.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;

std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
}

std::string own_cgroup_of_self() {
    return parse_proc_cgroup(read_text("/proc/self/cgroup")).at("");
}

// Runs `body` in a child moved into `cgroup` first; returns what it wrote, or "FAILED: ..."
// when it threw or exited non-zero.
std::string run_in_cgroup(const fs::path& cgroup, const std::function<std::string()>& body) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        return "FAILED: pipe";
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::string result;
        int code = 0;
        try {
            write_text(cgroup / "cgroup.procs", std::to_string(::getpid()));
            result = body();
        } catch (const std::exception& error) {
            result = std::string("FAILED: ") + error.what();
            code = 1;
        }
        (void)!::write(write_end.get(), result.data(), result.size());
        ::_exit(code);
    }
    write_end.reset();
    std::string result;
    char buffer[4096];
    for (ssize_t n; (n = ::read(read_end.get(), buffer, sizeof buffer)) > 0;) {
        result.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return result;
}

class CgroupDelegation : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "moving processes between cgroups needs root";
        }
        if (detect_cgroup_version(options_) != CgroupVersion::v2) {
            GTEST_SKIP() << "cgroup v2 only (a supervisor leaf and a delegated parent are v2 "
                            "notions); runs in the vm-cgroup-v2 tier";
        }
        // A fresh cgroup beside the one this test runs in, standing for a service's own cgroup.
        const fs::path own = options_.mount_root / fs::path(own_cgroup_of_self()).relative_path();
        unit_ = own.parent_path() / ("ccjail-test-unit-" + std::to_string(::getpid()));
        // What systemd does for a Delegate=yes unit: its slice makes the controllers available.
        write_text(own.parent_path() / "cgroup.subtree_control", "+memory +pids");
        fs::create_directory(unit_);
    }
    void TearDown() override {
        if (unit_.empty()) {
            return;
        }
        // Leaves first; every process in them has exited with its child.
        for (const auto& entry : fs::directory_iterator(unit_)) {
            if (entry.is_directory()) {
                ::rmdir(entry.path().c_str());
            }
        }
        ::rmdir(unit_.c_str());
    }

    CgroupOptions options_;
    fs::path unit_;
};

TEST_F(CgroupDelegation, TheDaemonMovesItselfIntoASupervisorLeafAndJailsBecomeItsSiblings) {
    const std::string id = "deleg-" + std::to_string(::getpid());
    const std::string result = run_in_cgroup(unit_, [&] {
        const auto leaf = enter_supervisor_leaf({});
        std::string seen = "leaf=" + (leaf ? leaf->string() : "none");
        seen += " own=" + own_cgroup_of_self();
        auto jail = create_jail_cgroup(id, {.pids = 8}, {});
        seen += " jail=" + jail->describe();
        // Already in the leaf: a second call changes nothing.
        seen += " again=" + std::string(enter_supervisor_leaf({}) ? "moved" : "none");
        return seen;
    });
    const fs::path relative = fs::path("/") / unit_.lexically_relative(options_.mount_root);
    EXPECT_EQ(result, "leaf=" + (unit_ / "supervisor").string() +
                          " own=" + (relative / "supervisor").string() +
                          " jail=" + (unit_ / ("jail-" + id)).string() + " again=none");
    EXPECT_NE(read_text(unit_ / "cgroup.subtree_control").find("memory"), std::string::npos);
}

TEST_F(CgroupDelegation, AConfiguredParentKeepsTheDaemonWhereItIs) {
    const std::string result = run_in_cgroup(unit_, [&] {
        CgroupOptions options;
        options.parent = "/somewhere-else";
        const auto leaf = enter_supervisor_leaf(options);
        return "leaf=" + (leaf ? leaf->string() : "none") + " own=" + own_cgroup_of_self();
    });
    const fs::path relative = fs::path("/") / unit_.lexically_relative(options_.mount_root);
    EXPECT_EQ(result, "leaf=none own=" + relative.string());
    EXPECT_FALSE(fs::exists(unit_ / "supervisor"));
}

TEST_F(CgroupDelegation, TheHolderEnablesControllersAndMonitorsAndJailsLiveBesideIt) {
    const std::string id = "held-" + std::to_string(::getpid());
    const std::string result = run_in_cgroup(unit_, [&] {
        const fs::path parent = hold_cgroup_for_jails({});
        std::string seen = "parent=" + parent.string() + " own=" + own_cgroup_of_self();
        // What ccjaild with cgroup_parent set to the holder's unit then does for a session.
        CgroupOptions jails;
        jails.parent = fs::path("/") / parent.lexically_relative(CgroupOptions{}.mount_root);
        // A session's monitor moves into the `monitors` leaf before it builds its jail.
        enter_monitors_leaf(jails);
        seen += " monitor=" + own_cgroup_of_self();
        auto jail = create_jail_cgroup(id, {.memory_bytes = 64 << 20, .pids = 8}, jails);
        seen += " jail=" + jail->describe();
        seen += " memory.max=" + read_text(fs::path(jail->describe()) / "memory.max");
        return seen;
    });
    const fs::path relative = fs::path("/") / unit_.lexically_relative(options_.mount_root);
    EXPECT_EQ(result, "parent=" + unit_.string() + " own=" + (relative / "holder").string() +
                          " monitor=" + (relative / "monitors").string() +
                          " jail=" + (unit_ / ("jail-" + id)).string() + " memory.max=67108864\n");
    const std::string enabled = read_text(unit_ / "cgroup.subtree_control");
    EXPECT_NE(enabled.find("memory"), std::string::npos) << enabled;
    EXPECT_NE(enabled.find("pids"), std::string::npos) << enabled;
}

}  // namespace
}  // namespace ccjail
