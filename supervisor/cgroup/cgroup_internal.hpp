#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cgroup/cgroup.hpp"

// What the two backends share, kept out of the public header.
namespace ccjail {

// statfs(2) f_type values (linux/magic.h).
inline constexpr std::int64_t kCgroupSuperMagic = 0x27e0eb;
inline constexpr std::int64_t kCgroup2SuperMagic = 0x63677270;

inline constexpr std::uint64_t kCpuPeriodUsec = 100000;

// The CFS quota for `cpus` cores over `period_usec`; nullopt means no limit. Throws
// JailError(Step::cgroup, EINVAL) for a negative or NaN count or a period the kernel refuses.
std::optional<std::uint64_t> cpu_quota_usec(double cpus, std::uint64_t period_usec);

// Throws JailError(Step::cgroup, EINVAL) unless `id` is safe as one path component.
void validate_jail_id(const std::string& id);

// Both backends derive from this, so that tests and tooling can list the directories.
class JailCgroupBase : public JailCgroup {
  public:
    // Every directory this object created and will remove (leaves first).
    virtual std::vector<std::filesystem::path> directories() const = 0;
};

// The directories behind a cgroup made by create_jail_cgroup (empty for any other object).
std::vector<std::filesystem::path> cgroup_directories(const JailCgroup& cgroup);

// Creates a backend's cgroup. On failure the unique_ptr destroys the half-built object, whose
// destructor removes whatever was already created.
template <typename Backend>
std::unique_ptr<JailCgroup> build_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                              const CgroupOptions& options) {
    validate_jail_id(id);
    auto cgroup = std::make_unique<Backend>();
    cgroup->create(id, limits, options);
    return cgroup;
}

std::unique_ptr<JailCgroup> create_v1_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                                  const CgroupOptions& options);
std::unique_ptr<JailCgroup> create_v2_jail_cgroup(const std::string& id, const CgroupLimits& limits,
                                                  const CgroupOptions& options);

// How long the destructor waits for the cgroup to die and for rmdir to succeed.
inline constexpr std::chrono::milliseconds kDestroyKillTimeout{2000};
inline constexpr std::chrono::milliseconds kDestroyRmdirTimeout{1000};
// A jail never removes the shared `ccjail` parent. Removing it with the last jail and creating
// it again with the next cost ten more mkdir/rmdir per spawn on v1, each waiting on the same
// cgroup_mutex as the asynchronous teardown of the cgroup removed before; an empty cgroup holds
// no process and no limit.
// How often creation retries when something else removed the shared `ccjail` directory
// (an admin, an older ccjail) between our mkdir of it and our mkdir of the leaf.
inline constexpr int kCreateAttempts = 5;

}  // namespace ccjail
