#include "audit/redact.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

namespace ccjail::audit {
namespace {

struct Match {
    std::size_t length = 0;  // bytes of the input consumed
    std::string replacement;
};

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_word(char c) {
    return is_alnum(c) || c == '_';
}
bool is_key_char(char c) {
    return is_word(c) || c == '-';
}
bool is_upper_or_digit(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_token68(char c) {
    return is_key_char(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=';
}
bool is_blank(char c) {
    return c == ' ' || c == '\t';
}
bool is_space(char c) {
    return is_blank(c) || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_path_char(char c) {
    return is_key_char(c) || c == '.' || c == '/' || c == '~';
}
bool is_quote(char c) {
    return c == '"' || c == '\'';
}

char to_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return to_lower(x) == to_lower(y);
           });
}

bool starts_with_at(std::string_view text, std::size_t pos, std::string_view literal) {
    return text.substr(pos, literal.size()) == literal;
}

bool istarts_with_at(std::string_view text, std::size_t pos, std::string_view literal) {
    return iequals(text.substr(pos, literal.size()), literal);
}

template <typename Pred>
std::size_t run_length(std::string_view text, std::size_t pos, Pred pred) {
    std::size_t end = pos;
    while (end < text.size() && pred(text[end])) {
        ++end;
    }
    return end - pos;
}

bool at_word_boundary(std::string_view text, std::size_t pos) {
    return pos == 0 || !is_word(text[pos - 1]);
}

// Where a value starting at `pos` ends: at its closing quote if it is quoted, otherwise where
// `stop` says. Returns the offset just past the value's content (the closing quote stays).
template <typename Stop>
std::size_t value_end(std::string_view text, std::size_t pos, Stop stop) {
    if (pos < text.size() && is_quote(text[pos])) {
        const auto close = text.find(text[pos], pos + 1);
        return close == std::string_view::npos ? text.size() : close;
    }
    std::size_t end = pos;
    while (end < text.size() && !stop(text[end])) {
        ++end;
    }
    return end;
}

// `prefix_end` is where the kept text (name, separator, opening quote) ends.
std::optional<Match> hide_value(std::string_view text, std::size_t start, std::size_t prefix_end,
                                std::size_t end) {
    const bool quoted = prefix_end < text.size() && is_quote(text[prefix_end]);
    const std::size_t content = prefix_end + (quoted ? 1 : 0);
    if (end <= content) {
        return std::nullopt;
    }
    return Match{end - start,
                 std::string(text.substr(start, content - start)) + std::string(Redactor::marker)};
}

std::optional<Match> match_anthropic_or_sk_key(std::string_view text, std::size_t pos) {
    if (starts_with_at(text, pos, "sk-ant-")) {
        const auto n = run_length(text, pos + 7, is_key_char);
        if (n >= 8) {
            return Match{7 + n, std::string(Redactor::marker)};
        }
    }
    if (starts_with_at(text, pos, "sk-")) {
        const auto n = run_length(text, pos + 3, is_key_char);
        if (n >= 20) {
            return Match{3 + n, std::string(Redactor::marker)};
        }
    }
    return std::nullopt;
}

std::optional<Match> match_aws_key_id(std::string_view text, std::size_t pos) {
    if (!starts_with_at(text, pos, "AKIA") && !starts_with_at(text, pos, "ASIA")) {
        return std::nullopt;
    }
    constexpr std::size_t length = 20;
    if (run_length(text, pos + 4, is_upper_or_digit) != length - 4 ||
        (pos + length < text.size() && is_word(text[pos + length]))) {
        return std::nullopt;
    }
    return Match{length, std::string(Redactor::marker)};
}

std::optional<Match> match_github_token(std::string_view text, std::size_t pos) {
    if (starts_with_at(text, pos, "github_pat_")) {
        const auto n = run_length(text, pos + 11, is_word);
        if (n >= 22) {
            return Match{11 + n, std::string(Redactor::marker)};
        }
        return std::nullopt;
    }
    constexpr std::string_view kinds = "pousr";
    if (pos + 4 > text.size() || !starts_with_at(text, pos, "gh") ||
        kinds.find(text[pos + 2]) == std::string_view::npos || text[pos + 3] != '_') {
        return std::nullopt;
    }
    const auto n = run_length(text, pos + 4, is_alnum);
    if (n < 36) {
        return std::nullopt;
    }
    return Match{4 + n, std::string(Redactor::marker)};
}

// header.payload.signature, both JSON parts base64url of "{" which always starts "eyJ".
std::optional<Match> match_jwt(std::string_view text, std::size_t pos) {
    std::size_t end = pos;
    for (int part = 0; part < 2; ++part) {
        if (!starts_with_at(text, end, "eyJ")) {
            return std::nullopt;
        }
        end += run_length(text, end, is_key_char);
        if (end >= text.size() || text[end] != '.') {
            return std::nullopt;
        }
        ++end;
    }
    end += run_length(text, end, is_key_char);
    return Match{end - pos, std::string(Redactor::marker)};
}

std::optional<Match> match_bearer(std::string_view text, std::size_t pos) {
    constexpr std::string_view scheme = "bearer";
    if (!istarts_with_at(text, pos, scheme)) {
        return std::nullopt;
    }
    const auto blanks = run_length(text, pos + scheme.size(), is_blank);
    if (blanks == 0) {
        return std::nullopt;
    }
    const auto token_pos = pos + scheme.size() + blanks;
    const auto n = run_length(text, token_pos, is_token68);
    if (n < 8) {
        return std::nullopt;
    }
    return hide_value(text, pos, token_pos, token_pos + n);
}

std::optional<Match> match_authorization(std::string_view text, std::size_t pos) {
    constexpr std::string_view name = "authorization";
    if (!istarts_with_at(text, pos, name)) {
        return std::nullopt;
    }
    std::size_t sep = pos + name.size();
    if (sep < text.size() && is_quote(text[sep])) {
        ++sep;
    }
    sep += run_length(text, sep, is_blank);
    if (sep >= text.size() || (text[sep] != ':' && text[sep] != '=')) {
        return std::nullopt;
    }
    const auto value_pos = sep + 1 + run_length(text, sep + 1, is_blank);
    const auto end = value_end(text, value_pos, [](char c) { return c == '\n' || c == '\r'; });
    return hide_value(text, pos, value_pos, end);
}

}  // namespace

Redactor::Redactor(RedactionRules rules) : rules_(std::move(rules)) {
    for (auto& root : rules_.home_roots) {
        while (root.size() > 1 && root.back() == '/') {
            root.pop_back();
        }
    }
    std::erase_if(rules_.home_roots, [](const std::string& root) { return root.size() <= 1; });
    // Longest first, so that a nested root wins over the root that contains it.
    std::sort(rules_.home_roots.begin(), rules_.home_roots.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
    std::erase_if(rules_.secret_values, [](const std::string& value) { return value.size() < 8; });
    std::sort(rules_.secret_values.begin(), rules_.secret_values.end(),
              [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

bool Redactor::is_secret_env_name(std::string_view name) const {
    return std::any_of(rules_.secret_env_names.begin(), rules_.secret_env_names.end(),
                       [&](const std::string& secret) { return iequals(secret, name); });
}

bool Redactor::is_secret_key(std::string_view key) const {
    if (is_secret_env_name(key)) {
        return true;
    }
    std::string normalized;
    for (const char c : key) {
        if (c != '_' && c != '-') {
            normalized += to_lower(c);
        }
    }
    static constexpr std::array<std::string_view, 6> exact = {
        "authorization", "proxyauthorization", "cookie", "setcookie", "credentials", "auth"};
    static constexpr std::array<std::string_view, 6> suffixes = {"apikey", "token",  "password",
                                                                 "passwd", "secret", "privatekey"};
    return std::find(exact.begin(), exact.end(), normalized) != exact.end() ||
           std::any_of(suffixes.begin(), suffixes.end(),
                       [&](std::string_view s) { return normalized.ends_with(s); });
}

std::string Redactor::redact_known_values(std::string_view text) const {
    std::string out(text);
    for (const auto& value : rules_.secret_values) {
        for (auto at = out.find(value); at != std::string::npos;
             at = out.find(value, at + marker.size())) {
            out.replace(at, value.size(), marker);
        }
    }
    return out;
}

std::string Redactor::redact_shapes(std::string_view text) const {
    const auto match_env_assignment = [this](std::string_view t,
                                             std::size_t pos) -> std::optional<Match> {
        const auto n = run_length(t, pos, is_word);
        if (n == 0 || pos + n >= t.size() || t[pos + n] != '=' ||
            !is_secret_env_name(t.substr(pos, n))) {
            return std::nullopt;
        }
        const auto value_pos = pos + n + 1;
        const auto end = value_end(t, value_pos, [](char c) {
            return is_space(c) || is_quote(c) || c == '&' || c == ',';
        });
        return hide_value(t, pos, value_pos, end);
    };
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::optional<Match> match;
        if (at_word_boundary(text, pos)) {
            match = match_env_assignment(text, pos);
            for (const auto matcher : {match_authorization, match_bearer, match_anthropic_or_sk_key,
                                       match_aws_key_id, match_github_token, match_jwt}) {
                if (match) {
                    break;
                }
                match = matcher(text, pos);
            }
        }
        if (match) {
            out += match->replacement;
            pos += match->length;
        } else {
            out += text[pos++];
        }
    }
    return out;
}

std::string Redactor::shorten_homes(std::string_view text) const {
    std::string out(text);
    for (const auto& root : rules_.home_roots) {
        std::string next;
        next.reserve(out.size());
        std::size_t pos = 0;
        while (pos < out.size()) {
            const auto after = pos + root.size();
            const bool matches =
                starts_with_at(out, pos, root) && (pos == 0 || !is_path_char(out[pos - 1])) &&
                (after == out.size() || out[after] == '/' || !is_path_char(out[after]));
            if (!matches) {
                next += out[pos++];
                continue;
            }
            next += '~';
            pos = (after < out.size() && out[after] == '/') ? after + 1 : after;
        }
        out = std::move(next);
    }
    return out;
}

std::string Redactor::redact_text(std::string_view text) const {
    return shorten_homes(redact_shapes(redact_known_values(text)));
}

std::string Redactor::redact_env_entry(std::string_view entry) const {
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos && eq > 0 && eq + 1 < entry.size() &&
        run_length(entry, 0, is_word) == eq && is_secret_env_name(entry.substr(0, eq))) {
        return std::string(entry.substr(0, eq + 1)) + std::string(marker);
    }
    return redact_text(entry);
}

nlohmann::json Redactor::redact_json(const nlohmann::json& value) const {
    return redact_json_at(value, 0);
}

nlohmann::json Redactor::redact_json_at(const nlohmann::json& value, int depth) const {
    if (depth > max_depth) {
        return "[truncated]";
    }
    if (value.is_string()) {
        return redact_env_entry(value.get_ref<const std::string&>());
    }
    if (value.is_array()) {
        auto out = nlohmann::json::array();
        for (const auto& item : value) {
            out.push_back(redact_json_at(item, depth + 1));
        }
        return out;
    }
    if (value.is_object()) {
        auto out = nlohmann::json::object();
        for (const auto& [key, item] : value.items()) {
            out[redact_text(key)] =
                is_secret_key(key) ? nlohmann::json(marker) : redact_json_at(item, depth + 1);
        }
        return out;
    }
    return value;
}

}  // namespace ccjail::audit
