// Creates real jail cgroups on this machine, with whichever version detect_cgroup_version
// picks: v1 on the development machine, v2 in the VM tier. Needs root.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

constexpr std::uint64_t kMiB = 1024 * 1024;

std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::string trimmed(const std::string& text) {
    const auto end = text.find_last_not_of(" \n");
    return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

// Every directory named `name` below the cgroup mounts; independent of what the backend reports.
// Other processes create and remove cgroups meanwhile, so a directory that vanishes mid-walk is
// skipped rather than ending the walk.
void find_dirs_named(const fs::path& dir, const std::string& name, std::vector<fs::path>& found) {
    std::error_code error;
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
        std::error_code type_error;
        if (!it->is_directory(type_error) || it->is_symlink(type_error)) {
            continue;
        }
        if (it->path().filename() == name) {
            found.push_back(it->path());
        }
        find_dirs_named(it->path(), name, found);
    }
}

std::vector<fs::path> find_dirs_named(const fs::path& root, const std::string& name) {
    std::vector<fs::path> found;
    find_dirs_named(root, name, found);
    return found;
}

// A forked child that waits on a pipe until released, then runs `body` and exits.
class Child {
  public:
    explicit Child(const std::function<void(int report_fd)>& body) {
        int go[2];
        int report[2];
        if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(report, O_CLOEXEC) != 0) {
            throw std::runtime_error("pipe2 failed");
        }
        UniqueFd go_read(go[0]);
        go_write_.reset(go[1]);
        UniqueFd report_write(report[1]);
        report_read_.reset(report[0]);
        pid_ = ::fork();
        if (pid_ < 0) {
            throw std::runtime_error("fork failed");
        }
        if (pid_ == 0) {
            go_write_.reset();
            report_read_.reset();
            char byte = 0;
            if (::read(go_read.get(), &byte, 1) != 1) {
                ::_exit(100);  // the test gave up on us
            }
            body(report_write.get());
            ::_exit(0);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    pid_t pid() const { return pid_; }
    void release() {
        const char byte = 1;
        ASSERT_EQ(::write(go_write_.get(), &byte, 1), 1);
        go_write_.reset();
    }
    int wait() {
        int status = 0;
        EXPECT_EQ(::waitpid(pid_, &status, 0), pid_);
        pid_ = -1;
        return status;
    }
    template <typename T>
    T read_report() {
        T value{};
        EXPECT_EQ(::read(report_read_.get(), &value, sizeof value),
                  static_cast<ssize_t>(sizeof value));
        return value;
    }

  private:
    pid_t pid_ = -1;
    UniqueFd go_write_;
    UniqueFd report_read_;
};

class CgroupBackend : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "creating cgroups needs root";
        }
        version_ = detect_cgroup_version(options_);
        // Orphans of a fork bomb come back to us, so that the test can reap them.
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    }
    void TearDown() override {
        while (::waitpid(-1, nullptr, WNOHANG) > 0) {
        }
    }

    std::string new_id() {
        static std::atomic<int> counter{0};
        return "itest-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
    }
    std::unique_ptr<JailCgroup> create(const std::string& id, const CgroupLimits& limits) {
        auto cgroup = create_jail_cgroup(id, limits, options_);
        EXPECT_EQ(cgroup->version(), version_);
        return cgroup;
    }

    // The file `name` in whichever of the cgroup's directories has it.
    static fs::path file_in(const JailCgroup& cgroup, const std::string& name) {
        for (const auto& dir : cgroup_directories(cgroup)) {
            if (fs::exists(dir / name)) {
                return dir / name;
            }
        }
        ADD_FAILURE() << "no " << name << " in " << cgroup.describe();
        return {};
    }

    // Every cgroup of `pid` that ccjail manages ends in the jail's leaf.
    void expect_pid_inside(pid_t pid, const JailCgroup& cgroup, const std::string& id) {
        const auto paths = parse_proc_cgroup(read_text("/proc/" + std::to_string(pid) + "/cgroup"));
        const std::vector<std::string> keys =
            version_ == CgroupVersion::v2
                ? std::vector<std::string>{""}
                : std::vector<std::string>{"memory", "cpu", "cpuacct", "pids", "freezer"};
        for (const auto& key : keys) {
            ASSERT_TRUE(paths.contains(key)) << key;
            EXPECT_EQ(fs::path(paths.at(key)).filename(), "jail-" + id) << key;
        }
        for (const auto& dir : cgroup_directories(cgroup)) {
            const std::string procs = read_text(dir / "cgroup.procs");
            EXPECT_NE(("\n" + procs).find("\n" + std::to_string(pid) + "\n"), std::string::npos)
                << dir;
        }
    }

    CgroupOptions options_;
    CgroupVersion version_ = CgroupVersion::v1;
};

