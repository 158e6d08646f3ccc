// daemon_bench: the ccjaild side of scripts/bench.sh (docs/performance.md, "Daemon").
//
//   daemon_bench latency  --socket S --daemon-pid P --profile NAME [--user U] [--program /abs]
//                         [--runs N] [--warmup W] [--ratio A/B]... [-- NAME CMD... ::: ...]
//       Spawn-to-exit of a program through the daemon (contender "daemon"), round-robin with the
//       command contenders after "--" (round_robin.hpp).
//   daemon_bench relay    --socket S --profile NAME --bytes N [--mode pipe|pty] [--user U]
//                         [--window BYTES] [--buffer BYTES] [--reader lean|client]
//       Output relay throughput of `head -c N /dev/zero` in a session.
//   daemon_bench read-stdin [--buffer BYTES] [--pipe-size BYTES]
//       The same measurement for a plain pipe on stdin.
//   daemon_bench sessions --socket S --daemon-pid P --profile NAME --count N [--users K]
//                         [--touch BYTES] [--cycles C] [--retention-ms MS]
//       Daemon memory with N idle pty sessions, then after killing them all.
//
// relay and read-stdin print one line: `bytes first_to_eof_s total_s MB/s` (MB = 10^6 bytes,
// from the first byte to EOF). latency and sessions print markdown tables.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "common/unique_fd.hpp"
#include "protocol/frame.hpp"
#include "round_robin.hpp"

