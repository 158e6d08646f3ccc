#pragma once

#include <filesystem>
#include <string>

namespace ccjail::server {

// The API key the gateway adds to each request, read from `path` at each use, so a rotated key
// needs no restart. The file must be a regular file owned by root and unreadable by group and
// others; the key is its content with trailing whitespace cut, printable ASCII only (a CR or LF
// in it would let the file inject headers), at most 4 KiB. Throws std::runtime_error with a
// message that names the file and never the key.
std::string read_gateway_key(const std::filesystem::path& path);

}  // namespace ccjail::server
