// Checks bytes received from a session against the probe's stream (probe_stream.hpp): the
// first offset that differs, and a SHA-256 of everything received for comparison with the
// checksum of what the probe wrote.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ccjail::dtest {

class StreamCheck {
  public:
    explicit StreamCheck(std::uint64_t start_offset = 0);
    ~StreamCheck();
    StreamCheck(const StreamCheck&) = delete;
    StreamCheck& operator=(const StreamCheck&) = delete;

    void feed(std::string_view bytes);
    // The stream offset of the next expected byte.
    std::uint64_t offset() const { return offset_; }
    std::uint64_t received() const { return offset_ - start_; }
    std::optional<std::uint64_t> first_mismatch() const { return mismatch_; }
    // Hex SHA-256 of the bytes fed so far (finishes a copy; feeding may continue).
    std::string sha256() const;

  private:
    std::uint64_t start_;
    std::uint64_t offset_;
    std::optional<std::uint64_t> mismatch_;
    std::vector<unsigned char> expected_;
    void* context_;  // EVP_MD_CTX
};

// Hex SHA-256 of the stream bytes [offset, offset + size).
std::string stream_sha256(std::uint64_t offset, std::uint64_t size);

}  // namespace ccjail::dtest
