#include "audit/audit_log.hpp"

#include <ctime>
#include <utility>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace ccjail::audit {
namespace {

constexpr AuditEvent all_events[] = {
    AuditEvent::auth_failure,   AuditEvent::spawn_requested,
    AuditEvent::spawn_rejected, AuditEvent::spawn_started,
    AuditEvent::attach,         AuditEvent::detach,
    AuditEvent::kill,           AuditEvent::exit,
    AuditEvent::limit_hit,      AuditEvent::egress,
    AuditEvent::gateway,
};

constexpr std::string_view fixed_fields[] = {
    "ts", "level", "event", "request_id", "session", "user", "peer_uid", "peer_pid", "profile"};

bool is_fixed_field(std::string_view key) {
    for (const auto field : fixed_fields) {
        if (field == key) {
            return true;
        }
    }
    return false;
}

}  // namespace

std::string_view to_string(AuditEvent event) {
    switch (event) {
        case AuditEvent::auth_failure:
            return "auth_failure";
        case AuditEvent::spawn_requested:
            return "spawn_requested";
        case AuditEvent::spawn_rejected:
            return "spawn_rejected";
        case AuditEvent::spawn_started:
            return "spawn_started";
        case AuditEvent::attach:
            return "attach";
        case AuditEvent::detach:
            return "detach";
        case AuditEvent::kill:
            return "kill";
        case AuditEvent::exit:
            return "exit";
        case AuditEvent::limit_hit:
            return "limit_hit";
        case AuditEvent::egress:
            return "egress";
        case AuditEvent::gateway:
            return "gateway";
    }
    return "unknown";
}

std::optional<AuditEvent> audit_event_from_string(std::string_view name) {
    for (const auto event : all_events) {
        if (to_string(event) == name) {
            return event;
        }
    }
    return std::nullopt;
}

std::span<const AuditEvent> all_audit_events() {
    return all_events;
}

spdlog::level::level_enum default_level(AuditEvent event) {
    switch (event) {
        case AuditEvent::auth_failure:
        case AuditEvent::spawn_rejected:
        case AuditEvent::limit_hit:
            return spdlog::level::warn;
        default:
            return spdlog::level::info;
    }
}

std::string format_timestamp(std::chrono::system_clock::time_point time) {
    const auto since_epoch = time.time_since_epoch();
    const auto seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
    const std::time_t t = seconds.count();
    std::tm utc{};
    gmtime_r(&t, &utc);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900,
                       utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                       millis.count());
}

AuditLog::AuditLog(std::shared_ptr<spdlog::logger> logger, Redactor redactor, Clock clock)
    : logger_(std::move(logger)), redactor_(std::move(redactor)), clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = [] { return std::chrono::system_clock::now(); };
    }
}

std::string AuditLog::format_line(AuditEvent event, spdlog::level::level_enum level,
                                  const AuditContext& context, const nlohmann::json& fields) const {
    // ordered_json keeps the fixed fields first, which is how people read these lines.
    nlohmann::ordered_json line;
    line["ts"] = format_timestamp(clock_());
    const auto level_name = spdlog::level::to_string_view(level);
    line["level"] = std::string(level_name.data(), level_name.size());
    line["event"] = std::string(to_string(event));
    const auto add_text = [&](const char* key, const std::optional<std::string>& value) {
        if (value) {
            line[key] = redactor_.redact_text(*value);
        }
    };
    add_text("request_id", context.request_id);
    add_text("session", context.session);
    add_text("user", context.user);
    if (context.peer_uid) {
        line["peer_uid"] = *context.peer_uid;
    }
    if (context.peer_pid) {
        line["peer_pid"] = *context.peer_pid;
    }
    add_text("profile", context.profile);

    const auto redacted = redactor_.redact_json(fields);
    if (redacted.is_object()) {
        for (const auto& [key, value] : redacted.items()) {
            line[is_fixed_field(key) ? "field_" + key : key] = nlohmann::ordered_json(value);
        }
    } else if (!redacted.is_null()) {
        line["field_value"] = nlohmann::ordered_json(redacted);
    }
    return line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void AuditLog::record(AuditEvent event, const AuditContext& context,
                      const nlohmann::json& fields) const {
    record(event, default_level(event), context, fields);
}

void AuditLog::record(AuditEvent event, spdlog::level::level_enum level,
                      const AuditContext& context, const nlohmann::json& fields) const {
    const auto line = format_line(event, level, context, fields);
    logger_->log(level, spdlog::string_view_t(line.data(), line.size()));
}

std::shared_ptr<spdlog::logger> make_audit_logger(std::string name, spdlog::sink_ptr sink) {
    auto logger = std::make_shared<spdlog::logger>(std::move(name), std::move(sink));
    logger->set_pattern("%v");
    logger->set_level(spdlog::level::trace);
    // An audit line that sits in a buffer when the daemon dies is an audit line lost.
    logger->flush_on(spdlog::level::trace);
    return logger;
}

std::shared_ptr<spdlog::logger> make_stderr_audit_logger() {
    return make_audit_logger("audit", std::make_shared<spdlog::sinks::stderr_sink_mt>());
}

}  // namespace ccjail::audit
