#include "flow/ring_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "common/error.hpp"

namespace ccjail::flow {
namespace {

// Counters shared between processes must be atomics that need no lock: a lock-based atomic keeps
// its lock in one process's memory, where the other process cannot see it.
static_assert(std::atomic<std::uint64_t>::is_always_lock_free);

struct RingHeader {
    std::atomic<std::uint64_t> magic{0};
    std::atomic<std::uint64_t> version{0};
    std::atomic<std::uint64_t> capacity{0};
    RingCounters counters;
};
static_assert(sizeof(RingHeader) <= RingMemory::header_bytes);

// Without F_SEAL_SHRINK another holder of the fd could truncate it under our mapping, and the
// daemon would die of SIGBUS on its next access; F_SEAL_SEAL stops anyone from adding a write
// seal later.
constexpr int kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
constexpr int kWriteSeals = F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;

[[noreturn]] void refuse(int err, const std::string& problem) {
    throw JailError(Step::supervise, err, "output ring memfd: " + problem);
}

void* map_shared(int fd, std::size_t size) {
    void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        throw_errno(Step::supervise, "mmap of an output ring (" + std::to_string(size) + " bytes)");
    }
    return base;
}

RingHeader& header_at(void* base) {
    return *std::launder(static_cast<RingHeader*>(base));
}

std::string hex(std::uint64_t value) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    do {
        out.insert(out.begin(), digits[value & 15]);
        value >>= 4;
    } while (value != 0);
    return "0x" + out;
}

int seals_of(int fd) {
    const int seals = ::fcntl(fd, F_GET_SEALS);
    if (seals < 0 && errno == EINVAL) {
        refuse(EINVAL, "not a memfd (it has no seals)");
    }
    if (seals < 0) {
        throw_errno(Step::supervise, "F_GET_SEALS on an output ring memfd");
    }
    return seals;
}

std::size_t checked_size(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        throw_errno(Step::supervise, "fstat of an output ring memfd");
    }
    if (!S_ISREG(st.st_mode)) {
        refuse(EINVAL, "not a regular file");
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (st.st_size < 0 || size <= RingMemory::header_bytes) {
        refuse(EINVAL, "too small: " + std::to_string(st.st_size) + " bytes, expected " +
                           std::to_string(RingMemory::header_bytes) + " + capacity");
    }
    if (size - RingMemory::header_bytes > RingMemory::max_capacity) {
        refuse(EINVAL, "too large: " + std::to_string(size) + " bytes");
    }
    return static_cast<std::size_t>(size);
}

}  // namespace

RingMemory RingMemory::create(std::size_t capacity) {
    if (capacity == 0 || capacity > max_capacity) {
        throw std::invalid_argument("output ring memory: capacity must be 1.." +
                                    std::to_string(max_capacity) + ", got " +
                                    std::to_string(capacity));
    }
    UniqueFd fd(::memfd_create("ccjail-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
    if (!fd) {
        throw_errno(Step::supervise, "memfd_create for an output ring");
    }
    // ftruncate leaves the file sparse: no data page exists until a byte is written to it.
    if (::ftruncate(fd.get(), static_cast<off_t>(header_bytes + capacity)) != 0) {
        throw_errno(Step::supervise, "ftruncate of an output ring memfd");
    }
    if (::fcntl(fd.get(), F_ADD_SEALS, kRequiredSeals) != 0) {
        throw_errno(Step::supervise, "sealing an output ring memfd");
    }
    void* base = map_shared(fd.get(), header_bytes + capacity);
    auto* header = new (base) RingHeader();
    header->capacity.store(capacity, std::memory_order_relaxed);
    header->version.store(layout_version, std::memory_order_relaxed);
    header->magic.store(magic, std::memory_order_release);
    return RingMemory(std::move(fd), base, capacity);
}

RingMemory RingMemory::map(UniqueFd fd) {
    if (!fd) {
        refuse(EBADF, "no file descriptor");
    }
    // Seals first: only once the size is sealed does fstat's answer stay true while mapped.
    const int seals = seals_of(fd.get());
    if ((seals & kRequiredSeals) != kRequiredSeals) {
        refuse(EINVAL,
               "not sealed against shrink, grow and further seals (seals " + hex(seals) + ")");
    }
    if ((seals & kWriteSeals) != 0) {
        refuse(EPERM, "sealed against writes (seals " + hex(seals) + ")");
    }
    const std::size_t size = checked_size(fd.get());
    void* base = map_shared(fd.get(), size);
    RingMemory memory(std::move(fd), base, size - header_bytes);

    const RingHeader& header = header_at(memory.base_);
    const std::uint64_t found_magic = header.magic.load(std::memory_order_acquire);
    if (found_magic != magic) {
        refuse(EINVAL, "wrong magic " + hex(found_magic) + " (not an output ring)");
    }
    const std::uint64_t found_version = header.version.load(std::memory_order_relaxed);
    if (found_version != layout_version) {
        refuse(EINVAL, "layout version " + std::to_string(found_version) + ", expected " +
                           std::to_string(layout_version));
    }
    const std::uint64_t found_capacity = header.capacity.load(std::memory_order_relaxed);
    if (found_capacity != memory.capacity_) {
        refuse(EINVAL, "header says capacity " + std::to_string(found_capacity) +
                           " but the memfd holds " + std::to_string(memory.capacity_) +
                           " data bytes");
    }
    return memory;
}

RingMemory::RingMemory(UniqueFd fd, void* base, std::size_t capacity)
    : fd_(std::move(fd)), base_(base), capacity_(capacity) {}

RingMemory::RingMemory(RingMemory&& other) noexcept
    : fd_(std::move(other.fd_)),
      base_(std::exchange(other.base_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)) {}

RingMemory& RingMemory::operator=(RingMemory&& other) noexcept {
    if (this != &other) {
        unmap();
        fd_ = std::move(other.fd_);
        base_ = std::exchange(other.base_, nullptr);
        capacity_ = std::exchange(other.capacity_, 0);
    }
    return *this;
}

RingMemory::~RingMemory() {
    unmap();
}

void RingMemory::unmap() {
    if (base_ != nullptr) {
        ::munmap(base_, header_bytes + capacity_);
        base_ = nullptr;
    }
}

char* RingMemory::data() const {
    return static_cast<char*>(base_) + header_bytes;
}

RingCounters& RingMemory::counters() const {
    return header_at(base_).counters;
}

}  // namespace ccjail::flow
