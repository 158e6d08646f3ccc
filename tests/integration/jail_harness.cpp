#include "jail_harness.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/unique_fd.hpp"
#include "profile/profile_loader.hpp"

extern char** environ;

namespace ccjail::itest {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string read_text(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_text(const fs::path& file, const std::string& text) {
    std::ofstream out(file, std::ios::trunc);
    out << text;
    if (!out) {
        throw std::runtime_error("cannot write " + file.string());
    }
}

// The caller's $TMPDIR, else /tmp: the VM tier has only those writable.
fs::path temp_base() {
    const char* tmpdir = std::getenv("TMPDIR");
    return tmpdir && *tmpdir ? fs::path(tmpdir) : fs::path("/tmp");
}

fs::path make_temp_dir() {
    std::string pattern = (temp_base() / "ccjail-itest-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) {
        throw std::runtime_error("mkdtemp " + pattern + " failed");
    }
    return pattern;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
    std::vector<char*> pointers;
    for (auto& s : strings) {
        pointers.push_back(s.data());
    }
    pointers.push_back(nullptr);
    return pointers;
}

// Reads what is there now; false once the pipe is at EOF.
bool drain(int fd, std::string& into) {
    char buffer[65536];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            into.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        return n < 0 && errno == EAGAIN;
    }
}

void find_jail_dirs(const fs::path& dir, int depth, std::set<fs::path>& found) {
    if (depth > 12) {
        return;
    }
    std::error_code error;
    // Cgroups come and go while we walk: a vanished directory just ends that branch.
    for (fs::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
        std::error_code type_error;
        if (it->is_symlink(type_error) || !it->is_directory(type_error)) {
            continue;
        }
        if (it->path().filename().string().rfind("jail-", 0) == 0) {
            found.insert(it->path());
        }
        find_jail_dirs(it->path(), depth + 1, found);
    }
}

std::vector<pid_t> all_pids() {
    std::vector<pid_t> pids;
    std::error_code error;
    for (fs::directory_iterator it("/proc", error), end; !error && it != end; it.increment(error)) {
        const std::string name = it->path().filename();
        if (name.find_first_not_of("0123456789") == std::string::npos) {
            pids.push_back(static_cast<pid_t>(std::stol(name)));
        }
    }
    return pids;
}

}  // namespace

std::string JailRun::status() const {
    return report.is_object() && report.contains("status") ? report["status"].get<std::string>()
                                                           : std::string("<no report>");
}

json JailRun::out_json() const {
    std::string text = out;
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    const auto start = text.rfind('\n');
    return json::parse(start == std::string::npos ? text : text.substr(start + 1), nullptr, false);
}

std::string JailRun::describe() const {
    std::ostringstream s;
    s << "ccjail-exec exit=" << exit_code << " signal=" << term_signal
      << (timed_out ? " TIMED OUT" : "") << " after " << elapsed.count()
      << " ms\n  stdout: " << out.substr(0, 4000) << "\n  stderr: " << err.substr(0, 4000)
      << "\n  report: " << report.dump();
    return s.str();
}

std::set<fs::path> jail_cgroup_dirs() {
    std::set<fs::path> found;
    find_jail_dirs("/sys/fs/cgroup", 0, found);
    return found;
}

std::vector<std::string> host_mount_points() {
    std::istringstream info(read_text("/proc/self/mountinfo"));
    std::vector<std::string> points;
    std::string line;
    while (std::getline(info, line)) {
        std::istringstream fields(line);
        std::string id, parent, devno, root, point;
        fields >> id >> parent >> devno >> root >> point;
        points.push_back(point);
    }
    std::sort(points.begin(), points.end());
    return points;
}

HostSnapshot snapshot_host() {
    return {jail_cgroup_dirs(), host_mount_points()};
}

