// The deterministic byte stream the daemon tier pushes through ccjaild: byte i depends only on
// i, so a test can check any window of the output (a replay from an offset, a reattach after a
// daemon restart) without storing what came before, and a reordered, lost or duplicated chunk
// shows up at its exact offset. Header-only and dependency-free: the static probe that runs
// inside the jail includes it too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ccjail::dtest {

// splitmix64: cheap, and every 8-byte word differs from its neighbours.
inline std::uint64_t stream_word(std::uint64_t index) {
    std::uint64_t z = index + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

inline unsigned char stream_byte(std::uint64_t offset) {
    return static_cast<unsigned char>(stream_word(offset >> 3) >> ((offset & 7) * 8));
}

// The bytes [offset, offset + size) of the stream, into `out`.
inline void fill_stream(std::uint64_t offset, unsigned char* out, std::size_t size) {
    std::size_t i = 0;
    while (i < size && ((offset + i) & 7) != 0) {
        out[i] = stream_byte(offset + i);
        ++i;
    }
    for (; i + 8 <= size; i += 8) {
        std::uint64_t word = stream_word((offset + i) >> 3);
        for (int b = 0; b < 8; ++b) {
            out[i + b] = static_cast<unsigned char>(word >> (b * 8));
        }
    }
    for (; i < size; ++i) {
        out[i] = stream_byte(offset + i);
    }
}

}  // namespace ccjail::dtest