namespace ccjail::bench {
namespace {

using nlohmann::json;
using protocol::Frame;
using protocol::FrameType;
using namespace std::chrono_literals;

constexpr std::size_t KiB = 1024;
constexpr std::size_t MiB = 1024 * KiB;

// ---- options --------------------------------------------------------------------------------

struct Options {
    std::string socket;
    pid_t daemon_pid = -1;
    std::string profile = "minimal";
    std::string user = "bench";
    std::string program = "/bin/true";
    std::string mode = "pipe";
    std::string reader = "lean";
    int runs = 200;
    int warmup = 10;
    std::vector<Ratio> ratios;
    std::uint64_t bytes = 1024 * MiB;
    std::uint64_t window = 16 * MiB;
    std::size_t buffer = 4 * MiB;
    int pipe_size = 0;
    int count = 500;
    int users = 1;
    std::uint64_t touch = 0;
    int cycles = 2;
    int retention_ms = 2000;
    int commands_at = -1;  // argv index of the first command contender word
};

std::uint64_t size_value(const char* text, const char* option) {
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    std::uint64_t unit = 1;
    if (end != nullptr && *end != '\0') {
        const std::string suffix = end;
        if (suffix == "K") {
            unit = KiB;
        } else if (suffix == "M") {
            unit = MiB;
        } else if (suffix == "G") {
            unit = 1024 * MiB;
        } else {
            die(std::string("bad size for ") + option + ": " + text);
        }
    }
    if (end == text) {
        die(std::string("bad size for ") + option + ": " + text);
    }
    return value * unit;
}

Options parse_options(int argc, char** argv) {
    Options o;
    for (int i = 2; i < argc; ++i) {
        const std::string option = argv[i];
        if (option == "--") {
            o.commands_at = i + 1;
            break;
        }
        if (i + 1 >= argc) {
            die("missing value for " + option);
        }
        const char* value = argv[++i];
        if (option == "--socket") {
            o.socket = value;
        } else if (option == "--daemon-pid") {
            o.daemon_pid = positive_int(value, "--daemon-pid");
        } else if (option == "--profile") {
            o.profile = value;
        } else if (option == "--user") {
            o.user = value;
        } else if (option == "--program") {
            o.program = value;
        } else if (option == "--mode") {
            o.mode = value;
        } else if (option == "--reader") {
            o.reader = value;
        } else if (option == "--runs") {
            o.runs = positive_int(value, "--runs");
        } else if (option == "--warmup") {
            o.warmup = positive_int(value, "--warmup");
        } else if (option == "--ratio") {
            o.ratios.push_back(parse_ratio(value));
        } else if (option == "--bytes") {
            o.bytes = size_value(value, "--bytes");
        } else if (option == "--window") {
            o.window = size_value(value, "--window");
        } else if (option == "--buffer") {
            o.buffer = size_value(value, "--buffer");
        } else if (option == "--pipe-size") {
            o.pipe_size = static_cast<int>(size_value(value, "--pipe-size"));
        } else if (option == "--count") {
            o.count = positive_int(value, "--count");
        } else if (option == "--users") {
            o.users = std::max(1, positive_int(value, "--users"));
        } else if (option == "--touch") {
            o.touch = size_value(value, "--touch");
        } else if (option == "--cycles") {
            o.cycles = std::max(1, positive_int(value, "--cycles"));
        } else if (option == "--retention-ms") {
            o.retention_ms = positive_int(value, "--retention-ms");
        } else {
            die("unknown option " + option);
        }
    }
    if (o.window == 0 || o.window > 0xffffffffULL) {
        die("--window must be 1 .. 4G-1");
    }
    return o;
}

client::Client connect_client(const Options& o) {
    if (o.socket.empty()) {
        die("--socket is required");
    }
    client::Client c = client::Client::connect(o.socket);
    c.hello("daemon_bench");
    return c;
}

json spawn_body(const Options& o, const std::string& user, const std::vector<std::string>& argv,
                const std::string& mode) {
    return {
        {"op", "spawn"}, {"profile", o.profile}, {"user", user}, {"argv", argv}, {"mode", mode}};
}

// A session that did not end with exit code 0 voids the figure it was part of.
void check_report(const json& report, const std::string& what) {
    if (report.value("status", "") != "exited" || report.value("exit_code", -1) != 0) {
        die(what + " did not exit 0; the run is void: " + report.dump());
    }
}

// ---- /proc ------------------------------------------------------------------------------------

// Clock ticks of user + system time of `pid` and of its children it has reaped.
double process_tree_cpu_ms(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) {
        die("cannot read /proc/" + std::to_string(pid) + "/stat");
    }
    std::istringstream fields(text.substr(paren + 2));
    std::vector<std::string> f;
    for (std::string word; fields >> word;) {
        f.push_back(word);
    }
    // After the comm field: state is field 3, utime..cstime are fields 14..17.
    double ticks = 0;
    for (int field = 14; field <= 17; ++field) {
        ticks += std::stod(f.at(static_cast<std::size_t>(field - 3)));
    }
    return ticks * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::map<std::string, std::uint64_t> status_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::map<std::string, std::uint64_t> values;
    for (std::string line; std::getline(in, line);) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || line.find(" kB") == std::string::npos) {
            continue;
        }
        values[line.substr(0, colon)] = std::stoull(line.substr(colon + 1));
    }
    if (values.empty()) {
        die("cannot read /proc/" + std::to_string(pid) + "/status");
    }
    return values;
}

std::uint64_t mem_available_kib() {
    std::ifstream in("/proc/meminfo");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("MemAvailable:", 0) == 0) {
            return std::stoull(line.substr(13));
        }
    }
    return 0;
}

std::size_t open_fds(pid_t pid) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
        ++n;
    }
    return n;
}

// ---- latency ----------------------------------------------------------------------------------

// One spawn of the program through the daemon on a connection made once: spawn (answered when
// the program runs), credit, then read until the session's `exit` event. CPU is the daemon's
// own and that of the monitors it reaped (their exits may be counted in a later run; the mean
// is right), plus this client's.
class DaemonContender {
  public:
    DaemonContender(const Options& o) : options_(o), client_(connect_client(o)) {
        if (o.daemon_pid <= 0) {
            die("--daemon-pid is required");
        }
    }

