#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "server/gateway_key.hpp"

namespace ccjail::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kKey = "sk-ant-test-0123456789";

class GatewayKeyTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) {
            GTEST_SKIP() << "the key file must be root's: needs root";
        }
        char tmpl[] = "/tmp/ccjail-gateway-key-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        if (!dir_.empty()) {
            fs::remove_all(dir_);
        }
    }
    fs::path write(const std::string& content, mode_t mode) {
        const fs::path path = dir_ / "key";
        std::ofstream(path, std::ios::trunc) << content;
        ::chmod(path.c_str(), mode);
        return path;
    }
    std::string error_reading(const fs::path& path) {
        try {
            read_gateway_key(path);
        } catch (const std::exception& e) {
            return e.what();
        }
        return "<read without error>";
    }
    fs::path dir_;
};

TEST_F(GatewayKeyTest, ReadsTheKeyWithoutItsTrailingNewline) {
    EXPECT_EQ(read_gateway_key(write(std::string(kKey) + "\n", 0600)), kKey);
    EXPECT_EQ(read_gateway_key(write(std::string(kKey) + " \r\n", 0400)), kKey);
}

TEST_F(GatewayKeyTest, RefusesFilesOthersCanReadAndNeverQuotesTheKey) {
    const std::string message = error_reading(write(kKey, 0644));
    EXPECT_THAT(message, HasSubstr("unreadable by group and others"));
    EXPECT_THAT(message, Not(HasSubstr(kKey)));
    const fs::path path = write(kKey, 0600);
    ASSERT_EQ(::chown(path.c_str(), 1000, 1000), 0);
    EXPECT_THAT(error_reading(path), HasSubstr("owned by root"));
}

// A line break inside the key would let whoever writes the file add headers to every request.
TEST_F(GatewayKeyTest, RefusesKeysThatCouldInjectHeaders) {
    const std::string message = error_reading(write("sk-1\r\nX-Injected: 1\n", 0600));
    EXPECT_THAT(message, HasSubstr("printable ASCII"));
    EXPECT_THAT(message, Not(HasSubstr("sk-1")));
    EXPECT_THAT(error_reading(write("\n", 0600)), HasSubstr("is empty"));
    EXPECT_THAT(error_reading(write(std::string(5000, 'k'), 0600)), HasSubstr("larger than 4 KiB"));
}

TEST_F(GatewayKeyTest, RefusesSymlinksAndMissingFiles) {
    const fs::path target = write(kKey, 0600);
    fs::create_symlink(target, dir_ / "link");
    EXPECT_THAT(error_reading(dir_ / "link"), Not(HasSubstr("<read without error>")));
    EXPECT_THAT(error_reading(dir_ / "absent"), HasSubstr("No such file"));
}

}  // namespace
}  // namespace ccjail::server
