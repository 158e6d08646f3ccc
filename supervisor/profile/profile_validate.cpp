// Turns a profile document into a Profile, refusing anything docs/profiles.md does not allow.
// The same reader serves two passes: each file on its own (so a bad value is blamed on the file
// that holds it) and the merged chain (for the rules that span fields a base and a child may
// each supply half of).

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/text.hpp"
#include "egress/address_policy.hpp"
#include "egress/allow_rule.hpp"
#include "profile/network_environment.hpp"
#include "profile/profile_check.hpp"

#include "profile/profile_loader.hpp"

namespace ccjail {
namespace {

using json = nlohmann::json;
using Pointer = json::json_pointer;

constexpr std::uint64_t KiB = 1024;
constexpr std::uint64_t MiB = 1024 * KiB;
constexpr std::uint64_t kSecond = 1000;
constexpr std::uint64_t kDay = 24 * 3600 * kSecond;
// (uid_t)-1 means "leave unchanged" to setresuid, so it can never be a jail's id.
constexpr std::uint64_t kMaxId = 4294967294ull;
// The kernel's MAX_ARG_STRLEN: execve refuses any single longer argument.
constexpr std::uint64_t kMaxArgStrlen = 32 * 4096;
constexpr std::size_t kPathMax = 4095;

enum class Pass { single_file, merged };

std::string describe(const json& value) {
    std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
    if (text.size() > 60) {
        text.replace(57, std::string::npos, "...");
    }
    return text;
}

std::string in_quotes(std::string_view text) {
    return describe(json(std::string(text)));
}

bool is_env_name(std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
    });
}

bool all_of_chars(std::string_view text, std::string_view allowed_extra) {
    return std::all_of(text.begin(), text.end(), [&](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isdigit(u) || (std::islower(u) && u < 0x80) ||
               allowed_extra.find(c) != std::string_view::npos;
    });
}

// A path is compared as text all over the jail builder (duplicate targets, "inside /proc"), so
// only one spelling of each path is accepted.
std::optional<std::string> path_problem(std::string_view path) {
    if (path.empty()) {
        return "expected an absolute path, got \"\"";
    }
    if (path.front() != '/') {
        return "expected an absolute path, got " + in_quotes(path);
    }
    if (has_control_character(path)) {
        return "path contains a NUL or control character: " + in_quotes(path);
    }
    if (path.size() > kPathMax) {
        return "path longer than 4095 bytes";
    }
    if (path == "/") {
        return "must not be \"/\"";
    }
    std::size_t start = 1;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part = path.substr(start, end - start);
        if (part.empty()) {
            return "path is not normalized (empty component, \"//\" or a trailing \"/\"): " +
                   in_quotes(path);
        }
        if (part == "." || part == "..") {
            return "path is not normalized (\".\" or \"..\" component): " + in_quotes(path);
        }
        start = end + 1;
    }
    return std::nullopt;
}

bool is_inside(std::string_view path, std::string_view dir) {
    return path.size() > dir.size() && path.substr(0, dir.size()) == dir && path[dir.size()] == '/';
}

bool is_at_or_inside(std::string_view path, std::string_view dir) {
    return path == dir || is_inside(path, dir);
}

std::string to_text(const Pointer& at) {
    return at.to_string();
}

// The fields of one JSON object, with every key not in `known` refused up front.
class Fields {
  public:
    Fields(const json& object, Pointer at) : object_(object), at_(std::move(at)) {}

    // nullptr when the key is absent or null: both mean "the default".
    const json* get(std::string_view key) const {
        const auto it = object_.find(std::string(key));
        if (it == object_.end() || it->is_null()) {
            return nullptr;
        }
        return &*it;
    }
    bool is_null(std::string_view key) const {
        const auto it = object_.find(std::string(key));
        return it != object_.end() && it->is_null();
    }
    bool has(std::string_view key) const { return object_.contains(std::string(key)); }
    Pointer at(std::string_view key) const { return at_ / std::string(key); }

  private:
    const json& object_;
    Pointer at_;
};

class Reader {
  public:
    Reader(std::string file, Pass pass) : file_(std::move(file)), pass_(pass) {}

    Profile read(const json& document, const std::string& name) {
        Profile profile;
        profile.name = name;
        const Fields root =
            object(document, Pointer(),
                   {"extends", "description", "command", "environment", "filesystem", "identity",
                    "limits", "seccomp", "output", "network", "hostname"});
        read_extends(root);
        if (const json* v = root.get("description")) {
            profile.description = text(*v, root.at("description"));
        }
        if (const json* v = root.get("command")) {
            read_command(*v, root.at("command"), profile.command);
        }
        if (const json* v = root.get("environment")) {
            read_environment(*v, root.at("environment"), profile.environment);
        }
        if (const json* v = root.get("filesystem")) {
            read_filesystem(*v, root.at("filesystem"), profile.filesystem);
        }
        if (const json* v = root.get("identity")) {
            read_identity(*v, root.at("identity"), profile.identity);
        }
        if (const json* v = root.get("limits")) {
            read_limits(*v, root.at("limits"), profile.limits);
        }
        if (const json* v = root.get("seccomp")) {
            read_seccomp(*v, root.at("seccomp"), profile.seccomp);
        }
        if (const json* v = root.get("output")) {
            read_output(*v, root.at("output"), profile.output);
        }
        if (const json* v = root.get("network")) {
            read_network(*v, root.at("network"), profile.network);
        }
        if (const json* v = root.get("hostname")) {
            profile.hostname = hostname(*v, root.at("hostname"));
        }
        if (pass_ == Pass::merged) {
            check_command(profile.command);
            check_environment(profile.environment);
            check_filesystem(profile.filesystem);
            check_output(profile.output);
            check_network(profile);
            derive_environment(profile);
        }
        return profile;
    }

  private:
    [[noreturn]] void fail(const Pointer& at, const std::string& problem) const {
        const std::string where = to_text(at);
        throw ProfileError(file_ + ": " + (where.empty() ? "" : where + ": ") + problem);
    }

