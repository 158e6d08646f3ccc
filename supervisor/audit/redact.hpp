#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ccjail::audit {

// What the daemon knows about the secrets it must keep out of its logs.
struct RedactionRules {
    // Env names whose values are secrets (profiles' environment.secrets), matched
    // case-insensitively so that a differently cased copy cannot slip through.
    std::vector<std::string> secret_env_names;
    // Directories that hold one home per user, e.g. /var/lib/ccjail/homes. Convention (as in a
    // shell): `<root>/alice/x` becomes `~alice/x`, `<root>/alice` becomes `~alice`, and the root
    // itself becomes `~`. A root matches only at a path-component boundary.
    std::vector<std::string> home_roots;
    // Literal secret contents the daemon has read (e.g. a secrets file). A leaked value is
    // redacted even when it has no recognisable shape. Values under 8 bytes are ignored: they
    // would blank out ordinary words.
    std::vector<std::string> secret_values;
};

// Removes secrets from text and JSON headed for the audit log. A secret is replaced by
// `[redacted]`; nothing of the secret itself is kept, only the fixed text around it (`Bearer `,
// `Authorization: `, `NAME=`), so an operator still sees what kind of value was hidden.
//
// Shapes recognised in free text (each must start at a word boundary):
//   - Anthropic keys `sk-ant-` + 8 or more key characters, other `sk-` keys of 20+ characters
//     after `sk-` (key characters: A-Z a-z 0-9 _ -);
//   - AWS access key ids `AKIA`/`ASIA` + 16 of [0-9A-Z];
//   - GitHub tokens `gh[pousr]_` + 36 or more alphanumerics, and `github_pat_` + 22 or more;
//   - JWTs `eyJ...` `.` `eyJ...` `.` signature (base64url segments);
//   - `Bearer <token>` (scheme case-insensitive; tokens of 8+ characters, so prose such as
//     "bearer of" stays readable);
//   - `Authorization: <value>` / `Authorization=<value>` (case-insensitive, also
//     Proxy-Authorization): the value up to the end of the line or its closing quote;
//   - `NAME=<value>` for a secret env name: the value up to whitespace or its closing quote.
//
// Hand-written scanners, not std::regex: std::regex recurses per character and can overflow
// the stack on long attacker-supplied input, and it is slow.
class Redactor {
  public:
    static constexpr std::string_view marker = "[redacted]";

    Redactor() = default;
    explicit Redactor(RedactionRules rules);

    std::string redact_text(std::string_view text) const;

    // Recursively: values under secret keys are replaced wholesale (whatever their type),
    // strings of the form `NAME=value` with a secret NAME keep only `NAME=`, and every other
    // string (keys included) goes through redact_text. Nesting deeper than max_depth is
    // replaced by "[truncated]" so that hostile input cannot exhaust the stack.
    nlohmann::json redact_json(const nlohmann::json& value) const;

    // True for a secret env name and for keys such as api_key, apiKey, authorization, token,
    // password, secret (case, `_` and `-` ignored), and keys ending in api_key/password/secret.
    bool is_secret_key(std::string_view key) const;

    static constexpr int max_depth = 64;

  private:
    bool is_secret_env_name(std::string_view name) const;
    std::string redact_env_entry(std::string_view entry) const;
    std::string redact_known_values(std::string_view text) const;
    std::string redact_shapes(std::string_view text) const;
    std::string shorten_homes(std::string_view text) const;
    nlohmann::json redact_json_at(const nlohmann::json& value, int depth) const;

    RedactionRules rules_;
};

}  // namespace ccjail::audit
