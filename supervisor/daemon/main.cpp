// ccjaild: the supervisor daemon. A thin main over supervisor/server/: configuration, the audit
// log, one event loop (docs/operations.md).
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "cgroup/cgroup.hpp"
#include "server/daemon_config.hpp"
#include "server/server.hpp"
#include "server/service_manager.hpp"

namespace {

// `ccjaild --hold-cgroup` (systemd/ccjail-sessions.service): holds the cgroup every jail is
// created in, in a unit of its own. A Delegate=yes unit whose cgroup has controllers enabled
// cannot have its main process restarted by systemd 252 (the kernel refuses a process in a
// cgroup with enabled controllers and children: 219/CGROUP), so the jails' parent must not be
// ccjaild.service's cgroup, or a crashed daemon could never come back to re-adopt them.
int hold_cgroup() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    ::sigprocmask(SIG_BLOCK, &stop, nullptr);
    std::filesystem::path parent;
    try {
        parent = ccjail::hold_cgroup_for_jails({});
    } catch (const std::exception& error) {
        std::cerr << "ccjaild --hold-cgroup: " << error.what() << "\n";
        return 1;
    }
    std::cerr << nlohmann::json{{"event", "cgroup_held"}, {"cgroup", parent.string()}}.dump()
              << "\n";
    ccjail::server::notify_holding(parent.string());
    int signal = 0;
    ::sigwait(&stop, &signal);
    return 0;
}

int run_daemon(int argc, char** argv) {
    CLI::App app{"ccjaild: the ccjail supervisor daemon (docs/operations.md)"};
    ccjail::server::ConfigOverrides overrides;
    ccjail::server::add_config_flags(app, overrides);
    bool print_config = false;
    app.add_flag("--print-config", print_config, "print the effective configuration and exit");
    bool hold = false;
    app.add_flag("--hold-cgroup", hold,
                 "hold this process's own cgroup as the parent of jails' cgroups, until "
                 "SIGTERM (systemd/ccjail-sessions.service)");
    CLI11_PARSE(app, argc, argv);
    if (hold) {
        return hold_cgroup();
    }

    ccjail::server::DaemonConfig config;
    try {
        config = ccjail::server::load_daemon_config(overrides.config_path(),
                                                    overrides.config_was_given());
        ccjail::server::apply_overrides(config, overrides);
    } catch (const ccjail::server::ConfigError& error) {
        std::cerr << "ccjaild: " << error.what() << "\n";
        return 2;
    }
    if (print_config) {
        std::cout << ccjail::server::to_json(config).dump(2) << "\n";
        return 0;
    }
    if (::geteuid() != 0) {
        std::cerr << "ccjaild: must run as root (it starts ccjail-exec, which builds jails)\n";
        return 2;
    }
    // A client that disconnects mid-write must not kill the daemon.
    if (std::signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        std::perror("ccjaild: ignoring SIGPIPE");
        return 1;
    }
    // Data frames are up to 256 KiB: above glibc's initial mmap threshold, each would be a fresh
    // mmap whose pages fault in on the copy and are unmapped after the write (a quarter of the
    // relay's time in profiles). Served from a heap that is trimmed only past 16 MiB, their
    // memory is reused instead; the per-connection write buffer bounds how much is live.
    ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 16 << 20);

    auto logger = ccjail::audit::make_stderr_audit_logger();
    // The secret env names of the profiles join these rules once the server has loaded them.
    ccjail::audit::RedactionRules rules;
    rules.home_roots = {config.homes_root.string()};
    const ccjail::audit::Redactor redactor(rules);
    ccjail::audit::AuditLog audit(logger, redactor);
    ccjail::server::DaemonLog log(logger, redactor, spdlog::level::from_str(config.log_level));
    boost::asio::io_context io(1);
    try {
        ccjail::server::Server server(io, config, audit, log);
        server.set_config_loader([&overrides] {
            auto next = ccjail::server::load_daemon_config(overrides.config_path(),
                                                           overrides.config_was_given());
            ccjail::server::apply_overrides(next, overrides);
            return next;
        });
        server.start();
        log.write(spdlog::level::info, "daemon_started",
                  {{"pid", ::getpid()},
                   {"socket", config.socket.string()},
                   {"sessions", server.session_count()},
                   {"config", ccjail::server::to_json(config)}});
        ccjail::server::notify_ready(server.session_count());
        io.run();
        log.write(spdlog::level::info, "daemon_stopped",
                  {{"sessions_left", server.session_count()}});
    } catch (const std::exception& error) {
        log.write(spdlog::level::err, "daemon_failed", {{"message", error.what()}});
        std::cerr << "ccjaild: " << error.what() << "\n";
        return 1;
    }
    return 0;
}

}  // namespace

// An exception that escapes the daemon's own handling (std::bad_alloc, a filesystem error while
// the config is read, a logger that cannot be built) ends it with a message and status 1, not
// with std::terminate's abort and core.
int main(int argc, char** argv) {
    try {
        return run_daemon(argc, argv);
    } catch (const std::exception& error) {
        std::cerr << "ccjaild: " << error.what() << "\n";
    } catch (...) {
        std::cerr << "ccjaild: an unknown exception ended the daemon\n";
    }
    return 1;
}
