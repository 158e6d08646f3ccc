// The blocking protocol client (supervisor/client/client.hpp) against a fake daemon on the other
// end of a socketpair, the session relay behind `ccjailctl run/attach`, and the text parsing of
// the doctor behind `ccjailctl check`.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/client.hpp"
#include "client/doctor.hpp"
#include "client/session_relay.hpp"
#include "common/unique_fd.hpp"
#include "protocol/frame.hpp"

namespace ccjail::client {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using protocol::ErrorCode;
using protocol::Frame;
using protocol::FrameType;
using namespace std::chrono_literals;

// The daemon's end of the connection, driven by the test (or a thread of it) with blocking I/O.
class FakeDaemon {
  public:
    explicit FakeDaemon(UniqueFd fd) : fd_(std::move(fd)) {}

    // The next frame from the client; nullopt on EOF or when nothing came within `timeout`.
    std::optional<Frame> read_frame(std::chrono::milliseconds timeout = 5s) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (auto frame = decoder_.next()) {
                return frame;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            struct pollfd pfd {
                fd_.get(), POLLIN, 0
            };
            if (left.count() <= 0 || ::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) {
                return std::nullopt;
            }
            char buffer[65536];
            const ssize_t n = ::read(fd_.get(), buffer, sizeof buffer);
            if (n <= 0) {
                return std::nullopt;
            }
            decoder_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        }
    }

    // The next REQ, as JSON; other frames before it are kept in `others`.
    json read_request() {
        for (;;) {
            auto frame = read_frame();
            if (!frame) {
                ADD_FAILURE() << "no request from the client";
                return json::object();
            }
            if (frame->type == FrameType::req) {
                last_request_channel = frame->channel;
                return protocol::parse_control(*frame);
            }
            others.push_back(std::move(*frame));
        }
    }

    void send(const Frame& frame) { send_raw(protocol::encode(frame, 64 << 20)); }
    void send_raw(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n <= 0) {
                return;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    void respond(const json& request, json result, std::uint32_t channel = 0) {
        result["id"] = request.at("id");
        result["ok"] = true;
        send(protocol::control_frame(FrameType::res, channel, result));
    }
    void refuse(const json& request, const std::string& code, const std::string& message,
                json extra = json::object()) {
        json body = std::move(extra);
        body["id"] = request.at("id");
        body["ok"] = false;
        body["error"] = {{"code", code}, {"message", message}};
        send(protocol::control_frame(FrameType::res, 0, body));
    }
    void event(std::uint32_t channel, json body) {
        send(protocol::control_frame(FrameType::evt, channel, body));
    }
    void close() { fd_.reset(); }
    int fd() const { return fd_.get(); }

    std::vector<Frame> others;
    std::uint32_t last_request_channel = 0;

  private:
    UniqueFd fd_;
    protocol::FrameDecoder decoder_{64 << 20};
};

struct Pair {
    Client client;
    FakeDaemon daemon;
};

Pair connected_pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    return Pair{Client(UniqueFd(fds[0])), FakeDaemon(UniqueFd(fds[1]))};
}

json hello_result() {
    return {{"version", 1},
            {"daemon", "ccjaild 0.1.0"},
            {"role", "admin"},
            {"uid", 0},
            {"max_payload", 2048}};
}

TEST(Client, HelloSendsVersionAndNameAndReadsTheResult) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        const json request = daemon.read_request();
        EXPECT_EQ(request.at("op"), "hello");
        EXPECT_EQ(request.at("version"), 1);
        EXPECT_EQ(request.at("client"), "unit-test");
        EXPECT_EQ(daemon.last_request_channel, 0u);
        daemon.respond(request, hello_result());
    });
    const HelloResult hello = client.hello("unit-test");
    server.join();
    EXPECT_EQ(hello.version, 1);
    EXPECT_EQ(hello.daemon, "ccjaild 0.1.0");
    EXPECT_EQ(hello.role, "admin");
    EXPECT_EQ(hello.uid, 0u);
    EXPECT_EQ(hello.max_payload, 2048u);
    EXPECT_EQ(client.max_payload(), 2048u);
}

