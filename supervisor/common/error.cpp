#include "common/error.hpp"

#include <array>
#include <cstring>
#include <utility>

namespace ccjail {
namespace {

constexpr std::array<std::pair<Step, std::string_view>, 33> kStepNames{{
    {Step::profile, "profile"},
    {Step::request, "request"},
    {Step::workspace, "workspace"},
    {Step::home, "home"},
    {Step::identity_map, "identity_map"},
    {Step::secrets, "secrets"},
    {Step::executable, "executable"},
    {Step::cgroup, "cgroup"},
    {Step::seccomp_compile, "seccomp_compile"},
    {Step::clone, "clone"},
    {Step::cgroup_attach, "cgroup_attach"},
    {Step::mount_private, "mount_private"},
    {Step::mount_root, "mount_root"},
    {Step::mount_bind, "mount_bind"},
    {Step::mount_tmpfs, "mount_tmpfs"},
    {Step::mount_proc, "mount_proc"},
    {Step::mount_dev, "mount_dev"},
    {Step::write_file, "write_file"},
    {Step::symlink, "symlink"},
    {Step::pivot_root, "pivot_root"},
    {Step::hostname, "hostname"},
    {Step::network, "network"},
    {Step::session, "session"},
    {Step::terminal, "terminal"},
    {Step::rlimits, "rlimits"},
    {Step::identity, "identity"},
    {Step::capabilities, "capabilities"},
    {Step::no_new_privs, "no_new_privs"},
    {Step::environment, "environment"},
    {Step::close_fds, "close_fds"},
    {Step::seccomp_load, "seccomp_load"},
    {Step::exec, "exec"},
    {Step::supervise, "supervise"},
}};

}  // namespace

std::string_view to_string(Step step) {
    for (const auto& [s, name] : kStepNames) {
        if (s == step) {
            return name;
        }
    }
    return "unknown";
}

std::optional<Step> step_from_string(std::string_view name) {
    for (const auto& [s, n] : kStepNames) {
        if (n == name) {
            return s;
        }
    }
    return std::nullopt;
}

JailError::JailError(Step step, int err, const std::string& message)
    : std::runtime_error(message), step_(step), err_(err) {}

void throw_errno(Step step, const std::string& what) {
    const int err = errno;
    throw JailError(step, err, what + ": " + std::strerror(err));
}

}  // namespace ccjail
