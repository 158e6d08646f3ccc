// Audit log lines: one valid JSON object per event with the fixed fields, redaction applied,
// hostile values kept on one line, and the closed set of event names.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"

namespace ccjail::audit {
namespace {

using nlohmann::json;

// 2026-11-27T20:42:04.123Z
const auto fixed_time =
    std::chrono::system_clock::time_point(std::chrono::milliseconds(1795812124123));

struct Captured {
    std::ostringstream stream;
    std::shared_ptr<spdlog::logger> logger;

    Captured()
        : logger(make_audit_logger("audit-test",
                                   std::make_shared<spdlog::sinks::ostream_sink_mt>(stream))) {}

    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        std::istringstream in(stream.str());
        for (std::string line; std::getline(in, line);) {
            out.push_back(line);
        }
        return out;
    }
};

AuditLog make_log(Captured& captured) {
    RedactionRules rules;
    rules.secret_env_names = {"ANTHROPIC_API_KEY"};
    rules.home_roots = {"/var/lib/ccjail/homes"};
    return AuditLog(captured.logger, Redactor(rules), [] { return fixed_time; });
}

AuditContext full_context() {
    AuditContext context;
    context.request_id = "r-17";
    context.session = "0123456789abcdef";
    context.user = "alice";
    context.peer_uid = 1000;
    context.peer_pid = 4242;
    context.profile = "claude-code";
    return context;
}

TEST(AuditLog, OneLineWithAllFields) {
    Captured captured;
    make_log(captured).record(AuditEvent::spawn_started, full_context(), json{{"pid", 77}});
    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 1u);
    const auto line = json::parse(lines[0]);
    EXPECT_EQ(line["ts"], "2026-11-27T20:42:04.123Z");
    EXPECT_EQ(line["level"], "info");
    EXPECT_EQ(line["event"], "spawn_started");
    EXPECT_EQ(line["request_id"], "r-17");
    EXPECT_EQ(line["session"], "0123456789abcdef");
    EXPECT_EQ(line["user"], "alice");
    EXPECT_EQ(line["peer_uid"], 1000);
    EXPECT_EQ(line["peer_pid"], 4242);
    EXPECT_EQ(line["profile"], "claude-code");
    EXPECT_EQ(line["pid"], 77);
    EXPECT_EQ(lines[0].rfind(R"({"ts":)", 0), 0u) << "fixed fields come first";
}

TEST(AuditLog, UnknownContextFieldsAreOmitted) {
    Captured captured;
    AuditContext context;
    context.peer_uid = 0;
    make_log(captured).record(AuditEvent::auth_failure, context);
    const auto line = json::parse(captured.lines().at(0));
    EXPECT_EQ(line["peer_uid"], 0);
    for (const char* key : {"request_id", "session", "user", "peer_pid", "profile"}) {
        EXPECT_FALSE(line.contains(key)) << key;
    }
    EXPECT_EQ(line["level"], "warning");
}

TEST(AuditLog, LinePerEvent) {
    Captured captured;
    const auto log = make_log(captured);
    log.record(AuditEvent::attach, full_context());
    log.record(AuditEvent::detach, full_context());
    log.record(AuditEvent::exit, full_context(), json{{"report", json{{"status", "exited"}}}});
    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(json::parse(lines[0])["event"], "attach");
    EXPECT_EQ(json::parse(lines[1])["event"], "detach");
    EXPECT_EQ(json::parse(lines[2])["report"]["status"], "exited");
}