TEST(Client, InputIsSplitBelowTheDaemonsMaximumPayload) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] { daemon.respond(daemon.read_request(), hello_result()); });
    client.hello();
    server.join();

    const std::string data(5000, 'x');
    client.send_input(7, data, 1 << 20);
    std::string received;
    while (received.size() < data.size()) {
        auto frame = daemon.read_frame();
        ASSERT_TRUE(frame);
        EXPECT_EQ(frame->type, FrameType::in);
        EXPECT_EQ(frame->channel, 7u);
        EXPECT_LE(frame->payload.size(), 2048u);
        received += frame->payload;
    }
    EXPECT_EQ(received, data);

    client.send_input(7, "abcdef", 4);
    EXPECT_EQ(daemon.read_frame()->payload, "abcd");
    EXPECT_EQ(daemon.read_frame()->payload, "ef");
}

TEST(Client, CreditAndEofFrames) {
    auto [client, daemon] = connected_pair();
    client.send_credit(3, 65536);
    client.send_eof(3);
    const auto credit = daemon.read_frame();
    ASSERT_TRUE(credit);
    EXPECT_EQ(credit->type, FrameType::credit);
    EXPECT_EQ(credit->channel, 3u);
    EXPECT_EQ(protocol::credit_bytes(*credit), 65536u);
    const auto eof = daemon.read_frame();
    ASSERT_TRUE(eof);
    EXPECT_EQ(eof->type, FrameType::eof);
    EXPECT_EQ(eof->channel, 3u);
}

TEST(Client, ResponseIsMatchedByIdAndEverythingElseIsQueuedInOrder) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        const json request = daemon.read_request();
        EXPECT_EQ(request.at("op"), "list");
        daemon.send(Frame{FrameType::out, 0, 5, "abc"});
        daemon.event(5, {{"event", "throttled"}, {"session", "s1"}, {"throttled_ms", 10}});
        // A response to some other id must not be taken for ours.
        daemon.send(protocol::control_frame(
            FrameType::res, 0,
            {{"id", request.at("id").get<std::uint32_t>() + 1000}, {"ok", true}}));
        daemon.send(protocol::credit_frame(5, 100));
        daemon.respond(request, {{"sessions", json::array({{{"session", "s1"}}})}});
    });
    const json result = client.request({{"op", "list"}});
    server.join();
    EXPECT_EQ(result.at("ok"), true);
    EXPECT_EQ(result.at("sessions").at(0).at("session"), "s1");

    auto out = client.next_frame(0ms);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->type, FrameType::out);
    EXPECT_EQ(out->payload, "abc");
    auto evt = client.next_frame(0ms);
    ASSERT_TRUE(evt);
    EXPECT_EQ(evt->type, FrameType::evt);
    EXPECT_EQ(protocol::parse_control(*evt).at("event"), "throttled");
    auto other = client.next_frame(0ms);
    ASSERT_TRUE(other);
    EXPECT_EQ(other->type, FrameType::res);
    auto credit = client.next_frame(0ms);
    ASSERT_TRUE(credit);
    EXPECT_EQ(protocol::credit_bytes(*credit), 100u);
    EXPECT_FALSE(client.next_frame(0ms));
}

TEST(Client, EachRequestGetsAFreshIdAndTheChannelAsked) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        const json first = daemon.read_request();
        daemon.respond(first, json::object());
        const json second = daemon.read_request();
        EXPECT_EQ(daemon.last_request_channel, 9u);
        EXPECT_NE(first.at("id"), second.at("id"));
        EXPECT_EQ(second.at("op"), "resize");
        daemon.respond(second, json::object(), 9);
    });
    client.request({{"op", "list"}, {"id", 77}});
    client.request({{"op", "resize"}, {"cols", 100}, {"rows", 40}}, 5s, 9);
    server.join();
}

TEST(Client, RefusalThrowsClientErrorWithTheCode) {
    auto [client, daemon] = connected_pair();
    std::thread server(
        [&daemon] { daemon.refuse(daemon.read_request(), "not_found", "no session abc"); });
    try {
        client.request({{"op", "inspect"}, {"session", "abc"}});
        ADD_FAILURE() << "no ClientError";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::not_found);
        EXPECT_EQ(e.code_name(), "not_found");
        EXPECT_STREQ(e.what(), "no session abc");
        EXPECT_TRUE(e.report().is_null());
    }
    server.join();
}

