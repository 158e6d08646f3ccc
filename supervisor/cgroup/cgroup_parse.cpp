#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <string>

#include "cgroup/cgroup.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "common/error.hpp"

namespace ccjail {
namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) {
        return {};
    }
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
    while (!text.empty()) {
        const auto eol = text.find('\n');
        fn(text.substr(0, eol));
        if (eol == std::string_view::npos) {
            break;
        }
        text.remove_prefix(eol + 1);
    }
}

bool is_decimal(std::string_view text) {
    return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

std::string_view to_string(CgroupVersion version) {
    return version == CgroupVersion::v2 ? "v2" : "v1";
}

std::map<std::string, std::string> parse_proc_cgroup(std::string_view text) {
    std::map<std::string, std::string> paths;
    for_each_line(text, [&](std::string_view line) {
        line = trim(line);
        const auto first = line.find(':');
        if (first == std::string_view::npos) {
            return;
        }
        const auto second = line.find(':', first + 1);
        if (second == std::string_view::npos) {
            return;
        }
        const std::string_view id = line.substr(0, first);
        const std::string_view controllers = line.substr(first + 1, second - first - 1);
        // The path is the rest of the line: a cgroup name may itself contain ':'.
        const std::string_view path = line.substr(second + 1);
        if (!is_decimal(id) || path.empty() || path.front() != '/') {
            return;
        }
        if (controllers.empty()) {
            // Only hierarchy 0 is the unified one; an empty list elsewhere is malformed.
            if (id == "0") {
                paths[""] = std::string(path);
            }
            return;
        }
        std::string_view rest = controllers;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            const std::string_view name = rest.substr(0, comma);
            if (!name.empty()) {
                paths[std::string(name)] = std::string(path);
            }
            if (comma == std::string_view::npos) {
                break;
            }
            rest.remove_prefix(comma + 1);
        }
    });
    return paths;
}

std::map<std::string, std::uint64_t> parse_flat_keyed(std::string_view text) {
    std::map<std::string, std::uint64_t> values;
    for_each_line(text, [&](std::string_view line) {
        line = trim(line);
        const auto space = line.find_first_of(" \t");
        if (space == std::string_view::npos || space == 0) {
            return;
        }
        const std::string_view key = line.substr(0, space);
        const std::string_view value = trim(line.substr(space));
        std::uint64_t number = 0;
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
        if (!is_decimal(value) || ec != std::errc() || ptr != value.data() + value.size()) {
            return;
        }
        values[std::string(key)] = number;
    });
    return values;
}

std::optional<std::uint64_t> cpu_quota_usec(double cpus, std::uint64_t period_usec) {
    // The kernel accepts periods from 1 ms to 1 s and quotas of at least 1 ms.
    constexpr std::uint64_t kMinUsec = 1000;
    constexpr std::uint64_t kMaxPeriodUsec = 1000000;
    if (period_usec < kMinUsec || period_usec > kMaxPeriodUsec) {
        throw JailError(Step::cgroup, EINVAL,
                        "cpu period " + std::to_string(period_usec) + " usec is out of range");
    }
    if (std::isnan(cpus) || cpus < 0) {
        throw JailError(Step::cgroup, EINVAL, "cpu limit must be a non-negative number of cores");
    }
    if (cpus == 0 || std::isinf(cpus)) {
        return std::nullopt;
    }
    // 2^40 usec per period is far beyond any core count and keeps the product finite.
    const double quota = std::min(std::round(cpus * static_cast<double>(period_usec)), 0x1p40);
    return std::max(static_cast<std::uint64_t>(quota), kMinUsec);
}

std::string cpu_max_value(double cpus, std::uint64_t period_usec) {
    const auto quota = cpu_quota_usec(cpus, period_usec);
    return (quota ? std::to_string(*quota) : std::string("max")) + " " +
           std::to_string(period_usec);
}

void validate_jail_id(const std::string& id) {
    constexpr std::size_t kMaxIdLength = 128;
    const bool safe_chars =
        id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
        std::string::npos;
    if (id.empty() || id.size() > kMaxIdLength || !safe_chars || id == "." || id == "..") {
        throw JailError(Step::cgroup, EINVAL,
                        "invalid jail id '" + id + "': use 1-128 of [A-Za-z0-9._-]");
    }
}

}  // namespace ccjail
