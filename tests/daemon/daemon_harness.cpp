#include "daemon_harness.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/unique_fd.hpp"

namespace ccjail::dtest {
namespace {

using Clock = std::chrono::steady_clock;

std::set<pid_t>& daemon_pids() {
    static std::set<pid_t> pids;
    return pids;
}

bool socket_accepts(const fs::path& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un address {};
    address.sun_family = AF_UNIX;
    const std::string text = path.string();
    text.copy(address.sun_path, sizeof address.sun_path - 1);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

// pid -> (ppid, state, comm) for every process.
struct ProcInfo {
    pid_t ppid = 0;
    char state = '?';
    std::string comm;
};

std::map<pid_t, ProcInfo> process_table() {
    std::map<pid_t, ProcInfo> table;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
            continue;
        }
        const std::string stat = read_file(entry.path() / "stat");
        const auto open = stat.find('(');
        const auto close = stat.rfind(')');
        if (open == std::string::npos || close == std::string::npos || close + 4 > stat.size()) {
            continue;
        }
        ProcInfo info;
        info.comm = stat.substr(open + 1, close - open - 1);
        std::istringstream rest(stat.substr(close + 2));
        rest >> info.state >> info.ppid;
        table[static_cast<pid_t>(std::stol(name))] = info;
    }
    return table;
}

std::string cmdline_of(pid_t pid) {
    std::string text = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(text.begin(), text.end(), '\0', ' ');
    return text;
}

void become_subreaper() {
    static const bool done = [] {
        ::prctl(PR_SET_CHILD_SUBREAPER, 1);
        return true;
    }();
    (void)done;
}

int wait_status_code(int status) {
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    if (WIFSIGNALED(status)) {
        return 128 + WTERMSIG(status);
    }
    return -1;
}

// Waits for `pid` until `deadline`; the raw status, or nullopt on timeout.
std::optional<int> wait_until(pid_t pid, Clock::time_point deadline) {
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) {
            return status;
        }
        if (r < 0 && errno != EINTR) {
            return 0;  // already reaped elsewhere
        }
        if (Clock::now() >= deadline) {
            return std::nullopt;
        }
        std::this_thread::sleep_for(10ms);
    }
}

}  // namespace

namespace {

fs::path from_env_or(const char* variable, const fs::path& built) {
    const char* value = ::getenv(variable);
    return value != nullptr && *value != '\0' ? fs::path(value) : built;
}

}  // namespace

fs::path ccjaild_path() {
    return from_env_or("CCJAIL_DTEST_CCJAILD", CCJAILD_PATH);
}

fs::path exec_path() {
    return from_env_or("CCJAIL_DTEST_EXEC", CCJAIL_EXEC_PATH);
}

fs::path ccjailctl_path() {
    return from_env_or("CCJAIL_DTEST_CTL", CCJAILCTL_PATH);
}

fs::path base_profile_path() {
    return from_env_or("CCJAIL_DTEST_BASE_PROFILE",
                       fs::path(CCJAIL_SHIPPED_PROFILES_DIR) / "base.json");
}

fs::path probe_dir() {
    return from_env_or("CCJAIL_DTEST_PROBE_DIR", fs::path(CCJAIL_DAEMON_PROBE_PATH).parent_path());
}

fs::path test_profiles_dir() {
    return from_env_or("CCJAIL_DTEST_PROFILES_DIR", CCJAIL_DAEMON_TEST_PROFILES_DIR);
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_file(const fs::path& path, const std::string& text, mode_t mode) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    ::chmod(path.c_str(), mode);
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos;
         at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

// ---- Daemon -------------------------------------------------------------------------------------

Daemon::Daemon(DaemonOptions options) {
    become_subreaper();
    char pattern[] = "/tmp/ccjail-dt-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
        throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    }
    root_ = pattern;
    // Traversable, so that a client of another uid can reach the socket below it.
    ::chmod(root_.c_str(), 0755);
    for (const auto& dir : {state_dir(), workspace_root(), state_dir() / "homes", profiles_dir()}) {
        fs::create_directories(dir);
        ::chmod(dir.c_str(), 0755);
    }
    if (options.precreate_run_dir) {
        fs::create_directories(state_dir() / "run");
        ::chmod((state_dir() / "run").c_str(), 0755);
    }
    copy_profiles();
    write_config(options);
    args_ = {ccjaild_path().string(), "--config",       config_path_.string(),   "--state-dir",
             state_dir().string(),    "--profiles-dir", profiles_dir().string(), "--exec-path",
             exec_path().string(),    "--socket",       socket().string()};
    args_.insert(args_.end(), options.extra_args.begin(), options.extra_args.end());
}