TEST(Client, SpawnFailedCarriesTheReport) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        daemon.refuse(daemon.read_request(), "spawn_failed", "mount_bind: /nope: ENOENT",
                      {{"report", {{"status", "setup_failed"}, {"step", "mount_bind"}}}});
    });
    try {
        client.request({{"op", "spawn"}});
        ADD_FAILURE() << "no ClientError";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::spawn_failed);
        EXPECT_EQ(e.report().at("status"), "setup_failed");
        EXPECT_EQ(e.report().at("step"), "mount_bind");
    }
    server.join();
}

TEST(Client, SpawnFailedReportInsideTheErrorObject) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        const json request = daemon.read_request();
        daemon.send(protocol::control_frame(
            FrameType::res, 0,
            {{"id", request.at("id")},
             {"ok", false},
             {"error",
              {{"code", "spawn_failed"},
               {"message", "setup failed"},
               {"report", {{"status", "setup_failed"}, {"step", "exec"}}}}}}));
    });
    try {
        client.request({{"op", "spawn"}});
        ADD_FAILURE() << "no ClientError";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::spawn_failed);
        EXPECT_EQ(e.report().value("step", ""), "exec");
    }
    server.join();
}

TEST(Client, UnknownErrorCodeKeepsItsNameAndReadsAsInternal) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] { daemon.refuse(daemon.read_request(), "from_the_future", "x"); });
    try {
        client.request({{"op", "list"}});
        ADD_FAILURE() << "no ClientError";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::internal);
        EXPECT_EQ(e.code_name(), "from_the_future");
    }
    server.join();
}

TEST(Client, AnswerWithNullIdToAnUnreadableRequestEndsTheRequest) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        daemon.read_request();
        daemon.send(protocol::control_frame(
            FrameType::res, 0,
            {{"id", nullptr},
             {"ok", false},
             {"error", {{"code", "bad_request"}, {"message", "/id: expected an integer"}}}}));
    });
    try {
        client.request({{"op", "list"}}, 5s);
        ADD_FAILURE() << "no ClientError";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_request);
    }
    server.join();
}

TEST(Client, TimeoutThenTheLateResponseIsDiscarded) {
    auto [client, daemon] = connected_pair();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_THROW(client.request({{"op", "metrics"}}, 150ms), TimeoutError);
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, 140ms);
    EXPECT_LT(waited, 3s);

    const json late = daemon.read_request();
    std::thread server([&daemon, late] {
        daemon.respond(late, {{"text", "late"}});
        daemon.send(Frame{FrameType::out, 0, 2, "data"});
        daemon.respond(daemon.read_request(), {{"text", "fresh"}});
    });
    EXPECT_EQ(client.request({{"op", "metrics"}}).at("text"), "fresh");
    server.join();
    auto frame = client.next_frame(0ms);
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->type, FrameType::out);
    EXPECT_FALSE(client.next_frame(0ms)) << "the late response must not be handed out";
}

TEST(Client, NextFrameTimesOutWithNothing) {
    auto [client, daemon] = connected_pair();
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(client.next_frame(100ms));
    EXPECT_GE(std::chrono::steady_clock::now() - start, 90ms);
}

TEST(Client, FrameArrivingByteByByteIsReassembled) {
    auto [client, daemon] = connected_pair();
    const std::string wire = protocol::encode(Frame{FrameType::out, 0, 4, "hello, world"});
    std::thread server([&daemon, &wire] {
        for (const char c : wire) {
            daemon.send_raw(std::string_view(&c, 1));
            std::this_thread::sleep_for(1ms);
        }
    });
    auto frame = client.next_frame(5s);
    server.join();
    ASSERT_TRUE(frame);
    EXPECT_EQ(frame->payload, "hello, world");
    EXPECT_EQ(frame->channel, 4u);
}

