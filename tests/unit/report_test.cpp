// The exit report: JSON round trip, the closed status and step names, and ccjail-exec's exit
// code mapping.
#include <gtest/gtest.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "jail/report.hpp"
#include "jail/root_filesystem.hpp"

namespace ccjail {
namespace {

TEST(ExitReport, JsonRoundTrip) {
    ExitReport report;
    report.id = "0123456789abcdef";
    report.status = ExitStatus::oom;
    report.signal = SIGKILL;
    report.usage.oom_kills = 2;
    report.usage.memory_peak_bytes = 123456;
    report.usage.cpu_user_usec = 10;
    report.usage.cpu_system_usec = 20;
    report.usage.pids_peak = 7;
    report.usage.nr_throttled = 3;
    report.usage.throttled_usec = 99;
    report.wall_ms = 42;
    const auto json = to_json(report);
    EXPECT_EQ(json["status"], "oom");
    EXPECT_EQ(json["oom_kills"], 2);
    EXPECT_FALSE(json.contains("step"));
    const auto back = exit_report_from_json(json);
    EXPECT_EQ(back.status, ExitStatus::oom);
    EXPECT_EQ(back.usage.memory_peak_bytes, 123456u);
    EXPECT_EQ(back.usage.throttled_usec, 99u);
    EXPECT_EQ(back.wall_ms, 42u);
    EXPECT_EQ(to_json(back), json);
}

TEST(ExitReport, SetupFailureCarriesStepErrnoAndMessage) {
    ExitReport report;
    report.status = ExitStatus::setup_failed;
    report.failure = SetupFailure{Step::workspace, ENOENT, "workspace: /x does not exist"};
    const auto json = to_json(report);
    EXPECT_EQ(json["step"], "workspace");
    EXPECT_EQ(json["errno"], ENOENT);
    EXPECT_EQ(json["message"], "workspace: /x does not exist");
    const auto back = exit_report_from_json(json);
    ASSERT_TRUE(back.failure);
    EXPECT_EQ(back.failure->step, Step::workspace);
}

TEST(ExitReport, UnknownStatusOrStepIsRejected) {
    ExitReport report;
    auto json = to_json(report);
    json["status"] = "exploded";
    EXPECT_THROW(exit_report_from_json(json), std::invalid_argument);
    json = to_json(report);
    json["step"] = "nowhere";
    json["errno"] = 0;
    json["message"] = "";
    EXPECT_THROW(exit_report_from_json(json), std::invalid_argument);
}

TEST(ExitStatusNames, AreClosedAndRoundTrip) {
    const std::vector<std::string> names = {"exited",       "signaled",    "oom",
                                            "wall_timeout", "cpu_timeout", "output_limit",
                                            "killed",       "setup_failed"};
    for (const auto& name : names) {
        const auto status = exit_status_from_string(name);
        ASSERT_TRUE(status) << name;
        EXPECT_EQ(to_string(*status), name);
    }
    EXPECT_FALSE(exit_status_from_string("Exited"));
}

TEST(StepNames, EveryStepRoundTrips) {
    for (int i = 0; i <= static_cast<int>(Step::supervise); ++i) {
        const auto step = static_cast<Step>(i);
        const auto name = to_string(step);
        EXPECT_NE(name, "unknown");
        EXPECT_EQ(step_from_string(name), step);
    }
}

TEST(ExitCode, FollowsTheDocumentedMapping) {
    ExitReport report;
    report.status = ExitStatus::exited;
    report.exit_code = 3;
    EXPECT_EQ(exit_code_for(report), 3);
    report.status = ExitStatus::signaled;
    report.signal = SIGSEGV;
    EXPECT_EQ(exit_code_for(report), 128 + SIGSEGV);
    report.status = ExitStatus::setup_failed;
    EXPECT_EQ(exit_code_for(report), 125);
    report.status = ExitStatus::wall_timeout;
    report.signal = 0;
    EXPECT_EQ(exit_code_for(report), 128 + SIGKILL);
    report.status = ExitStatus::oom;
    report.signal = SIGKILL;
    EXPECT_EQ(exit_code_for(report), 137);
}

TEST(SynthesizedEtc, PasswdGroupAndHostsNameTheJailIdentity) {
    JailSpec spec;
    spec.uid = 200123;
    spec.gid = 200123;
    spec.profile.identity.user_name = "user";
    spec.profile.filesystem.home = "/home/user";
    spec.profile.hostname = "box";
    EXPECT_NE(synthesized_passwd(spec).find("user:x:200123:200123::/home/user:/bin/bash\n"),
              std::string::npos);
    EXPECT_NE(synthesized_group(spec).find("user:x:200123:\n"), std::string::npos);
    EXPECT_NE(synthesized_hosts(spec).find("127.0.0.1\tlocalhost box\n"), std::string::npos);
    spec.profile.filesystem.home.reset();
    EXPECT_NE(synthesized_passwd(spec).find("::/workspace:"), std::string::npos);
}

}  // namespace
}  // namespace ccjail
