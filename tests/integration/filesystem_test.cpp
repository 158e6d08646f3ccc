// What the jail's file system lets a hostile process see and change: nothing of the host but
// the profile's read-only binds, its own workspace, home and a size-limited /tmp.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "jail_harness.hpp"

namespace ccjail::itest {
namespace {

class Filesystem : public JailTest {
  protected:
    // The mount at `target` as the jail's own mountinfo lists it (the last one wins).
    static json mount_at(const JailRun& run, const std::string& target) {
        json found;
        const json listed = run.out_json();
        for (const auto& mount : listed["mounts"]) {
            if (mount["target"] == target) {
                found = mount;
            }
        }
        return found;
    }
    static bool has_option(const json& mount, const std::string& option) {
        const std::string options = "," + mount.value("options", std::string()) + ",";
        return options.find("," + option + ",") != std::string::npos;
    }
};

TEST_F(Filesystem, HostPathsAndOtherWorkspacesAreAbsent) {
    // A sibling workspace with a marker: another user's files, right next to ours on the host.
    const fs::path sibling = workspace("bob", probe_uid_, probe_gid_);
    std::ofstream(sibling / "bob-secret") << "bob's\n";
    ASSERT_TRUE(fs::exists(sibling / "bob-secret"));
    const std::vector<std::string> absent = {"/root",
                                             "/home",
                                             "/etc/shadow",
                                             "/etc/sudoers",
                                             "/var",
                                             "/boot",
                                             "/sys",
                                             "/run",
                                             "/workspace/../bob",
                                             "/bob",
                                             "/workspace/bob-secret",
                                             root_.string(),
                                             sibling.string(),
                                             (sibling / "bob-secret").string(),
                                             probe_dir_.string()};
    std::vector<std::string> args = {"paths"};
    args.insert(args.end(), absent.begin(), absent.end());
    const JailRun run = probe(args);
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json seen = run.out_json();
    for (const auto& path : absent) {
        EXPECT_EQ(seen[path]["exists"], false) << path << " is visible in the jail";
    }
}

TEST_F(Filesystem, TheProfilesBindsArePresent) {
    const JailRun run = probe({"paths", "/usr/bin/env", "/bin", "/etc/passwd", "/workspace", "/tmp",
                               "/probe/jail_probe"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json seen = run.out_json();
    EXPECT_EQ(seen["/usr/bin/env"]["type"], "file");
    EXPECT_EQ(seen["/bin"]["type"], "symlink");
    EXPECT_EQ(seen["/etc/passwd"]["type"], "file");
    EXPECT_EQ(seen["/workspace"]["type"], "dir");
    EXPECT_EQ(seen["/tmp"]["mode"], 01777);
}

TEST_F(Filesystem, ReadOnlyPlacesRefuseWritesWithErofs) {
    for (const std::string path : {"/usr/ccjail-itest", "/usr/bin/env", "/etc/passwd",
                                   "/ccjail-itest", "/probe/ccjail-itest"}) {
        const JailRun run = probe({"write", path});
        ASSERT_EQ(run.exit_code, 0) << run.describe();
        EXPECT_EQ(run.out_json()["errno"], EROFS) << path << "\n" << run.describe();
    }
    EXPECT_FALSE(fs::exists("/usr/ccjail-itest"));
}

TEST_F(Filesystem, WorkspaceIsWritableAndFilesAppearOnTheHostOwnedByTheJailUid) {
    const JailRun run = probe({"write", "/workspace/made-in-jail", "hello-from-the-jail"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    ASSERT_EQ(run.out_json()["errno"], 0) << run.describe();
    const fs::path on_host = workspace() / "made-in-jail";
    std::ifstream in(on_host);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "hello-from-the-jail");
    struct stat st {};
    ASSERT_EQ(::stat(on_host.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, probe_uid_);
    EXPECT_EQ(st.st_gid, probe_gid_);
}

TEST_F(Filesystem, HomeIsWritableAndPersistsAcrossSessions) {
    derive_profile("withhome", {{"filesystem", {{"home", "/home/user"}}}});
    const JailRun first = probe({"write", "/home/user/.profile-note", "kept"}, "withhome");
    ASSERT_EQ(first.exit_code, 0) << first.describe();
    ASSERT_EQ(first.out_json()["errno"], 0) << first.describe();
    const fs::path on_host = homes_root_ / "default" / ".profile-note";
    struct stat st {};
    ASSERT_EQ(::stat(on_host.c_str(), &st), 0) << on_host;
    EXPECT_EQ(st.st_uid, probe_uid_);
    const JailRun second = probe({"read", "/home/user/.profile-note"}, "withhome");
    ASSERT_EQ(second.exit_code, 0) << second.describe();
    EXPECT_EQ(second.out_json()["content"], "kept");
    // HOME points at it.
    const JailRun env = probe({"env"}, "withhome");
    const auto entries = env.out_json()["env"].get<std::vector<std::string>>();
    EXPECT_NE(std::find(entries.begin(), entries.end(), "HOME=/home/user"), entries.end());
}

TEST_F(Filesystem, TmpIsWritableUpToItsSizeThenEnospc) {
    const std::uint64_t size = load("probe").limits.tmp_size_bytes;
    const JailRun run = probe({"fill", "/tmp"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json filled = run.out_json();
    EXPECT_EQ(filled["errno"], ENOSPC) << run.describe();
    const auto bytes = filled["bytes"].get<std::uint64_t>();
    EXPECT_LE(bytes, size);
    EXPECT_GE(bytes, size - size / 8) << "the limit is the profile's tmp_size, not less";
}

TEST_F(Filesystem, DevHoldsOnlyTheExpectedNodes) {
    const JailRun run = probe({"ls", "/dev"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    auto names = run.out_json()["names"].get<std::vector<std::string>>();
    std::sort(names.begin(), names.end());
    const std::vector<std::string> expected = {"fd",     "full",    "null",   "ptmx",  "pts",
                                               "random", "shm",     "stderr", "stdin", "stdout",
                                               "tty",    "urandom", "zero"};
    EXPECT_EQ(names, expected);
    const JailRun nodes = probe(
        {"paths", "/dev/null", "/dev/mem", "/dev/kmsg", "/dev/sda", "/dev/console", "/dev/pts/0"});
    const json seen = nodes.out_json();
    EXPECT_EQ(seen["/dev/null"]["type"], "char");
    for (const char* path : {"/dev/mem", "/dev/kmsg", "/dev/sda", "/dev/console", "/dev/pts/0"}) {
        EXPECT_EQ(seen[path]["exists"], false) << path;
    }
}

TEST_F(Filesystem, ProcSysIsReadOnlyAndSensitiveProcFilesAreMasked) {
    const JailRun write = probe({"write", "/proc/sys/kernel/hostname", "pwned"});
    ASSERT_EQ(write.exit_code, 0) << write.describe();
    EXPECT_NE(write.out_json()["errno"], 0) << write.describe();
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    EXPECT_STRNE(host, "pwned");

    const JailRun mounts = probe({"mounts"});
    ASSERT_EQ(mounts.exit_code, 0) << mounts.describe();
    const json sys = mount_at(mounts, "/proc/sys");
    ASSERT_FALSE(sys.is_null()) << "no mount at /proc/sys\n" << mounts.describe();
    EXPECT_TRUE(has_option(sys, "ro")) << sys.dump();
    const json proc = mount_at(mounts, "/proc");
    EXPECT_TRUE(has_option(proc, "nosuid") && has_option(proc, "noexec")) << proc.dump();
    const json usr = mount_at(mounts, "/usr");
    EXPECT_TRUE(has_option(usr, "ro") && has_option(usr, "nosuid") && has_option(usr, "nodev"))
        << usr.dump();

    const JailRun kcore = probe({"read", "/proc/kcore"});
    EXPECT_EQ(kcore.out_json()["content"], "") << "masked by /dev/null";
}

TEST_F(Filesystem, HostSecretsInProcAreNotReadable) {
    // /proc/1 in the jail is the jail's init, a clone of ccjail-exec that carries the caller's
    // environment in memory: it must not be readable, and the host's pid 1 must not be visible.
    const JailRun run = probe({"read", "/proc/1/environ"});
    ASSERT_EQ(run.exit_code, 0) << run.describe();
    const json result = run.out_json();
    EXPECT_EQ(result["content"].get<std::string>().find(kHostSecretName), std::string::npos)
        << run.describe();
    EXPECT_NE(result["errno"], 0) << "init's environ must be unreadable\n" << run.describe();
    std::ifstream host_init("/proc/1/cmdline", std::ios::binary);
    std::string host_cmdline((std::istreambuf_iterator<char>(host_init)), {});
    std::replace(host_cmdline.begin(), host_cmdline.end(), '\0', '\n');
    const JailRun cmdline = probe({"read", "/proc/1/cmdline"});
    EXPECT_NE(cmdline.out_json()["content"], host_cmdline) << "the host's pid 1 is visible";
}

}  // namespace
}  // namespace ccjail::itest