TEST_F(CgroupBackend, DetectsV1OnAHybridHost) {
    struct statfs root {};
    if (::statfs("/sys/fs/cgroup", &root) != 0 || root.f_type != 0x01021994 /* tmpfs */ ||
        !fs::exists("/sys/fs/cgroup/unified/cgroup.controllers")) {
        GTEST_SKIP() << "not a hybrid (tmpfs + unified) host";
    }
    EXPECT_EQ(version_, CgroupVersion::v1);
}

TEST_F(CgroupBackend, LimitsAttachKillAndRemoval) {
    const std::string id = new_id();
    auto cgroup = create(id, {.memory_bytes = 64 * kMiB, .swap_bytes = 0, .cpus = 0.5, .pids = 16});
    const auto dirs = cgroup_directories(*cgroup);
    ASSERT_FALSE(dirs.empty());
    for (const auto& dir : dirs) {
        EXPECT_TRUE(fs::is_directory(dir)) << dir;
        EXPECT_EQ(dir.filename(), "jail-" + id);
    }
    EXPECT_EQ(find_dirs_named(options_.mount_root, "jail-" + id).size(), dirs.size());
    if (version_ == CgroupVersion::v2) {
        EXPECT_EQ(dirs.size(), 1u);
        EXPECT_GE(cgroup->clone_into_fd(), 0);
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "memory.max"))), "67108864");
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "memory.swap.max"))), "0");
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "memory.oom.group"))), "1");
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "cpu.max"))), "50000 100000");
    } else {
        EXPECT_GE(dirs.size(), 4u);  // memory, cpu(+cpuacct), pids, freezer
        EXPECT_EQ(cgroup->clone_into_fd(), -1);
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "memory.limit_in_bytes"))), "67108864");
        if (fs::exists(file_in(*cgroup, "memory.limit_in_bytes").parent_path() /
                       "memory.memsw.limit_in_bytes")) {
            EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "memory.memsw.limit_in_bytes"))),
                      "67108864");
        }
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "cpu.cfs_quota_us"))), "50000");
        EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "cpu.cfs_period_us"))), "100000");
    }
    EXPECT_EQ(trimmed(read_text(file_in(*cgroup, "pids.max"))), "16");

    EXPECT_FALSE(cgroup->populated());
    Child child([](int) { ::pause(); });
    cgroup->attach(child.pid());
    expect_pid_inside(child.pid(), *cgroup, id);
    EXPECT_TRUE(cgroup->populated());
    EXPECT_FALSE(cgroup->wait_empty(milliseconds(50)));

    EXPECT_TRUE(cgroup->kill_all(milliseconds(2000)));
    EXPECT_FALSE(cgroup->populated());
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;

    cgroup.reset();
    for (const auto& dir : dirs) {
        EXPECT_FALSE(fs::exists(dir)) << dir;
    }
    EXPECT_TRUE(find_dirs_named(options_.mount_root, "jail-" + id).empty());
}

