// Sizes and durations as profiles write them ("512M", "30s"); docs/profiles.md lists the forms.

#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <string_view>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();

struct Number {
    std::uint64_t value;
    std::string_view suffix;
};

// Only plain decimal digits: a sign, whitespace, a decimal point or a hex prefix is a typo in a
// limit, and guessing what was meant would put a different limit in force than the admin wrote.
Number split_number(std::string_view text, std::string_view what) {
    if (text.empty()) {
        throw std::invalid_argument("empty " + std::string(what));
    }
    std::size_t i = 0;
    std::uint64_t value = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
        const auto digit = static_cast<std::uint64_t>(text[i] - '0');
        if (value > (kMax - digit) / 10) {
            throw std::invalid_argument(std::string(what) + " too large");
        }
        value = value * 10 + digit;
        ++i;
    }
    if (i == 0) {
        throw std::invalid_argument(std::string(what) + " must start with a digit");
    }
    return {value, text.substr(i)};
}

std::uint64_t scale(std::uint64_t value, std::uint64_t factor, std::string_view what) {
    if (factor != 0 && value > kMax / factor) {
        throw std::invalid_argument(std::string(what) + " too large");
    }
    return value * factor;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i]))) {
            return false;
        }
    }
    return true;
}

// "", "B", "K", "KB", "Ki", "KiB" (and M, G, T likewise; any case): all binary multiples.
std::uint64_t size_factor(std::string_view suffix) {
    if (suffix.empty() || iequals(suffix, "B")) {
        return 1;
    }
    static constexpr std::string_view kUnits = "KMGT";
    const auto unit =
        kUnits.find(static_cast<char>(std::toupper(static_cast<unsigned char>(suffix[0]))));
    if (unit == std::string_view::npos) {
        throw std::invalid_argument("unknown size unit \"" + std::string(suffix) + "\"");
    }
    const std::string_view rest = suffix.substr(1);
    if (!(rest.empty() || iequals(rest, "B") || iequals(rest, "i") || iequals(rest, "iB"))) {
        throw std::invalid_argument("unknown size unit \"" + std::string(suffix) + "\"");
    }
    return std::uint64_t{1} << (10 * (unit + 1));
}

std::uint64_t duration_factor_ms(std::string_view suffix) {
    if (suffix == "ms") {
        return 1;
    }
    if (suffix.empty() || suffix == "s") {
        return 1000;
    }
    if (suffix == "m") {
        return 60 * 1000;
    }
    if (suffix == "h") {
        return 60 * 60 * 1000;
    }
    if (suffix == "d") {
        return 24 * 60 * 60 * 1000;
    }
    throw std::invalid_argument("unknown duration unit \"" + std::string(suffix) +
                                "\" (use ms, s, m, h or d)");
}

}  // namespace

std::uint64_t parse_size(std::string_view text) {
    const Number n = split_number(text, "size");
    return scale(n.value, size_factor(n.suffix), "size");
}

std::uint64_t parse_duration_ms(std::string_view text) {
    const Number n = split_number(text, "duration");
    return scale(n.value, duration_factor_ms(n.suffix), "duration");
}

}  // namespace ccjail