std::vector<pid_t> processes_with_uid(uid_t uid) {
    std::vector<pid_t> found;
    const std::string wanted = std::to_string(uid);
    for (pid_t pid : all_pids()) {
        std::istringstream status(read_text("/proc/" + std::to_string(pid) + "/status"));
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("Uid:", 0) != 0) {
                continue;
            }
            std::istringstream ids(line.substr(4));
            std::string real, effective;
            ids >> real >> effective;
            if (real == wanted || effective == wanted) {
                found.push_back(pid);
            }
        }
    }
    return found;
}

std::vector<pid_t> processes_whose_cmdline_contains(const std::string& text) {
    std::vector<pid_t> found;
    for (pid_t pid : all_pids()) {
        std::string cmdline = read_text("/proc/" + std::to_string(pid) + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (pid != ::getpid() && cmdline.find(text) != std::string::npos) {
            found.push_back(pid);
        }
    }
    return found;
}

void JailTest::SetUp() {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "needs root: ccjail-exec builds namespaces, mounts and cgroups";
    }
    root_ = make_temp_dir();
    workspace_root_ = root_ / "workspaces";
    homes_root_ = root_ / "homes";
    state_dir_ = root_ / "state";
    profiles_dir_ = root_ / "profiles";
    probe_dir_ = fs::path(CCJAIL_JAIL_PROBE_PATH).parent_path();
    for (const auto& dir : {workspace_root_, state_dir_, profiles_dir_}) {
        fs::create_directories(dir);
    }
    for (const auto& entry : fs::directory_iterator(CCJAIL_PROFILES_DIR)) {
        if (entry.path().extension() == ".json") {
            fs::copy_file(entry.path(), profiles_dir_ / entry.path().filename());
        }
    }
    write_profile(
        "probe",
        {{"extends", "minimal"},
         {"description", "integration tests: minimal with the probes at /probe"},
         {"filesystem", {{"binds", {{{"source", probe_dir_.string()}, {"target", "/probe"}}}}}}});
    const Profile probe = load("probe");
    probe_uid_ = probe.identity.uid;
    probe_gid_ = probe.identity.gid;
    workspace();
}

void JailTest::TearDown() {
    if (!root_.empty()) {
        std::error_code ignored;
        fs::remove_all(root_, ignored);
    }
}

void JailTest::write_profile(const std::string& name, const json& document) {
    write_text(profiles_dir_ / (name + ".json"), document.dump(2) + "\n");
}

void JailTest::derive_profile(const std::string& name, json overrides) {
    overrides["extends"] = "probe";
    write_profile(name, overrides);
}

Profile JailTest::load(const std::string& name) const {
    return load_profile(name, profiles_dir_);
}

fs::path JailTest::workspace(const std::string& user, uid_t uid, gid_t gid) {
    const fs::path dir = workspace_root_ / user;
    if (!fs::exists(dir)) {
        fs::create_directories(dir);
        if (::chown(dir.c_str(), uid, gid) != 0) {
            throw std::runtime_error("chown " + dir.string() + " failed");
        }
        ::chmod(dir.c_str(), 0755);
    }
    return dir;
}

JailRun JailTest::probe(const std::vector<std::string>& args, const std::string& profile) {
    RunOptions options;
    options.profile = profile;
    return probe(options, args);
}

JailRun JailTest::probe(RunOptions options, const std::vector<std::string>& args) {
    options.argv = {kJailProbe};
    options.argv.insert(options.argv.end(), args.begin(), args.end());
    return run(options);
}

