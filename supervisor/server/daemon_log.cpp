#include "server/daemon_log.hpp"

#include <chrono>

#include "audit/audit_log.hpp"

namespace ccjail::server {

DaemonLog::DaemonLog(std::shared_ptr<spdlog::logger> logger, audit::Redactor redactor,
                     spdlog::level::level_enum level)
    : logger_(std::move(logger)), redactor_(std::move(redactor)), level_(level) {}

void DaemonLog::write(spdlog::level::level_enum level, std::string_view event,
                      const nlohmann::json& fields) const {
    if (level < level_) {
        return;
    }
    // ts, level and event first, as in the audit lines; then the fields, in name order.
    nlohmann::ordered_json line;
    line["ts"] = audit::format_timestamp(std::chrono::system_clock::now());
    line["level"] = std::string(spdlog::level::to_string_view(level).data(),
                                spdlog::level::to_string_view(level).size());
    line["event"] = event;
    const nlohmann::json redacted = redactor_.redact_json(fields);
    for (const auto& [key, value] : redacted.items()) {
        if (!line.contains(key)) {
            line[key] = value;
        }
    }
    logger_->log(level, "{}", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace ccjail::server
