#include "server/profile_catalog.hpp"

#include <set>

#include "profile/profile_loader.hpp"

namespace ccjail::server {

CatalogReload ProfileCatalog::reload() {
    CatalogReload result;
    std::error_code ec;
    const auto files = profile_files(dir_, ec);
    if (ec) {
        // An unreadable directory (a moment of an admin's rename, a wrong mount) is not "every
        // profile was deleted".
        result.dir_error = dir_.string() + ": " + ec.message();
        return result;
    }
    std::map<std::string, Entry> next;
    for (const auto& file : files) {
        const std::string name = file.stem().string();
        Entry entry;
        try {
            entry.document = load_merged_profile(name, dir_);
            entry.profile = profile_from_json(entry.document, name, file);
            result.loaded.push_back(name);
        } catch (const std::exception& error) {
            entry.error = error.what();
            const auto previous = entries_.find(name);
            if (previous != entries_.end() && previous->second.profile) {
                entry.profile = previous->second.profile;
                entry.document = previous->second.document;
                result.kept[name] = entry.error;
            } else {
                result.invalid[name] = entry.error;
            }
        }
        next.emplace(name, std::move(entry));
    }
    for (const auto& [name, entry] : entries_) {
        if (!next.contains(name)) {
            result.removed.push_back(name);
        }
    }
    entries_ = std::move(next);
    return result;
}

const ProfileCatalog::Entry* ProfileCatalog::find(const std::string& name) const {
    const auto entry = entries_.find(name);
    return entry == entries_.end() ? nullptr : &entry->second;
}

}  // namespace ccjail::server
