// Inputs the libFuzzer targets of tests/fuzz found a defect with, each kept as a unit test so the
// defect stays fixed in the ordinary (gcc) build too. docs/fuzzing.md lists them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;
using ::testing::StartsWith;

class FuzzRegressionTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/ccjail-fuzz-regression-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }

    // The message of the ProfileError loading `text` as p.json throws; any other exception
    // fails the test by escaping it.
    std::string profile_error(const std::string& text) {
        std::ofstream(dir_ / "p.json") << text;
        try {
            load_profile("p", dir_);
        } catch (const ProfileError& e) {
            return e.what();
        }
        return "<loaded without error>";
    }

    fs::path dir_;
};

// fuzz_profile_loader, crash-4b13de67: a number past double's range made nlohmann throw
// out_of_range (406) instead of parse_error, and it escaped load_profile as a foreign exception
// (the daemon's profile catalog and ccjail-exec expect ProfileError).
TEST_F(FuzzRegressionTest, ProfileWithOverflowingNumberIsInvalidJson) {
    const std::string p = (dir_ / "p.json").string();
    EXPECT_THAT(profile_error(R"({"filesystem": {"workspace": 99999999999999E9999}})"),
                StartsWith(p + ": invalid JSON: "));
    EXPECT_THAT(profile_error(R"({"limits": {"cpus": -1e400}})"),
                StartsWith(p + ": invalid JSON: "));
}

// fuzz_profile_loader, crash-66f709e5: a proxy-mode profile could name a secret HTTPS_PROXY. The
// loader sets the proxy variables after validation and the jail engine injects secrets after
// every fixed value, so the secret file's content silently replaced the daemon's proxy address,
// against the rule that the network mode owns these names.
TEST_F(FuzzRegressionTest, ProxyVariableCannotBeASecret) {
    const std::string p = (dir_ / "p.json").string();
    EXPECT_EQ(
        profile_error(
            R"({"environment": {"secrets": {"HTTPS_PROXY": "/etc/p"}}, "network": "proxy"})"),
        p + ": /environment/secrets/HTTPS_PROXY: \"HTTPS_PROXY\" is set by network mode \"proxy\" "
            "and cannot be a secret");
    EXPECT_THAT(profile_error(R"({"environment": {"secrets": {"ANTHROPIC_BASE_URL": "/etc/u"}},
                                  "network": "gateway"})"),
                StartsWith(p + ": /environment/secrets/ANTHROPIC_BASE_URL: "));
    // Without a proxy the names are ordinary.
    EXPECT_EQ(profile_error(R"({"environment": {"secrets": {"HTTPS_PROXY": "/etc/p"}}})"),
              "<loaded without error>");
}

}  // namespace
}  // namespace ccjail
