// Audit redaction: each secret shape in free text and inside JSON, what must stay readable,
// secret env names, home path shortening and nesting.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "audit/redact.hpp"

namespace ccjail::audit {
namespace {

using nlohmann::json;

Redactor make_redactor() {
    RedactionRules rules;
    rules.secret_env_names = {"ANTHROPIC_API_KEY", "DB_PASS"};
    rules.home_roots = {"/var/lib/ccjail/homes/"};
    return Redactor(rules);
}

const std::string anthropic_key = "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdef";
const std::string openai_key = "sk-proj-AbCdEfGhIjKlMnOpQrSt1234";
const std::string aws_key = "AKIAIOSFODNN7EXAMPLE";
const std::string github_token = "ghp_" + std::string(36, 'a') + "1B";
const std::string jwt =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";

// The secret is gone and no 7 characters of it past its fixed `sk-ant-` prefix survived.
void expect_hidden(const std::string& out, const std::string& secret) {
    EXPECT_NE(out.find("[redacted]"), std::string::npos) << out;
    for (std::size_t i = 7; i + 7 <= secret.size(); ++i) {
        EXPECT_EQ(out.find(secret.substr(i, 7)), std::string::npos) << out;
    }
}

TEST(RedactText, AnthropicKey) {
    const auto out = make_redactor().redact_text("using key " + anthropic_key + " now");
    expect_hidden(out, anthropic_key);
    EXPECT_EQ(out, "using key [redacted] now");
}

TEST(RedactText, GenericSkKey) {
    EXPECT_EQ(make_redactor().redact_text("k=" + openai_key + ";"), "k=[redacted];");
}

TEST(RedactText, AwsAccessKeyId) {
    EXPECT_EQ(make_redactor().redact_text("aws " + aws_key + "."), "aws [redacted].");
}

TEST(RedactText, GithubTokens) {
    const Redactor redactor = make_redactor();
    EXPECT_EQ(redactor.redact_text("t:" + github_token), "t:[redacted]");
    EXPECT_EQ(redactor.redact_text("gho_" + std::string(40, 'Z')), "[redacted]");
    EXPECT_EQ(redactor.redact_text("github_pat_" + std::string(30, 'x')), "[redacted]");
}

TEST(RedactText, Jwt) {
    EXPECT_EQ(make_redactor().redact_text("id=" + jwt + " end"), "id=[redacted] end");
}

TEST(RedactText, BearerToken) {
    EXPECT_EQ(make_redactor().redact_text("curl -H 'x: Bearer abcDEF123.456-_~+/=' url"),
              "curl -H 'x: Bearer [redacted]' url");
    EXPECT_EQ(make_redactor().redact_text("bearer\tzzzzzzzzzzzz"), "bearer\t[redacted]");
}

TEST(RedactText, AuthorizationHeaderToEndOfLine) {
    EXPECT_EQ(make_redactor().redact_text("Authorization: Basic dXNlcjpwYXNz xyz\nnext line"),
              "Authorization: [redacted]\nnext line");
    EXPECT_EQ(make_redactor().redact_text("proxy-authorization=abc"),
              "proxy-authorization=[redacted]");
}

TEST(RedactText, QuotedAuthorizationStopsAtQuote) {
    EXPECT_EQ(make_redactor().redact_text(R"({"Authorization": "Token abc", "n": 1})"),
              R"({"Authorization": "[redacted]", "n": 1})");
}

TEST(RedactText, SecretEnvAssignment) {
    const Redactor redactor = make_redactor();
    EXPECT_EQ(redactor.redact_text("env ANTHROPIC_API_KEY=hunter2 claude"),
              "env ANTHROPIC_API_KEY=[redacted] claude");
    EXPECT_EQ(redactor.redact_text("DB_PASS=\"two words\" x"), "DB_PASS=\"[redacted]\" x");
    EXPECT_EQ(redactor.redact_text("anthropic_api_key=lower"), "anthropic_api_key=[redacted]");
}

TEST(RedactText, NonSecretsStayAlone) {
    const Redactor redactor = make_redactor();
    for (const std::string text :
         {"sk-short", "sk-learn is a library", "task-0123456789abcdefghijklmnop",
          "the bearer of news", "AKIA1234", "ghp_short", "eyJ alone", "PATH=/usr/bin HOME=/root",
          "MY_ANTHROPIC_API_KEY_FILE=/etc/x", "/srv/token/cache/file", "authorizations: many",
          "ordinary words, nothing secret"}) {
        EXPECT_EQ(redactor.redact_text(text), text);
    }
}

TEST(RedactText, KnownSecretValues) {
    RedactionRules rules;
    rules.secret_values = {"s3cr3t-plain-value", "short"};
    const Redactor redactor(rules);
    EXPECT_EQ(redactor.redact_text("got s3cr3t-plain-value twice: s3cr3t-plain-value"),
              "got [redacted] twice: [redacted]");
    EXPECT_EQ(redactor.redact_text("a short word"), "a short word");
}

TEST(RedactText, HomePathsShortened) {
    const Redactor redactor = make_redactor();
    EXPECT_EQ(redactor.redact_text("cwd /var/lib/ccjail/homes/alice/x/y.txt"),
              "cwd ~alice/x/y.txt");
    EXPECT_EQ(redactor.redact_text("/var/lib/ccjail/homes/bob"), "~bob");
    EXPECT_EQ(redactor.redact_text("root=/var/lib/ccjail/homes"), "root=~");
    EXPECT_EQ(redactor.redact_text("/var/lib/ccjail/homesick/x"), "/var/lib/ccjail/homesick/x");
    EXPECT_EQ(redactor.redact_text("/mnt/var/lib/ccjail/homes/a"), "/mnt/var/lib/ccjail/homes/a");
}

TEST(RedactText, EmptyAndLongInput) {
    const Redactor redactor = make_redactor();
    EXPECT_EQ(redactor.redact_text(""), "");
    // Long input must neither recurse nor take quadratic time.
    const std::string big(1 << 20, 'a');
    EXPECT_EQ(redactor.redact_text(big), big);
    const std::string key_run = "sk-" + std::string(1 << 20, 'b');
    EXPECT_EQ(redactor.redact_text(key_run), "[redacted]");
}

TEST(RedactText, DefaultRedactorStillHidesShapes) {
    const Redactor redactor;
    EXPECT_EQ(redactor.redact_text("a " + aws_key + " b " + jwt), "a [redacted] b [redacted]");
    EXPECT_EQ(redactor.redact_text("ANTHROPIC_API_KEY=x"), "ANTHROPIC_API_KEY=x");
}

TEST(RedactJson, SecretKeysReplacedWholesale) {
    const auto out = make_redactor().redact_json(json{{"api_key", "plain"},
                                                      {"apiKey", 12345},
                                                      {"Authorization", "x"},
                                                      {"TOKEN", json{{"nested", "v"}}},
                                                      {"password", "p"},
                                                      {"client-secret", "c"},
                                                      {"ANTHROPIC_API_KEY", "k"},
                                                      {"max_tokens", 100},
                                                      {"name", "ok"}});
    for (const char* key : {"api_key", "apiKey", "Authorization", "TOKEN", "password",
                            "client-secret", "ANTHROPIC_API_KEY"}) {
        EXPECT_EQ(out[key], "[redacted]") << key;
    }
    EXPECT_EQ(out["max_tokens"], 100);
    EXPECT_EQ(out["name"], "ok");
}

TEST(RedactJson, StringValuesGoThroughRedactText) {
    const auto out =
        make_redactor().redact_json(json{{"argv", json::array({"claude", "--key", anthropic_key})},
                                         {"note", "Bearer abcdefghijklmnop"},
                                         {"cwd", "/var/lib/ccjail/homes/alice/proj"},
                                         {"path", "/srv/token/file"}});
    EXPECT_EQ(out["argv"][2], "[redacted]");
    EXPECT_EQ(out["note"], "Bearer [redacted]");
    EXPECT_EQ(out["cwd"], "~alice/proj");
    EXPECT_EQ(out["path"], "/srv/token/file");
    EXPECT_EQ(out.dump().find("api03"), std::string::npos);
}

TEST(RedactJson, EnvArrayEntries) {
    const auto out = make_redactor().redact_json(
        json{{"env", json::array({"TERM=xterm", "ANTHROPIC_API_KEY=value with spaces", "DB_PASS=x",
                                  "HOME=/var/lib/ccjail/homes/alice"})}});
    EXPECT_EQ(out["env"], json::array({"TERM=xterm", "ANTHROPIC_API_KEY=[redacted]",
                                       "DB_PASS=[redacted]", "HOME=~alice"}));
}

TEST(RedactJson, NestedStructuresAndOtherTypes) {
    const auto out = make_redactor().redact_json(
        json{{"a", json{{"b", json::array({json{{"secret", "s"}}, aws_key, 7, true, nullptr})}}}});
    EXPECT_EQ(out["a"]["b"][0]["secret"], "[redacted]");
    EXPECT_EQ(out["a"]["b"][1], "[redacted]");
    EXPECT_EQ(out["a"]["b"][2], 7);
    EXPECT_EQ(out["a"]["b"][3], true);
    EXPECT_TRUE(out["a"]["b"][4].is_null());
}

TEST(RedactJson, KeysAreRedactedToo) {
    const auto out = make_redactor().redact_json(json{{"/var/lib/ccjail/homes/al/f", 1}});
    EXPECT_TRUE(out.contains("~al/f"));
}

TEST(RedactJson, DeepNestingIsTruncated) {
    json deep = "leaf";
    for (int i = 0; i < Redactor::max_depth + 10; ++i) {
        deep = json::array({deep});
    }
    const auto out = make_redactor().redact_json(deep);
    EXPECT_NE(out.dump().find("[truncated]"), std::string::npos);
    EXPECT_EQ(out.dump().find("leaf"), std::string::npos);
}

}  // namespace
}  // namespace ccjail::audit
