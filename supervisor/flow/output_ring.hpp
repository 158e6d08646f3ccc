#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "flow/overflow_policy.hpp"
#include "flow/ring_memory.hpp"

namespace ccjail::flow {

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
// memory per session stays bounded however fast the jail writes. It is either private heap memory
// or a RingMemory shared through a memfd; in the second case the bytes and every counter live in
// the memfd, and a ring constructed again over the same memfd (after the daemon restarted)
// continues exactly where the previous one stopped.
//
// One ring has one writer. A ring over shared memory may be read by another process once the
// writer is gone (the store order in RingCounters keeps [begin_offset(), end_offset()) intact
// whenever the writer died); concurrent reading is not supported.
class OutputRing {
  public:
    // Up to two contiguous pieces of the buffer (the second is non-empty only across the wrap).
    struct Segments {
        std::string_view first;
        std::string_view second;
        std::size_t size() const { return first.size() + second.size(); }
    };

    // Heap storage; capacity must be at least 1 (std::invalid_argument otherwise).
    OutputRing(std::size_t capacity, OverflowPolicy policy);
    // Storage and counters in `memory`, which may hold output from an earlier ring. Counters a
    // writer left half-updated when it died are settled first (see recover()).
    OutputRing(RingMemory memory, OverflowPolicy policy);

    OutputRing(OutputRing&&) noexcept = default;
    OutputRing& operator=(OutputRing&&) noexcept = default;

    // Returns the number of bytes accepted: all of them under drop_oldest, at most room() under
    // block (the rest stays with the caller, who stops reading until release_until() frees room).
    std::size_t write(std::string_view bytes);

    // For read(2) straight into the ring: the free region at end_offset(), contiguous (it stops
    // at the physical end of the buffer; the next call continues at its start), at most `max`
    // bytes, and under block at most room(). Fill a prefix of it and commit() that many bytes.
    // Until then the bytes the span covers are already outside the window (begin_offset() moved
    // past them), so a crash while the kernel fills the span never exposes half-written slots.
    // A later writable_span() or write() replaces an uncommitted span (its slots stay outside the
    // window: the kernel may have written into them).
    std::span<char> writable_span(std::size_t max = SIZE_MAX);
    // The first n bytes of the last writable_span() are output. n may be 0 (nothing was read);
    // n above that span's size throws std::invalid_argument.
    void commit(std::size_t n);

    // Bytes writable without overwriting unreleased output. Under drop_oldest this is still the
    // free space before a write starts dropping, though write() accepts more.
    std::size_t room() const;

    std::uint64_t begin_offset() const;
    std::uint64_t end_offset() const;
    std::uint64_t released_offset() const;

    // Up to `max` bytes from `from_offset`; a from_offset below begin_offset() starts at
    // begin_offset() (see missing_before()), one at or past end_offset() yields nothing.
    std::string read(std::uint64_t from_offset, std::size_t max) const;
    // The same bytes as read(), without copying; valid until the next write() or
    // writable_span().
    Segments peek(std::uint64_t from_offset, std::size_t max) const;

    // How many bytes a reader starting at from_offset has lost because they left the window: the
    // daemon sends this as dropped{bytes} on attach before replaying.
    std::uint64_t missing_before(std::uint64_t from_offset) const;

    // Consumers acknowledged everything below `offset` (clamped to end_offset(); never moves
    // back). Under block this frees room.
    void release_until(std::uint64_t offset);

    // Unreleased bytes overwritten under drop_oldest since the ring (or its memfd) was created.
    std::uint64_t dropped_bytes() const;

    std::size_t capacity() const { return capacity_; }
    OverflowPolicy policy() const { return policy_; }
    // The shared memory the ring runs over (its fd goes to the monitor), or nullptr for heap.
    const RingMemory* shared_memory() const { return memory_ ? &*memory_ : nullptr; }

  private:
    std::size_t index_of(std::uint64_t offset) const;
    std::uint64_t window_begin_for(std::uint64_t new_end) const;
    void retire_below(std::uint64_t new_begin);
    void publish(std::uint64_t new_end, std::uint64_t new_begin);
    void recover();
    void abandon_span();

    std::size_t capacity_;
    OverflowPolicy policy_;
    std::unique_ptr<char[]> heap_data_;
    std::unique_ptr<RingCounters> heap_counters_;
    std::optional<RingMemory> memory_;
    char* data_;
    RingCounters* counters_;
    // begin_offset() as of the last committed output; the stored begin runs ahead of it while a
    // span is out.
    std::uint64_t committed_begin_ = 0;
    std::size_t span_size_ = 0;  // size of the uncommitted writable_span(), 0 if none
};

}  // namespace ccjail::flow
