// The battery's own checks: the harness runs a jailed program as the attacks do, and every
// case of the five classes has its row in docs/security.md, so the document and the battery
// cannot drift apart.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "security_harness.hpp"

namespace ccjail::sectest {
namespace {

const std::set<std::string> kClasses = {"Resources", "Leaks", "Privilege", "FileSystem", "Api"};

std::string security_doc() {
    std::ifstream in(CCJAIL_SECURITY_DOC);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// The doc's battery section: from its heading to the next heading of the same level.
std::string battery_section(const std::string& doc) {
    const auto begin = doc.find("\n## The attack battery");
    if (begin == std::string::npos) {
        return "";
    }
    const auto end = doc.find("\n## ", begin + 1);
    return doc.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

TEST(Battery, EveryCaseHasARowInTheSecurityDoc) {
    const std::string section = battery_section(security_doc());
    ASSERT_FALSE(section.empty()) << "docs/security.md has no '## The attack battery' section";
    const auto* unit = ::testing::UnitTest::GetInstance();
    std::map<std::string, int> per_class;
    std::vector<std::string> missing;
    for (int s = 0; s < unit->total_test_suite_count(); ++s) {
        const auto* suite = unit->GetTestSuite(s);
        if (kClasses.count(suite->name()) == 0) {
            continue;
        }
        for (int t = 0; t < suite->total_test_count(); ++t) {
            std::string name = suite->name();
            name.append(".").append(suite->GetTestInfo(t)->name());
            per_class[suite->name()] += 1;
            if (section.find("`" + name + "`") == std::string::npos) {
                missing.push_back(name);
            }
        }
    }
    EXPECT_THAT(missing, ::testing::IsEmpty()) << "cases without a row in docs/security.md";
    std::string counts;
    int total = 0;
    for (const auto& [name, count] : per_class) {
        counts.append(name).append("=").append(std::to_string(count)).append(" ");
        total += count;
    }
    RecordProperty("cases", counts);
    std::printf("battery: %d cases: %s\n", total, counts.c_str());
    // The floor: at least 45 attacks, every class present.
    EXPECT_GE(total, 45) << counts;
    EXPECT_EQ(per_class.size(), kClasses.size()) << counts;
}

class Harness : public SecurityTest {};

TEST_F(Harness, RunsAJailedProgramThroughTheDaemonAndReportsItsExit) {
    const auto attack = run_shell("echo out; echo err >&2; id -u; exit 3");
    ASSERT_TRUE(attack.ended) << attack.describe();
    EXPECT_EQ(attack.status(), "exited") << attack.describe();
    EXPECT_EQ(attack.exit_code(), 3) << attack.describe();
    EXPECT_THAT(attack.out, ::testing::StartsWith("out\n3")) << attack.describe();
    EXPECT_EQ(attack.err, "err\n");
}

}  // namespace
}  // namespace ccjail::sectest
