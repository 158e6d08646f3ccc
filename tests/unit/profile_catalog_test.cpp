// The daemon's profile catalog: what a reload keeps, replaces, refuses and forgets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "server/profile_catalog.hpp"

namespace ccjail::server {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

class ProfileCatalogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char pattern[] = "/tmp/ccjail-catalog-XXXXXX";
        ASSERT_NE(::mkdtemp(pattern), nullptr);
        dir_ = pattern;
        write("base", R"({"identity": {"uid": 60000, "gid": 60000}})");
        write("small", R"({"extends": "base", "limits": {"pids": 32}})");
    }
    void TearDown() override { fs::remove_all(dir_); }

    void write(const std::string& name, const std::string& text) {
        std::ofstream(dir_ / (name + ".json")) << text;
    }

    fs::path dir_;
};

TEST_F(ProfileCatalogTest, LoadsEveryValidProfileWithItsMergedDocument) {
    ProfileCatalog catalog(dir_);
    const auto result = catalog.reload();
    EXPECT_THAT(result.loaded, ElementsAre("base", "small"));
    EXPECT_THAT(result.invalid, IsEmpty());
    const auto* small = catalog.find("small");
    ASSERT_NE(small, nullptr);
    ASSERT_TRUE(small->profile);
    EXPECT_EQ(small->profile->limits.pids, 32u);
    EXPECT_EQ(small->document["identity"]["uid"], 60000) << "merged over its base";
    EXPECT_EQ(catalog.find("absent"), nullptr);
}

TEST_F(ProfileCatalogTest, ABrokenEditKeepsTheLastGoodVersionAndSaysWhy) {
    ProfileCatalog catalog(dir_);
    catalog.reload();
    write("small", R"({"extends": "base", "limits": {"pids": "many"}})");
    const auto result = catalog.reload();
    ASSERT_EQ(result.kept.count("small"), 1u);
    EXPECT_THAT(result.kept.at("small"), HasSubstr("/limits/pids"));
    const auto* small = catalog.find("small");
    ASSERT_NE(small, nullptr);
    ASSERT_TRUE(small->profile);
    EXPECT_EQ(small->profile->limits.pids, 32u);
    EXPECT_EQ(small->document["limits"]["pids"], 32);
    EXPECT_THAT(small->error, HasSubstr("/limits/pids"));

    write("small", R"({"extends": "base", "limits": {"pids": 16}})");
    catalog.reload();
    EXPECT_EQ(catalog.find("small")->profile->limits.pids, 16u);
    EXPECT_EQ(catalog.find("small")->error, "");
}

TEST_F(ProfileCatalogTest, ABrokenBaseKeepsEveryProfileThatExtendsIt) {
    ProfileCatalog catalog(dir_);
    catalog.reload();
    write("base", R"({"identity": {"uid": 0}})");
    const auto result = catalog.reload();
    EXPECT_THAT(result.loaded, IsEmpty());
    EXPECT_EQ(result.kept.size(), 2u);
    EXPECT_EQ(catalog.find("small")->profile->identity.uid, 60000u);
}

TEST_F(ProfileCatalogTest, ANewBrokenFileIsListedButNotUsableAndADeletedOneIsGone) {
    ProfileCatalog catalog(dir_);
    catalog.reload();
    write("broken", R"({"extends": "nowhere"})");
    fs::remove(dir_ / "small.json");
    const auto result = catalog.reload();
    EXPECT_EQ(result.invalid.count("broken"), 1u);
    EXPECT_THAT(result.removed, ElementsAre("small"));
    ASSERT_NE(catalog.find("broken"), nullptr);
    EXPECT_FALSE(catalog.find("broken")->profile);
    EXPECT_EQ(catalog.find("small"), nullptr);
}

TEST_F(ProfileCatalogTest, AnUnreadableDirectoryChangesNothing) {
    ProfileCatalog catalog(dir_);
    catalog.reload();
    fs::rename(dir_, dir_.string() + ".moved");
    const auto result = catalog.reload();
    fs::rename(dir_.string() + ".moved", dir_);
    EXPECT_THAT(result.dir_error, HasSubstr(dir_.string()));
    ASSERT_NE(catalog.find("small"), nullptr);
    EXPECT_TRUE(catalog.find("small")->profile);
}

}  // namespace
}  // namespace ccjail::server
