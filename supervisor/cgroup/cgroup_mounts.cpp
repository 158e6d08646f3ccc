#include "cgroup/cgroup_mounts.hpp"

#include <algorithm>
#include <cerrno>
#include <optional>

#include "cgroup/cgroup_files.hpp"
#include "cgroup/cgroup_internal.hpp"
#include "common/error.hpp"

namespace ccjail {
namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto at = text.find(separator);
        parts.push_back(text.substr(0, at));
        if (at == std::string_view::npos) {
            return parts;
        }
        text.remove_prefix(at + 1);
    }
}

// mountinfo escapes space, tab, newline and backslash in paths as \ooo.
std::string unescape_octal(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto digits = text.substr(i + 1, 3);
        if (text[i] == '\\' && digits.size() == 3 &&
            digits.find_first_not_of("01234567") == std::string_view::npos) {
            out.push_back(static_cast<char>(((digits[0] - '0') << 6) | ((digits[1] - '0') << 3) |
                                            (digits[2] - '0')));
            i += 3;
        } else {
            out.push_back(text[i]);
        }
    }
    return out;
}

std::optional<CgroupMount> parse_mountinfo_line(std::string_view line) {
    // id parent major:minor root mount-point options [optional fields...] - fstype source super
    const auto fields = split(line, ' ');
    const auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() < 6 || dash == fields.end() || dash - fields.begin() < 6 ||
        fields.end() - dash < 4) {
        return std::nullopt;
    }
    CgroupMount mount;
    mount.fstype = std::string(dash[1]);
    if (mount.fstype != "cgroup" && mount.fstype != "cgroup2") {
        return std::nullopt;
    }
    mount.root = unescape_octal(fields[3]);
    mount.mount_point = unescape_octal(fields[4]);
    for (const auto option : split(dash[3], ',')) {
        mount.super_options.emplace_back(option);
    }
    return mount;
}

bool has_option(const CgroupMount& mount, const std::string& option) {
    return std::find(mount.super_options.begin(), mount.super_options.end(), option) !=
           mount.super_options.end();
}

// `own` is a cgroup path as /proc/self/cgroup shows it; `mount.root` is the part of the
// hierarchy the mount exposes (not "/" inside some containers).
std::optional<std::filesystem::path> own_dir_in(const CgroupMount& mount,
                                                const std::filesystem::path& own) {
    if (!path_is_below(own, mount.root)) {
        return std::nullopt;
    }
    const auto relative = own.lexically_normal().lexically_relative(mount.root.lexically_normal());
    return relative == "." ? mount.mount_point : mount.mount_point / relative;
}

std::vector<CgroupMount> read_mountinfo(const CgroupOptions& options) {
    const auto text =
        cgroup_fs::read_file_if_exists(options.proc_self_cgroup.parent_path() / "mountinfo");
    return text ? parse_mountinfo_cgroups(*text) : std::vector<CgroupMount>{};
}

std::optional<CgroupMount> mount_for(const std::string& controller,
                                     const std::vector<CgroupMount>& mounts,
                                     const CgroupOptions& options) {
    std::optional<CgroupMount> found;
    for (const auto& mount : mounts) {
        if (mount.fstype != "cgroup" || !has_option(mount, controller)) {
            continue;
        }
        // The same hierarchy can be mounted twice; prefer the mount under mount_root.
        if (path_is_below(mount.mount_point, options.mount_root)) {
            return mount;
        }
        if (!found) {
            found = mount;
        }
    }
    if (found) {
        return found;
    }
    const auto guess = options.mount_root / controller;
    if (cgroup_fs::fs_magic(guess) == kCgroupSuperMagic) {
        return CgroupMount{"/", guess, "cgroup", {controller}};
    }
    return std::nullopt;
}

}  // namespace

std::vector<CgroupMount> parse_mountinfo_cgroups(std::string_view text) {
    std::vector<CgroupMount> mounts;
    for (const auto line : split(text, '\n')) {
        if (auto mount = parse_mountinfo_line(line)) {
            mounts.push_back(std::move(*mount));
        }
    }
    return mounts;
}

std::map<std::string, V1Hierarchy> find_v1_hierarchies(const std::vector<std::string>& controllers,
                                                       const CgroupOptions& options) {
    const auto own_paths = parse_proc_cgroup(cgroup_fs::read_file(options.proc_self_cgroup));
    const auto mounts = read_mountinfo(options);
    std::map<std::string, V1Hierarchy> hierarchies;
    for (const auto& controller : controllers) {
        const auto own = own_paths.find(controller);
        if (own == own_paths.end()) {
            continue;
        }
        const auto mount = mount_for(controller, mounts, options);
        if (!mount) {
            continue;
        }
        const auto own_dir = own_dir_in(*mount, own->second);
        if (!own_dir) {
            throw JailError(Step::cgroup, ENOENT,
                            "own " + controller + " cgroup " + own->second +
                                " is not visible below its mount " + mount->mount_point.string());
        }
        hierarchies.emplace(controller, V1Hierarchy{mount->mount_point, *own_dir});
    }
    return hierarchies;
}

bool path_is_below(const std::filesystem::path& path, const std::filesystem::path& base) {
    const auto relative = path.lexically_normal().lexically_relative(base.lexically_normal());
    return !relative.empty() && *relative.begin() != "..";
}

std::filesystem::path resolve_parent(const std::filesystem::path& parent,
                                     const std::filesystem::path& hierarchy_root) {
    if (parent.is_absolute() && path_is_below(parent, hierarchy_root)) {
        return parent.lexically_normal();
    }
    auto resolved = (hierarchy_root / parent.relative_path()).lexically_normal();
    if (!path_is_below(resolved, hierarchy_root)) {
        throw JailError(Step::cgroup, EINVAL,
                        "cgroup parent " + parent.string() + " leaves " + hierarchy_root.string());
    }
    return resolved;
}

std::filesystem::path own_v2_cgroup(const CgroupOptions& options) {
    const auto own_paths = parse_proc_cgroup(cgroup_fs::read_file(options.proc_self_cgroup));
    const auto own = own_paths.find("");
    if (own == own_paths.end()) {
        throw JailError(Step::cgroup, ENOENT,
                        options.proc_self_cgroup.string() + " has no cgroup v2 entry (0::/...)");
    }
    return own->second;
}

}  // namespace ccjail