TEST(Client, LargeFramesBothWaysDoNotDeadlock) {
    // Both sides write more than a socket buffer holds before reading: the client must read
    // while it waits to write, or neither would ever finish.
    auto [client, daemon] = connected_pair();
    const std::string big(4 << 20, 'o');
    const std::string input(4 << 20, 'i');
    std::string received;
    std::thread server([&daemon, &big, &received, &input] {
        daemon.send(Frame{FrameType::out, 0, 1, big});
        while (received.size() < input.size()) {
            auto frame = daemon.read_frame();
            if (!frame) {
                return;
            }
            received += frame->payload;
        }
    });
    client.send_input(1, input, 1 << 20);
    auto out = client.next_frame(5s);
    server.join();
    EXPECT_EQ(received, input);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->payload.size(), big.size());
}

TEST(Client, PeerClosingMidFrameIsAnErrorNotAFrame) {
    auto [client, daemon] = connected_pair();
    const std::string wire = protocol::encode(Frame{FrameType::out, 0, 1, "0123456789"});
    daemon.send_raw(wire.substr(0, 15));
    daemon.close();
    try {
        client.next_frame(2s);
        ADD_FAILURE() << "no error";
    } catch (const ConnectionClosed&) {
        ADD_FAILURE() << "a truncated frame is not a clean close";
    } catch (const ConnectionError& e) {
        EXPECT_NE(std::string(e.what()).find("middle of a frame"), std::string::npos) << e.what();
    }
}

TEST(Client, CleanCloseAfterTheQueuedFrames) {
    auto [client, daemon] = connected_pair();
    daemon.send(Frame{FrameType::eof, 0, 1, {}});
    daemon.close();
    auto eof = client.next_frame(2s);
    ASSERT_TRUE(eof);
    EXPECT_EQ(eof->type, FrameType::eof);
    EXPECT_THROW(client.next_frame(2s), ConnectionClosed);
    EXPECT_THROW(client.next_frame(0ms), ConnectionClosed);
}

TEST(Client, RequestCutShortByAConnectionErrorEventReportsItsCode) {
    auto [client, daemon] = connected_pair();
    std::thread server([&daemon] {
        daemon.read_request();
        daemon.event(0, {{"event", "error"}, {"code", "bad_frame"}, {"message", "bad header"}});
        daemon.close();
    });
    try {
        client.request({{"op", "list"}});
        ADD_FAILURE() << "no error";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_frame);
        EXPECT_NE(std::string(e.what()).find("bad header"), std::string::npos);
    }
    server.join();
}

TEST(Client, RequestOnAClosedConnectionIsConnectionClosed) {
    auto [client, daemon] = connected_pair();
    daemon.close();
    EXPECT_THROW(client.request({{"op", "list"}}, 2s), ConnectionError);
}

TEST(Client, BadFrameFromTheDaemonIsBadFrame) {
    auto [client, daemon] = connected_pair();
    daemon.send_raw(std::string("\0\0\0\0\x63\0\0\0\0\0\0\0", 12));
    try {
        client.next_frame(2s);
        ADD_FAILURE() << "no error";
    } catch (const ClientError& e) {
        EXPECT_EQ(e.code(), ErrorCode::bad_frame);
    }
}

TEST(Client, ConnectNamesThePathAndErrno) {
    const std::string path = "/nonexistent-ccjail-dir/ccjaild.sock";
    try {
        Client::connect(path);
        ADD_FAILURE() << "connected to nothing";
    } catch (const ConnectionError& e) {
        EXPECT_EQ(e.err(), ENOENT);
        EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("errno 2"), std::string::npos) << e.what();
    }
    EXPECT_THROW(Client::connect(std::string(200, 'a')), ConnectionError);
}

// A listening socket in a temporary directory, accepting one connection.
class TempSocket {
  public:
    TempSocket() {
        char tmpl[] = "/tmp/ccjail-client-test-XXXXXX";
        dir_ = ::mkdtemp(tmpl);
        path_ = dir_ / "d.sock";
        fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        struct sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        EXPECT_EQ(::listen(fd_.get(), 4), 0);
    }
    ~TempSocket() { fs::remove_all(dir_); }
    FakeDaemon accept() {
        return FakeDaemon(UniqueFd(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC)));
    }
    const fs::path& path() const { return path_; }

  private:
    fs::path dir_;
    fs::path path_;
    UniqueFd fd_;
};

