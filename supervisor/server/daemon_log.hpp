#pragma once

#include <memory>
#include <string_view>

#include <spdlog/logger.h>
#include <nlohmann/json.hpp>

#include "audit/redact.hpp"

namespace ccjail::server {

// The daemon's own lines (start, stop, housekeeping), in the audit lines' shape
// ({"ts","level","event",...}) and through the same redaction, but outside the closed set of
// audit events: alerts keyed on audit events never fire on them.
class DaemonLog {
  public:
    // Lines below `level` are dropped (the config's log_level). Audit lines never are: they are
    // written by audit::AuditLog, whatever this level says.
    DaemonLog(std::shared_ptr<spdlog::logger> logger, audit::Redactor redactor,
              spdlog::level::level_enum level = spdlog::level::info);
    void write(spdlog::level::level_enum level, std::string_view event,
               const nlohmann::json& fields = nlohmann::json::object()) const;

    // A reload can add secret env names (profiles) and change the level (config).
    void set_redactor(audit::Redactor redactor) { redactor_ = std::move(redactor); }
    void set_level(spdlog::level::level_enum level) { level_ = level; }

  private:
    std::shared_ptr<spdlog::logger> logger_;
    audit::Redactor redactor_;
    spdlog::level::level_enum level_;
};

}  // namespace ccjail::server