    Sample run() {
        struct rusage before_self {};
        getrusage(RUSAGE_SELF, &before_self);
        const double daemon_before = process_tree_cpu_ms(options_.daemon_pid);
        const double start = now_ms();
        const json response =
            client_.request(spawn_body(options_, options_.user, {options_.program}, "pipe"), 30s);
        const auto channel = response.at("channel").get<std::uint32_t>();
        client_.send_credit(channel, 1 * MiB);
        const json report = wait_for_exit(channel);
        const double wall = now_ms() - start;
        check_report(report, "the daemon's session");
        struct rusage after_self {};
        getrusage(RUSAGE_SELF, &after_self);
        const double cpu = process_tree_cpu_ms(options_.daemon_pid) - daemon_before +
                           cpu_ms_of(after_self) - cpu_ms_of(before_self);
        const long rss = static_cast<long>(status_kib(options_.daemon_pid)["VmRSS"]);
        return {wall, cpu, rss};
    }

  private:
    json wait_for_exit(std::uint32_t channel) {
        for (;;) {
            auto frame = client_.next_frame(30s);
            if (!frame) {
                die("no exit event from the daemon within 30 s");
            }
            if (frame->channel != channel || frame->type != FrameType::evt) {
                continue;
            }
            const json event = protocol::parse_control(*frame);
            if (event.value("event", "") == "exit") {
                return event.at("report");
            }
        }
    }

    Options options_;
    client::Client client_;
};

int latency(int argc, char** argv, const Options& o) {
    const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        die(std::string("/dev/null: ") + std::strerror(errno));
    }
    std::vector<Contender> contenders;
    if (o.commands_at > 0 && o.commands_at < argc) {
        contenders = parse_command_contenders(argc, argv, o.commands_at, devnull);
    }
    auto daemon = std::make_shared<DaemonContender>(o);
    contenders.push_back({"daemon", [daemon] { return daemon->run(); }, {}});
    run_and_report(contenders, o.warmup, o.runs, o.ratios);
    return 0;
}

// ---- relay ------------------------------------------------------------------------------------

struct Throughput {
    std::uint64_t bytes = 0;
    double first_ms = -1;  // when the first data byte arrived
    double end_ms = 0;     // EOF
    double start_ms = 0;   // the spawn request, or the reader's start
};

void print_throughput(const Throughput& t) {
    const double steady_s = (t.end_ms - t.first_ms) / 1e3;
    const double total_s = (t.end_ms - t.start_ms) / 1e3;
    std::printf("%llu %.4f %.4f %.1f\n", static_cast<unsigned long long>(t.bytes), steady_s,
                total_s, static_cast<double>(t.bytes) / steady_s / 1e6);
}

std::vector<std::string> relay_argv(const Options& o) {
    return {"head", "-c", std::to_string(o.bytes), "/dev/zero"};
}

// Keeps `window` bytes of OUT/ERR credit outstanding, topping it up once a quarter of it has
// been consumed, so that the daemon never waits for a grant while a CREDIT frame is in flight.
class CreditWindow {
  public:
    explicit CreditWindow(std::uint64_t window) : window_(window) {}
    std::uint32_t initial() const { return static_cast<std::uint32_t>(window_); }
    // The grant to send after `n` more bytes arrived, or 0.
    std::uint32_t consumed(std::uint64_t n) {
        unacked_ += n;
        if (unacked_ < window_ / 4) {
            return 0;
        }
        const auto grant = static_cast<std::uint32_t>(unacked_);
        unacked_ = 0;
        return grant;
    }

  private:
    std::uint64_t window_;
    std::uint64_t unacked_ = 0;
};

// The relay read with the project's blocking client library: what ccjailctl does.
Throughput relay_with_client(const Options& o) {
    client::Client c = connect_client(o);
    Throughput t;
    t.start_ms = now_ms();
    const json response = c.request(spawn_body(o, o.user, relay_argv(o), o.mode), 30s);
    const auto channel = response.at("channel").get<std::uint32_t>();
    CreditWindow credit(o.window);
    c.send_credit(channel, credit.initial());
    for (;;) {
        auto frame = c.next_frame(60s);
        if (!frame) {
            die("the relay stalled for 60 s");
        }
        if (frame->channel != channel) {
            continue;
        }
        if (frame->type == FrameType::out || frame->type == FrameType::err) {
            if (t.first_ms < 0) {
                t.first_ms = now_ms();
            }
            t.bytes += frame->payload.size();
            if (const auto grant = credit.consumed(frame->payload.size())) {
                c.send_credit(channel, grant);
            }
        } else if (frame->type == FrameType::eof) {
            t.end_ms = now_ms();
        } else if (frame->type == FrameType::evt) {
            const json event = protocol::parse_control(*frame);
            if (event.value("event", "") == "exit") {
                check_report(event.at("report"), "the relay session");
                return t;
            }
        }
    }
}

