#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

using json = nlohmann::json;

TEST(ProfileMerge, ObjectsMergeKeyByKeyAndScalarsReplace) {
    const json base = json::parse(R"({"limits": {"memory": "1G", "pids": 256}, "hostname": "a"})");
    const json child = json::parse(R"({"limits": {"memory": "2G"}, "hostname": "b"})");
    EXPECT_EQ(merge_profiles(base, child),
              json::parse(R"({"limits": {"memory": "2G", "pids": 256}, "hostname": "b"})"));
}

TEST(ProfileMerge, PlainArraysReplace) {
    const json base = json::parse(R"({"command": {"argv_prefix": ["a", "b"]}})");
    const json child = json::parse(R"({"command": {"argv_prefix": ["c"]}})");
    EXPECT_EQ(merge_profiles(base, child)["command"]["argv_prefix"], json::parse(R"(["c"])"));
}

TEST(ProfileMerge, BindsMergeByTargetInPlaceAndAppend) {
    const json base = json::parse(R"({"filesystem": {"binds": [
        {"source": "/usr"}, {"source": "/opt", "target": "/o"}, {"source": "/etc/ssl"}]}})");
    const json child = json::parse(R"({"filesystem": {"binds": [
        {"source": "/srv/o", "target": "/o", "writable": true}, {"source": "/data"}]}})");
    EXPECT_EQ(merge_profiles(base, child)["filesystem"]["binds"], json::parse(R"([
        {"source": "/usr"}, {"source": "/srv/o", "target": "/o", "writable": true},
        {"source": "/etc/ssl"}, {"source": "/data"}])"));
}

TEST(ProfileMerge, BindWithoutTargetIsKeyedBySource) {
    const json base = json::parse(R"({"filesystem": {"binds": [{"source": "/usr"}]}})");
    const json child =
        json::parse(R"({"filesystem": {"binds": [{"source": "/usr", "optional": true}]}})");
    EXPECT_EQ(merge_profiles(base, child)["filesystem"]["binds"],
              json::parse(R"([{"source": "/usr", "optional": true}])"));
}

TEST(ProfileMerge, TmpfsFilesSymlinksMergeByTarget) {
    const json base = json::parse(R"({"filesystem": {
        "tmpfs": [{"target": "/run", "size": "1M"}],
        "files": [{"target": "/etc/a", "content": "1"}],
        "symlinks": [{"target": "/bin", "to": "usr/bin"}]}})");
    const json child = json::parse(R"({"filesystem": {
        "tmpfs": [{"target": "/run", "size": "2M"}, {"target": "/var", "size": "3M"}],
        "files": [{"target": "/etc/a", "content": "2"}],
        "symlinks": [{"target": "/sbin", "to": "usr/sbin"}]}})");
    const json merged = merge_profiles(base, child)["filesystem"];
    EXPECT_EQ(merged["tmpfs"], json::parse(R"([{"target": "/run", "size": "2M"},
                                              {"target": "/var", "size": "3M"}])"));
    EXPECT_EQ(merged["files"], json::parse(R"([{"target": "/etc/a", "content": "2"}])"));
    EXPECT_EQ(merged["symlinks"], json::parse(R"([{"target": "/bin", "to": "usr/bin"},
                                                 {"target": "/sbin", "to": "usr/sbin"}])"));
}

TEST(ProfileMerge, PassAndSeccompListsAreUnionsKeepingOrder) {
    const json base = json::parse(
        R"({"environment": {"pass": ["A", "B"]}, "seccomp": {"allow": ["x"], "deny": ["y"]}})");
    const json child = json::parse(
        R"({"environment": {"pass": ["C", "A"]}, "seccomp": {"allow": ["z", "x"], "deny": ["w"]}})");
    const json merged = merge_profiles(base, child);
    EXPECT_EQ(merged["environment"]["pass"], json::parse(R"(["A", "B", "C"])"));
    EXPECT_EQ(merged["seccomp"]["allow"], json::parse(R"(["x", "z"])"));
    EXPECT_EQ(merged["seccomp"]["deny"], json::parse(R"(["y", "w"])"));
}

TEST(ProfileMerge, ChildFlipsASyscallDecisionOfItsBase) {
    const json base = json::parse(R"({"seccomp": {"allow": ["a"], "deny": ["b"]}})");
    const json child = json::parse(R"({"seccomp": {"allow": ["b"], "deny": ["a"]}})");
    const json merged = merge_profiles(base, child);
    EXPECT_EQ(merged["seccomp"]["allow"], json::parse(R"(["b"])"));
    EXPECT_EQ(merged["seccomp"]["deny"], json::parse(R"(["a"])"));
}

TEST(ProfileMerge, NullInChildIsKept) {
    const json base =
        json::parse(R"({"filesystem": {"home": "/home/user", "binds": [{"source": "/usr"}]}})");
    const json child = json::parse(R"({"filesystem": {"home": null, "binds": null}})");
    EXPECT_EQ(merge_profiles(base, child),
              json::parse(R"({"filesystem": {"home": null, "binds": null}})"));
}

TEST(ProfileMerge, IdentityFormsAreAlternatives) {
    const json fixed = json::parse(R"({"identity": {"uid": 5, "gid": 6, "user_name": "u"}})");
    const json range = json::parse(R"({"identity": {"uid_range": {"first": 100, "count": 10}}})");
    EXPECT_EQ(merge_profiles(fixed, range),
              json::parse(R"({"identity": {"uid_range": {"first": 100, "count": 10},
                                           "user_name": "u"}})"));
    EXPECT_EQ(merge_profiles(range, json::parse(R"({"identity": {"uid": 7}})")),
              json::parse(R"({"identity": {"uid": 7}})"));
}

}  // namespace
}  // namespace ccjail
