#pragma once

#include <optional>
#include <string_view>

namespace ccjail::flow {

// What a ring does when output arrives faster than its consumers acknowledge it. Kept apart from
// the ring so that a profile can name a policy without depending on the ring itself.
enum class OverflowPolicy {
    block,        // nothing is lost: room() shrinks to zero and the daemon stops reading the jail
    drop_oldest,  // writes always succeed; unacknowledged bytes they overwrite are counted
};

// The names profiles and the daemon's state files use.
constexpr std::string_view to_string(OverflowPolicy policy) {
    return policy == OverflowPolicy::block ? "block" : "drop_oldest";
}

constexpr std::optional<OverflowPolicy> overflow_policy_from_string(std::string_view name) {
    if (name == "block") {
        return OverflowPolicy::block;
    }
    if (name == "drop_oldest") {
        return OverflowPolicy::drop_oldest;
    }
    return std::nullopt;
}

}  // namespace ccjail::flow