Daemon::~Daemon() {
    if (running()) {
        if (!terminate(20s)) {
            kill_hard();
        }
    }
    // Whatever a failed test left: kill it, so that the next test starts clean.
    for (int round = 0; round < 50; ++round) {
        const auto table = process_table();
        bool any = false;
        std::deque<pid_t> queue{::getpid()};
        while (!queue.empty()) {
            const pid_t parent = queue.front();
            queue.pop_front();
            for (const auto& [pid, info] : table) {
                if (info.ppid == parent) {
                    queue.push_back(pid);
                    if (info.state != 'Z') {
                        ::kill(pid, SIGKILL);
                        any = true;
                    }
                }
            }
        }
        reap_orphans();
        if (!any) {
            break;
        }
        std::this_thread::sleep_for(20ms);
    }
    std::set<std::string> ids;
    for (const auto& line : log_lines()) {
        if (line.contains("session") && line["session"].is_string()) {
            ids.insert(line["session"].get<std::string>());
        }
    }
    for (const auto& dir : session_cgroups(ids)) {
        ::rmdir(dir.c_str());
    }
    std::error_code ignored;
    if (!::getenv("CCJAIL_DTEST_KEEP")) {
        fs::remove_all(root_, ignored);
    }
}

void Daemon::copy_profiles() {
    const std::string probes = probe_dir().string();
    write_file(profiles_dir() / "base.json", read_file(base_profile_path()), 0644);
    for (const auto& entry : fs::directory_iterator(test_profiles_dir())) {
        if (entry.path().extension() != ".json") {
            continue;
        }
        std::string text = read_file(entry.path());
        replace_all(text, "@PROBE_DIR@", probes);
        write_file(profiles_dir() / entry.path().filename(), text, 0644);
    }
}

void Daemon::write_config(const DaemonOptions& options) {
    json config = {
        {"socket_group", ""},    {"client_groups", json::array()}, {"admin_groups", json::array()},
        {"kill_grace_ms", 2000}, {"shutdown_grace_ms", 20000},     {"log_level", "info"}};
    config.merge_patch(options.config);
    config_path_ = root_ / "ccjaild.json";
    write_file(config_path_, config.dump(2), 0644);
}

void Daemon::start() {
    ASSERT_LT(pid_, 0) << "the daemon is already running";
    const fs::path log = root_ / "ccjaild.log";
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
        const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int null = ::open("/dev/null", O_RDONLY);
        if (out < 0 || null < 0) {
            ::_exit(120);
        }
        ::dup2(null, 0);
        ::dup2(out, 1);
        ::dup2(out, 2);
        ::close_range(3, ~0U, 0);
        std::vector<char*> argv;
        for (auto& arg : args_) {
            argv.push_back(arg.data());
        }
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    daemon_pids().insert(pid);
    const auto deadline = Clock::now() + 15s;
    while (Clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            daemon_pids().erase(pid_);
            pid_ = -1;
            FAIL() << "ccjaild exited with status " << wait_status_code(status)
                   << " before listening; its log:\n"
                   << log_text();
        }
        if (socket_accepts(socket())) {
            return;
        }
        std::this_thread::sleep_for(20ms);
    }
    FAIL() << "ccjaild did not listen on " << socket() << " within 15 s; its log:\n" << log_text();
}

void Daemon::kill_hard() {
    if (pid_ < 0) {
        return;
    }
    ::kill(pid_, SIGKILL);
    wait_until(pid_, Clock::now() + 10s);
    daemon_pids().erase(pid_);
    pid_ = -1;
}

std::optional<int> Daemon::terminate(std::chrono::milliseconds timeout) {
    send_signal(SIGTERM);
    return wait(timeout);
}

void Daemon::send_signal(int signal) {
    if (pid_ > 0) {
        ::kill(pid_, signal);
    }
}