TEST(AuditLog, FieldsAndContextAreRedacted) {
    Captured captured;
    auto context = full_context();
    context.user = "Bearer abcdefghijklmnopqrst";
    make_log(captured).record(
        AuditEvent::spawn_requested, context,
        json{{"argv", json::array({"claude", "sk-ant-api03-0123456789abcdefghij"})},
             {"env", json::array({"ANTHROPIC_API_KEY=abc def", "TERM=xterm"})},
             {"workspace", "/var/lib/ccjail/homes/alice/proj"},
             {"api_key", "x"}});
    const auto text = captured.stream.str();
    EXPECT_EQ(text.find("api03"), std::string::npos);
    EXPECT_EQ(text.find("abc def"), std::string::npos);
    EXPECT_EQ(text.find("abcdefghijklmnopqrst"), std::string::npos);
    const auto line = json::parse(captured.lines().at(0));
    EXPECT_EQ(line["user"], "Bearer [redacted]");
    EXPECT_EQ(line["env"][1], "TERM=xterm");
    EXPECT_EQ(line["workspace"], "~alice/proj");
    EXPECT_EQ(line["api_key"], "[redacted]");
}

TEST(AuditLog, NewlinesQuotesAndControlCharactersStayOnOneLine) {
    Captured captured;
    make_log(captured).record(AuditEvent::spawn_rejected, full_context(),
                              json{{"reason", "bad\nline\r\"quoted\"\x01\x1b[2J\t"}});
    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 1u);
    const auto line = json::parse(lines[0]);
    EXPECT_EQ(line["reason"], "bad\nline\r\"quoted\"\x01\x1b[2J\t");
    EXPECT_EQ(lines[0].find('\x1b'), std::string::npos);
    EXPECT_EQ(lines[0].find('\r'), std::string::npos);
}

TEST(AuditLog, InvalidUtf8IsReplacedNotThrown) {
    Captured captured;
    auto context = full_context();
    context.user = std::string("bad\xff\xfe user");
    EXPECT_NO_THROW(make_log(captured).record(AuditEvent::kill, context,
                                              json{{"argv", json::array({"\xc3\x28", "\x80"})}}));
    const auto lines = captured.lines();
    ASSERT_EQ(lines.size(), 1u);
    const auto line = json::parse(lines[0]);
    EXPECT_EQ(line["user"], "bad\xef\xbf\xbd\xef\xbf\xbd user");
    EXPECT_EQ(line["argv"][1], "\xef\xbf\xbd");
}

TEST(AuditLog, EventFieldsCannotForgeFixedFields) {
    Captured captured;
    make_log(captured).record(AuditEvent::limit_hit, full_context(),
                              json{{"event", "attach"}, {"user", "root"}, {"limit", "pids"}});
    const auto line = json::parse(captured.lines().at(0));
    EXPECT_EQ(line["event"], "limit_hit");
    EXPECT_EQ(line["user"], "alice");
    EXPECT_EQ(line["field_event"], "attach");
    EXPECT_EQ(line["field_user"], "root");
    EXPECT_EQ(line["limit"], "pids");
    EXPECT_EQ(line["level"], "warning");
}

TEST(AuditLog, ExplicitLevel) {
    Captured captured;
    make_log(captured).record(AuditEvent::exit, spdlog::level::err, full_context());
    EXPECT_EQ(json::parse(captured.lines().at(0))["level"], "error");
}

TEST(AuditLog, TimestampFormat) {
    EXPECT_EQ(format_timestamp(std::chrono::system_clock::time_point{}),
              "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_timestamp(fixed_time + std::chrono::microseconds(999)),
              "2026-11-27T20:42:04.123Z");
}

TEST(AuditLog, EventNamesRoundTripAndAreClosed) {
    const std::set<std::string> expected = {
        "auth_failure", "spawn_requested", "spawn_rejected", "spawn_started",
        "attach",       "detach",          "kill",           "exit",
        "limit_hit",    "egress",          "gateway"};
    std::set<std::string> names;
    for (const auto event : all_audit_events()) {
        const auto name = std::string(to_string(event));
        names.insert(name);
        EXPECT_EQ(audit_event_from_string(name), event);
    }
    EXPECT_EQ(names, expected);
    EXPECT_EQ(all_audit_events().size(), expected.size());
    EXPECT_FALSE(audit_event_from_string("Attach"));
    EXPECT_FALSE(audit_event_from_string(""));
    EXPECT_FALSE(audit_event_from_string("unknown"));
}

}  // namespace
}  // namespace ccjail::audit