// Raises the CPU weight of a cgroup for the lifetime of this object.
class HeavyWeight {
  public:
    explicit HeavyWeight(const fs::path& dir) {
        for (const auto& [name, value] :
             {std::pair{"cpu.weight", "10000"}, {"cpu.shares", "262144"}}) {
            if (fs::exists(dir / name)) {
                file_ = dir / name;
                old_ = trimmed(read_text(file_));
                std::ofstream(file_) << value;
                return;
            }
        }
    }
    ~HeavyWeight() {
        if (!file_.empty()) {
            std::ofstream(file_) << old_;
        }
    }

  private:
    fs::path file_;
    std::string old_;
};

TEST_F(CgroupBackend, CpuSpinIsAccountedAndThrottled) {
    auto cgroup = create(new_id(), {.cpus = 0.5});
    // On a busy host the jail's group (and the `ccjail` group above it) would get only a
    // weight-proportional share, below the quota, and never be throttled: weigh both up.
    const fs::path cpu_dir = file_in(*cgroup, "cpu.stat").parent_path();
    const HeavyWeight parent_weight(cpu_dir.parent_path());
    const HeavyWeight leaf_weight(cpu_dir);
    Child child([](int) {
        // Four spinners want far more than half a core even on a loaded two-core host, so
        // every period runs out of quota.
        constexpr int kSpinners = 4;
        for (int i = 1; i < kSpinners; ++i) {
            if (::fork() == 0) {
                break;
            }
        }
        const auto end = std::chrono::steady_clock::now() + milliseconds(800);
        while (std::chrono::steady_clock::now() < end) {
        }
        while (::wait(nullptr) > 0) {
        }
    });
    cgroup->attach(child.pid());
    child.release();
    EXPECT_EQ(child.wait(), 0);
    ASSERT_TRUE(cgroup->wait_empty(milliseconds(1000)));
    const CgroupUsage usage = cgroup->usage();
    EXPECT_GT(usage.cpu_user_usec, 0u);
    // 0.8 s of wall time at half a core: about 0.4 s of CPU, far below the 3.2 s it wanted.
    EXPECT_LT(usage.cpu_user_usec + usage.cpu_system_usec, 700000u);
    EXPECT_GT(usage.nr_throttled, 0u);
    EXPECT_GT(usage.throttled_usec, 0u);
}

TEST_F(CgroupBackend, MemoryBalloonIsOomKilled) {
    auto cgroup = create(new_id(), {.memory_bytes = 64 * kMiB, .swap_bytes = 0});
    Child child([](int) {
        constexpr std::size_t kSize = 200 * kMiB;
        void* memory =
            ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) {
            ::_exit(101);
        }
        auto* bytes = static_cast<volatile char*>(memory);
        for (std::size_t i = 0; i < kSize; i += 4096) {
            bytes[i] = 1;
        }
        ::_exit(102);  // survived: the limit did not hold
    });
    cgroup->attach(child.pid());
    child.release();
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    const CgroupUsage usage = cgroup->usage();
    EXPECT_GE(usage.oom_kills, 1u);
    if (usage.memory_peak_bytes != 0) {  // memory.peak is absent before Linux 5.19
        EXPECT_LE(usage.memory_peak_bytes, 64 * kMiB);
        EXPECT_GT(usage.memory_peak_bytes, 32 * kMiB);
    }
}

