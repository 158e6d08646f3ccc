#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/error.hpp"
#include "common/unique_fd.hpp"
#include "flow/output_ring.hpp"
#include "flow/ring_memory.hpp"

namespace ccjail::flow {
namespace {

using ::testing::HasSubstr;

// Deterministic bytes that differ at every offset modulo 251, so a misplaced byte shows up.
std::string pattern(std::uint64_t from, std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>((from + i) % 251);
    }
    return s;
}

UniqueFd dup_of(int fd) {
    UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!copy) {
        ADD_FAILURE() << "dup: " << std::strerror(errno);
    }
    return copy;
}

// Bytes the kernel has actually allocated for the memfd.
std::uint64_t allocated_bytes(int fd) {
    struct stat st {};
    EXPECT_EQ(::fstat(fd, &st), 0);
    return static_cast<std::uint64_t>(st.st_blocks) * 512;
}

// A memfd shaped like a ring, built by hand so that each test can get one detail wrong.
struct ForgedRing {
    std::uint64_t size = RingMemory::header_bytes + 4096;
    std::uint64_t magic = RingMemory::magic;
    std::uint64_t version = RingMemory::layout_version;
    std::uint64_t capacity = 4096;
    int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

    UniqueFd make() const {
        UniqueFd fd(::memfd_create("forged-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING));
        EXPECT_TRUE(fd);
        EXPECT_EQ(::ftruncate(fd.get(), static_cast<off_t>(size)), 0);
        if (size >= 24) {
            const std::uint64_t header[3] = {magic, version, capacity};
            EXPECT_EQ(::pwrite(fd.get(), header, sizeof header, 0), ssize_t{sizeof header});
        }
        if (seals != 0) {
            EXPECT_EQ(::fcntl(fd.get(), F_ADD_SEALS, seals), 0) << std::strerror(errno);
        }
        return fd;
    }
};

// The message map() refuses `fd` with, or a marker when it accepts it.
std::string refusal(UniqueFd fd) {
    try {
        RingMemory::map(std::move(fd));
    } catch (const JailError& e) {
        EXPECT_EQ(e.step(), Step::supervise);
        return e.what();
    }
    return "<accepted>";
}

// ---- RingMemory ------------------------------------------------------------------------------

TEST(RingMemory, CreateAndMapRoundTrip) {
    RingMemory created = RingMemory::create(10000);
    ASSERT_GE(created.fd(), 0);
    EXPECT_EQ(created.capacity(), 10000u);
    EXPECT_EQ(::fcntl(created.fd(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    EXPECT_EQ(::fcntl(created.fd(), F_GET_SEALS), F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
    struct stat st {};
    ASSERT_EQ(::fstat(created.fd(), &st), 0);
    EXPECT_EQ(st.st_size, 4096 + 10000);

    RingMemory mapped = RingMemory::map(dup_of(created.fd()));
    EXPECT_EQ(mapped.capacity(), 10000u);
    EXPECT_NE(mapped.data(), created.data());  // a second mapping of the same pages
    std::memcpy(created.data() + 9990, "0123456789", 10);
    created.counters().end.store(77);
    EXPECT_EQ(std::string(mapped.data() + 9990, 10), "0123456789");
    EXPECT_EQ(mapped.counters().end.load(), 77u);
}

TEST(RingMemory, CapacityOutOfRangeIsRefused) {
    EXPECT_THROW(RingMemory::create(0), std::invalid_argument);
    EXPECT_THROW(RingMemory::create(RingMemory::max_capacity + 1), std::invalid_argument);
}

TEST(RingMemory, MoveKeepsTheMappingAndClosesOnce) {
    RingMemory a = RingMemory::create(100);
    const int fd = a.fd();
    char* const data = a.data();
    RingMemory b = std::move(a);
    EXPECT_EQ(b.fd(), fd);
    EXPECT_EQ(b.data(), data);
    EXPECT_EQ(a.fd(), -1);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    a = RingMemory::create(50);
    b = std::move(a);
    EXPECT_EQ(b.capacity(), 50u);
    EXPECT_EQ(::fcntl(fd, F_GETFD), -1);  // the first memfd was closed when b was replaced
}

TEST(RingMemory, CreatingTouchesOnlyTheHeaderPage) {
    RingMemory memory = RingMemory::create(8 << 20);
    const UniqueFd fd = dup_of(memory.fd());
    EXPECT_EQ(allocated_bytes(fd.get()), 4096u);
    OutputRing ring(std::move(memory), OverflowPolicy::drop_oldest);
    EXPECT_EQ(allocated_bytes(fd.get()), 4096u);
    ring.write("x");
    EXPECT_EQ(allocated_bytes(fd.get()), 2 * 4096u);  // the page the byte landed in
}

TEST(RingMemory, RefusesWhatCreateDoesNotMake) {
    EXPECT_EQ(refusal(ForgedRing{}.make()), "<accepted>");  // the forger itself is right

    ForgedRing too_small;
    too_small.size = 100;
    EXPECT_THAT(refusal(too_small.make()), HasSubstr("too small: 100 bytes"));
    ForgedRing header_only;
    header_only.size = 4096;
    EXPECT_THAT(refusal(header_only.make()), HasSubstr("too small"));

    ForgedRing unsealed;
    unsealed.seals = 0;
    EXPECT_THAT(refusal(unsealed.make()), HasSubstr("not sealed"));
    ForgedRing may_grow;
    may_grow.seals = F_SEAL_SHRINK | F_SEAL_SEAL;
    EXPECT_THAT(refusal(may_grow.make()), HasSubstr("not sealed"));
    ForgedRing write_sealed;
    write_sealed.seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    EXPECT_THAT(refusal(write_sealed.make()), HasSubstr("sealed against writes"));

    ForgedRing wrong_magic;
    wrong_magic.magic = 0x1234;
    EXPECT_THAT(refusal(wrong_magic.make()), HasSubstr("wrong magic 0x1234"));
    ForgedRing wrong_version;
    wrong_version.version = 2;
    EXPECT_THAT(refusal(wrong_version.make()), HasSubstr("layout version 2"));
    ForgedRing wrong_capacity;
    wrong_capacity.capacity = 8192;
    EXPECT_THAT(refusal(wrong_capacity.make()),
                HasSubstr("header says capacity 8192 but the memfd holds 4096"));
}

TEST(RingMemory, RefusesFilesThatAreNotMemfds) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe2(pipe_fds, O_CLOEXEC), 0);
    UniqueFd write_end(pipe_fds[1]);
    EXPECT_THAT(refusal(UniqueFd(pipe_fds[0])), HasSubstr("not a memfd"));
    EXPECT_THAT(refusal(UniqueFd(::open("/dev/null", O_RDWR | O_CLOEXEC))),
                HasSubstr("not a memfd"));
    EXPECT_THAT(refusal(UniqueFd()), HasSubstr("no file descriptor"));
}

// ---- OutputRing over RingMemory ----------------------------------------------------------------

TEST(SharedOutputRing, ASecondMappingSeesWrites) {
    OutputRing writer(RingMemory::create(64), OverflowPolicy::drop_oldest);
    const OutputRing reader(RingMemory::map(dup_of(writer.shared_memory()->fd())),
                            OverflowPolicy::drop_oldest);
    writer.write(pattern(0, 40));
    EXPECT_EQ(reader.end_offset(), 40u);
    EXPECT_EQ(reader.read(0, 100), pattern(0, 40));
    writer.write(pattern(40, 50));
    writer.release_until(70);
    EXPECT_EQ(reader.begin_offset(), 26u);
    EXPECT_EQ(reader.read(0, 100), pattern(26, 64));
    EXPECT_EQ(reader.dropped_bytes(), 26u);
    EXPECT_EQ(reader.released_offset(), 70u);
}

TEST(SharedOutputRing, ARingMappedAgainContinuesWhereTheOldOneStopped) {
    UniqueFd kept;  // the monitor's dup
    {
        OutputRing ring(RingMemory::create(10), OverflowPolicy::block);
        kept = dup_of(ring.shared_memory()->fd());
        ASSERT_EQ(ring.write(pattern(0, 7)), 7u);
        ring.release_until(5);
    }
    OutputRing ring(RingMemory::map(std::move(kept)), OverflowPolicy::block);
    EXPECT_EQ(ring.end_offset(), 7u);
    EXPECT_EQ(ring.released_offset(), 5u);
    EXPECT_EQ(ring.room(), 8u);
    EXPECT_EQ(ring.read(0, 100), pattern(0, 7));
    EXPECT_EQ(ring.write(pattern(7, 20)), 8u);  // stops at the unreleased byte 5
    EXPECT_EQ(ring.begin_offset(), 5u);
    EXPECT_EQ(ring.read(0, 100), pattern(5, 10));
    EXPECT_EQ(ring.dropped_bytes(), 0u);
}

TEST(SharedOutputRing, BlockNeverOverwritesUnreleasedBytes) {
    OutputRing ring(RingMemory::create(8), OverflowPolicy::block);
    EXPECT_EQ(ring.write(pattern(0, 5)), 5u);
    EXPECT_EQ(ring.write(pattern(5, 10)), 3u);
    EXPECT_EQ(ring.room(), 0u);
    EXPECT_EQ(ring.write("z"), 0u);
    EXPECT_EQ(ring.writable_span().size(), 0u);
    ring.release_until(3);
    EXPECT_EQ(ring.write(pattern(8, 4)), 3u);
    EXPECT_EQ(ring.read(0, 100), pattern(3, 8));
    EXPECT_EQ(ring.dropped_bytes(), 0u);
}

TEST(SharedOutputRing, DropOldestCountsDropsExactly) {
    OutputRing ring(RingMemory::create(10), OverflowPolicy::drop_oldest);
    EXPECT_EQ(ring.write(pattern(0, 12)), 12u);
    EXPECT_EQ(ring.dropped_bytes(), 2u);
    ring.release_until(5);
    EXPECT_EQ(ring.write(pattern(12, 4)), 4u);
    EXPECT_EQ(ring.dropped_bytes(), 3u);
    EXPECT_EQ(ring.write(pattern(16, 25)), 25u);
    EXPECT_EQ(ring.dropped_bytes(), 3u + 25u);
    EXPECT_EQ(ring.read(0, 100), pattern(31, 10));
    EXPECT_EQ(ring.missing_before(0), 31u);
}

// The shared ring, remapped every few operations, behaves exactly like the heap ring, whose own
// tests check it against a reference model.
void compare_with_heap(OverflowPolicy policy, std::size_t cap, unsigned seed) {
    std::mt19937 rng(seed);
    OutputRing heap(cap, policy);
    auto shared = std::make_unique<OutputRing>(RingMemory::create(cap), policy);
    for (int op = 0; op < 3000; ++op) {
        const std::uint64_t end = heap.end_offset();
        switch (rng() % 5) {
            case 0: {
                const std::string chunk = pattern(end, rng() % (2 * cap + 2));
                ASSERT_EQ(shared->write(chunk), heap.write(chunk)) << "op " << op;
                break;
            }
            case 1: {
                const std::span<char> span = shared->writable_span(rng() % (cap + 2));
                const std::size_t n = span.empty() ? 0 : rng() % (span.size() + 1);
                const std::string chunk = pattern(end, n);
                std::memcpy(span.data(), chunk.data(), n);
                shared->commit(n);
                ASSERT_EQ(heap.write(chunk), n) << "op " << op;
                break;
            }
            case 2: {
                const std::uint64_t to = rng() % (end + 3);
                heap.release_until(to);
                shared->release_until(to);
                break;
            }
            case 3: {
                const std::uint64_t from = rng() % (end + 3);
                const std::size_t max = rng() % (cap + 3);
                ASSERT_EQ(shared->read(from, max), heap.read(from, max)) << "op " << op;
                ASSERT_EQ(shared->missing_before(from), heap.missing_before(from));
                break;
            }
            default: {
                const UniqueFd fd = dup_of(shared->shared_memory()->fd());
                shared.reset();
                shared = std::make_unique<OutputRing>(RingMemory::map(dup_of(fd.get())), policy);
                break;
            }
        }
        ASSERT_EQ(shared->end_offset(), heap.end_offset()) << "op " << op;
        ASSERT_EQ(shared->begin_offset(), heap.begin_offset()) << "op " << op;
        ASSERT_EQ(shared->released_offset(), heap.released_offset()) << "op " << op;
        ASSERT_EQ(shared->room(), heap.room()) << "op " << op;
        ASSERT_EQ(shared->dropped_bytes(), heap.dropped_bytes()) << "op " << op;
    }
}

TEST(SharedOutputRing, BehavesLikeTheHeapRingAcrossRemaps) {
    for (unsigned seed = 1; seed <= 3; ++seed) {
        compare_with_heap(OverflowPolicy::block, 7 + seed * 11, seed);
        compare_with_heap(OverflowPolicy::drop_oldest, 7 + seed * 11, seed);
    }
}

// ---- writable_span / commit ------------------------------------------------------------------

TEST(SharedOutputRing, WritableSpanStopsAtTheWrapAndContinuesAtTheStart) {
    OutputRing ring(RingMemory::create(16), OverflowPolicy::block);
    ring.write(pattern(0, 10));
    ring.release_until(10);

    std::span<char> span = ring.writable_span();
    ASSERT_EQ(span.size(), 6u);  // indices 10..15
    std::memcpy(span.data(), pattern(10, 6).data(), 6);
    ring.commit(6);
    EXPECT_EQ(ring.end_offset(), 16u);

    span = ring.writable_span();
    ASSERT_EQ(span.size(), 10u);  // indices 0..9, all released; 10..15 are not
    EXPECT_EQ(span.data(), ring.peek(10, 1).first.data() - 10);
    std::memcpy(span.data(), pattern(16, 4).data(), 4);
    ring.commit(4);
    EXPECT_EQ(ring.end_offset(), 20u);
    EXPECT_EQ(ring.begin_offset(), 4u);
    EXPECT_EQ(ring.read(10, 100), pattern(10, 10));
    const auto pieces = ring.peek(10, 100);
    EXPECT_EQ(pieces.first.size(), 6u);
    EXPECT_EQ(pieces.second.size(), 4u);
    EXPECT_EQ(ring.writable_span(3).size(), 3u);
    EXPECT_EQ(ring.room(), 6u);
}

TEST(SharedOutputRing, CommitBeyondTheSpanIsRefused) {
    OutputRing ring(RingMemory::create(16), OverflowPolicy::block);
    EXPECT_THROW(ring.commit(1), std::invalid_argument);  // no span out
    ASSERT_EQ(ring.writable_span(4).size(), 4u);
    EXPECT_THROW(ring.commit(5), std::invalid_argument);
    ring.commit(0);
    EXPECT_EQ(ring.end_offset(), 0u);
}

TEST(SharedOutputRing, ASpanTakesItsSlotsOutOfTheWindowUntilCommitted) {
    OutputRing ring(RingMemory::create(10), OverflowPolicy::drop_oldest);
    ring.write(pattern(0, 10));
    ASSERT_EQ(ring.begin_offset(), 0u);

    std::span<char> span = ring.writable_span(6);
    ASSERT_EQ(span.size(), 6u);
    EXPECT_EQ(ring.begin_offset(), 6u);  // the slots of 0..5 may be rewritten any moment
    EXPECT_EQ(ring.dropped_bytes(), 0u);
    std::memcpy(span.data(), pattern(10, 2).data(), 2);
    ring.commit(2);  // only 0..1 were overwritten: 2..5 come back
    EXPECT_EQ(ring.begin_offset(), 2u);
    EXPECT_EQ(ring.dropped_bytes(), 2u);
    EXPECT_EQ(ring.read(0, 100), pattern(2, 10));

    ring.writable_span(3);
    ring.commit(0);
    EXPECT_EQ(ring.begin_offset(), 2u);
    EXPECT_EQ(ring.read(0, 100), pattern(2, 10));

    // A span replaced without a commit may hold whatever the kernel wrote: it stays out.
    ring.writable_span(3);
    EXPECT_EQ(ring.write(pattern(12, 1)), 1u);
    EXPECT_EQ(ring.begin_offset(), 5u);
    EXPECT_EQ(ring.read(0, 100), pattern(5, 8));
}

TEST(SharedOutputRing, ReadsAPipeStraightIntoTheRing) {
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    const UniqueFd read_end(fds[0]);
    const UniqueFd write_end(fds[1]);
    OutputRing ring(RingMemory::create(4096), OverflowPolicy::block);
    const std::string all = pattern(0, 10000);
    std::size_t sent = 0;
    std::uint64_t consumed = 0;
    while (consumed < all.size()) {
        if (sent < all.size()) {
            const ssize_t n = ::write(write_end.get(), all.data() + sent,
                                      std::min<std::size_t>(3000, all.size() - sent));
            ASSERT_GT(n, 0);
            sent += static_cast<std::size_t>(n);
        }
        const std::span<char> span = ring.writable_span();
        ASSERT_FALSE(span.empty());
        const ssize_t got = ::read(read_end.get(), span.data(), span.size());
        ASSERT_GT(got, 0);
        ring.commit(static_cast<std::size_t>(got));
        const std::string chunk = ring.read(consumed, ring.capacity());
        ASSERT_EQ(chunk, all.substr(consumed, chunk.size()));
        consumed += chunk.size();
        ring.release_until(consumed);
    }
    EXPECT_EQ(ring.end_offset(), all.size());
}

// ---- recovery --------------------------------------------------------------------------------

TEST(SharedOutputRing, RecoveryFinishesTheDropAccountingOfADeadWriter) {
    RingMemory memory = RingMemory::create(10);
    const UniqueFd fd = dup_of(memory.fd());
    // Died after publishing end 25 (begin 15), before updating released and dropped.
    memory.counters().end.store(25);
    memory.counters().begin.store(15);
    memory.counters().released.store(12);
    memory.counters().dropped.store(12);
    const OutputRing ring(std::move(memory), OverflowPolicy::drop_oldest);
    EXPECT_EQ(ring.begin_offset(), 15u);
    EXPECT_EQ(ring.released_offset(), 15u);
    EXPECT_EQ(ring.dropped_bytes(), 15u);
}

TEST(SharedOutputRing, RecoveryForgetsAWriteLargerThanTheRingCutShort) {
    RingMemory memory = RingMemory::create(10);
    // Died inside a 30-byte write at end 20: begin already at 40, every slot half rewritten.
    memory.counters().end.store(20);
    memory.counters().begin.store(40);
    memory.counters().released.store(20);
    OutputRing ring(std::move(memory), OverflowPolicy::drop_oldest);
    EXPECT_EQ(ring.begin_offset(), 20u);
    EXPECT_EQ(ring.read(0, 100), "");
    EXPECT_EQ(ring.missing_before(0), 20u);
    ring.write(pattern(20, 4));
    EXPECT_EQ(ring.read(0, 100), pattern(20, 4));
}

TEST(SharedOutputRing, RecoveryClampsCountersOutOfRange) {
    RingMemory memory = RingMemory::create(10);
    memory.counters().end.store(100);
    memory.counters().begin.store(3);       // below end - capacity
    memory.counters().released.store(500);  // past end
    const OutputRing ring(std::move(memory), OverflowPolicy::block);
    EXPECT_EQ(ring.begin_offset(), 90u);
    EXPECT_EQ(ring.released_offset(), 100u);
    EXPECT_EQ(ring.room(), 10u);
}

// A child process writes as fast as it can and is SIGKILLed at a random moment, likely inside a
// memcpy. Whatever instant it died at, the ring the parent maps afterwards holds exactly the
// output at [begin_offset(), end_offset()), and goes on from there.
void kill_writer_and_check(OverflowPolicy policy, unsigned seed) {
    // Not a multiple of 251: a slot holding the byte of offset x + cap instead of x shows up.
    constexpr std::size_t cap = 4093;
    constexpr std::size_t max_chunk = 3 * cap;
    RingMemory memory = RingMemory::create(cap);
    const RingMemory watcher = RingMemory::map(dup_of(memory.fd()));
    const std::string source = pattern(0, 251 + max_chunk);

    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        try {
            OutputRing ring(std::move(memory), policy);
            std::mt19937 rng(seed);
            for (;;) {
                const std::uint64_t end = ring.end_offset();
                const std::size_t n = 1 + rng() % max_chunk;
                const std::string_view chunk(source.data() + end % 251, n);
                if (rng() % 2 == 0) {
                    ring.write(chunk);
                } else {
                    const std::span<char> span = ring.writable_span(n);
                    std::memcpy(span.data(), chunk.data(), span.size());
                    ring.commit(span.size());
                }
                if (policy == OverflowPolicy::block || rng() % 4 == 0) {
                    ring.release_until(ring.end_offset() - rng() % 100);
                }
            }
        } catch (...) {
            ::_exit(1);
        }
    }

    const std::uint64_t target = (seed % 7 + 1) * 100'000 + seed * 977;
    while (watcher.counters().end.load() < target) {
        int status = 0;
        ASSERT_EQ(::waitpid(child, &status, WNOHANG), 0) << "the writer died by itself";
        std::this_thread::yield();
    }
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    OutputRing ring(std::move(memory), policy);
    const std::uint64_t end = ring.end_offset();
    const std::uint64_t begin = ring.begin_offset();
    ASSERT_GE(end, target);
    ASSERT_LE(end - begin, cap);
    ASSERT_GE(ring.released_offset(), begin);
    ASSERT_LE(ring.released_offset(), end);
    ASSERT_EQ(ring.read(begin, cap), pattern(begin, end - begin)) << "seed " << seed;
    if (policy == OverflowPolicy::block) {
        EXPECT_EQ(ring.dropped_bytes(), 0u);
    }

    const std::size_t more = policy == OverflowPolicy::block ? ring.room() : 2 * cap;
    ASSERT_EQ(ring.write(pattern(end, more)), more);
    EXPECT_EQ(ring.end_offset(), end + more);
    const std::uint64_t new_begin = ring.begin_offset();
    EXPECT_EQ(ring.read(new_begin, cap), pattern(new_begin, end + more - new_begin));
}

TEST(SharedOutputRing, AWriterKilledMidWriteLeavesAConsistentRing) {
    for (unsigned seed = 1; seed <= 12; ++seed) {
        kill_writer_and_check(OverflowPolicy::drop_oldest, seed);
        kill_writer_and_check(OverflowPolicy::block, seed);
    }
}

}  // namespace
}  // namespace ccjail::flow
