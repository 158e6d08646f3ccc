#pragma once

#include <sys/types.h>

#include <chrono>
#include <vector>

namespace ccjail::server {

// Blocks until every listed process has exited or `limit` has passed, whichever is first. Used
// once, at the end of an orderly shutdown, so that the daemon exits after its monitors have
// removed their cgroups (pidfds: no pid-reuse race, and works for adopted monitors that are
// not our children). Processes already gone are skipped.
void wait_for_monitors(const std::vector<pid_t>& pids, std::chrono::milliseconds limit);

}  // namespace ccjail::server