JailRun JailTest::run(const RunOptions& options) {
    const fs::path status_file = root_ / ("status-" + std::to_string(++runs_) + ".json");
    std::vector<std::string> args = {
        CCJAIL_EXEC_PATH,   "--profile",     options.profile, "--profiles-dir", profiles_dir_,
        "--workspace-root", workspace_root_, "--homes-root",  homes_root_,      "--state-dir",
        state_dir_,         "--user",        options.user,    "--status-json",  status_file};
    if (options.workspace) {
        args.insert(args.end(), {"--workspace", *options.workspace});
    }
    args.insert(args.end(), options.exec_args.begin(), options.exec_args.end());
    args.push_back("--");
    args.insert(args.end(), options.argv.begin(), options.argv.end());
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        env.emplace_back(*e);
    }
    env.push_back(std::string(kHostSecretName) + "=host-secret-" + std::to_string(::getpid()));
    auto argv = c_strings(args);
    auto envp = c_strings(env);
    const std::string leak = options.leak_file ? options.leak_file->string() : "";

    int out_pipe[2], err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
    UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);
    const auto start = Clock::now();
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        ::dup2(null, 0);
        ::dup2(out_write.get(), 1);
        ::dup2(err_write.get(), 2);
        if (!leak.empty() && ::open(leak.c_str(), O_RDONLY) < 0) {
            ::_exit(126);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    out_write.reset();
    err_write.reset();
    ::fcntl(out_read.get(), F_SETFL, O_NONBLOCK);
    ::fcntl(err_read.get(), F_SETFL, O_NONBLOCK);
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

    JailRun result;
    bool out_open = true, err_open = true, exited = false, ready_fired = false;
    auto deadline = Clock::now() + options.timeout;
    // Once ccjail-exec has exited, output still held open by a leftover process is not waited
    // for long: that process is a failure the test reports, not a reason to hang.
    std::optional<Clock::time_point> drain_until;
    while (out_open || err_open || !exited) {
        const auto now = Clock::now();
        if (drain_until && now >= *drain_until) {
            break;
        }
        if (now >= deadline && !result.timed_out) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            deadline = now + milliseconds(2000);
        } else if (now >= deadline) {
            break;
        }
        pollfd fds[3] = {{out_open ? out_read.get() : -1, POLLIN, 0},
                         {err_open ? err_read.get() : -1, POLLIN, 0},
                         {exited ? -1 : pidfd.get(), POLLIN, 0}};
        auto until = drain_until ? std::min(*drain_until, deadline) : deadline;
        const auto wait =
            std::chrono::duration_cast<milliseconds>(until - Clock::now()).count() + 1;
        if (::poll(fds, 3, static_cast<int>(std::max<long long>(0, wait))) < 0 && errno != EINTR) {
            break;
        }
        if (fds[0].revents) {
            out_open = drain(out_read.get(), result.out);
        }
        if (fds[1].revents) {
            err_open = drain(err_read.get(), result.err);
        }
        if (!ready_fired && options.on_ready && !options.ready_marker.empty() &&
            result.out.find(options.ready_marker) != std::string::npos) {
            ready_fired = true;
            options.on_ready(pid);
        }
        if (fds[2].revents) {
            exited = true;
            drain_until = Clock::now() + milliseconds(500);
        }
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    result.elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
    if (WIFEXITED(status)) {
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.term_signal = WTERMSIG(status);
    }
    if (fs::exists(status_file)) {
        result.report = json::parse(read_text(status_file), nullptr, false);
    }
    return result;
}

void JailTest::expect_host_as_before(const HostSnapshot& before, const std::string& jail_id) {
    if (!jail_id.empty()) {
        for (const auto& dir : jail_cgroup_dirs()) {
            EXPECT_NE(dir.filename(), "jail-" + jail_id) << dir << " was left behind";
        }
    }
    // Other jails on this machine come and go; one of ours would stay.
    std::set<fs::path> appeared;
    for (int i = 0; i < 50; ++i) {
        appeared.clear();
        for (const auto& dir : jail_cgroup_dirs()) {
            if (!before.jail_cgroups.contains(dir)) {
                appeared.insert(dir);
            }
        }
        if (appeared.empty()) {
            break;
        }
        std::this_thread::sleep_for(milliseconds(100));
    }
    for (const auto& dir : appeared) {
        ADD_FAILURE() << "cgroup left behind: " << dir;
    }
    EXPECT_EQ(host_mount_points(), before.mount_points);
    // ccjail-exec and the jail's init both carry this test's temp dir in their argv.
    EXPECT_EQ(processes_whose_cmdline_contains(root_.string()), std::vector<pid_t>{});
}

}  // namespace ccjail::itest
