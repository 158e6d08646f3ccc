// ccjail-exec: runs one command in a jail built from a profile, with the caller's stdio, and
// stays as its monitor until the session ends. Exit code: the program's, 128+N for signal N,
// 125 when the jail could not be built (docs/architecture.md). With --daemon-fd it is instead
// one session's monitor for ccjaild, driven over the link on that fd (docs/link.md).
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "jail/monitor.hpp"
#include "jail/terminal_relay.hpp"
#include "link/monitor_service.hpp"
#include "profile/profile_loader.hpp"

namespace {

struct Options {
    std::string profile;
    std::string profiles_dir = "/etc/ccjail/profiles";
    std::string workspace;
    std::string user = "default";
    std::string cwd;
    std::vector<std::string> env;
    std::string status_json;
    std::string cgroup_parent;
    int kill_grace_ms = 5000;
    bool pty = false;
    int daemon_fd = -1;
    ccjail::HostConfig host;
    std::vector<std::string> argv;
};

void add_options(CLI::App& app, Options& o) {
    app.add_option("--profile", o.profile,
                   "profile name or path to a .json file (required unless --daemon-fd)");
    app.add_option("--profiles-dir", o.profiles_dir, "where profile names are looked up")
        ->capture_default_str();
    app.add_option(
        "--workspace", o.workspace,
        "the workspace directory, below the workspace root (default: <workspace-root>/<user>,\n"
        "created for the user on first use)");
    app.add_option("--workspace-root", o.host.workspace_root,
                   "workspaces must lie below this directory")
        ->capture_default_str();
    app.add_option("--homes-root", o.host.homes_root, "per-user homes are created below it")
        ->capture_default_str();
    app.add_option("--state-dir", o.host.state_dir, "uid map and sha256 cache")
        ->capture_default_str();
    app.add_option("--user", o.user, "user label (^[a-z0-9][a-z0-9._-]{0,63}$)")
        ->capture_default_str();
    app.add_option("--cwd", o.cwd, "working directory relative to the workspace");
    app.add_option("--env", o.env, "NAME=VALUE for a name the profile lets requests pass");
    app.add_option("--status-json", o.status_json, "write the exit report here ('-': stderr)");
    app.add_option("--cgroup-parent", o.cgroup_parent,
                   "create the jail's cgroup below this directory");
    app.add_option("--kill-grace-ms", o.kill_grace_ms,
                   "after SIGTERM/SIGINT/SIGHUP, how long before the session is killed")
        ->capture_default_str()
        ->check(CLI::Range(0, 600000));
    app.add_flag("-t,--pty", o.pty,
                 "give the program a terminal of the jail's own (relayed to this one, which is "
                 "put in raw mode)");
    app.add_option("--daemon-fd", o.daemon_fd,
                   "be the monitor of one ccjaild session, driven over the link socket on this fd "
                   "(every other option is ignored; the daemon's start message says it all)")
        ->check(CLI::Range(3, 1 << 20));
    app.add_option("argv", o.argv, "the command and its arguments (after --)");
}

ccjail::JailRequest request_from(const Options& o) {
    ccjail::JailRequest request;
    request.argv = o.argv;
    request.user_label = o.user;
    request.workspace = o.workspace;
    if (!o.cwd.empty()) {
        request.cwd = o.cwd;
    }
    request.terminal.pty = o.pty;
    struct winsize size {};
    if (o.pty && ::ioctl(STDIN_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row && size.ws_col) {
        request.terminal.rows = size.ws_row;
        request.terminal.cols = size.ws_col;
    }
    for (const auto& entry : o.env) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw ccjail::JailError(ccjail::Step::request, 0,
                                    "--env \"" + entry + "\": expected NAME=VALUE");
        }
        request.env[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    return request;
}

ccjail::ExitReport setup_failure(ccjail::Step step, int err, const std::string& message) {
    ccjail::ExitReport report;
    report.status = ccjail::ExitStatus::setup_failed;
    report.failure = ccjail::SetupFailure{step, err, message};
    return report;
}

ccjail::ExitReport run(Options& o) {
    if (!o.cgroup_parent.empty()) {
        o.host.cgroup.parent = o.cgroup_parent;
    }
    ccjail::Profile profile;
    try {
        profile = ccjail::load_profile(o.profile, o.profiles_dir);
    } catch (const ccjail::ProfileError& error) {
        return setup_failure(ccjail::Step::profile, 0, error.what());
    }
    // The proxy and the gateway are served by ccjaild; alone, the jail would just have no
    // network, which is better said up front than found out from a refused connection.
    if (profile.network.mode == ccjail::NetworkMode::proxy ||
        profile.network.mode == ccjail::NetworkMode::gateway) {
        return setup_failure(ccjail::Step::profile, 0,
                             "network mode \"" + std::string(to_string(profile.network.mode)) +
                                 "\" is served by ccjaild; run this profile through the daemon");
    }
    try {
        const ccjail::JailSpec spec = ccjail::resolve_spec(profile, request_from(o), o.host);
        ccjail::MonitorOptions monitor;
        monitor.cgroup = o.host.cgroup;
        monitor.kill_grace = std::chrono::milliseconds(o.kill_grace_ms);
        std::optional<ccjail::RawTerminal> raw;
        if (o.pty) {
            raw.emplace(STDIN_FILENO);
        }
        return ccjail::run_jail(spec, monitor);
    } catch (const ccjail::JailError& error) {
        return setup_failure(error.step(), error.err(), error.what());
    }
}

void write_status(const std::string& path, const ccjail::ExitReport& report) {
    const std::string text = ccjail::to_json(report).dump() + "\n";
    if (path == "-") {
        std::cerr << text;
        return;
    }
    std::ofstream out(path, std::ios::trunc);
    out << text;
    if (!out) {
        std::cerr << "ccjail-exec: cannot write " << path << "\n";
    }
}

int run_main(int argc, char** argv) {
    CLI::App app{"ccjail-exec: run one command in a jail built from a profile"};
    Options options;
    add_options(app, options);
    CLI11_PARSE(app, argc, argv);
    if (options.daemon_fd < 0 && options.profile.empty()) {
        return app.exit(CLI::RequiredError("--profile"));
    }
    if (::geteuid() != 0) {
        std::cerr << "ccjail-exec: must be started as root (it builds namespaces, mounts and "
                     "cgroups, then drops to the profile's uid)\n";
        return 125;
    }
    if (options.daemon_fd >= 0) {
        return ccjail::link::run_monitor_service(options.daemon_fd);
    }
    const ccjail::ExitReport report = run(options);
    if (report.failure) {
        std::cerr << "ccjail-exec: setup failed at step " << ccjail::to_string(report.failure->step)
                  << ": " << report.failure->message << "\n";
    }
    if (!options.status_json.empty()) {
        write_status(options.status_json, report);
    }
    return ccjail::exit_code_for(report);
}

}  // namespace

int main(int argc, char** argv) {
    // An exception nobody expected (std::bad_alloc, a filesystem_error) is still a setup that did
    // not happen: say so with the setup_failed exit code instead of aborting through terminate().
    try {
        return run_main(argc, argv);
    } catch (const std::exception& error) {
        std::cerr << "ccjail-exec: " << error.what() << "\n";
    } catch (...) {
        std::cerr << "ccjail-exec: unknown exception\n";
    }
    ccjail::ExitReport failed;
    failed.status = ccjail::ExitStatus::setup_failed;
    return ccjail::exit_code_for(failed);
}
