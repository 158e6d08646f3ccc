#include "server/signal_names.hpp"

#include <array>
#include <csignal>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace ccjail::server {
namespace {

constexpr std::array<std::pair<std::string_view, int>, 11> kSignals = {{
    {"SIGHUP", SIGHUP},
    {"SIGINT", SIGINT},
    {"SIGQUIT", SIGQUIT},
    {"SIGTERM", SIGTERM},
    {"SIGKILL", SIGKILL},
    {"SIGUSR1", SIGUSR1},
    {"SIGUSR2", SIGUSR2},
    {"SIGCONT", SIGCONT},
    {"SIGSTOP", SIGSTOP},
    {"SIGTSTP", SIGTSTP},
    {"SIGWINCH", SIGWINCH},
}};

}  // namespace

std::optional<int> signal_from_json(const nlohmann::json& value) {
    for (const auto& [name, number] : kSignals) {
        if ((value.is_string() && value.get<std::string>() == name) ||
            (value.is_number_integer() && value.get<long long>() == number)) {
            return number;
        }
    }
    return std::nullopt;
}

std::string allowed_signal_names() {
    std::string names;
    for (const auto& [name, number] : kSignals) {
        names += names.empty() ? "" : ", ";
        names += name;
    }
    return names;
}

}  // namespace ccjail::server
