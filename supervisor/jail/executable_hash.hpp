#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace ccjail {

// Lowercase hex sha256 of everything readable from fd (read from offset 0 with pread).
// Throws JailError(Step::executable).
std::string sha256_of_fd(int fd);

// Checks that the regular file open as `fd` has the sha256 `expected` (lowercase hex). The hash
// is cached in `cache_file` (JSON, keyed by dev, inode, size, mtime and ctime in ns) when given,
// so a daemon hashes a 400 MB binary once, not per session; a file that changed in any of those
// is hashed again. Throws JailError(Step::executable) on mismatch, naming both digests and
// `what` (the executable's path, for the message only).
void verify_sha256(int fd, const std::string& expected,
                   const std::optional<std::filesystem::path>& cache_file,
                   std::string_view what = {});

}  // namespace ccjail