TEST(Client, ConnectsToAUnixSocketPath) {
    TempSocket socket;
    std::thread server([&socket] {
        FakeDaemon daemon = socket.accept();
        daemon.respond(daemon.read_request(), hello_result());
    });
    Client client = Client::connect(socket.path());
    EXPECT_EQ(client.hello("t").role, "admin");
    server.join();
}

TEST(Doctor, SocketCheckSaysHelloOrExplains) {
    TempSocket socket;
    std::thread server([&socket] {
        FakeDaemon daemon = socket.accept();
        daemon.respond(daemon.read_request(), hello_result());
    });
    const CheckResult good = check_socket(socket.path());
    server.join();
    EXPECT_EQ(good.level, CheckLevel::ok) << good.detail;
    EXPECT_NE(good.detail.find("ccjaild 0.1.0"), std::string::npos) << good.detail;
    EXPECT_NE(good.detail.find("admin"), std::string::npos) << good.detail;

    const CheckResult missing = check_socket("/nonexistent-ccjail-dir/s.sock");
    EXPECT_EQ(missing.level, CheckLevel::fail);
    EXPECT_FALSE(missing.hint.empty());
}

// --- the session relay (ccjailctl run / attach) ---

struct Pipe {
    UniqueFd read;
    UniqueFd write;
    Pipe() {
        int fds[2];
        EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
        read.reset(fds[0]);
        write.reset(fds[1]);
    }
};

std::string read_all(int fd) {
    std::string text;
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
        text.append(buffer, static_cast<std::size_t>(n));
    }
    return text;
}

json exit_report(const std::string& status, int exit_code, int signal = 0) {
    return {{"id", "s1"}, {"status", status}, {"exit_code", exit_code}, {"signal", signal}};
}

TEST(SessionRelay, PipeModeRelaysBothWaysAndEndsWithTheExitCode) {
    auto [client, daemon] = connected_pair();
    Pipe in, out, err;
    ASSERT_EQ(::write(in.write.get(), "typed", 5), 5);
    in.write.reset();  // stdin at EOF after "typed"

    std::thread server([&daemon] {
        auto window = daemon.read_frame();
        ASSERT_TRUE(window);
        ASSERT_EQ(window->type, FrameType::credit);
        EXPECT_EQ(protocol::credit_bytes(*window), kOutputWindow);
        daemon.send(Frame{FrameType::out, 0, 3, "to stdout"});
        daemon.send(Frame{FrameType::err, 0, 3, "to stderr"});
        std::string input;
        std::uint64_t regranted = 0;
        bool eof = false;
        while (!eof || regranted < 18) {
            auto frame = daemon.read_frame();
            ASSERT_TRUE(frame) << "input " << input << " regranted " << regranted;
            EXPECT_EQ(frame->channel, 3u);
            if (frame->type == FrameType::in) {
                input += frame->payload;
            } else if (frame->type == FrameType::eof) {
                eof = true;
            } else if (frame->type == FrameType::credit) {
                regranted += protocol::credit_bytes(*frame);
            }
        }
        EXPECT_EQ(input, "typed");
        EXPECT_EQ(regranted, 18u) << "credit goes back for exactly the bytes written";
        daemon.send(Frame{FrameType::eof, 0, 3, {}});
        daemon.event(3,
                     {{"event", "exit"}, {"session", "s1"}, {"report", exit_report("exited", 7)}});
    });
    RelayOptions options;
    options.session = "s1";
    options.channel = 3;
    options.pty = false;
    options.in_credit = 1024;
    options.in_fd = in.read.get();
    options.out_fd = out.write.get();
    options.err_fd = err.write.get();
    const RelayResult result = relay_session(client, options);
    server.join();
    EXPECT_EQ(result.outcome, RelayOutcome::exited);
    EXPECT_EQ(result.exit_code, 7);
    EXPECT_EQ(result.report.at("status"), "exited");
    out.write.reset();
    err.write.reset();
    EXPECT_EQ(read_all(out.read.get()), "to stdout");
    EXPECT_EQ(read_all(err.read.get()), "to stderr");
}