// A lean reader: large reads straight from the socket, data payloads counted and skipped in
// place, never copied; only control frames are assembled and parsed. This is the client the
// daemon's relay should be measured with, like the plain pipe's reader that discards its input.
class LeanConnection {
  public:
    LeanConnection(const std::string& path, std::size_t buffer) : buffer_(buffer) {
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (!fd_ || path.size() >= sizeof(addr.sun_path)) {
            die("cannot create a socket for " + path);
        }
        std::memcpy(addr.sun_path, path.c_str(), path.size());
        if (::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
            die("connect " + path + ": " + std::strerror(errno));
        }
    }

    void send(const Frame& frame) {
        const std::string bytes = protocol::encode(frame, 16 * MiB);
        std::string_view rest = bytes;
        while (!rest.empty()) {
            const ssize_t n = ::send(fd_.get(), rest.data(), rest.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                die(std::string("send: ") + std::strerror(errno));
            }
            rest.remove_prefix(static_cast<std::size_t>(n));
        }
    }

    // Reads until `on_control` returns true. `on_data(channel, bytes)` sees every OUT/ERR piece.
    template <typename OnData, typename OnControl>
    void read_until(OnData&& on_data, OnControl&& on_control) {
        for (;;) {
            const ssize_t n = ::read(fd_.get(), buffer_.data(), buffer_.size());
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                die(n == 0 ? "the daemon closed the connection"
                           : std::string("read: ") + std::strerror(errno));
            }
            if (scan(std::string_view(buffer_.data(), static_cast<std::size_t>(n)), on_data,
                     on_control)) {
                return;
            }
        }
    }

  private:
    template <typename OnData, typename OnControl>
    bool scan(std::string_view bytes, OnData& on_data, OnControl& on_control) {
        bool done = false;
        while (!bytes.empty()) {
            if (remaining_ == 0 && !in_frame_) {
                const std::size_t take =
                    std::min(bytes.size(), protocol::kHeaderSize - header_.size());
                header_.append(bytes.substr(0, take));
                bytes.remove_prefix(take);
                if (header_.size() < protocol::kHeaderSize) {
                    break;
                }
                start_frame();
                if (remaining_ > 0) {
                    continue;
                }
            } else {
                const std::size_t take = std::min<std::size_t>(bytes.size(), remaining_);
                if (data_frame()) {
                    on_data(channel_, take);
                } else {
                    payload_.append(bytes.substr(0, take));
                }
                bytes.remove_prefix(take);
                remaining_ -= take;
                if (remaining_ > 0) {
                    break;
                }
            }
            // The frame is complete.
            in_frame_ = false;
            if (!data_frame()) {
                Frame frame{type_, 0, channel_, std::move(payload_)};
                payload_.clear();
                done = on_control(frame) || done;
            }
        }
        return done;
    }

    bool data_frame() const { return type_ == FrameType::out || type_ == FrameType::err; }

    void start_frame() {
        const auto byte = [this](std::size_t i) {
            return static_cast<std::uint32_t>(static_cast<unsigned char>(header_[i]));
        };
        remaining_ = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
        const auto type = protocol::frame_type_from_byte(static_cast<std::uint8_t>(byte(4)));
        if (!type) {
            die("bad frame type from the daemon");
        }
        type_ = *type;
        channel_ = (byte(8) << 24) | (byte(9) << 16) | (byte(10) << 8) | byte(11);
        header_.clear();
        in_frame_ = true;
    }

    UniqueFd fd_;
    std::vector<char> buffer_;
    std::string header_;
    std::string payload_;
    std::size_t remaining_ = 0;
    bool in_frame_ = false;
    FrameType type_ = FrameType::req;
    std::uint32_t channel_ = 0;
};

