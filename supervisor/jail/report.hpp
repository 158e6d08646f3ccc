#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "cgroup/cgroup.hpp"
#include "common/error.hpp"

namespace ccjail {

// The closed set of ways a session ends (docs/architecture.md, docs/protocol.md).
enum class ExitStatus {
    exited,        // the program returned exit_code
    signaled,      // the program died of `signal`
    oom,           // the memory limit was hit and the kernel killed the program
    wall_timeout,  // the wall-clock limit ran out; the supervisor killed the session
    cpu_timeout,   // the CPU-time limit ran out
    output_limit,  // the output cap was reached (daemon only)
    killed,        // the session was killed on request
    setup_failed,  // the jail could not be built; step/errno/message say why
};

std::string_view to_string(ExitStatus status);
std::optional<ExitStatus> exit_status_from_string(std::string_view name);

struct SetupFailure {
    Step step = Step::supervise;
    int err = 0;
    std::string message;
};

struct ExitReport {
    std::string id;
    ExitStatus status = ExitStatus::exited;
    int exit_code = 0;
    int signal = 0;
    CgroupUsage usage;
    std::uint64_t wall_ms = 0;
    std::uint64_t output_bytes = 0;
    std::uint64_t throttled_usec = 0;
    std::optional<SetupFailure> failure;
};

nlohmann::json to_json(const ExitReport& report);
ExitReport exit_report_from_json(const nlohmann::json& json);

// ccjail-exec's own exit code for a report: the program's code, 128+N for signal N, 125 when
// the jail could not be built, 128+SIGKILL when the supervisor ended the session.
int exit_code_for(const ExitReport& report);

}  // namespace ccjail