TEST(SessionRelay, InputWaitsForInCredit) {
    auto [client, daemon] = connected_pair();
    Pipe in, out;
    ASSERT_EQ(::write(in.write.get(), "abcdefgh", 8), 8);

    std::thread server([&daemon, &in] {
        std::string input;
        while (input.size() < 4) {
            auto frame = daemon.read_frame();
            ASSERT_TRUE(frame);
            if (frame->type == FrameType::in) {
                input += frame->payload;
            }
        }
        EXPECT_EQ(input, "abcd");
        // Without more credit nothing else may come.
        while (auto frame = daemon.read_frame(300ms)) {
            EXPECT_NE(frame->type, FrameType::in) << "input beyond the granted credit";
        }
        daemon.send(protocol::credit_frame(3, 100));
        while (input.size() < 8) {
            auto frame = daemon.read_frame();
            ASSERT_TRUE(frame);
            if (frame->type == FrameType::in) {
                input += frame->payload;
            }
        }
        EXPECT_EQ(input, "abcdefgh");
        in.write.reset();
        daemon.event(
            3, {{"event", "exit"}, {"session", "s1"}, {"report", exit_report("signaled", 0, 2)}});
    });
    RelayOptions options;
    options.session = "s1";
    options.channel = 3;
    options.pty = true;
    options.in_credit = 4;
    options.in_fd = in.read.get();
    options.out_fd = out.write.get();
    options.err_fd = out.write.get();
    const RelayResult result = relay_session(client, options);
    server.join();
    EXPECT_EQ(result.exit_code, 130);
}

// A terminal has no stdin to close: the end of our input becomes ^D, twice after a partial
// line (the first only flushes it), and never an EOF frame, which the daemon refuses in pty mode.
std::string pty_input_for(const std::string& typed) {
    auto [client, daemon] = connected_pair();
    Pipe in, out;
    EXPECT_EQ(::write(in.write.get(), typed.data(), typed.size()),
              static_cast<ssize_t>(typed.size()));
    in.write.reset();
    std::string input;
    std::thread server([&daemon, &input] {
        while (auto frame = daemon.read_frame(500ms)) {
            EXPECT_NE(frame->type, FrameType::eof) << "EOF in pty mode";
            if (frame->type == FrameType::in) {
                input += frame->payload;
            }
        }
        daemon.event(3,
                     {{"event", "exit"}, {"session", "s1"}, {"report", exit_report("exited", 0)}});
    });
    RelayOptions options;
    options.session = "s1";
    options.channel = 3;
    options.pty = true;
    options.in_credit = 1024;
    options.in_fd = in.read.get();
    options.out_fd = out.write.get();
    options.err_fd = out.write.get();
    relay_session(client, options);
    server.join();
    return input;
}

TEST(SessionRelay, EndOfInputInPtyModeIsControlD) {
    EXPECT_EQ(pty_input_for("ls\n"), "ls\n\x04");
    EXPECT_EQ(pty_input_for("partial"), "partial\x04\x04");
    EXPECT_EQ(pty_input_for(""), "\x04");
}

TEST(SessionRelay, ExitCodeFromReport) {
    EXPECT_EQ(exit_code_from_report(exit_report("exited", 0)), 0);
    EXPECT_EQ(exit_code_from_report(exit_report("exited", 3)), 3);
    EXPECT_EQ(exit_code_from_report(exit_report("signaled", 0, 15)), 143);
    EXPECT_EQ(exit_code_from_report(exit_report("setup_failed", 0)), 125);
    for (const char* status : {"killed", "oom", "wall_timeout", "cpu_timeout", "output_limit"}) {
        EXPECT_EQ(exit_code_from_report(exit_report(status, 0, 15)), 137) << status;
    }
    EXPECT_EQ(exit_code_from_report(json("garbage")), 1);
    EXPECT_EQ(exit_code_from_report(json::object()), 1);
}

// --- the doctor's text parsing and file checks ---

constexpr const char* kHostV1Mountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n";

constexpr const char* kUnifiedLine =
    "41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";

constexpr const char* kV2Mountinfo =
    "22 1 0:20 / / rw - ext4 /dev/sda1 rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n";

