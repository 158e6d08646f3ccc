// Reading profile files and following "extends"; docs/profiles.md.

#include "profile/profile_loader.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/json_error.hpp"
#include "profile/profile_check.hpp"

namespace ccjail {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::size_t kMaxExtendsDepth = 8;
// Profiles are a few kilobytes; a bound keeps a mistaken path (a log, a device) from being
// slurped into memory by a root process.
constexpr std::uintmax_t kMaxProfileBytes = 1 << 20;

[[noreturn]] void fail(const fs::path& file, const std::string& problem) {
    throw ProfileError(file.string() + ": " + problem);
}

std::string read_text(const fs::path& file) {
    std::error_code ec;
    // A FIFO or device named by mistake would block or stream forever.
    if (fs::exists(file, ec) && !fs::is_regular_file(file, ec)) {
        fail(file, "not a regular file");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        fail(file, std::string("cannot open: ") + std::strerror(errno));
    }
    std::string text;
    char buffer[8192];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
        text.append(buffer, static_cast<std::size_t>(in.gcount()));
        if (text.size() > kMaxProfileBytes) {
            fail(file, "larger than 1 MiB; not a profile");
        }
    }
    if (in.bad()) {
        fail(file, "cannot read");
    }
    return text;
}

// nlohmann keeps the last of two equal keys without a word; in a security policy a second
// "memory" silently winning over the first is exactly the mistake strict loading must catch.
class DuplicateKeyFinder {
  public:
    bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
                value_started();
                stack_.push_back(Frame{false, 0, {}, {}});
                break;
            case json::parse_event_t::array_start:
                value_started();
                stack_.push_back(Frame{true, 0, {}, {}});
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                stack_.pop_back();
                break;
            case json::parse_event_t::key:
                on_key(parsed.get<std::string>());
                break;
            case json::parse_event_t::value:
                value_started();
                break;
        }
        return true;
    }

    const std::optional<std::string>& duplicate() const { return duplicate_; }

  private:
    struct Frame {
        bool array;
        std::size_t values;
        std::string key;
        std::set<std::string> keys;
    };

    void value_started() {
        if (!stack_.empty() && stack_.back().array) {
            ++stack_.back().values;
        }
    }

    void on_key(const std::string& key) {
        Frame& top = stack_.back();
        top.key = key;
        if (!top.keys.insert(key).second && !duplicate_) {
            duplicate_ = pointer().to_string();
        }
    }

    json::json_pointer pointer() const {
        json::json_pointer at;
        for (const Frame& frame : stack_) {
            at = frame.array ? at / (frame.values - 1) : at / frame.key;
        }
        return at;
    }

    std::vector<Frame> stack_;
    std::optional<std::string> duplicate_;
};

json parse_document(const fs::path& file) {
    const std::string text = read_text(file);
    DuplicateKeyFinder finder;
    json document;
    try {
        document = json::parse(text, std::ref(finder));
    } catch (const json::parse_error& e) {
        fail(file, "invalid JSON: " + parse_error_text(e));
    } catch (const json::out_of_range& e) {
        // nlohmann reports a number past double's range ("1e999") as out_of_range (406), not as
        // a parse_error; uncaught, it escaped every caller that expects a ProfileError.
        fail(file, std::string("invalid JSON: ") + e.what());
    }
    if (finder.duplicate()) {
        fail(file, *finder.duplicate() + ": key appears twice in the same object");
    }
    return document;
}

bool is_profile_name(std::string_view name) {
    return !name.empty() && name.front() != '.' &&
           std::all_of(name.begin(), name.end(), [](char c) {
               return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' ||
                      c == '-';
           });
}

struct Layer {
    fs::path file;
    json document;  // without "extends"
};

std::string chain_text(const std::vector<Layer>& chain, const fs::path& last) {
    std::string text;
    for (const Layer& layer : chain) {
        text += layer.file.stem().string() + " -> ";
    }
    return text + last.stem().string();
}

fs::path identity_of(const fs::path& file) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(file, ec);
    return ec ? file.lexically_normal() : canonical;
}

// Leaf first: chain[0] is the profile asked for, chain.back() the root base.
std::vector<Layer> read_chain(const fs::path& leaf) {
    std::vector<Layer> chain;
    std::vector<fs::path> seen;
    fs::path file = leaf;
    for (;;) {
        json document = parse_document(file);
        profile_detail::check_profile_file(document, file.stem().string(), file);
        seen.push_back(identity_of(file));
        std::optional<std::string> base;
        if (document.contains("extends") && !document["extends"].is_null()) {
            base = document["extends"].get<std::string>();
        }
        document.erase("extends");
        chain.push_back({file, std::move(document)});
        if (!base) {
            return chain;
        }
        const fs::path base_file = file.parent_path() / (*base + ".json");
        std::error_code ec;
        if (!fs::exists(base_file, ec)) {
            fail(file, "/extends: base profile \"" + *base + "\" not found (no " +
                           base_file.string() + ")");
        }
        if (std::find(seen.begin(), seen.end(), identity_of(base_file)) != seen.end()) {
            fail(file, "/extends: cycle: " + chain_text(chain, base_file));
        }
        if (chain.size() > kMaxExtendsDepth) {
            fail(file, "/extends: more than " + std::to_string(kMaxExtendsDepth) +
                           " levels of extends: " + chain_text(chain, base_file));
        }
        file = base_file;
    }
}

fs::path resolve(std::string_view name_or_path, const fs::path& profiles_dir) {
    const bool is_path =
        name_or_path.find('/') != std::string_view::npos ||
        (name_or_path.size() >= 5 && name_or_path.substr(name_or_path.size() - 5) == ".json");
    if (is_path) {
        return fs::path(name_or_path);
    }
    if (!is_profile_name(name_or_path)) {
        throw ProfileError("invalid profile name \"" + std::string(name_or_path) +
                           "\" (letters, digits, \".\", \"_\", \"-\"; not starting with \".\")");
    }
    return profiles_dir / (std::string(name_or_path) + ".json");
}

}  // namespace

std::vector<std::filesystem::path> profile_files(const std::filesystem::path& dir,
                                                 std::error_code& ec) {
    std::vector<std::filesystem::path> files;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code type_ec;
        if (it->path().extension() == ".json" && it->is_regular_file(type_ec)) {
            files.push_back(it->path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

json load_merged_profile(std::string_view name_or_path, const fs::path& profiles_dir) {
    const std::vector<Layer> chain = read_chain(resolve(name_or_path, profiles_dir));
    json merged = chain.back().document;
    for (auto layer = std::next(chain.rbegin()); layer != chain.rend(); ++layer) {
        merged = merge_profiles(merged, layer->document);
    }
    return merged;
}

Profile load_profile(std::string_view name_or_path, const fs::path& profiles_dir) {
    const fs::path leaf = resolve(name_or_path, profiles_dir);
    return profile_from_json(load_merged_profile(name_or_path, profiles_dir), leaf.stem().string(),
                             leaf);
}

}  // namespace ccjail