json Daemon::reload(std::chrono::milliseconds timeout) {
    auto reloads = [this] {
        std::vector<json> found;
        for (auto& line : events("profiles_loaded")) {
            if (line.value("reason", "") == "reload") {
                found.push_back(std::move(line));
            }
        }
        return found;
    };
    const std::size_t before = reloads().size();
    send_signal(SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        auto found = reloads();
        if (found.size() > before) {
            return found.back();
        }
        std::this_thread::sleep_for(20ms);
    }
    return nullptr;
}

std::optional<int> Daemon::wait(std::chrono::milliseconds timeout) {
    if (pid_ < 0) {
        return std::nullopt;
    }
    const auto status = wait_until(pid_, Clock::now() + timeout);
    if (status) {
        daemon_pids().erase(pid_);
        pid_ = -1;
    }
    return status;
}

bool Daemon::running() {
    if (pid_ < 0) {
        return false;
    }
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == 0) {
        return true;
    }
    daemon_pids().erase(pid_);
    pid_ = -1;
    return false;
}

client::Client Daemon::connect(std::string_view name) {
    auto client = client::Client::connect(socket());
    client.hello(name);
    return client;
}

std::string Daemon::log_text() const {
    return read_file(root_ / "ccjaild.log");
}

std::vector<json> Daemon::log_lines() const {
    std::vector<json> lines;
    std::istringstream in(log_text());
    std::string line;
    while (std::getline(in, line)) {
        auto parsed = json::parse(line, nullptr, false);
        if (parsed.is_object()) {
            lines.push_back(std::move(parsed));
        }
    }
    return lines;
}

std::vector<json> Daemon::events(const std::string& event, const std::string& session) const {
    std::vector<json> found;
    for (auto& line : log_lines()) {
        if (line.value("event", std::string()) != event) {
            continue;
        }
        if (!session.empty() && line.value("session", std::string()) != session) {
            continue;
        }
        found.push_back(std::move(line));
    }
    return found;
}

std::uint64_t Daemon::vm_rss_bytes() const {
    std::istringstream in(read_file("/proc/" + std::to_string(pid_) + "/status"));
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stoull(line.substr(6)) * 1024;
        }
    }
    return 0;
}

// ---- leftovers ----------------------------------------------------------------------------------

void reap_orphans() {
    for (const auto& [pid, info] : process_table()) {
        if (info.ppid == ::getpid() && info.state == 'Z' && !daemon_pids().contains(pid)) {
            ::waitpid(pid, nullptr, WNOHANG);
        }
    }
}

std::vector<std::string> descendant_processes(pid_t except) {
    reap_orphans();
    const auto table = process_table();
    std::vector<std::string> found;
    std::deque<pid_t> queue{::getpid()};
    while (!queue.empty()) {
        const pid_t parent = queue.front();
        queue.pop_front();
        for (const auto& [pid, info] : table) {
            if (info.ppid != parent) {
                continue;
            }
            queue.push_back(pid);
            if (pid != except && info.state != 'Z') {
                found.push_back(std::to_string(pid) + " " + info.comm + " " + cmdline_of(pid));
            }
        }
    }
    return found;
}

std::vector<fs::path> session_cgroups(const std::set<std::string>& ids) {
    std::vector<fs::path> found;
    if (ids.empty()) {
        return found;
    }
    std::set<std::string> names;
    for (const auto& id : ids) {
        names.insert("jail-" + id);
    }
    std::error_code ec;
    fs::recursive_directory_iterator it("/sys/fs/cgroup",
                                        fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (!it->is_directory(ec) || it->is_symlink(ec)) {
            it.disable_recursion_pending();
            continue;
        }
        if (names.contains(it->path().filename().string())) {
            found.push_back(it->path());
        }
        if (it.depth() >= 8) {
            it.disable_recursion_pending();
        }
    }
    return found;
}

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> found;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        found.push_back(entry.path());
    }
    return found;
}

// ---- Reader -------------------------------------------------------------------------------------

bool ChannelState::has_event(const std::string& name) const {
    return event(name).has_value();
}

std::optional<json> ChannelState::event(const std::string& name) const {
    for (const auto& e : events) {
        if (e.value("event", std::string()) == name) {
            return e;
        }
    }
    return std::nullopt;
}

ChannelState& Reader::open(std::uint32_t channel, std::uint32_t window, std::uint64_t in_credit) {
    auto& state = channels_[channel];
    state.window = window;
    state.in_credit += in_credit;
    if (window > 0) {
        grant(channel, window);
    }
    return state;
}