TEST_F(CgroupBackend, ForkBombStopsAtThePidsLimitAndKillAllEmptiesIt) {
    auto cgroup = create(new_id(), {.pids = 16});
    Child child([](int report) {
        int forked = 0;
        int error = 0;
        for (int i = 0; i < 64; ++i) {
            const pid_t pid = ::fork();
            if (pid == 0) {
                ::pause();
                ::_exit(0);
            }
            if (pid < 0) {
                error = errno;
                break;
            }
            ++forked;
        }
        const int result[2] = {forked, error};
        if (::write(report, result, sizeof result) != sizeof result) {
            ::_exit(103);
        }
        ::pause();
    });
    cgroup->attach(child.pid());
    child.release();
    const auto result = child.read_report<std::array<int, 2>>();
    EXPECT_EQ(result[1], EAGAIN);
    EXPECT_EQ(result[0], 15);  // the bomb itself is the 16th
    const CgroupUsage usage = cgroup->usage();
    if (usage.pids_peak != 0) {  // pids.peak is absent on older kernels
        EXPECT_LE(usage.pids_peak, 16u);
        EXPECT_GE(usage.pids_peak, 15u);
    }
    EXPECT_TRUE(cgroup->populated());
    EXPECT_TRUE(cgroup->kill_all(milliseconds(2000)));
    EXPECT_FALSE(cgroup->populated());
    EXPECT_TRUE(cgroup->wait_empty(milliseconds(0)));
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(CgroupBackend, DestructorKillsWhatIsLeftAndRemovesEveryDirectory) {
    const std::string id = new_id();
    auto cgroup = create(id, {.memory_bytes = 64 * kMiB, .pids = 16});
    const auto dirs = cgroup_directories(*cgroup);
    Child child([](int) { ::pause(); });
    cgroup->attach(child.pid());
    child.release();
    cgroup.reset();
    const int status = child.wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
    for (const auto& dir : dirs) {
        EXPECT_FALSE(fs::exists(dir)) << dir;
    }
    EXPECT_TRUE(find_dirs_named(options_.mount_root, "jail-" + id).empty());
}

TEST_F(CgroupBackend, ALimitTheKernelRejectsLeavesNothingBehind) {
    const std::string id = new_id();
    try {
        // pids.max above PID_MAX_LIMIT is EINVAL; it is written after every directory exists.
        create(id, {.memory_bytes = 64 * kMiB, .cpus = 0.5, .pids = 0xffffffffu});
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup);
        EXPECT_EQ(error.err(), EINVAL);
        EXPECT_NE(std::string(error.what()).find("pids.max"), std::string::npos) << error.what();
    }
    EXPECT_TRUE(find_dirs_named(options_.mount_root, "jail-" + id).empty());
}

TEST_F(CgroupBackend, AMissingParentIsAnErrorAndCreatesNothing) {
    const std::string id = new_id();
    options_.parent = "/ccjail-test-missing-" + std::to_string(::getpid());
    try {
        create(id, {});
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.step(), Step::cgroup);
        EXPECT_EQ(error.err(), ENOENT);
    }
    EXPECT_TRUE(find_dirs_named(options_.mount_root, "jail-" + id).empty());
}

TEST_F(CgroupBackend, ADuplicateIdFailsWithoutTouchingTheExistingJail) {
    const std::string id = new_id();
    auto first = create(id, {.pids = 16});
    const auto dirs = cgroup_directories(*first);
    try {
        create(id, {.pids = 16});
        FAIL() << "no exception";
    } catch (const JailError& error) {
        EXPECT_EQ(error.err(), EEXIST);
    }
    for (const auto& dir : dirs) {
        EXPECT_TRUE(fs::is_directory(dir)) << dir;
    }
    first.reset();
    EXPECT_TRUE(find_dirs_named(options_.mount_root, "jail-" + id).empty());
}

TEST_F(CgroupBackend, AnExistingParentReceivesTheJailDirectly) {
    const std::string id = new_id();
    const std::string parent_name = "ccjail-test-parent-" + std::to_string(::getpid());
    auto holder = create(new_id(), {});  // proves where our jails live, to put the parent there
    const fs::path sibling = cgroup_directories(*holder).front().parent_path();
    holder.reset();
    if (version_ == CgroupVersion::v1) {
        GTEST_SKIP() << "v1 parents are per hierarchy; covered by the missing-parent test";
    }
    const fs::path parent = sibling.parent_path() / parent_name;
    fs::create_directory(parent);
    options_.parent = parent;
    {
        auto cgroup = create(id, {.pids = 8});
        ASSERT_EQ(cgroup_directories(*cgroup).size(), 1u);
        EXPECT_EQ(cgroup_directories(*cgroup).front(), parent / ("jail-" + id));
    }
    EXPECT_FALSE(fs::exists(parent / ("jail-" + id)));
    fs::remove(parent);
}

}  // namespace
}  // namespace ccjail
