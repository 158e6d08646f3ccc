#pragma once

namespace ccjail::flow {

// What a ring does when output arrives faster than its consumers acknowledge it. Kept apart from
// the ring so that a profile can name a policy without depending on the ring itself.
enum class OverflowPolicy {
    block,        // nothing is lost: room() shrinks to zero and the daemon stops reading the jail
    drop_oldest,  // writes always succeed; unacknowledged bytes they overwrite are counted
};

}  // namespace ccjail::flow