TEST(Doctor, CgroupLayout) {
    EXPECT_EQ(cgroup_layout_from_mountinfo(kHostV1Mountinfo), CgroupLayout::v1);
    EXPECT_EQ(cgroup_layout_from_mountinfo(std::string(kHostV1Mountinfo) + kUnifiedLine),
              CgroupLayout::hybrid);
    EXPECT_EQ(cgroup_layout_from_mountinfo(kV2Mountinfo), CgroupLayout::v2);
    EXPECT_EQ(cgroup_layout_from_mountinfo("22 1 0:20 / / rw - ext4 /dev/sda1 rw\n"),
              CgroupLayout::none);
}

TEST(Doctor, V1ControllersAreTheControllerOptionsOnly) {
    const auto controllers = v1_controllers_from_mountinfo(kHostV1Mountinfo);
    EXPECT_EQ(controllers, (std::set<std::string>{"cpu", "cpuacct", "memory", "pids"}));
}

TEST(Doctor, ControllerList) {
    EXPECT_EQ(parse_controller_list("cpuset cpu io memory pids\n"),
              (std::set<std::string>{"cpuset", "cpu", "io", "memory", "pids"}));
    EXPECT_TRUE(parse_controller_list("").empty());
}

TEST(Doctor, SeccompField) {
    EXPECT_EQ(seccomp_mode_from_status("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n"), 2);
    EXPECT_EQ(seccomp_mode_from_status("Seccomp_filters:\t1\nSeccomp:\t0\n"), 0);
    EXPECT_EQ(seccomp_mode_from_status("Name:\tx\nSeccomp_filters:\t1\n"), std::nullopt);
    EXPECT_EQ(seccomp_mode_from_status("Seccomp:\n"), std::nullopt);
}

TEST(Doctor, V2PathFromProcCgroup) {
    EXPECT_EQ(v2_path_from_proc_cgroup("0::/system.slice/ccjaild.service\n"),
              "/system.slice/ccjaild.service");
    EXPECT_EQ(v2_path_from_proc_cgroup("4:memory:/x\n1:cpu:/\n0::/\n"), "/");
    EXPECT_EQ(v2_path_from_proc_cgroup("4:memory:/x\n"), std::nullopt);
}

class DoctorFiles : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-doctor-test-XXXXXX";
        root_ = ::mkdtemp(tmpl);
    }
    void TearDown() override { fs::remove_all(root_); }
    void write(const fs::path& relative, const std::string& text) {
        fs::create_directories((root_ / relative).parent_path());
        std::ofstream(root_ / relative) << text;
    }
    const CheckResult& find(const std::vector<CheckResult>& results, const std::string& name) {
        for (const auto& r : results) {
            if (r.name == name) {
                return r;
            }
        }
        static const CheckResult none{"<missing>", CheckLevel::fail, "", ""};
        ADD_FAILURE() << "no check named " << name;
        return none;
    }
    fs::path root_;
};

TEST_F(DoctorFiles, NamespacesMissingOrDisabled) {
    for (const char* ns : {"mnt", "pid", "net", "ipc", "uts", "cgroup", "user"}) {
        write(fs::path("proc/self/ns") / ns, "");
    }
    EXPECT_EQ(check_namespaces(root_ / "proc").level, CheckLevel::ok);
    EXPECT_EQ(check_user_namespaces(root_ / "proc").level, CheckLevel::ok);

    write("proc/sys/user/max_pid_namespaces", "0\n");
    const auto disabled = check_namespaces(root_ / "proc");
    EXPECT_EQ(disabled.level, CheckLevel::fail);
    EXPECT_NE(disabled.detail.find("max_pid_namespaces=0"), std::string::npos) << disabled.detail;

    fs::remove(root_ / "proc/self/ns/net");
    const auto missing = check_namespaces(root_ / "proc");
    EXPECT_EQ(missing.level, CheckLevel::fail);
    EXPECT_NE(missing.detail.find("net"), std::string::npos) << missing.detail;

    write("proc/sys/user/max_user_namespaces", "0\n");
    EXPECT_EQ(check_user_namespaces(root_ / "proc").level, CheckLevel::warn);
}

