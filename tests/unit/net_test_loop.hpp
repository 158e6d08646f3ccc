// Shared by the net_*_test.cpp files: drives a test's io_context until a condition holds.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include <boost/asio/io_context.hpp>

namespace ccjail::net::test {

// Runs handlers one at a time until `done()` or `limit`, restarting the context whenever it
// ran out of work (the operations under test post their completions later). Returns `done()`.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit) {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + limit;
    while (!done() && Clock::now() < deadline) {
        if (io.stopped()) {
            io.restart();
        }
        if (io.run_one_for(std::chrono::milliseconds(10)) == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    return done();
}

}  // namespace ccjail::net::test
