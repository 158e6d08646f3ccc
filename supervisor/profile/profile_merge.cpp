// How a profile is layered over the one it extends; docs/profiles.md, "Merge rules".

#include <algorithm>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

using json = nlohmann::json;

// Lists of mounts and files are keyed by where they land in the jail, so a child can replace one
// entry of its base without restating the whole list.
bool is_keyed_list(std::string_view path) {
    return path == "/filesystem/binds" || path == "/filesystem/tmpfs" ||
           path == "/filesystem/files" || path == "/filesystem/symlinks" ||
           path == "/filesystem/home_seed";
}

bool is_union_list(std::string_view path) {
    return path == "/environment/pass" || path == "/seccomp/allow" || path == "/seccomp/deny" ||
           path == "/network/allow" || path == "/network/allow_addresses";
}

// A bind without "target" lands at its source; a home seed file is keyed by its path.
const json* entry_key(const json& entry) {
    if (!entry.is_object()) {
        return nullptr;
    }
    for (const char* key : {"target", "source", "path"}) {
        const auto it = entry.find(key);
        if (it != entry.end() && it->is_string()) {
            return &*it;
        }
    }
    return nullptr;
}

json merge_keyed(const json& base, const json& child) {
    json result = base;
    for (const json& entry : child) {
        const json* key = entry_key(entry);
        const auto same = std::find_if(result.begin(), result.end(), [&](const json& existing) {
            const json* existing_key = entry_key(existing);
            return key != nullptr && existing_key != nullptr && *key == *existing_key;
        });
        if (same != result.end()) {
            *same = entry;
        } else {
            result.push_back(entry);
        }
    }
    return result;
}

bool contains(const json& list, const json& value) {
    return std::find(list.begin(), list.end(), value) != list.end();
}

json merge_union(const json& base, const json& child) {
    json result = base;
    for (const json& value : child) {
        if (!contains(result, value)) {
            result.push_back(value);
        }
    }
    return result;
}

json merge_at(const json& base, const json& child, const std::string& path);
json merge_object_or_replace(const json& base, const json& child, const std::string& path);

json merge_object(const json& base, const json& child, const std::string& path) {
    json result = base;
    for (const auto& [key, value] : child.items()) {
        const std::string key_path = path + "/" + key;
        const auto existing = result.find(key);
        if (existing == result.end()) {
            result[key] = value;
        } else if (existing->is_array() && value.is_array() && is_keyed_list(key_path)) {
            *existing = merge_keyed(*existing, value);
        } else if (existing->is_array() && value.is_array() && is_union_list(key_path)) {
            *existing = merge_union(*existing, value);
        } else {
            *existing = merge_at(*existing, value, key_path);
        }
    }
    return result;
}

// A fixed uid and a per-user range are alternatives: a child choosing one form drops the other
// form its base chose, or every per-user profile over a fixed-uid base would have to null it.
json drop_other_identity_form(json base, const json& child) {
    if (!base.is_object() || !child.is_object()) {
        return base;
    }
    if (child.contains("uid_range")) {
        base.erase("uid");
        base.erase("gid");
    }
    if (child.contains("uid") || child.contains("gid")) {
        base.erase("uid_range");
    }
    return base;
}

void erase_values(json& list, const json& values) {
    if (!list.is_array() || !values.is_array()) {
        return;
    }
    for (const json& value : values) {
        list.erase(std::remove(list.begin(), list.end(), value), list.end());
    }
}

// A child that allows a syscall its base denied (or the reverse) means to flip that decision;
// a plain union would keep both and contradict itself.
json drop_flipped_syscalls(json base, const json& child) {
    if (!base.is_object() || !child.is_object()) {
        return base;
    }
    if (base.contains("deny") && child.contains("allow")) {
        erase_values(base["deny"], child["allow"]);
    }
    if (base.contains("allow") && child.contains("deny")) {
        erase_values(base["allow"], child["deny"]);
    }
    return base;
}

// "network": "proxy" is short for {"mode": "proxy"}: a child naming only a mode keeps the
// allowlist of its base, and a child adding rules keeps the mode of its base.
json network_object(const json& value) {
    return value.is_string() ? json{{"mode", value}} : value;
}

json merge_at(const json& base, const json& child, const std::string& path) {
    if (path == "/network") {
        return merge_object_or_replace(network_object(base), network_object(child), path);
    }
    if (!base.is_object() || !child.is_object()) {
        return child;
    }
    if (path == "/identity") {
        return merge_object(drop_other_identity_form(base, child), child, path);
    }
    if (path == "/seccomp") {
        return merge_object(drop_flipped_syscalls(base, child), child, path);
    }
    return merge_object(base, child, path);
}

json merge_object_or_replace(const json& base, const json& child, const std::string& path) {
    if (!base.is_object() || !child.is_object()) {
        return child;
    }
    return merge_object(base, child, path);
}

}  // namespace

json merge_profiles(const json& base, const json& child) {
    return merge_at(base, child, "");
}

}  // namespace ccjail