TEST_F(DoctorFiles, CgroupV2ControllersAndDelegation) {
    write("proc/self/mountinfo", kV2Mountinfo);
    write("proc/self/cgroup", "0::/ccjail.service\n");
    write("cg/ccjail.service/cgroup.controllers", "cpuset cpu memory pids\n");
    write("cg/ccjail.service/cgroup.subtree_control", "");
    auto results = check_cgroups(root_ / "proc", root_ / "cg");
    EXPECT_EQ(find(results, "cgroup").detail, "v2 (unified)");
    EXPECT_EQ(find(results, "cgroup_controllers").level, CheckLevel::ok);
    EXPECT_EQ(find(results, "cgroup_delegation").level, CheckLevel::ok);

    write("cg/ccjail.service/cgroup.controllers", "memory pids\n");
    results = check_cgroups(root_ / "proc", root_ / "cg");
    EXPECT_EQ(find(results, "cgroup_controllers").level, CheckLevel::warn);

    write("cg/ccjail.service/cgroup.controllers", "cpu memory\n");
    results = check_cgroups(root_ / "proc", root_ / "cg");
    const auto& missing = find(results, "cgroup_controllers");
    EXPECT_EQ(missing.level, CheckLevel::fail);
    EXPECT_NE(missing.detail.find("pids"), std::string::npos) << missing.detail;

    fs::remove(root_ / "cg/ccjail.service/cgroup.subtree_control");
    results = check_cgroups(root_ / "proc", root_ / "cg");
    EXPECT_NE(find(results, "cgroup_delegation").level, CheckLevel::ok);
}

TEST_F(DoctorFiles, CgroupV1UsesTheMountedControllers) {
    write("proc/self/mountinfo", std::string(kHostV1Mountinfo) + kUnifiedLine);
    const auto results = check_cgroups(root_ / "proc", root_ / "cg");
    EXPECT_NE(find(results, "cgroup").detail.find("hybrid"), std::string::npos);
    EXPECT_EQ(find(results, "cgroup_controllers").level, CheckLevel::ok);
    EXPECT_EQ(find(results, "cgroup_delegation").level, CheckLevel::ok);
}

TEST_F(DoctorFiles, ProfilesAreLoadedAndErrorsNamed) {
    const fs::path shipped = fs::path(CCJAIL_SOURCE_DIR) / "profiles";
    const auto good = check_profiles(shipped);
    ASSERT_FALSE(good.empty());
    EXPECT_EQ(good.front().level, CheckLevel::ok) << good.front().detail;
    EXPECT_EQ(good.size(), 1u);
    EXPECT_NE(good.front().detail.find("shell"), std::string::npos);

    fs::create_directories(root_ / "profiles");
    fs::copy_file(shipped / "base.json", root_ / "profiles/base.json");
    write("profiles/broken.json", R"({"extends": "base", "limits": {"memory": true}})");
    const auto mixed = check_profiles(root_ / "profiles");
    ASSERT_EQ(mixed.size(), 2u);
    EXPECT_EQ(mixed[0].level, CheckLevel::fail);
    EXPECT_NE(mixed[0].detail.find("1 of 2"), std::string::npos) << mixed[0].detail;
    EXPECT_EQ(mixed[1].name, "profile broken");
    EXPECT_NE(mixed[1].detail.find("/limits/memory"), std::string::npos) << mixed[1].detail;

    EXPECT_EQ(check_profiles(root_ / "nothing-here").front().level, CheckLevel::fail);
}

TEST(Doctor, RunsEveryCheckOnThisHost) {
    DoctorOptions options;
    options.profiles_dir = fs::path(CCJAIL_SOURCE_DIR) / "profiles";
    const auto results = run_doctor(options);
    std::set<std::string> names;
    for (const auto& r : results) {
        names.insert(r.name);
        if (r.level != CheckLevel::ok) {
            EXPECT_FALSE(r.hint.empty()) << r.name << " has no hint";
        }
    }
    for (const char* name :
         {"namespaces", "user_namespace", "cgroup", "cgroup_controllers", "cgroup_delegation",
          "seccomp", "pidfd", "clone3", "landlock", "profiles"}) {
        EXPECT_TRUE(names.contains(name)) << name;
    }
    EXPECT_FALSE(names.contains("socket")) << "no socket asked for";
}

}  // namespace
}  // namespace ccjail::client
