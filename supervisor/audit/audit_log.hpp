#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "audit/redact.hpp"

namespace ccjail::audit {

// The closed set of audit events (DESIGN.md §6, daemon issue "Logs and metrics"). The names are
// the `event` field of a line; journald queries and alerts match on them, so they never change.
enum class AuditEvent {
    auth_failure,     // a peer failed the SO_PEERCRED check or sent no valid hello
    spawn_requested,  // a spawn request was received (before validation)
    spawn_rejected,   // the request was refused; fields carry `reason` (an error code)
    spawn_started,    // the jail is running; fields carry the pid and limits
    attach,           // a client attached to a session
    detach,           // a client detached (or disconnected)
    kill,             // a session was killed on request
    exit,             // a session ended; fields carry the exit report
    limit_hit,        // a limit was reached (memory/oom, pids, cpu, wall, output, rate)
    egress,           // a proxy connection of a jail ended: allowed or denied, why, bytes
    gateway,          // a gateway request of a jail ended: method, path, status, bytes
};

std::string_view to_string(AuditEvent event);
std::optional<AuditEvent> audit_event_from_string(std::string_view name);
std::span<const AuditEvent> all_audit_events();

// Refusals and limit hits are warnings, the rest is information.
spdlog::level::level_enum default_level(AuditEvent event);

// Who and what an event is about; an unknown member is left out of the line.
struct AuditContext {
    std::optional<std::string> request_id;
    std::optional<std::string> session;
    std::optional<std::string> user;
    std::optional<uid_t> peer_uid;
    std::optional<pid_t> peer_pid;
    std::optional<std::string> profile;
};

// Writes audit events as JSON lines:
//   {"ts":"2026-11-27T20:42:04.123Z","level":"info","event":"spawn_started","request_id":...,
//    "session":...,"user":...,"peer_uid":...,"peer_pid":...,"profile":...,<event fields>}
// Every string (context and event fields) goes through the Redactor. An event field whose name
// is one of the fixed fields is kept as `field_<name>` so that it cannot forge them. The line is
// dumped with invalid UTF-8 replaced by U+FFFD and control characters escaped, so a value can
// neither break the JSON nor split the line.
class AuditLog {
  public:
    using Clock = std::function<std::chrono::system_clock::time_point()>;

    // `logger` must write the message alone (pattern "%v"): use make_audit_logger.
    AuditLog(std::shared_ptr<spdlog::logger> logger, Redactor redactor, Clock clock = {});

    void record(AuditEvent event, const AuditContext& context,
                const nlohmann::json& fields = nlohmann::json::object()) const;
    void record(AuditEvent event, spdlog::level::level_enum level, const AuditContext& context,
                const nlohmann::json& fields = nlohmann::json::object()) const;

    // The line record() writes, without the trailing newline.
    std::string format_line(AuditEvent event, spdlog::level::level_enum level,
                            const AuditContext& context, const nlohmann::json& fields) const;

    const Redactor& redactor() const { return redactor_; }
    // A profile reload can add secret env names.
    void set_redactor(Redactor redactor) { redactor_ = std::move(redactor); }

  private:
    std::shared_ptr<spdlog::logger> logger_;
    Redactor redactor_;
    Clock clock_;
};

// RFC 3339 in UTC with milliseconds, e.g. 2026-11-27T20:42:04.123Z.
std::string format_timestamp(std::chrono::system_clock::time_point time);

// A logger that writes bare message lines to `sink`, at every level, flushing each line.
std::shared_ptr<spdlog::logger> make_audit_logger(std::string name, spdlog::sink_ptr sink);
// The daemon's: JSON lines on stderr, which journald collects.
std::shared_ptr<spdlog::logger> make_stderr_audit_logger();

}  // namespace ccjail::audit
