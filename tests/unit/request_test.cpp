// Request checks of resolve_spec: argv against the profile's argv policy, the environment
// allowlist, and the user label.
#include <gtest/gtest.h>

#include "common/error.hpp"
#include "jail/spec.hpp"

namespace ccjail {
namespace {

Step step_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const JailError& e) {
        return e.step();
    }
    ADD_FAILURE() << "no JailError thrown";
    return Step::supervise;
}

std::string message_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const JailError& e) {
        return e.what();
    }
    ADD_FAILURE() << "no JailError thrown";
    return "";
}

TEST(CheckedArgv, RequestArgvNamesTheProgramWithoutExecutable) {
    CommandPolicy policy;
    EXPECT_EQ(checked_argv(policy, {"bash", "-c", "true"}),
              (std::vector<std::string>{"bash", "-c", "true"}));
}

TEST(CheckedArgv, EmptyArgvWithoutExecutableIsRefused) {
    CommandPolicy policy;
    EXPECT_EQ(step_of([&] { checked_argv(policy, {}); }), Step::request);
}

TEST(CheckedArgv, PrefixGoesBeforeRequestArgs) {
    CommandPolicy policy;
    policy.executable = "/usr/bin/claude";
    policy.argv_prefix = {"claude", "--verbose"};
    EXPECT_EQ(checked_argv(policy, {"-p", "hi"}),
              (std::vector<std::string>{"claude", "--verbose", "-p", "hi"}));
}

TEST(CheckedArgv, ExecutableIsArgv0WhenNoPrefix) {
    CommandPolicy policy;
    policy.executable = "/usr/bin/env";
    EXPECT_EQ(checked_argv(policy, {"x"}), (std::vector<std::string>{"/usr/bin/env", "x"}));
}

TEST(CheckedArgv, ControlCharactersAreRefusedAndShownEscaped) {
    CommandPolicy policy;
    const std::string with_nul("a\0b", 3);
    EXPECT_NE(message_of([&] {
                  checked_argv(policy, {"echo", with_nul});
              }).find("argv[1]"),
              std::string::npos);
    EXPECT_NE(message_of([&] {
                  checked_argv(policy, {"echo", "\x1b[2J"});
              }).find("\\x1b"),
              std::string::npos);
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"echo", "line\nbreak"}); }), Step::request);
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"echo", "del\x7f"}); }), Step::request);
}

TEST(CheckedArgv, MultilineProfilesAcceptNewlineAndTabOnly) {
    CommandPolicy policy;
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"bash", "-c", "a\nb"}); }), Step::request);
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"bash", "-c", "a\tb"}); }), Step::request);
    policy.allow_multiline = true;
    EXPECT_NO_THROW(checked_argv(policy, {"bash", "-c", "echo a\n\techo b"}));
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"bash", "-c", "a\rb"}); }), Step::request);
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"bash", "-c", "\x1b[31m"}); }), Step::request);
    EXPECT_EQ(step_of([&] {
                  checked_argv(policy, {"bash", std::string("a\0b", 3)});
              }),
              Step::request);
}

TEST(CheckedArgv, UnicodeIsNotAControlCharacter) {
    CommandPolicy policy;
    EXPECT_NO_THROW(checked_argv(policy, {"echo", "h\xc3\xa9llo \xe2\x9c\x93"}));
}

TEST(CheckedArgv, CountAndLengthLimits) {
    CommandPolicy policy;
    policy.max_args = 3;
    policy.max_arg_bytes = 8;
    policy.max_total_bytes = 12;
    EXPECT_NO_THROW(checked_argv(policy, {"a", "b", "c"}));
    EXPECT_NE(message_of([&] {
                  checked_argv(policy, {"a", "b", "c", "d"});
              }).find("4 arguments"),
              std::string::npos);
    EXPECT_NE(message_of([&] {
                  checked_argv(policy, {"a", "123456789"});
              }).find("argv[1]"),
              std::string::npos);
    EXPECT_NE(message_of([&] {
                  checked_argv(policy, {"12345678", "12345678"});
              }).find("in all"),
              std::string::npos);
}

