// Smoke tests of ccjailctl against a real daemon.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "daemon_harness.hpp"

namespace ccjail::dtest {
namespace {

class CtlTest : public DaemonTest {
  protected:
    CommandResult ctl(std::vector<std::string> args) {
        args.insert(args.begin(),
                    {ccjailctl_path().string(), "--socket", daemon().socket().string()});
        return run_command(args, 60s);
    }
};

TEST_F(CtlTest, RunPipeEchoesAndExitsWithTheSessionsCode) {
    const auto hi =
        ctl({"run", "--profile", "dt-fast", "--user", "ctl", "--pipe", "--", "/bin/echo", "hi"});
    EXPECT_EQ(hi.exit_code, 0) << hi.err;
    EXPECT_EQ(hi.out, "hi\n") << hi.err;
    const auto three = ctl({"run", "--profile", "dt-fast", "--user", "ctl", "--pipe", "--",
                            "/bin/sh", "-c", "echo oops >&2; exit 3"});
    EXPECT_EQ(three.exit_code, 3) << three.err;
    EXPECT_EQ(three.out, "");
    EXPECT_THAT(three.err, ::testing::HasSubstr("oops\n"));
}

TEST_F(CtlTest, ListJsonShowsADetachedSession) {
    const auto detached = ctl({"run", "--profile", "dt-fast", "--user", "ctl", "--pipe", "--detach",
                               "--", "/bin/sleep", "30"});
    ASSERT_EQ(detached.exit_code, 0) << detached.err;
    std::string session = detached.out;
    while (!session.empty() && (session.back() == '\n' || session.back() == ' ')) {
        session.pop_back();
    }
    ASSERT_EQ(session.size(), 16u) << "run --detach printed: " << detached.out;

    const auto list = ctl({"list", "--json"});
    ASSERT_EQ(list.exit_code, 0) << list.err;
    const auto parsed = json::parse(list.out, nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << "not JSON: " << list.out;
    const json sessions = parsed.is_array() ? parsed : parsed.value("sessions", json::array());
    bool found = false;
    for (const auto& entry : sessions) {
        if (entry.value("session", "") == session) {
            found = true;
            EXPECT_EQ(entry.value("state", ""), "running");
            EXPECT_EQ(entry.value("user", ""), "ctl");
        }
    }
    EXPECT_TRUE(found) << list.out;

    const auto killed = ctl({"kill", session, "--grace", "0"});
    EXPECT_EQ(killed.exit_code, 0) << killed.err;
}

}  // namespace
}  // namespace ccjail::dtest