    [[noreturn]] void expected(const Pointer& at, std::string_view what, const json& got) const {
        fail(at, "expected " + std::string(what) + ", got " + describe(got));
    }

    // ---- generic values -----------------------------------------------------------------

    Fields object(const json& v, const Pointer& at,
                  std::initializer_list<std::string_view> known) const {
        if (!v.is_object()) {
            expected(at, "an object", v);
        }
        for (const auto& [key, value] : v.items()) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                std::string list;
                for (std::string_view k : known) {
                    list += (list.empty() ? "" : ", ") + std::string(k);
                }
                fail(at / key, "unknown key " + in_quotes(key) + " (allowed here: " + list + ")");
            }
        }
        return Fields(v, at);
    }

    const json& array(const json& v, const Pointer& at) const {
        if (!v.is_array()) {
            expected(at, "an array", v);
        }
        return v;
    }

    std::string text(const json& v, const Pointer& at) const {
        if (!v.is_string()) {
            expected(at, "a string", v);
        }
        const auto& s = v.get_ref<const std::string&>();
        if (s.find('\0') != std::string::npos) {
            fail(at, "string contains a NUL character");
        }
        return s;
    }

    std::string plain_text(const json& v, const Pointer& at) const {
        std::string s = text(v, at);
        if (has_control_character(s)) {
            fail(at, "string contains a control character: " + describe(v));
        }
        return s;
    }

    bool boolean(const json& v, const Pointer& at) const {
        if (!v.is_boolean()) {
            expected(at, "true or false", v);
        }
        return v.get<bool>();
    }

    std::uint64_t integer(const json& v, const Pointer& at, std::uint64_t min,
                          std::uint64_t max) const {
        if (!v.is_number_integer()) {
            expected(at, "an integer", v);
        }
        if (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0) {
            fail(at, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", got " + describe(v));
        }
        const auto value = v.get<std::uint64_t>();
        if (value < min || value > max) {
            fail(at, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                         ", got " + describe(v));
        }
        return value;
    }

    // Sizes: "512M" or a plain number of bytes.
    std::uint64_t size(const json& v, const Pointer& at, std::uint64_t min,
                       std::string_view min_text, std::uint64_t max = UINT64_MAX,
                       std::string_view max_text = {}) const {
        std::uint64_t value = 0;
        if (v.is_number_unsigned()) {
            value = v.get<std::uint64_t>();
        } else if (v.is_string()) {
            try {
                value = parse_size(v.get<std::string>());
            } catch (const std::invalid_argument& e) {
                fail(at,
                     "expected a size like \"512M\", got " + describe(v) + " (" + e.what() + ")");
            }
        } else {
            expected(at, "a size like \"512M\"", v);
        }
        if (value < min) {
            fail(at, "must be at least " + std::string(min_text) + ", got " + describe(v));
        }
        if (value > max) {
            fail(at, "must be at most " + std::string(max_text) + ", got " + describe(v));
        }
        return value;
    }

    // Durations: "30s", "15m", or a plain number of seconds.
    std::uint64_t duration(const json& v, const Pointer& at, std::uint64_t min_ms,
                           std::string_view min_text) const {
        std::uint64_t value = 0;
        if (v.is_number_unsigned()) {
            if (v.get<std::uint64_t>() > 365 * kDay / kSecond) {
                fail(at, "must be at most 365d, got " + describe(v));
            }
            value = v.get<std::uint64_t>() * kSecond;
        } else if (v.is_string()) {
            try {
                value = parse_duration_ms(v.get<std::string>());
            } catch (const std::invalid_argument& e) {
                fail(at, "expected a duration like \"30s\", got " + describe(v) + " (" + e.what() +
                             ")");
            }
        } else {
            expected(at, "a duration like \"30s\"", v);
        }
        if (value < min_ms) {
            fail(at, "must be at least " + std::string(min_text) + ", got " + describe(v));
        }
        if (value > 365 * kDay) {
            fail(at, "must be at most 365d, got " + describe(v));
        }
        return value;
    }

    std::string path(const json& v, const Pointer& at) const {
        if (!v.is_string()) {
            expected(at, "an absolute path", v);
        }
        std::string p = v.get<std::string>();
        if (auto problem = path_problem(p)) {
            fail(at, *problem);
        }
        return p;
    }

    // "0644", "1777": permission bits as an octal string, never a JSON number (644 would be
    // read as decimal).
    std::uint32_t mode(const json& v, const Pointer& at, std::uint32_t max) const {
        if (!v.is_string()) {
            expected(at, "an octal mode string like \"0644\"", v);
        }
        const auto& s = v.get_ref<const std::string&>();
        const bool octal =
            !s.empty() && s.size() <= 4 &&
            std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '7'; });
        if (!octal) {
            expected(at, "an octal mode string like \"0644\"", v);
        }
        const auto value = static_cast<std::uint32_t>(std::stoul(s, nullptr, 8));
        if ((value & ~max) != 0) {
            fail(at, "mode " + describe(v) + " has bits outside 0" + octal_text(max));
        }
        return value;
    }

    static std::string octal_text(std::uint32_t value) {
        std::string out;
        do {
            out.insert(out.begin(), static_cast<char>('0' + (value & 7)));
            value >>= 3;
        } while (value != 0);
        return out;
    }

    std::string env_name(const std::string& name, const Pointer& at) const {
        if (!is_env_name(name)) {
            fail(at, "invalid environment variable name " + in_quotes(name) +
                         " (expected [A-Za-z_][A-Za-z0-9_]*)");
        }
        if (name == "PATH") {
            fail(at, "PATH is set by /environment/path, not here");
        }
        if (name == "HOME") {
            fail(at,
                 "HOME follows /filesystem/home (or the workspace when there is no home), "
                 "not set here");
        }
        return name;
    }

    // ---- sections -----------------------------------------------------------------------

    void read_extends(const Fields& root) const {
        if (!root.has("extends")) {
            return;
        }
        if (pass_ == Pass::merged) {
            fail(root.at("extends"),
                 "\"extends\" is resolved by load_profile; a merged "
                 "document cannot hold it");
        }
        const json* v = root.get("extends");
        if (v == nullptr) {
            return;
        }
        const std::string base = text(*v, root.at("extends"));
        if (base.empty() || base[0] == '.' ||
            !all_of_chars(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZ._-")) {
            fail(root.at("extends"),
                 "expected a profile name (letters, digits, \".\", \"_\", "
                 "\"-\"; not starting with \".\"), got " +
                     describe(*v));
        }
    }

    void read_command(const json& v, const Pointer& at, CommandPolicy& out) const {
        const Fields f = object(v, at,
                                {"executable", "sha256", "argv_prefix", "allowed_flags", "max_args",
                                 "max_arg_bytes", "max_total_bytes", "allow_multiline"});
        if (f.is_null("executable")) {
            out.executable.reset();
        } else if (const json* e = f.get("executable")) {
            out.executable = path(*e, f.at("executable"));
        }
        if (f.is_null("sha256")) {
            out.sha256.reset();
        } else if (const json* s = f.get("sha256")) {
            out.sha256 = sha256(*s, f.at("sha256"));
        }
        if (const json* a = f.get("argv_prefix")) {
            out.argv_prefix.clear();
            for (std::size_t i = 0; i < array(*a, f.at("argv_prefix")).size(); ++i) {
                out.argv_prefix.push_back(plain_text((*a)[i], f.at("argv_prefix") / i));
            }
            if (!out.argv_prefix.empty() && out.argv_prefix[0].empty()) {
                fail(f.at("argv_prefix") / 0, "argv[0] must not be empty");
            }
        }
        if (f.is_null("allowed_flags")) {
            out.allowed_flags.reset();
        } else if (const json* a = f.get("allowed_flags")) {
            std::vector<std::string> flags;
            for (std::size_t i = 0; i < array(*a, f.at("allowed_flags")).size(); ++i) {
                flags.push_back(flag((*a)[i], f.at("allowed_flags") / i));
            }
            out.allowed_flags = std::move(flags);
        }
        if (const json* n = f.get("max_args")) {
            out.max_args = integer(*n, f.at("max_args"), 0, 65536);
        }
        if (const json* n = f.get("max_arg_bytes")) {
            out.max_arg_bytes = size(*n, f.at("max_arg_bytes"), 1, "1", kMaxArgStrlen, "128K");
        }
        if (const json* n = f.get("max_total_bytes")) {
            out.max_total_bytes = size(*n, f.at("max_total_bytes"), 1, "1", 16 * MiB, "16M");
        }
        if (const json* b = f.get("allow_multiline")) {
            out.allow_multiline = boolean(*b, f.at("allow_multiline"));
        }
    }

    std::string sha256(const json& v, const Pointer& at) const {
        if (!v.is_string()) {
            expected(at, "64 lowercase hex digits", v);
        }
        const auto& s = v.get_ref<const std::string&>();
        const bool hex = s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
                             return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                         });
        if (!hex) {
            expected(at, "64 lowercase hex digits", v);
        }
        return s;
    }

    // "-x" or "--long-name": the argv policy compares flags by these spellings.
    std::string flag(const json& v, const Pointer& at) const {
        std::string s = plain_text(v, at);
        const std::size_t dashes = s.rfind("--", 0) == 0 ? 2 : (s.rfind('-', 0) == 0 ? 1 : 0);
        const std::string_view name = std::string_view(s).substr(dashes);
        const bool ok = dashes > 0 && !name.empty() &&
                        std::isalnum(static_cast<unsigned char>(name[0])) &&
                        std::all_of(name.begin(), name.end(), [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                   c == '_' || c == '.';
                        });
        if (!ok) {
            expected(at, "a flag like \"-p\" or \"--print\"", v);
        }
        return s;
    }

    void read_environment(const json& v, const Pointer& at, EnvironmentPolicy& out) const {
        const Fields f = object(v, at, {"path", "set", "pass", "secrets"});
        if (const json* p = f.get("path")) {
            out.path = search_path(*p, f.at("path"));
        }
        if (const json* s = f.get("set")) {
            if (!s->is_object()) {
                expected(f.at("set"), "an object of NAME: value", *s);
            }
            for (const auto& [name, value] : s->items()) {
                const Pointer entry = f.at("set") / name;
                env_name(name, entry);
                if (value.is_null()) {
                    out.set.erase(name);
                    continue;
                }
                out.set[name] = text(value, entry);
            }
        }
        if (const json* p = f.get("pass")) {
            out.pass.clear();
            for (std::size_t i = 0; i < array(*p, f.at("pass")).size(); ++i) {
                const json& item = (*p)[i];
                if (!item.is_string()) {
                    expected(f.at("pass") / i, "an environment variable name", item);
                }
                const std::string name = env_name(item.get<std::string>(), f.at("pass") / i);
                if (std::find(out.pass.begin(), out.pass.end(), name) == out.pass.end()) {
                    out.pass.push_back(name);
                }
            }
        }
        if (const json* s = f.get("secrets")) {
            if (!s->is_object()) {
                expected(f.at("secrets"), "an object of NAME: \"/path/to/secret\"", *s);
            }
            out.secrets.clear();
            for (const auto& [name, value] : s->items()) {
                const Pointer entry = f.at("secrets") / name;
                env_name(name, entry);
                if (!value.is_null()) {
                    out.secrets.push_back({name, path(value, entry)});
                }
            }
        }
    }

    // An empty entry in PATH means the current directory: a workspace file named like a
    // command would then run instead of the real one.
    std::string search_path(const json& v, const Pointer& at) const {
        std::string s = text(v, at);
        std::size_t start = 0;
        for (std::size_t index = 0;; ++index) {
            const std::size_t end = std::min(s.find(':', start), s.size());
            const std::string entry = s.substr(start, end - start);
            if (entry.empty()) {
                fail(at, "entry " + std::to_string(index) +
                             " is empty (an empty PATH entry means the current directory)");
            }
            if (auto problem = path_problem(entry)) {
                fail(at, "entry " + std::to_string(index) + ": " + *problem);
            }
            if (end == s.size()) {
                break;
            }
            start = end + 1;
        }
        return s;
    }

    void read_filesystem(const json& v, const Pointer& at, FilesystemPolicy& out) const {
        const Fields f = object(v, at,
                                {"root_size", "binds", "tmpfs", "files", "symlinks", "workspace",
                                 "home", "home_seed", "dev_shm_size", "synthesize_etc"});
        if (const json* s = f.get("root_size")) {
            out.root_size_bytes = size(*s, f.at("root_size"), MiB, "1M");
        }
        if (const json* list = f.get("binds")) {
            out.binds.clear();
            for_each_entry(*list, f.at("binds"), [&](const json& e, const Pointer& p) {
                out.binds.push_back(bind(e, p));
            });
            unique_targets(out.binds, f.at("binds"));
        }
        if (const json* list = f.get("tmpfs")) {
            out.tmpfs.clear();
            for_each_entry(*list, f.at("tmpfs"), [&](const json& e, const Pointer& p) {
                out.tmpfs.push_back(tmpfs(e, p));
            });
            unique_targets(out.tmpfs, f.at("tmpfs"));
        }
        if (const json* list = f.get("files")) {
            out.files.clear();
            for_each_entry(*list, f.at("files"), [&](const json& e, const Pointer& p) {
                out.files.push_back(file(e, p));
            });
            unique_targets(out.files, f.at("files"));
        }
        if (const json* list = f.get("symlinks")) {
            out.symlinks.clear();
            for_each_entry(*list, f.at("symlinks"), [&](const json& e, const Pointer& p) {
                out.symlinks.push_back(symlink(e, p));
            });
            unique_targets(out.symlinks, f.at("symlinks"));
        }
        if (const json* w = f.get("workspace")) {
            out.workspace = path(*w, f.at("workspace"));
        }
        if (f.is_null("home")) {
            out.home.reset();
        } else if (const json* h = f.get("home")) {
            out.home = path(*h, f.at("home"));
        }
        if (const json* list = f.get("home_seed")) {
            out.home_seed.clear();
            for_each_entry(*list, f.at("home_seed"), [&](const json& e, const Pointer& p) {
                out.home_seed.push_back(home_seed_file(e, p));
            });
            unique_paths(out.home_seed, f.at("home_seed"));
        }
        if (const json* s = f.get("dev_shm_size")) {
            out.dev_shm_size_bytes = tmpfs_size(*s, f.at("dev_shm_size"));
        }
        if (const json* b = f.get("synthesize_etc")) {
            out.synthesize_etc = boolean(*b, f.at("synthesize_etc"));
        }
    }

    template <typename Fn>
    void for_each_entry(const json& list, const Pointer& at, Fn fn) const {
        for (std::size_t i = 0; i < array(list, at).size(); ++i) {
            fn(list[i], at / i);
        }
    }

    template <typename Entry>
    void unique_targets(const std::vector<Entry>& entries, const Pointer& at) const {
        std::set<std::string> seen;
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (!seen.insert(entries[i].target).second) {
                fail(at / i / "target",
                     "target " + in_quotes(entries[i].target) + " is listed twice");
            }
        }
    }

    // tmpfs reads size=0 as "no limit", so a zero here would lift the cap instead of closing it.
    std::uint64_t tmpfs_size(const json& v, const Pointer& at) const {
        return size(v, at, 4 * KiB, "4K (0 would mean unlimited to tmpfs)");
    }

    BindMount bind(const json& v, const Pointer& at) const {
        const Fields f = object(v, at, {"source", "target", "writable", "optional"});
        BindMount out;
        const json* source = f.get("source");
        if (source == nullptr) {
            fail(f.at("source"), "missing (every bind needs a host source path)");
        }
        out.source = path(*source, f.at("source"));
        out.target = out.source;
        if (const json* t = f.get("target")) {
            out.target = path(*t, f.at("target"));
        }
        if (const json* w = f.get("writable")) {
            out.writable = boolean(*w, f.at("writable"));
        }
        if (const json* o = f.get("optional")) {
            out.optional = boolean(*o, f.at("optional"));
        }
        return out;
    }

    TmpfsMount tmpfs(const json& v, const Pointer& at) const {
        const Fields f = object(v, at, {"target", "size", "mode"});
        TmpfsMount out;
        out.target = required_path(f, "target");
        if (const json* s = f.get("size")) {
            out.size_bytes = tmpfs_size(*s, f.at("size"));
        }
        if (const json* m = f.get("mode")) {
            out.mode = mode(*m, f.at("mode"), 01777);
        }
        return out;
    }

    // No set-id bits: the engine creates these files as root.
    SynthFile file(const json& v, const Pointer& at) const {
        const Fields f = object(v, at, {"target", "content", "mode"});
        SynthFile out;
        out.target = required_path(f, "target");
        if (const json* c = f.get("content")) {
            out.content = text(*c, f.at("content"));
        }
        if (const json* m = f.get("mode")) {
            out.mode = mode(*m, f.at("mode"), 0777);
        }
        return out;
    }

    HomeSeedFile home_seed_file(const json& v, const Pointer& at) const {
        const Fields f = object(v, at, {"path", "content", "mode"});
        HomeSeedFile out;
        const json* p = f.get("path");
        if (p == nullptr) {
            fail(f.at("path"), "missing (a path relative to the home)");
        }
        out.path = plain_text(*p, f.at("path"));
        if (!relative_below(out.path)) {
            fail(f.at("path"),
                 "must be a relative path below the home without \".\", \"..\" "
                 "or empty components, got " +
                     describe(*p));
        }
        if (const json* c = f.get("content")) {
            out.content = text(*c, f.at("content"));
        }
        if (const json* m = f.get("mode")) {
            out.mode = mode(*m, f.at("mode"), 0777);
        }
        return out;
    }

    static bool relative_below(std::string_view path) {
        if (path.empty() || path.front() == '/' || path.size() > 255) {
            return false;
        }
        std::size_t start = 0;
        while (start <= path.size()) {
            const std::size_t end = std::min(path.find('/', start), path.size());
            const std::string_view part = path.substr(start, end - start);
            if (part.empty() || part == "." || part == "..") {
                return false;
            }
            start = end + 1;
        }
        return true;
    }

    void unique_paths(const std::vector<HomeSeedFile>& files, const Pointer& at) const {
        for (std::size_t i = 0; i < files.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                if (files[i].path == files[j].path) {
                    fail(at, "path \"" + files[i].path + "\" is listed twice");
                }
            }
        }
    }

    Symlink symlink(const json& v, const Pointer& at) const {
        const Fields f = object(v, at, {"target", "to"});
        Symlink out;
        out.target = required_path(f, "target");
        const json* to = f.get("to");
        if (to == nullptr) {
            fail(f.at("to"), "missing (what the link points to)");
        }
        out.to = plain_text(*to, f.at("to"));
        if (out.to.empty()) {
            fail(f.at("to"), "must not be empty");
        }
        return out;
    }

    std::string required_path(const Fields& f, std::string_view key) const {
        const json* v = f.get(key);
        if (v == nullptr) {
            fail(f.at(key), "missing (an absolute path in the jail)");
        }
        return path(*v, f.at(key));
    }

    void read_identity(const json& v, const Pointer& at, IdentityPolicy& out) const {
        const Fields f = object(v, at, {"uid", "gid", "uid_range", "user_name"});
        const json* range = f.get("uid_range");
        if (range != nullptr && (f.get("uid") != nullptr || f.get("gid") != nullptr)) {
            fail(f.at("uid_range"),
                 "cannot be combined with \"uid\"/\"gid\" (a per-user range "
                 "gives each user its own uid, and a gid equal to it)");
        }
        if (const json* uid = f.get("uid")) {
            out.mode = IdentityPolicy::Mode::fixed;
            out.uid = id(*uid, f.at("uid"));
            out.gid = out.uid;
        }
        if (const json* gid = f.get("gid")) {
            out.mode = IdentityPolicy::Mode::fixed;
            out.gid = id(*gid, f.at("gid"));
        }
        if (range != nullptr) {
            read_uid_range(*range, f.at("uid_range"), out);
        }
        if (const json* n = f.get("user_name")) {
            out.user_name = user_name(*n, f.at("user_name"));
        }
    }

    std::uint32_t id(const json& v, const Pointer& at) const {
        if (v.is_number_integer() && v.get<std::int64_t>() == 0) {
            fail(at, "must not be 0: a jail never runs as root");
        }
        return static_cast<std::uint32_t>(integer(v, at, 1, kMaxId));
    }

    void read_uid_range(const json& v, const Pointer& at, IdentityPolicy& out) const {
        const Fields f = object(v, at, {"first", "count"});
        const json* first = f.get("first");
        const json* count = f.get("count");
        if (first == nullptr) {
            fail(f.at("first"), "missing (the first uid of the range)");
        }
        if (count == nullptr) {
            fail(f.at("count"), "missing (how many uids the range holds)");
        }
        out.mode = IdentityPolicy::Mode::per_user;
        out.range_first = id(*first, f.at("first"));
        out.range_count = static_cast<std::uint32_t>(integer(*count, f.at("count"), 1, kMaxId));
        if (std::uint64_t{out.range_first} + out.range_count - 1 > kMaxId) {
            fail(f.at("count"), "range " + std::to_string(out.range_first) + " + " +
                                    std::to_string(out.range_count) + " goes past uid " +
                                    std::to_string(kMaxId));
        }
    }

    // It becomes a line of the synthesized /etc/passwd: a ':' or newline would forge entries.
    std::string user_name(const json& v, const Pointer& at) const {
        if (!v.is_string()) {
            expected(at, "a user name", v);
        }
        const auto& s = v.get_ref<const std::string&>();
        const bool ok = !s.empty() && s.size() <= 32 &&
                        (s[0] == '_' || std::islower(static_cast<unsigned char>(s[0]))) &&
                        all_of_chars(s, "_-");
        if (!ok) {
            expected(at, "a user name matching [a-z_][a-z0-9_-]{0,31}", v);
        }
        return s;
    }

    void read_limits(const json& v, const Pointer& at, Limits& out) const {
        const Fields f =
            object(v, at,
                   {"memory", "swap", "cpus", "pids", "nofile", "file_size", "wall_time",
                    "cpu_time", "tmp_size", "output_rate", "output_burst", "output_total"});
        if (const json* x = f.get("memory")) {
            out.memory_bytes = size(*x, f.at("memory"), 4 * MiB, "4M");
        }
        if (const json* x = f.get("swap")) {
            out.swap_bytes = size(*x, f.at("swap"), 0, "0");
        }
        if (const json* x = f.get("cpus")) {
            out.cpus = cpus(*x, f.at("cpus"));
        }
        if (const json* x = f.get("pids")) {
            out.pids = static_cast<std::uint32_t>(integer(*x, f.at("pids"), 2, 4194304));
        }
        if (const json* x = f.get("nofile")) {
            out.nofile = integer(*x, f.at("nofile"), 16, 1048576);
        }
        if (const json* x = f.get("file_size")) {
            out.file_size_bytes = size(*x, f.at("file_size"), MiB, "1M");
        }
        if (const json* x = f.get("wall_time")) {
            out.wall_time_ms = duration(*x, f.at("wall_time"), kSecond, "1s");
        }
        if (const json* x = f.get("cpu_time")) {
            out.cpu_time_ms = duration(*x, f.at("cpu_time"), kSecond, "1s");
        }
        if (const json* x = f.get("tmp_size")) {
            out.tmp_size_bytes = tmpfs_size(*x, f.at("tmp_size"));
        }
        if (const json* x = f.get("output_rate")) {
            out.output_rate_bytes = size(*x, f.at("output_rate"), KiB, "1K");
        }
        if (const json* x = f.get("output_burst")) {
            out.output_burst_bytes = size(*x, f.at("output_burst"), 4 * KiB, "4K");
        }
        if (const json* x = f.get("output_total")) {
            out.output_total_bytes = size(*x, f.at("output_total"), KiB, "1K");
        }
    }

    // cfs_quota_us has a 1 ms floor per 100 ms period, so 0.01 cores is the smallest limit.
    double cpus(const json& v, const Pointer& at) const {
        if (!v.is_number()) {
            expected(at, "a number of cores like 1.5", v);
        }
        const double value = v.get<double>();
        if (!(value >= 0.01 && value <= 1024.0)) {
            fail(at, "must be between 0.01 and 1024 cores, got " + describe(v));
        }
        return value;
    }

    void read_seccomp(const json& v, const Pointer& at, SeccompPolicy& out) const {
        const Fields f = object(v, at, {"allow", "deny", "allow_ptrace", "allow_netlink"});
        if (const json* a = f.get("allow")) {
            out.allow = syscalls(*a, f.at("allow"));
        }
        if (const json* d = f.get("deny")) {
            out.deny = syscalls(*d, f.at("deny"));
        }
        for (std::size_t i = 0; i < out.deny.size(); ++i) {
            if (std::find(out.allow.begin(), out.allow.end(), out.deny[i]) != out.allow.end()) {
                fail(f.at("deny") / i,
                     "syscall " + in_quotes(out.deny[i]) + " is both allowed and denied");
            }
        }
        if (const json* b = f.get("allow_ptrace")) {
            out.allow_ptrace = boolean(*b, f.at("allow_ptrace"));
        }
        if (const json* b = f.get("allow_netlink")) {
            out.allow_netlink = boolean(*b, f.at("allow_netlink"));
        }
    }

    std::vector<std::string> syscalls(const json& v, const Pointer& at) const {
        std::vector<std::string> out;
        for (std::size_t i = 0; i < array(v, at).size(); ++i) {
            const json& item = v[i];
            const bool ok = item.is_string() && !item.get_ref<const std::string&>().empty() &&
                            all_of_chars(item.get_ref<const std::string&>(), "_");
            if (!ok) {
                expected(at / i, "a syscall name matching [a-z0-9_]+", item);
            }
            if (std::find(out.begin(), out.end(), item.get<std::string>()) == out.end()) {
                out.push_back(item.get<std::string>());
            }
        }
        return out;
    }

    void read_output(const json& v, const Pointer& at, OutputPolicy& out) const {
        const Fields f =
            object(v, at,
                   {"ring_bytes", "pty_overflow", "pipe_overflow", "frames_per_sec", "frame_burst",
                    "input_rate_bytes", "input_burst_bytes", "max_input_frame_bytes"});
        if (const json* x = f.get("ring_bytes")) {
            out.ring_bytes = size(*x, f.at("ring_bytes"), 4 * KiB, "4K", 64 * MiB, "64M");
        }
        if (const json* x = f.get("pty_overflow")) {
            out.pty_overflow = overflow(*x, f.at("pty_overflow"));
        }
        if (const json* x = f.get("pipe_overflow")) {
            out.pipe_overflow = overflow(*x, f.at("pipe_overflow"));
        }
        if (const json* x = f.get("frames_per_sec")) {
            out.frames_per_sec = integer(*x, f.at("frames_per_sec"), 0, 1'000'000);
        }
        if (const json* x = f.get("frame_burst")) {
            out.frame_burst = integer(*x, f.at("frame_burst"), 1, 1'000'000);
        }
        if (const json* x = f.get("input_rate_bytes")) {
            out.input_rate_bytes = size(*x, f.at("input_rate_bytes"), KiB, "1K", 1024 * MiB, "1G");
        }
        if (const json* x = f.get("input_burst_bytes")) {
            out.input_burst_bytes = size(*x, f.at("input_burst_bytes"), KiB, "1K", 64 * MiB, "64M");
        }
        if (const json* x = f.get("max_input_frame_bytes")) {
            out.max_input_frame_bytes = size(*x, f.at("max_input_frame_bytes"), 1, "1", MiB, "1M");
        }
    }

    flow::OverflowPolicy overflow(const json& v, const Pointer& at) const {
        if (v.is_string()) {
            if (const auto policy = flow::overflow_policy_from_string(v.get<std::string>())) {
                return *policy;
            }
        }
        expected(at, "one of \"block\", \"drop_oldest\"", v);
    }

    NetworkMode network_mode(const json& v, const Pointer& at) const {
        for (NetworkMode mode :
             {NetworkMode::none, NetworkMode::host, NetworkMode::proxy, NetworkMode::gateway}) {
            if (v.is_string() && v.get_ref<const std::string&>() == to_string(mode)) {
                return mode;
            }
        }
        expected(at, "one of \"none\", \"host\", \"proxy\", \"gateway\"", v);
    }

    // "network": "proxy" is short for {"mode": "proxy"}.
    void read_network(const json& v, const Pointer& at, NetworkPolicy& out) const {
        if (v.is_string()) {
            out.mode = network_mode(v, at);
            return;
        }
        const Fields f = object(
            v, at,
            {"mode", "allow", "allow_addresses", "allow_ip_literals", "allow_plain_http",
             "proxy_port", "gateway_port", "max_connections", "connect_timeout", "idle_timeout"});
        if (const json* m = f.get("mode")) {
            out.mode = network_mode(*m, f.at("mode"));
        }
        if (const json* list = f.get("allow")) {
            out.allow.clear();
            for_each_entry(*list, f.at("allow"), [&](const json& e, const Pointer& p) {
                out.allow.push_back(allow_rule(e, p));
            });
        }
        if (const json* list = f.get("allow_addresses")) {
            out.allow_addresses.clear();
            for_each_entry(*list, f.at("allow_addresses"), [&](const json& e, const Pointer& p) {
                out.allow_addresses.push_back(exact_address(e, p));
            });
        }
        if (const json* b = f.get("allow_ip_literals")) {
            out.allow_ip_literals = boolean(*b, f.at("allow_ip_literals"));
        }
        if (const json* b = f.get("allow_plain_http")) {
            out.allow_plain_http = boolean(*b, f.at("allow_plain_http"));
        }
        if (const json* n = f.get("proxy_port")) {
            out.proxy_port = static_cast<std::uint16_t>(integer(*n, f.at("proxy_port"), 1, 65535));
        }
        if (const json* n = f.get("gateway_port")) {
            out.gateway_port =
                static_cast<std::uint16_t>(integer(*n, f.at("gateway_port"), 1, 65535));
        }
        if (const json* n = f.get("max_connections")) {
            out.max_connections =
                static_cast<std::uint32_t>(integer(*n, f.at("max_connections"), 1, 4096));
        }
        if (const json* d = f.get("connect_timeout")) {
            out.connect_timeout_ms = duration(*d, f.at("connect_timeout"), 100, "100ms");
        }
        if (const json* d = f.get("idle_timeout")) {
            out.idle_timeout_ms = duration(*d, f.at("idle_timeout"), 1000, "1s");
        }
    }

    AllowRule allow_rule(const json& v, const Pointer& at) const {
        if (!v.is_string()) {
            expected(at, "a \"host:port\" rule like \"registry.npmjs.org:443\"", v);
        }
        std::string error;
        auto rule = egress::parse_allow_rule(v.get_ref<const std::string&>(), error);
        if (!rule) {
            fail(at, error + " (in " + describe(v) + ")");
        }
        return *rule;
    }

    std::string exact_address(const json& v, const Pointer& at) const {
        if (!v.is_string()) {
            expected(at, "an IPv4 or IPv6 address like \"127.0.0.1\"", v);
        }
        std::string error;
        auto address = egress::canonicalize_address_entry(v.get_ref<const std::string&>(), error);
        if (!address) {
            fail(at, error + " (in " + describe(v) + ")");
        }
        return *address;
    }

    // RFC 1123: one label, letters, digits and inner hyphens, at most 63 bytes.
    std::string hostname(const json& v, const Pointer& at) const {
        const bool ok = v.is_string() && [&] {
            const auto& s = v.get_ref<const std::string&>();
            return !s.empty() && s.size() <= 63 && s.front() != '-' && s.back() != '-' &&
                   std::all_of(s.begin(), s.end(), [](char c) {
                       return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
                   });
        }();
        if (!ok) {
            expected(at, "a host name label (letters, digits, inner '-', at most 63)", v);
        }
        return v.get<std::string>();
    }

    // ---- rules over the merged document -------------------------------------------------

    void check_command(const CommandPolicy& c) const {
        if (c.sha256 && !c.executable) {
            fail(Pointer("/command/sha256"), "needs /command/executable: a hash pins one program");
        }
    }

    // A secret must reach the jail exactly as the file says: neither a fixed value nor a
    // request may shadow it.
    void check_environment(const EnvironmentPolicy& e) const {
        for (const SecretEnv& secret : e.secrets) {
            const Pointer at = Pointer("/environment/secrets") / secret.name;
            if (e.set.contains(secret.name)) {
                fail(at, secret.name + " is also in /environment/set");
            }
            if (std::find(e.pass.begin(), e.pass.end(), secret.name) != e.pass.end()) {
                fail(at, secret.name + " is also in /environment/pass: a request could replace it");
            }
        }
    }

    // The input bucket never holds more than its burst, so a daemon pacing whole IN frames could
    // never pay for a larger one: it would wait forever instead of failing.
    // The proxy and gateway variables are the daemon's to set: a request that could set them
    // would point the jail's clients elsewhere (and an empty NO_PROXY at the key-less gateway).
    void check_network(const Profile& p) const {
        const NetworkPolicy& n = p.network;
        if (n.mode != NetworkMode::proxy && n.mode != NetworkMode::gateway) {
            return;
        }
        if (n.mode == NetworkMode::gateway && n.proxy_port == n.gateway_port) {
            fail(Pointer("/network/gateway_port"),
                 "must differ from /network/proxy_port (" + std::to_string(n.proxy_port) + ")");
        }
        for (const auto& name : p.environment.pass) {
            if (is_network_variable(name)) {
                fail(Pointer("/environment/pass"), in_quotes(name) + " is set by network mode \"" +
                                                       std::string(to_string(n.mode)) +
                                                       "\" and cannot be passed by a request");
            }
        }
        // Secrets are injected after every fixed value, so one of these names would silently
        // replace the daemon's variable with the file's content.
        for (const SecretEnv& secret : p.environment.secrets) {
            if (is_network_variable(secret.name)) {
                fail(Pointer("/environment/secrets") / secret.name,
                     in_quotes(secret.name) + " is set by network mode \"" +
                         std::string(to_string(n.mode)) + "\" and cannot be a secret");
            }
        }
    }

    void check_output(const OutputPolicy& o) const {
        if (o.max_input_frame_bytes > o.input_burst_bytes) {
            fail(Pointer("/output/max_input_frame_bytes"),
                 std::to_string(o.max_input_frame_bytes) + " bytes is more than " +
                     "/output/input_burst_bytes (" + std::to_string(o.input_burst_bytes) +
                     " bytes), the input bucket's depth");
        }
    }

    enum class Kind { bind, tmpfs, file, symlink };

    struct Target {
        std::string path;
        Pointer at;
        Kind kind;
        bool mount() const { return kind == Kind::bind || kind == Kind::tmpfs; }
    };

    static std::vector<Target> targets(const FilesystemPolicy& fs) {
        std::vector<Target> out;
        const Pointer base("/filesystem");
        for (std::size_t i = 0; i < fs.binds.size(); ++i) {
            out.push_back({fs.binds[i].target, base / "binds" / i / "target", Kind::bind});
        }
        for (std::size_t i = 0; i < fs.tmpfs.size(); ++i) {
            out.push_back({fs.tmpfs[i].target, base / "tmpfs" / i / "target", Kind::tmpfs});
        }
        for (std::size_t i = 0; i < fs.files.size(); ++i) {
            out.push_back({fs.files[i].target, base / "files" / i / "target", Kind::file});
        }
        for (std::size_t i = 0; i < fs.symlinks.size(); ++i) {
            out.push_back({fs.symlinks[i].target, base / "symlinks" / i / "target", Kind::symlink});
        }
        return out;
    }

    void check_filesystem(const FilesystemPolicy& fs) const {
        const std::vector<Target> all = targets(fs);
        check_workspace_and_home(fs, all);
        std::set<std::string> seen;
        for (const Target& t : all) {
            if (!seen.insert(t.path).second) {
                fail(t.at, "target " + in_quotes(t.path) + " is used twice");
            }
            check_reserved(t);
            check_not_below_workspace_or_home(t, fs);
            // A listed file replaces the synthesized one; anything else there would be written
            // over by the synthesized content, through a bind onto the host.
            if (fs.synthesize_etc && t.kind != Kind::file && is_synthesized_etc(t.path)) {
                fail(t.at, in_quotes(t.path) +
                               " is synthesized (list it under /filesystem/files to "
                               "replace it, or set /filesystem/synthesize_etc to "
                               "false)");
            }
        }
        for (const Target& t : all) {
            check_not_below_non_directory(t, fs);
            if (!t.mount()) {
                check_not_written_into_bind(t, fs);
            }
        }
    }

    static bool is_synthesized_etc(std::string_view p) {
        return p == "/etc/passwd" || p == "/etc/group" || p == "/etc/hosts";
    }

    // The engine mounts /proc, /dev and /tmp itself.
    void check_reserved(const Target& t) const {
        for (std::string_view dir : {"/proc", "/dev"}) {
            if (is_at_or_inside(t.path, dir)) {
                fail(t.at, in_quotes(t.path) + " is inside " + std::string(dir) +
                               ", which the jail builds itself");
            }
        }
        if (t.path == "/tmp") {
            fail(t.at, "/tmp is mounted by the jail with /limits/tmp_size; do not list it");
        }
    }

    // Making a mount point or a file below the workspace or home would create it in the
    // user's directory on the host.
    void check_not_below_workspace_or_home(const Target& t, const FilesystemPolicy& fs) const {
        if (is_at_or_inside(t.path, fs.workspace)) {
            fail(t.at, in_quotes(t.path) + " is inside the workspace " + in_quotes(fs.workspace));
        }
        if (fs.home && is_at_or_inside(t.path, *fs.home)) {
            fail(t.at, in_quotes(t.path) + " is inside the home " + in_quotes(*fs.home));
        }
    }

    // The engine never creates a path through a symlink, and cannot below a file.
    void check_not_below_non_directory(const Target& t, const FilesystemPolicy& fs) const {
        for (const Symlink& link : fs.symlinks) {
            if (is_inside(t.path, link.target)) {
                fail(t.at, in_quotes(t.path) + " lies below the symlink " + in_quotes(link.target));
            }
        }
        for (const SynthFile& file : fs.files) {
            if (is_inside(t.path, file.target)) {
                fail(t.at, in_quotes(t.path) + " lies below the file " + in_quotes(file.target));
            }
        }
    }

    // A file or symlink made inside a bind would be made in the host directory it shows.
    void check_not_written_into_bind(const Target& t, const FilesystemPolicy& fs) const {
        for (const BindMount& b : fs.binds) {
            if (is_inside(t.path, b.target)) {
                fail(t.at, in_quotes(t.path) + " lies inside the bind " + in_quotes(b.target) +
                               " (it would be written to the host)");
            }
        }
    }

    void check_workspace_and_home(const FilesystemPolicy& fs,
                                  const std::vector<Target>& all) const {
        std::vector<std::pair<std::string, Pointer>> places{
            {fs.workspace, Pointer("/filesystem/workspace")}};
        if (fs.home) {
            places.emplace_back(*fs.home, Pointer("/filesystem/home"));
        }
        for (const auto& [place, at] : places) {
            for (std::string_view dir : {"/proc", "/dev"}) {
                if (is_at_or_inside(place, dir)) {
                    fail(at, in_quotes(place) + " is inside " + std::string(dir));
                }
            }
            if (place == "/tmp") {
                fail(at, "must not be /tmp, which the jail mounts itself");
            }
            for (const Target& t : all) {
                if (place == t.path) {
                    fail(at, in_quotes(place) + " is also the target of " + to_text(t.at));
                }
                if (is_inside(place, t.path) && !t.mount()) {
                    fail(at, in_quotes(place) + " lies below " + in_quotes(t.path) +
                                 ", which is not a directory the jail can mount on");
                }
            }
        }
        if (fs.home &&
            (is_at_or_inside(*fs.home, fs.workspace) || is_inside(fs.workspace, *fs.home))) {
            fail(Pointer("/filesystem/home"), "home " + in_quotes(*fs.home) + " and workspace " +
                                                  in_quotes(fs.workspace) +
                                                  " must not be equal or nested");
        }
    }

    // HOME is derived rather than written, so it can never disagree with the home mount.
    static void derive_environment(Profile& p) {
        p.environment.set["HOME"] = p.filesystem.home.value_or(p.filesystem.workspace);
        for (auto& [name, value] : network_environment(p.network)) {
            p.environment.set[name] = value;
        }
        p.environment.set.try_emplace("USER", p.identity.user_name);
        p.environment.set.try_emplace("LOGNAME", p.identity.user_name);
    }

    std::string file_;
    Pass pass_;
};

}  // namespace

Profile profile_from_json(const json& merged, const std::string& name,
                          const std::filesystem::path& file) {
    Profile profile = Reader(file.string(), Pass::merged).read(merged, name);
    profile.source = file;
    return profile;
}

namespace profile_detail {

Profile check_profile_file(const json& document, const std::string& name,
                           const std::filesystem::path& file) {
    return Reader(file.string(), Pass::single_file).read(document, name);
}

}  // namespace profile_detail
}  // namespace ccjail