void Reader::grant(std::uint32_t channel, std::uint32_t bytes) {
    try {
        client_.send_credit(channel, bytes);
    } catch (const client::ConnectionError&) {
        // The daemon is gone; what it sent before is still to be read.
        return;
    }
    channels_[channel].outstanding += bytes;
}

bool Reader::until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (done()) {
            return true;
        }
        if (closed_) {
            return false;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left <= 0ms) {
            return done();
        }
        try {
            auto frame = client_.next_frame(std::min<std::chrono::milliseconds>(left, 200ms));
            if (frame) {
                dispatch(std::move(*frame));
            }
        } catch (const client::ConnectionError&) {
            // A clean close, or a reset by a daemon that was killed: either way the end.
            closed_ = true;
        }
    }
}

bool Reader::until_out_contains(std::uint32_t channel, const std::string& text,
                                std::chrono::milliseconds timeout) {
    return until([&] { return channels_[channel].out.find(text) != std::string::npos; }, timeout);
}

bool Reader::until_exit(std::uint32_t channel, std::chrono::milliseconds timeout) {
    return until([&] { return !channels_[channel].exit_report.is_null(); }, timeout);
}

void Reader::drain_for(std::chrono::milliseconds duration) {
    until([] { return false; }, duration);
}

void Reader::dispatch(protocol::Frame frame) {
    using protocol::FrameType;
    auto& state = channels_[frame.channel];
    switch (frame.type) {
        case FrameType::out:
        case FrameType::err: {
            const bool out = frame.type == FrameType::out;
            if (state.sink) {
                state.sink(out, frame.payload);
            }
            (out ? state.out_bytes : state.err_bytes) += frame.payload.size();
            if (state.keep_data) {
                (out ? state.out : state.err) += frame.payload;
            }
            state.outstanding -= std::min<std::uint64_t>(state.outstanding, frame.payload.size());
            if (state.window > 0 && state.outstanding <= state.window / 2) {
                grant(frame.channel, static_cast<std::uint32_t>(state.window - state.outstanding));
            }
            if (state.delay_per_frame > 0us) {
                std::this_thread::sleep_for(state.delay_per_frame);
            }
            return;
        }
        case FrameType::evt: {
            auto body = json::parse(frame.payload, nullptr, false);
            if (!body.is_object()) {
                return;
            }
            if (frame.channel == 0) {
                connection_events_.push_back(body);
            }
            if (body.value("event", std::string()) == "exit" && body.contains("report")) {
                state.exit_report = body["report"];
            }
            state.events.push_back(std::move(body));
            return;
        }
        case FrameType::eof:
            state.eof = true;
            return;
        case FrameType::credit:
            state.in_credit += protocol::credit_bytes(frame);
            return;
        default:
            return;  // a late response to a timed-out request
    }
}

std::string error_event_code(const json& event) {
    if (event.contains("code") && event["code"].is_string()) {
        return event["code"].get<std::string>();
    }
    if (event.contains("error") && event["error"].is_object() && event["error"].contains("code")) {
        ADD_FAILURE() << "error event with code/message nested under \"error\" instead of at "
                         "the top level: "
                      << event.dump();
        return event["error"].value("code", "");
    }
    return "";
}

// ---- requests -----------------------------------------------------------------------------------

json spawn_body(const std::string& profile, const std::string& user,
                const std::vector<std::string>& argv, const std::string& mode) {
    return {{"op", "spawn"}, {"profile", profile}, {"user", user}, {"argv", argv}, {"mode", mode}};
}

Spawned spawn(client::Client& client, Reader& reader, const json& body, std::uint32_t window) {
    Spawned spawned;
    spawned.response = client.request(body, 30s);
    spawned.session = spawned.response.at("session").get<std::string>();
    spawned.channel = spawned.response.at("channel").get<std::uint32_t>();
    spawned.pid = spawned.response.value("pid", -1);
    reader.open(spawned.channel, window, spawned.response.value("in_credit", std::uint64_t{0}));
    return spawned;
}

json attach(client::Client& client, Reader& reader, const json& body, std::uint32_t window) {
    json request = body;
    request["op"] = "attach";
    json response = client.request(request, 30s);
    reader.open(response.at("channel").get<std::uint32_t>(), window,
                response.value("in_credit", std::uint64_t{0}));
    return response;
}

