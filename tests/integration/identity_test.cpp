// Who the jailed process is: its ids, capabilities, no_new_privs, seccomp mode, environment,
// descriptors, hostname and network interfaces, as the process itself sees them.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "jail/spec.hpp"
#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

class Identity : public JailTest {};

TEST_F(Identity, RunsAsTheProfilesUnprivilegedUidAndGid) {
    const JailRun run = probe({"identity"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json id = run.out_json();
    ASSERT_NE(probe_uid_, 0u);
    EXPECT_EQ(id["uid"], json({probe_uid_, probe_uid_, probe_uid_})) << run.describe();
    EXPECT_EQ(id["gid"], json({probe_gid_, probe_gid_, probe_gid_})) << run.describe();
    EXPECT_EQ(id["groups"], json::array()) << "no supplementary groups";
}

TEST_F(Identity, PerUserProfileGetsTheUidTheStateMapGaveTheLabel) {
    derive_profile("peruser", {{"identity", {{"uid_range", {{"first", 300000}, {"count", 100}}}}}});
    const JailRun ok = probe(in_profile("peruser", "alice"), {"identity"});
    ASSERT_EQ(ok.exit_code, 0) << ok.describe();
    std::ifstream map(state_dir_ / "uids.json");
    const json uids = json::parse(map, nullptr, false);
    ASSERT_TRUE(uids.is_object() && uids.contains("alice")) << uids.dump();
    const auto uid = uids["alice"].get<uid_t>();
    EXPECT_GE(uid, 300000u);
    EXPECT_LT(uid, 300100u);
    EXPECT_EQ(ok.out_json()["uid"], json({uid, uid, uid}));
    EXPECT_EQ(ok.out_json()["gid"], json({uid, uid, uid}));
    // The label's workspace was created for it, owned by that uid.
    struct stat st {};
    ASSERT_EQ(::stat((workspace_root_ / "alice").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, uid);
    // A second session of the same label keeps its uid.
    const JailRun again = probe(in_profile("peruser", "alice"), {"identity"});
    ASSERT_EQ(again.exit_code, 0) << again.describe();
    EXPECT_EQ(again.out_json()["uid"], json({uid, uid, uid}));
}

TEST_F(Identity, HoldsNoCapabilitiesHasNoNewPrivsAndAFilter) {
    const JailRun run = probe({"identity"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json id = run.out_json();
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
        EXPECT_EQ(id[set], "0000000000000000") << set << "\n" << run.describe();
    }
    EXPECT_EQ(id["NoNewPrivs"], "1");
    EXPECT_EQ(id["Seccomp"], "2") << "2 = SECCOMP_MODE_FILTER";
}

TEST_F(Identity, EnvironmentIsExactlyTheProfilesAndNothingOfTheCaller) {
    const JailRun run = probe({"env"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    auto seen = run.out_json()["env"].get<std::vector<std::string>>();
    auto expected = built_environment(load("probe"), {}, {});
    std::sort(seen.begin(), seen.end());
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(seen, expected);
    const std::string path = "PATH=" + load("probe").environment.path;
    EXPECT_NE(std::find(seen.begin(), seen.end(), path), seen.end()) << path;
    for (const auto& entry : seen) {
        EXPECT_EQ(entry.find(kHostSecretName), std::string::npos) << entry;
    }
}

TEST_F(Identity, OnlyStandardDescriptorsAreOpen) {
    const JailRun run = probe({"fds"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.out_json()["fds"], json({0, 1, 2})) << run.describe();
}

TEST_F(Identity, ADescriptorTheCallerLeakedDoesNotReachTheJail) {
    const fs::path leaked = root_ / "leaked-secret";
    std::ofstream(leaked) << "host secret\n";
    RunOptions options;
    options.leak_file = leaked;
    // While the jail runs, look at every process of it from the host: none may hold the file.
    std::vector<std::string> holders;
    options.ready_marker = "sleeping";
    options.on_ready = [&](pid_t exec_pid) {
        for (pid_t pid : processes_whose_cmdline_contains(root_.string())) {
            if (pid == exec_pid) {
                continue;  // the monitor itself is the caller's process; it may keep it
            }
            std::error_code error;
            const fs::path fd_dir = "/proc/" + std::to_string(pid) + "/fd";
            for (fs::directory_iterator it(fd_dir, error), end; !error && it != end;
                 it.increment(error)) {
                std::error_code link_error;
                if (fs::read_symlink(it->path(), link_error) == leaked) {
                    holders.push_back(it->path().string());
                }
            }
        }
    };
    const JailRun held = probe(options, {"sleep", "0.3"});
    ASSERT_EQ(held.exit_code, 0) << held.describe();
    EXPECT_EQ(holders, std::vector<std::string>{}) << "jail processes holding the leaked fd";

    RunOptions fds;
    fds.leak_file = leaked;
    const JailRun run = probe(fds, {"fds"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.out_json()["fds"], json({0, 1, 2})) << run.describe();
}

TEST_F(Identity, HostnameIsTheProfiles) {
    derive_profile("named", {{"hostname", "itest-box"}});
    const JailRun run = probe({"hostname"}, "named");
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    EXPECT_EQ(run.out_json()["hostname"], "itest-box");
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    EXPECT_STRNE(host, "itest-box") << "the host's name must not change";
}

TEST_F(Identity, NetworkNoneHasOnlyLoopbackAndItIsUp) {
    ASSERT_EQ(load("probe").network.mode, NetworkMode::none);
    const JailRun run = probe({"netifs"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json interfaces = run.out_json()["interfaces"];
    ASSERT_EQ(interfaces.size(), 1u) << run.describe();
    EXPECT_EQ(interfaces[0]["name"], "lo");
    EXPECT_EQ(interfaces[0]["up"], true);
}

}  // namespace
}  // namespace ccjail::itest
