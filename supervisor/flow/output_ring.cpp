#include "flow/output_ring.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ccjail::flow {

OutputRing::OutputRing(std::size_t capacity, OverflowPolicy policy)
    : capacity_(capacity), policy_(policy) {
    if (capacity_ == 0) {
        throw std::invalid_argument("output ring: capacity must be at least 1");
    }
    storage_ = std::make_unique_for_overwrite<char[]>(capacity_);
}

std::size_t OutputRing::index_of(std::uint64_t offset) const {
    return static_cast<std::size_t>(offset % capacity_);
}

std::uint64_t OutputRing::begin_offset() const {
    return end_ > capacity_ ? end_ - capacity_ : 0;
}

std::size_t OutputRing::room() const {
    return capacity_ - static_cast<std::size_t>(end_ - released_);
}

void OutputRing::store(std::string_view bytes) {
    // Only the last capacity bytes of an oversized write can survive it.
    const std::size_t skipped = bytes.size() > capacity_ ? bytes.size() - capacity_ : 0;
    end_ += skipped;
    bytes.remove_prefix(skipped);

    const std::size_t at = index_of(end_);
    const std::size_t first = std::min(bytes.size(), capacity_ - at);
    std::memcpy(storage_.get() + at, bytes.data(), first);
    std::memcpy(storage_.get(), bytes.data() + first, bytes.size() - first);
    end_ += bytes.size();
}

std::size_t OutputRing::write(std::string_view bytes) {
    if (policy_ == OverflowPolicy::block) {
        bytes = bytes.substr(0, room());
        store(bytes);
        return bytes.size();
    }
    store(bytes);
    const std::uint64_t begin = begin_offset();
    if (begin > released_) {
        dropped_ += begin - released_;
        released_ = begin;
    }
    return bytes.size();
}

OutputRing::Segments OutputRing::peek(std::uint64_t from_offset, std::size_t max) const {
    const std::uint64_t start = std::max(from_offset, begin_offset());
    if (start >= end_) {
        return {};
    }
    const std::size_t count = static_cast<std::size_t>(std::min<std::uint64_t>(max, end_ - start));
    const std::size_t at = index_of(start);
    const std::size_t first = std::min(count, capacity_ - at);
    return Segments{std::string_view(storage_.get() + at, first),
                    std::string_view(storage_.get(), count - first)};
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
    released_ = std::max(released_, std::min(offset, end_));
}

}  // namespace ccjail::flow