std::string error_code_of(client::Client& client, const json& body,
                          std::chrono::milliseconds timeout, std::uint32_t channel) {
    try {
        client.request(body, timeout, channel);
        return "ok";
    } catch (const client::ClientError& error) {
        return error.code_name();
    } catch (const client::TimeoutError&) {
        return "timeout";
    } catch (const client::ConnectionError&) {
        return "closed";
    }
}

std::string raw_header(std::uint32_t length, std::uint8_t type, std::uint32_t channel,
                       std::uint8_t flags) {
    std::string header(12, '\0');
    for (int i = 0; i < 4; ++i) {
        header[i] = static_cast<char>(length >> (24 - 8 * i));
        header[8 + i] = static_cast<char>(channel >> (24 - 8 * i));
    }
    header[4] = static_cast<char>(type);
    header[5] = static_cast<char>(flags);
    return header;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDONLY);
        ::dup2(null, 0);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        std::vector<char*> args;
        for (const auto& arg : argv) {
            args.push_back(const_cast<char*>(arg.c_str()));
        }
        args.push_back(nullptr);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    UniqueFd out_fd(out_pipe[0]);
    UniqueFd err_fd(err_pipe[0]);
    CommandResult result;
    const auto deadline = Clock::now() + timeout;
    bool out_open = true;
    bool err_open = true;
    while ((out_open || err_open) && Clock::now() < deadline) {
        struct pollfd fds[2] = {{out_open ? out_fd.get() : -1, POLLIN, 0},
                                {err_open ? err_fd.get() : -1, POLLIN, 0}};
        if (::poll(fds, 2, 100) <= 0) {
            continue;
        }
        char buffer[65536];
        for (int i = 0; i < 2; ++i) {
            if (fds[i].revents == 0) {
                continue;
            }
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n <= 0) {
                (i == 0 ? out_open : err_open) = false;
            } else {
                (i == 0 ? result.out : result.err).append(buffer, static_cast<std::size_t>(n));
            }
        }
    }
    auto status = wait_until(pid, deadline);
    if (!status) {
        ::kill(pid, SIGKILL);
        status = wait_until(pid, Clock::now() + 5s);
        result.err += "\n[killed after the timeout]";
        return result;
    }
    result.exit_code = wait_status_code(*status);
    return result;
}

ChildResult run_as(uid_t id, const std::function<int(std::FILE* out)>& body,
                   std::chrono::milliseconds timeout) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe2 failed");
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(pipe_fds[0]);
        std::FILE* out = ::fdopen(pipe_fds[1], "w");
        int code = 98;
        if (::setgroups(0, nullptr) != 0 || ::setresgid(id, id, id) != 0 ||
            ::setresuid(id, id, id) != 0) {
            std::fprintf(out, "cannot become uid %u: %s\n", id, std::strerror(errno));
        } else {
            try {
                code = body(out);
            } catch (const std::exception& error) {
                std::fprintf(out, "exception: %s\n", error.what());
                code = 99;
            }
        }
        std::fflush(out);
        ::_exit(code);
    }
    ::close(pipe_fds[1]);
    UniqueFd read_end(pipe_fds[0]);
    ChildResult result;
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        struct pollfd pfd {
            read_end.get(), POLLIN, 0
        };
        if (Clock::now() >= deadline) {
            break;
        }
        if (::poll(&pfd, 1, 100) <= 0) {
            continue;
        }
        char buffer[4096];
        const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
        if (n <= 0) {
            break;
        }
        result.output.append(buffer, static_cast<std::size_t>(n));
    }
    auto status = wait_until(pid, deadline);
    if (!status) {
        ::kill(pid, SIGKILL);
        wait_until(pid, Clock::now() + 5s);
        result.output += "\n[killed after the timeout]";
        return result;
    }
    result.exit_code = wait_status_code(*status);
    return result;
}

// ---- fixture ------------------------------------------------------------------------------------

void DaemonTest::SetUp() {
    if (::geteuid() != 0) {
        GTEST_SKIP() << "ccjaild runs as root and builds jails";
    }
    daemon_ = std::make_unique<Daemon>(options());
    ASSERT_NO_FATAL_FAILURE(daemon_->start());
}

}  // namespace ccjail::dtest
