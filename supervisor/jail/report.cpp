#include "jail/report.hpp"

#include <array>
#include <csignal>
#include <utility>

#include <nlohmann/json.hpp>

namespace ccjail {
namespace {

constexpr std::array<std::pair<ExitStatus, std::string_view>, 8> kStatusNames{{
    {ExitStatus::exited, "exited"},
    {ExitStatus::signaled, "signaled"},
    {ExitStatus::oom, "oom"},
    {ExitStatus::wall_timeout, "wall_timeout"},
    {ExitStatus::cpu_timeout, "cpu_timeout"},
    {ExitStatus::output_limit, "output_limit"},
    {ExitStatus::killed, "killed"},
    {ExitStatus::setup_failed, "setup_failed"},
}};

}  // namespace

std::string_view to_string(ExitStatus status) {
    for (const auto& [s, name] : kStatusNames) {
        if (s == status) {
            return name;
        }
    }
    return "unknown";
}

std::optional<ExitStatus> exit_status_from_string(std::string_view name) {
    for (const auto& [s, n] : kStatusNames) {
        if (n == name) {
            return s;
        }
    }
    return std::nullopt;
}

nlohmann::json to_json(const ExitReport& report) {
    nlohmann::json json = {
        {"id", report.id},
        {"status", to_string(report.status)},
        {"exit_code", report.exit_code},
        {"signal", report.signal},
        {"oom_kills", report.usage.oom_kills},
        {"memory_peak_bytes", report.usage.memory_peak_bytes},
        {"cpu_user_usec", report.usage.cpu_user_usec},
        {"cpu_system_usec", report.usage.cpu_system_usec},
        {"wall_ms", report.wall_ms},
        {"pids_peak", report.usage.pids_peak},
        {"nr_throttled", report.usage.nr_throttled},
        {"output_bytes", report.output_bytes},
        {"throttled_usec", report.usage.throttled_usec},
    };
    if (report.failure) {
        json["step"] = to_string(report.failure->step);
        json["errno"] = report.failure->err;
        json["message"] = report.failure->message;
    }
    return json;
}

ExitReport exit_report_from_json(const nlohmann::json& json) {
    ExitReport report;
    report.id = json.at("id").get<std::string>();
    const auto status = exit_status_from_string(json.at("status").get<std::string>());
    if (!status) {
        throw std::invalid_argument("exit report: unknown status");
    }
    report.status = *status;
    report.exit_code = json.at("exit_code").get<int>();
    report.signal = json.at("signal").get<int>();
    report.usage.oom_kills = json.at("oom_kills").get<std::uint64_t>();
    report.usage.memory_peak_bytes = json.at("memory_peak_bytes").get<std::uint64_t>();
    report.usage.cpu_user_usec = json.at("cpu_user_usec").get<std::uint64_t>();
    report.usage.cpu_system_usec = json.at("cpu_system_usec").get<std::uint64_t>();
    report.wall_ms = json.at("wall_ms").get<std::uint64_t>();
    report.usage.pids_peak = json.at("pids_peak").get<std::uint64_t>();
    report.usage.nr_throttled = json.value("nr_throttled", std::uint64_t{0});
    report.output_bytes = json.at("output_bytes").get<std::uint64_t>();
    report.usage.throttled_usec = json.at("throttled_usec").get<std::uint64_t>();
    if (json.contains("step")) {
        const auto step = step_from_string(json.at("step").get<std::string>());
        if (!step) {
            throw std::invalid_argument("exit report: unknown step");
        }
        report.failure =
            SetupFailure{*step, json.at("errno").get<int>(), json.at("message").get<std::string>()};
    }
    return report;
}

int exit_code_for(const ExitReport& report) {
    switch (report.status) {
        case ExitStatus::exited:
            return report.exit_code;
        case ExitStatus::setup_failed:
            return 125;
        case ExitStatus::signaled:
            return 128 + report.signal;
        default:
            return 128 + (report.signal != 0 ? report.signal : SIGKILL);
    }
}

}  // namespace ccjail
