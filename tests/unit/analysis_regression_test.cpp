// Regression tests for the changes the static analyzers asked for (docs/hardening-ci.md, "What
// they found and what was fixed"): each pins the behaviour the rewritten code must keep.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "profile/profile_loader.hpp"
#include "protocol/error_code.hpp"

namespace ccjail {
namespace {

using nlohmann::json;
using ::testing::EndsWith;

// The message of the ProfileError that validating `profile` throws.
std::string validation_error(const json& profile) {
    try {
        profile_from_json(profile, "p", "p.json");
    } catch (const ProfileError& error) {
        return error.what();
    }
    ADD_FAILURE() << "the profile was accepted: " << profile.dump();
    return {};
}

// A bind given as an object instead of an array, whose text is `length` characters long.
json binds_object_of_length(std::size_t length) {
    const std::size_t overhead = json{{"source", ""}}.dump().size();
    return {{"source", std::string(length - overhead, 'x')}};
}

// cppcheck uselessCallsSubstr: describe() in profile_validate.cpp cut long values with
// `text = text.substr(0, 57) + "..."`, now `text.replace(57, npos, "...")`.
TEST(AnalysisRegression, ProfileErrorsShowValuesUpTo60CharactersWhole) {
    const json value = binds_object_of_length(60);
    ASSERT_EQ(value.dump().size(), 60u);
    EXPECT_THAT(validation_error({{"filesystem", {{"binds", value}}}}),
                EndsWith("expected an array, got " + value.dump()));
}

TEST(AnalysisRegression, ProfileErrorsCutLongerValuesTo57CharactersAndAnEllipsis) {
    const json value = binds_object_of_length(61);
    ASSERT_EQ(value.dump().size(), 61u);
    EXPECT_THAT(validation_error({{"filesystem", {{"binds", value}}}}),
                EndsWith("expected an array, got " + value.dump().substr(0, 57) + "..."));
}

// cppcheck syntaxError: the table of codes was an immediately invoked lambda, now a named
// constexpr function; it must still list every code once, in the order of the names.
TEST(AnalysisRegression, AllErrorCodesListsEveryCodeOnceInOrder) {
    const auto codes = protocol::all_error_codes();
    ASSERT_EQ(codes.size(), 11u);
    EXPECT_EQ(codes.front(), protocol::ErrorCode::bad_frame);
    EXPECT_EQ(codes.back(), protocol::ErrorCode::internal);
    for (std::size_t i = 0; i < codes.size(); ++i) {
        const auto name = protocol::to_string(codes[i]);
        EXPECT_EQ(protocol::error_code_from_string(name), codes[i]) << name;
        for (std::size_t j = i + 1; j < codes.size(); ++j) {
            EXPECT_NE(codes[i], codes[j]) << name;
        }
    }
}

}  // namespace
}  // namespace ccjail