TEST(CheckedArgv, AllowedFlags) {
    CommandPolicy policy;
    policy.executable = "/usr/bin/claude";
    policy.allowed_flags = std::vector<std::string>{"-p", "--output-format", "--verbose"};
    EXPECT_NO_THROW(checked_argv(policy, {"-p", "hello -x", "--output-format=stream-json"}));
    EXPECT_NO_THROW(checked_argv(policy, {"--verbose", "-"}));
    const auto message = message_of([&] { checked_argv(policy, {"--dangerous", "x"}); });
    EXPECT_NE(message.find("argv[0]: flag \"--dangerous\""), std::string::npos) << message;
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"--verbose=1", "--no"}); }), Step::request);
}

TEST(CheckedArgv, SeparatorEndsFlagsOnlyWhenAllowed) {
    CommandPolicy policy;
    policy.executable = "/usr/bin/tool";
    policy.allowed_flags = std::vector<std::string>{"-v"};
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"--", "-x"}); }), Step::request);
    policy.allowed_flags->push_back("--");
    EXPECT_NO_THROW(checked_argv(policy, {"-v", "--", "-x"}));
}

TEST(CheckedArgv, ProgramNameIsNotCheckedAsAFlag) {
    CommandPolicy policy;
    policy.allowed_flags = std::vector<std::string>{"-c"};
    EXPECT_NO_THROW(checked_argv(policy, {"bash", "-c", "true"}));
    EXPECT_EQ(step_of([&] { checked_argv(policy, {"bash", "-i"}); }), Step::request);
}

Profile profile_with_env() {
    Profile profile;
    profile.environment.path = "/usr/bin:/bin";
    profile.environment.set = {{"HOME", "/home/user"}, {"LANG", "C.UTF-8"}};
    profile.environment.pass = {"TERM", "LANG"};
    return profile;
}

TEST(BuiltEnvironment, ProfileValuesRequestNamesSecretsAndPath) {
    const auto env = built_environment(profile_with_env(), {{"TERM", "xterm"}, {"LANG", "de"}},
                                       {{"API_KEY", "s3cret"}});
    EXPECT_EQ(env, (std::vector<std::string>{"API_KEY=s3cret", "HOME=/home/user", "LANG=de",
                                             "PATH=/usr/bin:/bin", "TERM=xterm"}));
}

TEST(BuiltEnvironment, NamesOutsideTheAllowlistAreRefused) {
    const auto message = message_of([&] {
        built_environment(profile_with_env(), {{"LD_PRELOAD", "/x.so"}}, {});
    });
    EXPECT_NE(message.find("env.LD_PRELOAD"), std::string::npos) << message;
}

TEST(BuiltEnvironment, PathCannotBeOverriddenByTheRequest) {
    auto profile = profile_with_env();
    EXPECT_EQ(step_of([&] { built_environment(profile, {{"PATH", "/tmp"}}, {}); }), Step::request);
}

TEST(BuiltEnvironment, SecretsWinOverRequestValues) {
    auto profile = profile_with_env();
    profile.environment.pass.push_back("API_KEY");
    const auto env = built_environment(profile, {{"API_KEY", "forged"}}, {{"API_KEY", "real"}});
    EXPECT_NE(std::find(env.begin(), env.end(), "API_KEY=real"), env.end());
    EXPECT_EQ(std::find(env.begin(), env.end(), "API_KEY=forged"), env.end());
}

TEST(BuiltEnvironment, NulInAValueIsRefused) {
    EXPECT_EQ(step_of([&] {
                  built_environment(profile_with_env(), {{"TERM", std::string("a\0b", 3)}}, {});
              }),
              Step::request);
}

TEST(JailId, SixteenHexDigitsAndDistinct) {
    const auto a = new_jail_id();
    const auto b = new_jail_id();
    EXPECT_EQ(a.size(), 16u);
    EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
    EXPECT_NE(a, b);
}

}  // namespace
}  // namespace ccjail
