#pragma once

#include <cstdint>

#include "common/unique_fd.hpp"

namespace ccjail {

// A TCP socket listening on 127.0.0.1:`port` in the caller's network namespace (the jail's),
// close-on-exec. Throws JailError(Step::network).
UniqueFd open_loopback_listener(std::uint16_t port);

}  // namespace ccjail
