#include "security_harness.hpp"

#include <algorithm>
#include <sstream>

namespace ccjail::sectest {
namespace {

constexpr std::uint32_t kWindow = 1U << 20;

std::string trimmed(const std::string& text, std::size_t limit = 2000) {
    if (text.size() <= limit) {
        return text;
    }
    std::string shown = text.substr(0, limit);
    shown.append("... (").append(std::to_string(text.size())).append(" bytes)");
    return shown;
}

json spawn_request(const std::vector<std::string>& argv, const AttackOptions& options) {
    json body = spawn_body(options.profile, options.user, argv, options.mode);
    for (const auto& [key, value] : options.extra.items()) {
        body[key] = value;
    }
    return body;
}

}  // namespace

std::string probe(const std::string& name) {
    std::string path = "/probe/";
    path.append(name);
    return path;
}

std::string result_field(const std::string& out, const std::string& name) {
    const auto line = out.find("RESULT ");
    if (line == std::string::npos) {
        return "";
    }
    const std::string text = out.substr(line, out.find('\n', line) - line);
    const auto at = text.find(" " + name + "=");
    if (at == std::string::npos) {
        return "";
    }
    const auto begin = at + name.size() + 2;
    const auto end = text.find_first_of(" \r", begin);
    return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

std::map<std::string, std::string> labelled_results(const std::string& out) {
    std::map<std::string, std::string> found;
    std::istringstream lines(out);
    std::string line;
    while (std::getline(lines, line)) {
        const auto at = line.find(" RESULT ");
        if (at != std::string::npos) {
            found[line.substr(0, at)] = line.substr(at + 8);
        }
    }
    return found;
}

std::string Attack::describe() const {
    std::string text = "status=";
    text.append(status())
        .append(" exit_code=")
        .append(std::to_string(exit_code()))
        .append(" signal=")
        .append(std::to_string(signal()))
        .append("\n--- stdout\n")
        .append(trimmed(out))
        .append("\n--- stderr\n")
        .append(trimmed(err));
    return text;
}

Attack SecurityTest::run_attack(const std::vector<std::string>& argv,
                                const AttackOptions& options) {
    auto client = daemon().connect("security-tests");
    Reader reader(client);
    const auto spawned = spawn(client, reader, spawn_request(argv, options), kWindow);
    if (!options.stdin_data.empty()) {
        client.send_input(spawned.channel, options.stdin_data);
    }
    if (options.mode == "pipe") {
        client.send_eof(spawned.channel);
    }
    Attack attack;
    attack.session = spawned.session;
    attack.channel = spawned.channel;
    attack.pid = spawned.pid;
    attack.ended = reader.until_exit(spawned.channel, options.timeout);
    if (!attack.ended) {
        try {
            client.request({{"op", "kill"}, {"session", spawned.session}, {"grace_ms", 0}}, 10s);
            reader.until_exit(spawned.channel, 20s);
        } catch (const std::exception&) {
            // The session may have ended meanwhile; the test fails on `ended` anyway.
        }
    }
    const auto& state = reader.channel(spawned.channel);
    attack.out = state.out;
    attack.err = state.err;
    attack.report = state.exit_report;
    return attack;
}

Attack SecurityTest::run_shell(const std::string& script, const AttackOptions& options) {
    return run_attack({"/bin/bash", "-c", script}, options);
}

SecurityTest::Running SecurityTest::start_attack(const std::vector<std::string>& argv,
                                                 const AttackOptions& options) {
    Running running;
    running.client = std::make_unique<client::Client>(daemon().connect("security-tests"));
    running.reader = std::make_unique<Reader>(*running.client);
    running.spawned =
        spawn(*running.client, *running.reader, spawn_request(argv, options), kWindow);
    if (!options.stdin_data.empty()) {
        running.client->send_input(running.spawned.channel, options.stdin_data);
    }
    return running;
}

bool SecurityTest::Running::wait_for_output(const std::string& text,
                                            std::chrono::milliseconds timeout) {
    return reader->until_out_contains(spawned.channel, text, timeout);
}

json SecurityTest::Running::kill_and_wait(std::chrono::milliseconds timeout) {
    if (!state().has_event("exit")) {
        try {
            client->request({{"op", "kill"}, {"session", spawned.session}, {"grace_ms", 0}}, 10s);
        } catch (const client::ClientError&) {
            // Already ended (not_found): the exit event is what counts.
        }
        reader->until_exit(spawned.channel, timeout);
    }
    return state().exit_report;
}

}  // namespace ccjail::sectest
