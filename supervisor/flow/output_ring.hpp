#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ccjail::flow {

// What a ring does when output arrives faster than its consumers acknowledge it.
enum class OverflowPolicy {
    block,        // nothing is lost: room() shrinks to zero and the daemon stops reading the jail
    drop_oldest,  // writes always succeed; unacknowledged bytes they overwrite are counted
};

// The last `capacity` bytes of a session's output, addressed by absolute offsets (bytes since the
// session started), for replay on attach{session, from_offset}.
//
// Two offsets matter besides the end: begin_offset(), the oldest byte still held (kept for replay
// even after consumers acknowledged it), and the release point, up to which consumers have
// acknowledged. Under `block` a write never overwrites an unreleased byte; under `drop_oldest`
// it does and dropped_bytes() counts each such byte once. Bytes overwritten after their release
// are not drops: someone received them.
//
// The storage is allocated once in the constructor and never grows, whatever is written: daemon
// memory per session stays bounded however fast the jail writes.
class OutputRing {
  public:
    // Up to two contiguous pieces of the buffer (the second is non-empty only across the wrap).
    struct Segments {
        std::string_view first;
        std::string_view second;
        std::size_t size() const { return first.size() + second.size(); }
    };

    // capacity must be at least 1 (std::invalid_argument otherwise).
    OutputRing(std::size_t capacity, OverflowPolicy policy);

    // Returns the number of bytes accepted: all of them under drop_oldest, at most room() under
    // block (the rest stays with the caller, who stops reading until release_until() frees room).
    std::size_t write(std::string_view bytes);

    // Bytes writable without overwriting unreleased output. Under drop_oldest this is still the
    // free space before a write starts dropping, though write() accepts more.
    std::size_t room() const;

    std::uint64_t begin_offset() const;
    std::uint64_t end_offset() const { return end_; }
    std::uint64_t released_offset() const { return released_; }

    // Up to `max` bytes from `from_offset`; a from_offset below begin_offset() starts at
    // begin_offset() (see missing_before()), one at or past end_offset() yields nothing.
    std::string read(std::uint64_t from_offset, std::size_t max) const;
    // The same bytes as read(), without copying; valid until the next write().
    Segments peek(std::uint64_t from_offset, std::size_t max) const;

    // How many bytes a reader starting at from_offset has lost because they left the window: the
    // daemon sends this as dropped{bytes} on attach before replaying.
    std::uint64_t missing_before(std::uint64_t from_offset) const;

    // Consumers acknowledged everything below `offset` (clamped to end_offset(); never moves
    // back). Under block this frees room.
    void release_until(std::uint64_t offset);

    // Unreleased bytes overwritten under drop_oldest since the ring was created.
    std::uint64_t dropped_bytes() const { return dropped_; }

    std::size_t capacity() const { return capacity_; }
    OverflowPolicy policy() const { return policy_; }

  private:
    std::size_t index_of(std::uint64_t offset) const;
    void store(std::string_view bytes);

    std::size_t capacity_;
    OverflowPolicy policy_;
    std::unique_ptr<char[]> storage_;
    std::uint64_t end_ = 0;
    std::uint64_t released_ = 0;
    std::uint64_t dropped_ = 0;
};

}  // namespace ccjail::flow
