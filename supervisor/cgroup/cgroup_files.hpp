#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

// Small file-system primitives for cgroupfs. Every failure names the file and carries errno.
namespace ccjail::cgroup_fs {

// The whole file; throws JailError(step) on any error.
std::string read_file(const std::filesystem::path& file, Step step = Step::cgroup);
// The whole file, or nullopt when it does not exist (an optional interface file).
std::optional<std::string> read_file_if_exists(const std::filesystem::path& file,
                                               Step step = Step::cgroup);

// Writes `value` with a single write(2): cgroupfs parses each write on its own, so a value split
// over two writes would be two (wrong) values.
void write_file(const std::filesystem::path& file, std::string_view value,
                Step step = Step::cgroup);
// As write_file, but returns false instead of throwing when the file does not exist.
bool write_file_if_exists(const std::filesystem::path& file, std::string_view value,
                          Step step = Step::cgroup);

// One key of a flat-keyed file (cpu.stat, memory.events, ...); 0 if the file or key is absent.
std::uint64_t read_key(const std::filesystem::path& file, std::string_view key);
// A file holding a single number; 0 if it is absent or does not hold a number.
std::uint64_t read_number(const std::filesystem::path& file);

// The pids listed in `<dir>/cgroup.procs`; empty if the directory is gone.
std::vector<pid_t> read_procs(const std::filesystem::path& dir);

// mkdir(dir, 0755): true if it was created, false if it already existed.
bool make_dir(const std::filesystem::path& dir);
// mkdir(dir, 0755) of a directory that must not exist yet (EEXIST is an error too).
void make_new_dir(const std::filesystem::path& dir);
// True if `dir` is an existing directory.
bool is_dir(const std::filesystem::path& dir);
// rmdir(dir), retrying while the kernel still reports EBUSY (tasks that are exiting keep a
// cgroup busy for a moment). True when the directory is gone.
bool remove_dir(const std::filesystem::path& dir, std::chrono::milliseconds timeout);

// statfs(2) f_type of the file system holding `file`, or nullopt if it cannot be stat'ed.
std::optional<std::int64_t> fs_magic(const std::filesystem::path& file);

// Polls `done` every few milliseconds until it returns true or `timeout` passes.
template <typename Predicate>
bool poll_until(Predicate done, std::chrono::milliseconds timeout);

// Sleeps `round` times a growing interval: 100 us at first, 5 ms at most. A jail's last
// processes usually leave within a millisecond of its init, so a fixed 5 ms step would put up
// to 5 ms on every session's exit path.
void sleep_briefly(unsigned round);

template <typename Predicate>
bool poll_until(Predicate done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (unsigned round = 0; !done(); ++round) {
        if (std::chrono::steady_clock::now() >= deadline) {
            return done();
        }
        sleep_briefly(round);
    }
    return true;
}

}  // namespace ccjail::cgroup_fs
