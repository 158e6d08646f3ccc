#include "flow/output_ring.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <stdexcept>

namespace ccjail::flow {
namespace {

constexpr auto relaxed = std::memory_order_relaxed;
constexpr auto acquire = std::memory_order_acquire;
constexpr auto release = std::memory_order_release;

}  // namespace

OutputRing::OutputRing(std::size_t capacity, OverflowPolicy policy)
    : capacity_(capacity), policy_(policy) {
    if (capacity_ == 0) {
        throw std::invalid_argument("output ring: capacity must be at least 1");
    }
    heap_data_ = std::make_unique_for_overwrite<char[]>(capacity_);
    heap_counters_ = std::make_unique<RingCounters>();
    data_ = heap_data_.get();
    counters_ = heap_counters_.get();
}

OutputRing::OutputRing(RingMemory memory, OverflowPolicy policy)
    : capacity_(memory.capacity()), policy_(policy), memory_(std::move(memory)) {
    data_ = memory_->data();
    counters_ = &memory_->counters();
    recover();
}

// A writer that died between its stores leaves the counters one step short of a write; each
// case below finishes (or, for data not yet covered by `end`, forgets) that write. A previous
// owner also cannot be trusted to have kept the counters in range.
void OutputRing::recover() {
    const std::uint64_t end = end_offset();
    const std::uint64_t lowest = end > capacity_ ? end - capacity_ : 0;
    // Above `end`: it died inside a write larger than the ring, every old slot half rewritten.
    const std::uint64_t begin = std::clamp(counters_->begin.load(acquire), lowest, end);
    std::uint64_t released = std::min(released_offset(), end);
    if (released < begin) {
        // It died after publishing `end`, before counting what that write dropped.
        counters_->dropped.store(dropped_bytes() + (begin - released), release);
        released = begin;
    }
    counters_->begin.store(begin, release);
    counters_->released.store(released, release);
    committed_begin_ = begin;
}

std::size_t OutputRing::index_of(std::uint64_t offset) const {
    return static_cast<std::size_t>(offset % capacity_);
}

std::uint64_t OutputRing::begin_offset() const {
    return std::min(counters_->begin.load(acquire), end_offset());
}

std::uint64_t OutputRing::end_offset() const {
    return counters_->end.load(acquire);
}

std::uint64_t OutputRing::released_offset() const {
    return counters_->released.load(acquire);
}

std::uint64_t OutputRing::dropped_bytes() const {
    return counters_->dropped.load(acquire);
}

std::size_t OutputRing::room() const {
    return capacity_ - static_cast<std::size_t>(end_offset() - released_offset());
}

std::uint64_t OutputRing::window_begin_for(std::uint64_t new_end) const {
    return std::max(committed_begin_, new_end > capacity_ ? new_end - capacity_ : 0);
}

// Moves begin up to new_begin before the slots below it are overwritten: a process that maps the
// ring after this writer died must never find new bytes in slots that begin still claims for old
// offsets. The fence keeps the data stores that follow (plain memcpy or the kernel's read(2))
// from being reordered before this store by the compiler or the CPU.
void OutputRing::retire_below(std::uint64_t new_begin) {
    if (counters_->begin.load(relaxed) != new_begin) {
        counters_->begin.store(new_begin, relaxed);
        std::atomic_thread_fence(std::memory_order_seq_cst);
    }
}

// The bytes up to new_end are in place. `begin` may come down again here: a span reserved more
// than was read, and the slots past what was read still hold their old bytes. `dropped` is
// stored before `released`, so a writer dying between the two never hides a drop (recover()
// counts that one write twice instead).
void OutputRing::publish(std::uint64_t new_end, std::uint64_t new_begin) {
    counters_->begin.store(new_begin, release);
    counters_->end.store(new_end, release);
    committed_begin_ = new_begin;
    const std::uint64_t released = released_offset();
    if (new_begin > released) {
        counters_->dropped.store(dropped_bytes() + (new_begin - released), release);
        counters_->released.store(new_begin, release);
    }
}

// The kernel may have filled part of a span nobody committed: its slots stay out of the window.
void OutputRing::abandon_span() {
    if (span_size_ != 0) {
        committed_begin_ = counters_->begin.load(relaxed);
        span_size_ = 0;
    }
}

std::size_t OutputRing::write(std::string_view bytes) {
    abandon_span();
    if (policy_ == OverflowPolicy::block) {
        bytes = bytes.substr(0, room());
    }
    const std::size_t accepted = bytes.size();
    const std::uint64_t end = end_offset();
    const std::uint64_t new_end = end + accepted;
    const std::uint64_t new_begin = window_begin_for(new_end);
    retire_below(new_begin);

    // Only the last capacity bytes of an oversized write can survive it.
    const std::size_t skipped = accepted > capacity_ ? accepted - capacity_ : 0;
    bytes.remove_prefix(skipped);
    const std::size_t at = index_of(end + skipped);
    const std::size_t first = std::min(bytes.size(), capacity_ - at);
    std::memcpy(data_ + at, bytes.data(), first);
    std::memcpy(data_, bytes.data() + first, bytes.size() - first);

    publish(new_end, new_begin);
    return accepted;
}

std::span<char> OutputRing::writable_span(std::size_t max) {
    abandon_span();
    const std::uint64_t end = end_offset();
    const std::size_t at = index_of(end);
    std::size_t size = std::min(max, capacity_ - at);
    if (policy_ == OverflowPolicy::block) {
        size = std::min(size, room());
    }
    retire_below(window_begin_for(end + size));
    span_size_ = size;
    return {data_ + at, size};
}

void OutputRing::commit(std::size_t n) {
    if (n > span_size_) {
        throw std::invalid_argument("output ring: commit of " + std::to_string(n) +
                                    " bytes, the writable span holds " +
                                    std::to_string(span_size_));
    }
    span_size_ = 0;
    const std::uint64_t new_end = end_offset() + n;
    publish(new_end, window_begin_for(new_end));
}

OutputRing::Segments OutputRing::peek(std::uint64_t from_offset, std::size_t max) const {
    const std::uint64_t end = end_offset();
    const std::uint64_t start = std::max(from_offset, begin_offset());
    if (start >= end) {
        return {};
    }
    const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(max, end - start));
    const std::size_t at = index_of(start);
    const std::size_t first = std::min(count, capacity_ - at);
    return Segments{std::string_view(data_ + at, first), std::string_view(data_, count - first)};
}

std::string OutputRing::read(std::uint64_t from_offset, std::size_t max) const {
    const Segments segments = peek(from_offset, max);
    std::string out;
    out.reserve(segments.size());
    out.append(segments.first);
    out.append(segments.second);
    return out;
}

std::uint64_t OutputRing::missing_before(std::uint64_t from_offset) const {
    const std::uint64_t begin = begin_offset();
    return from_offset < begin ? begin - from_offset : 0;
}

void OutputRing::release_until(std::uint64_t offset) {
    const std::uint64_t released = std::max(released_offset(), std::min(offset, end_offset()));
    counters_->released.store(released, release);
}

}  // namespace ccjail::flow
