// ccjail-exec --daemon-fd: the session monitor driven over the link (docs/link.md). The test is
// the daemon: it launches the real ccjail-exec with one end of a SOCK_SEQPACKET pair as fd 3,
// sends `start`, and checks what comes back and what the jail does with the descriptors.
#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <fstream>
#include <thread>

#include "common/unique_fd.hpp"
#include "jail/spec.hpp"
#include "jail_harness.hpp"
#include "link/link_codec.hpp"
#include "link/session_socket.hpp"

namespace ccjail::itest {
namespace {

using link::LinkMessage;
using link::ReceiveResult;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kTimeout{15000};

struct Monitor {
    pid_t pid = -1;
    UniqueFd link;
};

// Reads what the fd holds until `until` says enough, EOF/EIO, or the timeout.
std::string read_until(int fd, const std::function<bool(const std::string&)>& until,
                       milliseconds timeout = kTimeout) {
    std::string text;
    const auto deadline = Clock::now() + timeout;
    while (!until(text) && Clock::now() < deadline) {
        struct pollfd p = {fd, POLLIN, 0};
        const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
        if (::poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            break;  // EOF, or EIO on a pty master whose slave is closed
        }
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

std::function<bool(const std::string&)> contains(std::string wanted) {
    return [wanted](const std::string& text) { return text.find(wanted) != std::string::npos; };
}

std::function<bool(const std::string&)> to_eof() {
    return [](const std::string&) { return false; };
}

UniqueFd make_ring() {
    UniqueFd fd(::memfd_create("ccjail-test-ring", MFD_CLOEXEC));
    EXPECT_TRUE(fd);
    EXPECT_EQ(::ftruncate(fd.get(), 8192), 0);
    return fd;
}

// The next message within the timeout; a null body on EOF or timeout.
LinkMessage next_message(int fd, milliseconds timeout = kTimeout) {
    LinkMessage message;
    struct pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        link::receive_link_message(fd, message) != ReceiveResult::message) {
        message.body = nullptr;
    }
    return message;
}

// The monitor's exit code, or -1 if it did not exit within the timeout (it is killed then).
int wait_exit(pid_t pid, milliseconds timeout = kTimeout) {
    const auto deadline = Clock::now() + timeout;
    int status = 0;
    while (Clock::now() < deadline) {
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    return -1;
}

class MonitorLink : public JailTest {
  protected:
    void SetUp() override {
        JailTest::SetUp();
        if (IsSkipped()) {
            return;
        }
        sessions_dir_ = root_ / "sessions";
        fs::create_directories(sessions_dir_);
        session_ = new_jail_id();
    }

    void TearDown() override {
        for (pid_t pid : launched_) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, WNOHANG);
        }
        JailTest::TearDown();
    }

    Monitor launch() {
        int pair[2];
        EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        UniqueFd ours(pair[0]), theirs(pair[1]);
        const pid_t pid = ::fork();
        if (pid == 0) {
            // fd 3 as the daemon gives it: without close-on-exec.
            if (::dup2(theirs.get(), 3) != 3) {
                ::_exit(126);
            }
            // What Boost.Process 1.81 does to the real monitor: a daemon fd without CLOEXEC.
            const int leak = ::open(leak_file().c_str(), O_RDONLY | O_CREAT, 0600);
            ::dup2(leak, 9);
            const int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            sigset_t none;
            sigemptyset(&none);
            ::sigprocmask(SIG_SETMASK, &none, nullptr);
            ::execl(CCJAIL_EXEC_PATH, CCJAIL_EXEC_PATH, "--daemon-fd", "3", nullptr);
            ::_exit(127);
        }
        launched_.push_back(pid);
        return {pid, std::move(ours)};
    }

    json request(std::vector<std::string> argv, const std::string& mode) const {
        return {{"profile", "probe"}, {"user", "default"}, {"argv", argv}, {"mode", mode}};
    }

    json start(const json& spawn_request, std::uint64_t orphan_timeout_ms = 30000) const {
        return {{"type", "start"},
                {"session", session_},
                {"request", spawn_request},
                {"profiles_dir", profiles_dir_.string()},
                {"host",
                 {{"workspace_root", workspace_root_.string()},
                  {"homes_root", homes_root_.string()},
                  {"state_dir", state_dir_.string()},
                  {"cgroup_parent", ""}}},
                {"sessions_dir", sessions_dir_.string()},
                {"kill_grace_ms", 2000},
                {"orphan_timeout_ms", orphan_timeout_ms}};
    }

    // Launches a monitor and sends `start` with the rings its mode needs.
    Monitor start_session(const json& spawn_request, std::uint64_t orphan_timeout_ms = 30000) {
        Monitor monitor = launch();
        const bool pipe = spawn_request.value("mode", "pty") == "pipe";
        rings_.clear();
        rings_.push_back(make_ring());
        if (pipe) {
            rings_.push_back(make_ring());
        }
        std::vector<int> fds;
        for (const auto& ring : rings_) {
            fds.push_back(ring.get());
        }
        EXPECT_TRUE(link::send_link_message(monitor.link.get(),
                                            start(spawn_request, orphan_timeout_ms), fds));
        return monitor;
    }

    // Sends exit_ack and checks that the monitor exits 0, removing its socket and nothing else.
    void acknowledge_and_expect_gone(Monitor& monitor, int link_fd = -1) {
        ASSERT_TRUE(link::send_link_message(link_fd >= 0 ? link_fd : monitor.link.get(),
                                            {{"type", "exit_ack"}}));
        EXPECT_EQ(wait_exit(monitor.pid), 0);
        EXPECT_FALSE(fs::exists(socket_path()));
        EXPECT_TRUE(fs::exists(sessions_dir_ / (session_ + ".exit.json")));
    }

    fs::path leak_file() const { return root_ / "leaked-by-the-daemon"; }

    fs::path socket_path() const { return sessions_dir_ / (session_ + ".sock"); }

    json exit_file() const {
        std::ifstream in(sessions_dir_ / (session_ + ".exit.json"));
        return json::parse(in, nullptr, false);
    }

    fs::path sessions_dir_;
    std::string session_;
    std::vector<UniqueFd> rings_;
    std::vector<pid_t> launched_;
};

TEST_F(MonitorLink, PtyReadyCarriesTheMasterOfTheJailsOwnDevpts) {
    Monitor monitor = start_session(request({"/bin/sh", "-c", "tty; exit 3"}, "pty"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    EXPECT_EQ(ready.body.at("session"), session_);
    EXPECT_EQ(ready.body.at("mode"), "pty");
    EXPECT_EQ(ready.body.at("monitor_pid"), monitor.pid);
    EXPECT_GT(ready.body.at("init_pid").get<int>(), 0);
    EXPECT_NE(ready.body.at("cgroup").get<std::string>().find("jail-" + session_),
              std::string::npos);
    ASSERT_EQ(ready.fds.size(), 2u);  // [ring_out, master]
    // The socket exists before ready, and only root may use it.
    struct stat st {};
    ASSERT_EQ(::stat(socket_path().c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0600u);

    const std::string output = read_until(ready.fds[1].get(), contains("\r\n"));
    EXPECT_EQ(output, "/dev/pts/0\r\n");

    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["status"], "exited");
    EXPECT_EQ(exit.body["report"]["exit_code"], 3);
    EXPECT_EQ(exit.body["report"]["id"], session_);
    EXPECT_EQ(exit_file(), exit.body["report"]);
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, PipeModeKeepsStdoutAndStderrApartAndCloseStdinEndsInput) {
    Monitor monitor = start_session(
        request({"/bin/sh", "-c", "echo to-out; echo to-err >&2; cat; echo after-cat"}, "pipe"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    EXPECT_EQ(ready.body.at("mode"), "pipe");
    EXPECT_EQ(ready.body.at("stdin_closed"), false);
    ASSERT_EQ(ready.fds.size(), 5u);  // [ring_out, ring_err, stdin_w, stdout_r, stderr_r]
    UniqueFd stdin_w = std::move(ready.fds[2]);
    ASSERT_EQ(::write(stdin_w.get(), "fed-in\n", 7), 7);
    // cat ends only when every write end is closed: ours and the monitor's.
    stdin_w.reset();
    ASSERT_TRUE(link::send_link_message(monitor.link.get(), {{"type", "close_stdin"}}));

    EXPECT_EQ(read_until(ready.fds[3].get(), to_eof()), "to-out\nfed-in\nafter-cat\n");
    EXPECT_EQ(read_until(ready.fds[4].get(), to_eof()), "to-err\n");
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["status"], "exited");
    EXPECT_EQ(exit.body["report"]["exit_code"], 0);
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, SetupFailureIsAnExitWithNoReady) {
    Monitor monitor = start_session(request({"/no/such/program"}, "pipe"));
    LinkMessage first = next_message(monitor.link.get());
    ASSERT_EQ(first.body.value("type", ""), "exit") << first.body.dump();
    EXPECT_TRUE(first.fds.empty());
    EXPECT_EQ(first.body["report"]["status"], "setup_failed");
    EXPECT_EQ(first.body["report"]["step"], "exec");
    EXPECT_EQ(first.body["report"]["errno"], ENOENT);
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, UnknownProfileIsASetupFailureAtTheProfileStep) {
    json bad = request({"/bin/true"}, "pty");
    bad["profile"] = "no-such-profile";
    Monitor monitor = start_session(bad);
    LinkMessage first = next_message(monitor.link.get());
    ASSERT_EQ(first.body.value("type", ""), "exit") << first.body.dump();
    EXPECT_EQ(first.body["report"]["status"], "setup_failed");
    EXPECT_EQ(first.body["report"]["step"], "profile");
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, KillWithGraceEndsAProgramThatIgnoresSigtermAsKilled) {
    Monitor monitor = start_session(request(
        {"/bin/sh", "-c", "trap '' TERM; echo armed; while :; do sleep 0.1; done"}, "pipe"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    ASSERT_EQ(read_until(ready.fds[3].get(), contains("armed\n")), "armed\n");
    const auto sent = Clock::now();
    ASSERT_TRUE(link::send_link_message(
        monitor.link.get(), {{"type", "kill"}, {"grace_ms", 500}, {"status", "killed"}}));
    LinkMessage exit = next_message(monitor.link.get());
    const auto took = std::chrono::duration_cast<milliseconds>(Clock::now() - sent);
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["status"], "killed");
    // The program ignored SIGTERM: only the cgroup kill after the grace ended it.
    EXPECT_GE(took.count(), 450);
    EXPECT_LT(took.count(), 8000);
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, KillCarriesTheDaemonsStatusEvenWhenTheProgramObeysSigterm) {
    Monitor monitor = start_session(
        request({"/bin/sh", "-c", "echo armed; while :; do sleep 0.1; done"}, "pipe"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    ASSERT_EQ(read_until(ready.fds[3].get(), contains("armed\n")), "armed\n");
    ASSERT_TRUE(link::send_link_message(
        monitor.link.get(), {{"type", "kill"}, {"grace_ms", 5000}, {"status", "output_limit"}}));
    LinkMessage exit = next_message(monitor.link.get(), milliseconds(4000));
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["status"], "output_limit");
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, SignalReachesTheProgram) {
    Monitor monitor = start_session(
        request({"/bin/sh", "-c",
                 "trap 'echo got-usr1; exit 7' USR1; echo armed; while :; do sleep 0.1; done"},
                "pipe"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    ASSERT_EQ(read_until(ready.fds[3].get(), contains("armed\n")), "armed\n");
    ASSERT_TRUE(
        link::send_link_message(monitor.link.get(), {{"type", "signal"}, {"signal", SIGUSR1}}));
    EXPECT_EQ(read_until(ready.fds[3].get(), to_eof()), "got-usr1\n");
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["status"], "exited");
    EXPECT_EQ(exit.body["report"]["exit_code"], 7);
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, UsageListsTheJailsProcesses) {
    Monitor monitor = start_session(request({"/bin/sh", "-c", "echo armed; read x"}, "pipe"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    ASSERT_EQ(read_until(ready.fds[3].get(), contains("armed\n")), "armed\n");
    ASSERT_TRUE(link::send_link_message(monitor.link.get(), {{"type", "usage"}}));
    LinkMessage usage = next_message(monitor.link.get());
    ASSERT_EQ(usage.body.value("type", ""), "usage") << usage.body.dump();
    const auto pids = usage.body.at("pids").get<std::vector<pid_t>>();
    // The init and the shell, by host pid.
    EXPECT_EQ(pids.size(), 2u) << usage.body.dump();
    EXPECT_NE(std::find(pids.begin(), pids.end(), ready.body.at("init_pid").get<pid_t>()),
              pids.end());
    EXPECT_GT(usage.body["usage"]["memory_bytes"].get<std::uint64_t>(), 0u);
    ASSERT_EQ(::write(ready.fds[2].get(), "\n", 1), 1);
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, ANewDaemonAdoptsTheSessionAfterTheLinkCloses) {
    Monitor monitor =
        start_session(request({"/bin/sh", "-c", "read line; echo got-$line; exit 4"}, "pipe"));
    {
        LinkMessage ready = next_message(monitor.link.get());
        ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
        // The daemon dies: its link and every descriptor it held are gone.
    }
    monitor.link.reset();
    rings_.clear();
    std::this_thread::sleep_for(milliseconds(200));
    ASSERT_EQ(::waitpid(monitor.pid, nullptr, WNOHANG), 0) << "link EOF ended the monitor";

    UniqueFd adopted = link::connect_session_socket(socket_path());
    ASSERT_TRUE(link::send_link_message(adopted.get(), {{"type", "adopt"}}));
    LinkMessage ready = next_message(adopted.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    ASSERT_EQ(ready.fds.size(), 5u);
    ASSERT_EQ(::write(ready.fds[2].get(), "x\n", 2), 2);
    EXPECT_EQ(read_until(ready.fds[3].get(), contains("\n")), "got-x\n");
    LinkMessage exit = next_message(adopted.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["exit_code"], 4);
    acknowledge_and_expect_gone(monitor, adopted.get());
}

TEST_F(MonitorLink, AdoptingAnEndedSessionGivesReadyThenExit) {
    Monitor monitor = start_session(request({"/bin/sh", "-c", "echo last-words"}, "pty"));
    LinkMessage first = next_message(monitor.link.get());
    ASSERT_EQ(first.body.value("type", ""), "ready") << first.body.dump();
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    monitor.link.reset();  // the daemon died before it acknowledged, and before it read output
    first.fds.clear();
    rings_.clear();

    UniqueFd adopted = link::connect_session_socket(socket_path());
    ASSERT_TRUE(link::send_link_message(adopted.get(), {{"type", "adopt"}}));
    LinkMessage ready = next_message(adopted.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    ASSERT_EQ(ready.fds.size(), 2u);
    // The monitor held the master: output the program wrote before the crash is still there.
    EXPECT_EQ(read_until(ready.fds[1].get(), contains("\r\n")), "last-words\r\n");
    LinkMessage again = next_message(adopted.get());
    ASSERT_EQ(again.body.value("type", ""), "exit") << again.body.dump();
    EXPECT_EQ(again.body["report"], exit.body["report"]);
    acknowledge_and_expect_gone(monitor, adopted.get());
}

TEST_F(MonitorLink, WithoutExitAckTheMonitorLeavesAfterTheOrphanTimeout) {
    Monitor monitor = start_session(request({"/bin/true"}, "pty"), 300);
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(wait_exit(monitor.pid, milliseconds(5000)), 0);
    EXPECT_FALSE(fs::exists(socket_path()));
    // The report stays for a daemon that comes back later.
    EXPECT_EQ(exit_file()["status"], "exited");
}

TEST_F(MonitorLink, ANonRootPeerCannotAdopt) {
    Monitor monitor = start_session(request({"/bin/sh", "-c", "read x"}, "pipe"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    // Open the file modes wide, so that only the SO_PEERCRED check stands in the way.
    ASSERT_EQ(::chmod(sessions_dir_.c_str(), 0711), 0);
    ASSERT_EQ(::chmod(socket_path().c_str(), 0666), 0);
    const std::string name = session_ + ".sock";
    const pid_t child = ::fork();
    if (child == 0) {
        // A relative path from inside the sessions dir: the test's 0700 temp dirs above it
        // would stop a non-root connect before the monitor ever saw it.
        if (::chdir(sessions_dir_.c_str()) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0) {
            ::_exit(10);
        }
        try {
            UniqueFd fd = link::connect_session_socket(name);
            if (!link::send_link_message(fd.get(), {{"type", "adopt"}})) {
                ::_exit(0);  // already closed by the monitor
            }
            LinkMessage answer = next_message(fd.get(), milliseconds(5000));
            ::_exit(answer.body.is_null() ? 0 : 1);
        } catch (...) {
            ::_exit(11);
        }
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the non-root peer got an answer; 1x: setup failed";
    // The daemon's own link still works: the session goes on and ends normally.
    ASSERT_EQ(::write(ready.fds[2].get(), "\n", 1), 1);
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    EXPECT_EQ(exit.body["report"]["status"], "exited");
    acknowledge_and_expect_gone(monitor);
}

TEST_F(MonitorLink, LeakedDescriptorsAreClosedAndTheMonitorHasASessionOfItsOwn) {
    Monitor monitor = start_session(request({"/bin/sh", "-c", "read x"}, "pty"));
    LinkMessage ready = next_message(monitor.link.get());
    ASSERT_EQ(ready.body.value("type", ""), "ready") << ready.body.dump();
    // setsid: the monitor leads a session of its own, away from the daemon's.
    EXPECT_EQ(::getsid(monitor.pid), monitor.pid);
    int descriptors = 0;
    for (const auto& entry :
         fs::directory_iterator("/proc/" + std::to_string(monitor.pid) + "/fd")) {
        std::error_code error;
        EXPECT_NE(fs::read_symlink(entry.path(), error), leak_file()) << entry.path();
        ++descriptors;
    }
    EXPECT_GT(descriptors, 3);
    ASSERT_EQ(::write(ready.fds[1].get(), "\n", 1), 1);
    LinkMessage exit = next_message(monitor.link.get());
    ASSERT_EQ(exit.body.value("type", ""), "exit") << exit.body.dump();
    acknowledge_and_expect_gone(monitor);
}

}  // namespace
}  // namespace ccjail::itest
