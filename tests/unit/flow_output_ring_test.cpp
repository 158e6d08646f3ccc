#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>

#include "flow/output_ring.hpp"

namespace ccjail::flow {
namespace {

// Deterministic bytes that differ at every offset modulo 251, so a misplaced byte shows up.
std::string pattern(std::uint64_t from, std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>((from + i) % 251);
    }
    return s;
}

TEST(OutputRing, RejectsZeroCapacity) {
    EXPECT_THROW(OutputRing(0, OverflowPolicy::block), std::invalid_argument);
}

TEST(OutputRing, EmptyRing) {
    OutputRing ring(8, OverflowPolicy::block);
    EXPECT_EQ(ring.begin_offset(), 0u);
    EXPECT_EQ(ring.end_offset(), 0u);
    EXPECT_EQ(ring.room(), 8u);
    EXPECT_EQ(ring.read(0, 100), "");
    EXPECT_EQ(ring.missing_before(0), 0u);
    EXPECT_EQ(ring.dropped_bytes(), 0u);
}

TEST(OutputRing, WrapAroundAtEveryBoundary) {
    // For every starting position in the buffer, a write that ends exactly at, just before and
    // just after the physical end reads back intact.
    constexpr std::size_t cap = 16;
    for (std::size_t start = 0; start < cap; ++start) {
        for (std::size_t len = 1; len <= cap; ++len) {
            OutputRing ring(cap, OverflowPolicy::drop_oldest);
            ring.write(pattern(0, start));
            ring.release_until(start);
            ASSERT_EQ(ring.write(pattern(start, len)), len);
            EXPECT_EQ(ring.read(start, len), pattern(start, len))
                << "start " << start << " len " << len;
            EXPECT_EQ(ring.end_offset(), start + len);
            EXPECT_EQ(ring.begin_offset(), start + len > cap ? start + len - cap : 0);
            EXPECT_EQ(ring.dropped_bytes(), 0u);
        }
    }
}

TEST(OutputRing, ReadAcrossTheWrapInPieces) {
    OutputRing ring(10, OverflowPolicy::drop_oldest);
    ring.write(pattern(0, 17));
    EXPECT_EQ(ring.begin_offset(), 7u);
    const auto segments = ring.peek(7, 10);
    EXPECT_EQ(segments.first.size(), 3u);  // offsets 7..9 at indices 7..9
    EXPECT_EQ(segments.second.size(), 7u);
    EXPECT_EQ(std::string(segments.first) + std::string(segments.second), pattern(7, 10));
    for (std::uint64_t from = 7; from <= 17; ++from) {
        for (std::size_t max = 0; max <= 12; ++max) {
            const std::size_t expected = std::min<std::uint64_t>(max, 17 - from);
            EXPECT_EQ(ring.read(from, max), pattern(from, expected));
        }
    }
}

TEST(OutputRing, BlockStopsAtCapacityAndResumesAfterRelease) {
    OutputRing ring(8, OverflowPolicy::block);
    EXPECT_EQ(ring.write(pattern(0, 5)), 5u);
    EXPECT_EQ(ring.room(), 3u);
    EXPECT_EQ(ring.write(pattern(5, 10)), 3u);
    EXPECT_EQ(ring.room(), 0u);
    EXPECT_EQ(ring.write(pattern(8, 1)), 0u);
    EXPECT_EQ(ring.end_offset(), 8u);

    ring.release_until(3);
    EXPECT_EQ(ring.room(), 3u);
    EXPECT_EQ(ring.begin_offset(), 0u);  // released bytes stay for replay until overwritten
    EXPECT_EQ(ring.read(0, 100), pattern(0, 8));
    EXPECT_EQ(ring.write(pattern(8, 4)), 3u);
    EXPECT_EQ(ring.begin_offset(), 3u);
    EXPECT_EQ(ring.read(0, 100), pattern(3, 8));
    EXPECT_EQ(ring.dropped_bytes(), 0u);
}

TEST(OutputRing, ReleaseIsClampedAndMonotonic) {
    OutputRing ring(8, OverflowPolicy::block);
    ring.write(pattern(0, 4));
    ring.release_until(100);
    EXPECT_EQ(ring.released_offset(), 4u);
    EXPECT_EQ(ring.room(), 8u);
    ring.release_until(1);
    EXPECT_EQ(ring.released_offset(), 4u);
    EXPECT_EQ(ring.write(pattern(4, 20)), 8u);
    EXPECT_EQ(ring.room(), 0u);
}

TEST(OutputRing, DropOldestCountsDropsExactly) {
    OutputRing ring(10, OverflowPolicy::drop_oldest);
    EXPECT_EQ(ring.write(pattern(0, 6)), 6u);
    EXPECT_EQ(ring.dropped_bytes(), 0u);
    EXPECT_EQ(ring.write(pattern(6, 6)), 6u);  // overwrites offsets 0, 1
    EXPECT_EQ(ring.dropped_bytes(), 2u);
    ring.release_until(5);                      // 2..4 delivered: overwriting them is not a drop
    EXPECT_EQ(ring.write(pattern(12, 4)), 4u);  // overwrites 2..5; only 5 was never delivered
    EXPECT_EQ(ring.dropped_bytes(), 3u);
    EXPECT_EQ(ring.write(pattern(16, 25)), 25u);  // one write far larger than the ring
    EXPECT_EQ(ring.dropped_bytes(), 3u + (31 - 6));
    EXPECT_EQ(ring.begin_offset(), 31u);
    EXPECT_EQ(ring.read(0, 100), pattern(31, 10));
    EXPECT_EQ(ring.room(), 0u);
}

TEST(OutputRing, ReplayFromInsideBeforeAndAfterTheWindow) {
    OutputRing ring(100, OverflowPolicy::drop_oldest);
    ring.write(pattern(0, 250));
    ASSERT_EQ(ring.begin_offset(), 150u);

    EXPECT_EQ(ring.missing_before(180), 0u);  // inside
    EXPECT_EQ(ring.read(180, 1000), pattern(180, 70));

    EXPECT_EQ(ring.missing_before(150), 0u);  // exactly at begin
    EXPECT_EQ(ring.read(150, 1000), pattern(150, 100));

    EXPECT_EQ(ring.missing_before(40), 110u);  // before: the reader learns the gap
    EXPECT_EQ(ring.read(40, 1000), pattern(150, 100));

    EXPECT_EQ(ring.missing_before(250), 0u);  // at the end: nothing yet
    EXPECT_EQ(ring.read(250, 1000), "");
    EXPECT_EQ(ring.missing_before(9999), 0u);  // beyond the end
    EXPECT_EQ(ring.read(9999, 1000), "");
}

// The ring's storage is one block fixed at construction: every view it hands out, after any
// amount of writing, lies inside the block the first full window occupied. (Checked through
// the views rather than by counting allocations, which would need a global operator new that
// sanitizer builds replace themselves.)
TEST(OutputRing, TenMegabytesThroughFourKilobytesStayInOneBlock) {
    constexpr std::size_t cap = 4096;
    constexpr std::size_t total = 10 * 1024 * 1024;
    const std::string data = pattern(0, total);
    std::mt19937 rng(1234);
    std::uniform_int_distribution<std::size_t> chunk(1, 3 * cap);

    OutputRing ring(cap, OverflowPolicy::drop_oldest);
    ASSERT_EQ(ring.write(std::string_view(data).substr(0, cap)), cap);
    const auto first_window = ring.peek(0, cap);
    ASSERT_EQ(first_window.first.size(), cap);
    const char* const block = first_window.first.data();
    const auto inside = [&](std::string_view view) {
        return view.empty() || (view.data() >= block && view.data() + view.size() <= block + cap);
    };
    std::size_t written = cap;
    while (written < total) {
        const std::size_t n = std::min(chunk(rng), total - written);
        ASSERT_EQ(ring.write(std::string_view(data).substr(written, n)), n);
        written += n;
        ASSERT_EQ(ring.end_offset(), written);
        ASSERT_EQ(ring.begin_offset(), written - cap);
        ASSERT_EQ(ring.dropped_bytes(), ring.begin_offset());
        const auto window = ring.peek(ring.begin_offset(), cap);
        ASSERT_EQ(window.size(), cap);
        ASSERT_TRUE(inside(window.first) && inside(window.second));
    }
    EXPECT_EQ(ring.capacity(), cap);
    EXPECT_EQ(ring.read(0, total), data.substr(total - cap));
    EXPECT_EQ(ring.missing_before(0), total - cap);
    EXPECT_EQ(ring.dropped_bytes(), total - cap);
}

// A reference model: the full output kept in a string, the window and the release point
// derived from the rules, compared against the ring after every operation.
void run_model(OverflowPolicy policy, std::size_t cap, unsigned seed) {
    std::mt19937 rng(seed);
    OutputRing ring(cap, policy);
    std::string all;
    std::uint64_t released = 0;
    std::uint64_t dropped = 0;

    for (int op = 0; op < 5000; ++op) {
        const std::uint64_t end = all.size();
        const std::uint64_t begin = end > cap ? end - cap : 0;
        switch (rng() % 3) {
            case 0: {
                const std::size_t n = rng() % (2 * cap + 2);
                const std::string chunk = pattern(end + rng() % 7, n);
                const std::size_t room = cap - (end - released);
                const std::size_t accepted =
                    policy == OverflowPolicy::block ? std::min(n, room) : n;
                ASSERT_EQ(ring.write(chunk), accepted);
                all += chunk.substr(0, accepted);
                const std::uint64_t new_begin = all.size() > cap ? all.size() - cap : 0;
                if (new_begin > released) {
                    dropped += new_begin - released;
                    released = new_begin;
                }
                break;
            }
            case 1: {
                const std::uint64_t to = rng() % (end + 3);
                released = std::max(released, std::min<std::uint64_t>(to, end));
                ring.release_until(to);
                break;
            }
            default: {
                const std::uint64_t from = rng() % (end + 3);
                const std::size_t max = rng() % (cap + 3);
                const std::uint64_t start = std::max(from, begin);
                const std::string expected =
                    start >= end ? ""
                                 : all.substr(start, std::min<std::uint64_t>(max, end - start));
                ASSERT_EQ(ring.read(from, max), expected) << "op " << op;
                ASSERT_EQ(ring.missing_before(from), from < begin ? begin - from : 0);
                break;
            }
        }
        const std::uint64_t now_end = all.size();
        ASSERT_EQ(ring.end_offset(), now_end);
        ASSERT_EQ(ring.begin_offset(), now_end > cap ? now_end - cap : 0);
        ASSERT_EQ(ring.released_offset(), released);
        ASSERT_EQ(ring.room(), cap - (now_end - released));
        ASSERT_EQ(ring.dropped_bytes(), dropped);
    }
    if (policy == OverflowPolicy::block) {
        EXPECT_EQ(dropped, 0u);
    }
}

TEST(OutputRing, RandomizedModelBlock) {
    for (unsigned seed = 1; seed <= 4; ++seed) {
        run_model(OverflowPolicy::block, 1 + seed * 13, seed);
    }
}

TEST(OutputRing, RandomizedModelDropOldest) {
    for (unsigned seed = 1; seed <= 4; ++seed) {
        run_model(OverflowPolicy::drop_oldest, 1 + seed * 13, seed);
    }
}

TEST(OutputRing, CapacityOneStillWorks) {
    OutputRing ring(1, OverflowPolicy::drop_oldest);
    ring.write("abc");
    EXPECT_EQ(ring.read(0, 10), "c");
    EXPECT_EQ(ring.dropped_bytes(), 2u);
    ring.write("d");
    EXPECT_EQ(ring.read(3, 10), "d");
    EXPECT_EQ(ring.missing_before(0), 3u);
}

}  // namespace
}  // namespace ccjail::flow