// The response with `id`, read with `conn` (nothing else can arrive before a session exists).
json lean_request(LeanConnection& conn, json body, std::uint32_t id) {
    body["id"] = id;
    conn.send(protocol::control_frame(FrameType::req, 0, body));
    json response;
    conn.read_until([](std::uint32_t, std::size_t) {},
                    [&](const Frame& frame) {
                        if (frame.type != FrameType::res) {
                            return false;
                        }
                        response = protocol::parse_control(frame);
                        return response.value("id", 0U) == id;
                    });
    if (!response.value("ok", false)) {
        die("the daemon refused " + body.value("op", std::string()) + ": " + response.dump());
    }
    return response;
}

Throughput relay_lean(const Options& o) {
    LeanConnection conn(o.socket, o.buffer);
    lean_request(conn, {{"op", "hello"}, {"version", 1}, {"client", "daemon_bench"}}, 1);
    Throughput t;
    t.start_ms = now_ms();
    const json response = lean_request(conn, spawn_body(o, o.user, relay_argv(o), o.mode), 2);
    const auto channel = response.at("channel").get<std::uint32_t>();
    CreditWindow credit(o.window);
    conn.send(protocol::credit_frame(channel, credit.initial()));
    json report;
    conn.read_until(
        [&](std::uint32_t ch, std::size_t n) {
            if (ch != channel) {
                return;
            }
            if (t.first_ms < 0) {
                t.first_ms = now_ms();
            }
            t.bytes += n;
            if (const auto grant = credit.consumed(n)) {
                conn.send(protocol::credit_frame(channel, grant));
            }
        },
        [&](const Frame& frame) {
            if (frame.channel != channel) {
                return false;
            }
            if (frame.type == FrameType::eof) {
                t.end_ms = now_ms();
                return false;
            }
            if (frame.type != FrameType::evt) {
                return false;
            }
            const json event = protocol::parse_control(frame);
            if (event.value("event", "") != "exit") {
                return false;
            }
            report = event.at("report");
            return true;
        });
    check_report(report, "the relay session");
    return t;
}

int relay(const Options& o) {
    if (o.mode != "pipe" && o.mode != "pty") {
        die("--mode must be pipe or pty");
    }
    Throughput t = o.reader == "client" ? relay_with_client(o) : relay_lean(o);
    // A pty adds nothing to zeros, but output_total or a drop would make the figure a lie.
    if (t.bytes != o.bytes || t.first_ms < 0 || t.end_ms <= 0) {
        die("the relay delivered " + std::to_string(t.bytes) + " of " + std::to_string(o.bytes) +
            " bytes");
    }
    print_throughput(t);
    return 0;
}

int read_stdin(const Options& o) {
    if (o.pipe_size > 0 && ::fcntl(STDIN_FILENO, F_SETPIPE_SZ, o.pipe_size) < 0) {
        die(std::string("F_SETPIPE_SZ: ") + std::strerror(errno));
    }
    std::vector<char> buffer(o.buffer);
    Throughput t;
    t.start_ms = now_ms();
    for (;;) {
        const ssize_t n = ::read(STDIN_FILENO, buffer.data(), buffer.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            die(std::string("read: ") + std::strerror(errno));
        }
        if (n == 0) {
            break;
        }
        if (t.first_ms < 0) {
            t.first_ms = now_ms();
        }
        t.bytes += static_cast<std::uint64_t>(n);
    }
    t.end_ms = now_ms();
    print_throughput(t);
    return 0;
}

// ---- sessions ---------------------------------------------------------------------------------

struct MemoryPoint {
    std::string phase;
    int sessions;
    std::map<std::string, std::uint64_t> status;
    std::size_t fds;
    std::uint64_t available;
};

MemoryPoint measure(const Options& o, const std::string& phase, int sessions) {
    return {phase, sessions, status_kib(o.daemon_pid), open_fds(o.daemon_pid), mem_available_kib()};
}

struct Session {
    std::string id;
    std::uint32_t channel;
};

