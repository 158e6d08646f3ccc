#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace ccjail {

// What reading does with a state file that cannot be trusted (not a regular file, not owned by
// us, writable by group or others) or that does not hold a JSON object.
enum class UntrustedState {
    refuse,   // throw: the state decides identities, guessing would be worse than failing
    discard,  // treat as empty: the state is only a cache and is rebuilt
};

// A JSON object kept in one file that the supervisor re-reads. Every read-modify-write happens
// under an exclusive flock on "<path>.lock", taken by the constructor and held for the object's
// lifetime. The parent directory is created 0700 when missing. Errors throw JailError(step).
class LockedStateFile {
  public:
    LockedStateFile(const std::filesystem::path& path, Step step);

    // The file's object, or an empty object when the file does not exist.
    nlohmann::json read(UntrustedState policy) const;

    // Replaces the file: written to "<path>.tmp" (0600), fsynced, renamed over the file.
    void write(const nlohmann::json& object) const;

  private:
    std::filesystem::path path_;
    std::string name_;
    Step step_;
    UniqueFd dir_;
    UniqueFd lock_;
};

// mkdir -p: creates every missing directory of `path` with exactly `mode` (umask does not
// apply); directories that already exist are left as they are. Throws JailError(step).
void make_directories(const std::filesystem::path& path, mode_t mode, Step step);

// True when a state file or directory of the supervisor may be believed: owned by the effective
// uid (root in production) and not writable by group or others.
bool trusted_owner_and_mode(const struct stat& st);

}  // namespace ccjail
