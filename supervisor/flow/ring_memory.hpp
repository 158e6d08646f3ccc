#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/unique_fd.hpp"

namespace ccjail::flow {

// The positions of a ring, as absolute output offsets. In a RingMemory they live in the memfd's
// header, so they outlive the process that wrote them.
//
// Order of stores (the ring's single writer keeps it, a reader after a crash relies on it):
// `begin` rises before any byte below it is overwritten; `end` rises, with release, only after
// the bytes it covers are in place; `released` and `dropped` follow `end`. So whatever instant a
// writer dies at, the bytes in [begin, end) are the output at those offsets.
struct RingCounters {
    std::atomic<std::uint64_t> end{0};
    std::atomic<std::uint64_t> released{0};
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<std::uint64_t> begin{0};  // oldest byte whose slot is not being rewritten
};

// A ring's bytes and counters in one sealed memfd mapped MAP_SHARED: a 4096-byte header page,
// then `capacity` data bytes. The session's monitor keeps a dup of the fd, so a daemon restarted
// after a crash maps the same ring again and replays what nobody acknowledged.
//
// Creating one writes only the header page: the data pages stay unallocated until output lands
// in them, which keeps an idle session's memory at one page per ring.
class RingMemory {
  public:
    static constexpr std::size_t header_bytes = 4096;
    static constexpr std::uint64_t magic = 0x31474e49524a4343;  // "CCJRING1" read little-endian
    static constexpr std::uint64_t layout_version = 1;
    // Far above any profile's ring (64M), low enough that a forged header cannot make a daemon
    // map gigabytes.
    static constexpr std::size_t max_capacity = std::size_t{1} << 30;

    // capacity in 1..max_capacity (std::invalid_argument otherwise). Throws JailError on a
    // failed system call.
    static RingMemory create(std::size_t capacity);
    // Takes a memfd from another process. Refuses (JailError, step supervise) anything that is
    // not exactly what create() makes: missing seals, a size that is not 4096 + capacity, a
    // wrong magic or layout version.
    static RingMemory map(UniqueFd fd);

    RingMemory(RingMemory&& other) noexcept;
    RingMemory& operator=(RingMemory&& other) noexcept;
    RingMemory(const RingMemory&) = delete;
    RingMemory& operator=(const RingMemory&) = delete;
    ~RingMemory();

    int fd() const { return fd_.get(); }
    std::size_t capacity() const { return capacity_; }
    char* data() const;
    RingCounters& counters() const;

  private:
    RingMemory(UniqueFd fd, void* base, std::size_t capacity);
    void unmap();

    UniqueFd fd_;
    void* base_ = nullptr;
    std::size_t capacity_ = 0;
};

}  // namespace ccjail::flow