// `inspect` until every session's output offset reached `bytes`: the daemon has written its
// ring that far (pty mode, drop_oldest: no credit needed).
void wait_until_touched(client::Client& c, const std::vector<Session>& sessions,
                        std::uint64_t bytes) {
    const double deadline = now_ms() + 120'000;
    for (const auto& s : sessions) {
        for (;;) {
            const json r = c.request({{"op", "inspect"}, {"session", s.id}}, 30s);
            if (r.value("offset", std::uint64_t{0}) >= bytes) {
                break;
            }
            if (now_ms() > deadline) {
                die("session " + s.id + " did not write " + std::to_string(bytes) + " bytes");
            }
            std::this_thread::sleep_for(20ms);
        }
    }
}

// Spawns up to o.count sessions; stops at the first refusal (the largest N this host holds).
std::vector<Session> spawn_sessions(client::Client& c, const Options& o, std::string& stopped) {
    std::vector<std::string> argv{"sleep", "600"};
    if (o.touch > 0) {
        argv = {"sh", "-c", "head -c " + std::to_string(o.touch) + " /dev/zero; exec sleep 600"};
    }
    std::vector<Session> sessions;
    for (int i = 0; i < o.count; ++i) {
        const std::string user = o.user + "-" + std::to_string(i % o.users);
        try {
            const json r = c.request(spawn_body(o, user, argv, "pty"), 60s);
            const auto channel = r.at("channel").get<std::uint32_t>();
            // Detached, the session reads its terminal into the ring on its own; an attached
            // channel without credit would hold it (and its exit event) back.
            c.request({{"op", "detach"}}, 30s, channel);
            sessions.push_back({r.at("session").get<std::string>(), channel});
        } catch (const client::ClientError& e) {
            stopped = e.code_name() + ": " + e.what();
            break;
        }
    }
    return sessions;
}

// The sessions among `ids` that `list` still shows in one of `states`.
std::size_t count_in_states(client::Client& c, const std::set<std::string>& ids,
                            const std::set<std::string>& states) {
    const json r = c.request({{"op", "list"}}, 30s);
    std::size_t n = 0;
    for (const auto& s : r.at("sessions")) {
        if (ids.contains(s.value("session", "")) && states.contains(s.value("state", ""))) {
            ++n;
        }
    }
    return n;
}

void wait_for_states(client::Client& c, const std::set<std::string>& ids,
                     const std::set<std::string>& states, const char* what) {
    const double deadline = now_ms() + 120'000;
    while (count_in_states(c, ids, states) > 0) {
        if (now_ms() > deadline) {
            die(std::string("sessions did not ") + what + " within 120 s");
        }
        std::this_thread::sleep_for(20ms);
    }
}

// Kills every session and waits until none is still running.
void kill_sessions(client::Client& c, const std::vector<Session>& sessions) {
    std::set<std::string> ids;
    for (const auto& s : sessions) {
        c.request({{"op", "kill"}, {"session", s.id}, {"grace_ms", 0}}, 30s);
        ids.insert(s.id);
    }
    wait_for_states(c, ids, {"starting", "running"}, "end after kill");
}

std::set<std::string> ids_of(const std::vector<Session>& sessions) {
    std::set<std::string> ids;
    for (const auto& s : sessions) {
        ids.insert(s.id);
    }
    return ids;
}

double kib_to_mib(std::uint64_t kib) {
    return static_cast<double>(kib) / 1024.0;
}

void print_points(const std::vector<MemoryPoint>& points) {
    std::printf(
        "| phase | sessions | VmRSS MiB | RssAnon MiB | RssFile MiB | RssShmem MiB | open fds | "
        "host MemAvailable MiB |\n|---|--:|--:|--:|--:|--:|--:|--:|\n");
    for (const auto& p : points) {
        auto s = p.status;
        std::printf("| %s | %d | %.1f | %.1f | %.1f | %.1f | %zu | %.0f |\n", p.phase.c_str(),
                    p.sessions, kib_to_mib(s["VmRSS"]), kib_to_mib(s["RssAnon"]),
                    kib_to_mib(s["RssFile"]), kib_to_mib(s["RssShmem"]), p.fds,
                    kib_to_mib(p.available));
    }
}

double per_session_kib(const MemoryPoint& before, const MemoryPoint& after, const char* key,
                       int n) {
    auto b = before.status;
    auto a = after.status;
    return (static_cast<double>(a[key]) - static_cast<double>(b[key])) / n;
}

int sessions(const Options& o) {
    if (o.daemon_pid <= 0) {
        die("--daemon-pid is required");
    }
    client::Client c = connect_client(o);
    // Sessions of earlier benchmarks are still kept until ended_retention_ms passes.
    const double deadline = now_ms() + 60'000;
    while (!c.request({{"op", "list"}}, 30s).at("sessions").empty()) {
        if (now_ms() > deadline) {
            die("the daemon still lists sessions after 60 s; start from an empty daemon");
        }
        std::this_thread::sleep_for(100ms);
    }
    std::vector<MemoryPoint> points{measure(o, "start", 0)};
    std::vector<std::string> notes;
    for (int cycle = 1; cycle <= o.cycles; ++cycle) {
        const MemoryPoint before = points.back();
        std::string stopped;
        const double t0 = now_ms();
        const std::vector<Session> live = spawn_sessions(c, o, stopped);
        const double spawn_s = (now_ms() - t0) / 1e3;
        const int n = static_cast<int>(live.size());
        if (n == 0) {
            die("no session could be spawned: " + stopped);
        }
        if (o.touch > 0) {
            wait_until_touched(c, live, o.touch);
        }
        std::this_thread::sleep_for(1s);  // let the monitors' start-up traffic settle
        const MemoryPoint full = measure(
            o, "cycle " + std::to_string(cycle) + ": " + std::to_string(n) + " sessions running",
            n);
        points.push_back(full);
        const double k0 = now_ms();
        kill_sessions(c, live);
        const double kill_s = (now_ms() - k0) / 1e3;
        points.push_back(measure(o, "cycle " + std::to_string(cycle) + ": all killed", 0));
        // Ended sessions are kept for ended_retention_ms; after that they are forgotten.
        std::this_thread::sleep_for(std::chrono::milliseconds(o.retention_ms));
        wait_for_states(c, ids_of(live), {"starting", "running", "exited", "ended"},
                        "be forgotten after ended_retention_ms");
        std::this_thread::sleep_for(1s);
        points.push_back(
            measure(o, "cycle " + std::to_string(cycle) + ": ended sessions forgotten", 0));
        char line[512];
        std::snprintf(
            line, sizeof line,
            "- cycle %d: %d sessions spawned in %.1f s (%.1f ms each, one after the "
            "other)%s; killed in %.1f s. Per session: VmRSS %+.1f KiB, RssAnon %+.1f KiB, "
            "RssShmem %+.1f KiB, host memory used %+.0f KiB (MemAvailable; others share the host)",
            cycle, n, spawn_s, spawn_s * 1e3 / n,
            stopped.empty() ? "" : (", then refused: " + stopped).c_str(), kill_s,
            per_session_kib(before, full, "VmRSS", n), per_session_kib(before, full, "RssAnon", n),
            per_session_kib(before, full, "RssShmem", n),
            (static_cast<double>(before.available) - static_cast<double>(full.available)) / n);
        notes.emplace_back(line);
    }
    print_points(points);
    std::printf("\n");
    for (const auto& note : notes) {
        std::printf("%s\n", note.c_str());
    }
    return 0;
}

}  // namespace
}  // namespace ccjail::bench

int main(int argc, char** argv) {
    using namespace ccjail::bench;
    if (argc < 2) {
        die("usage: daemon_bench latency|relay|read-stdin|sessions [options] (see the source)");
    }
    const std::string command = argv[1];
    const Options options = parse_options(argc, argv);
    try {
        if (command == "latency") {
            return latency(argc, argv, options);
        }
        if (command == "relay") {
            return relay(options);
        }
        if (command == "read-stdin") {
            return read_stdin(options);
        }
        if (command == "sessions") {
            return sessions(options);
        }
    } catch (const std::exception& e) {
        die(e.what());
    }
    die("unknown command " + command);
}
