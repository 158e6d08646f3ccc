// ccjaild: the supervisor daemon. A thin main over supervisor/server/: configuration, the audit
// log, one event loop (docs/operations.md).
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <iostream>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "audit/audit_log.hpp"
#include "profile/profile_loader.hpp"
#include "server/daemon_config.hpp"
#include "server/server.hpp"
#include "server/service_manager.hpp"

namespace {

// Every secret env name any profile declares: their values are redacted wherever they appear.
ccjail::audit::RedactionRules redaction_rules(const ccjail::server::DaemonConfig& config) {
    ccjail::audit::RedactionRules rules;
    rules.home_roots = {config.homes_root.string()};
    std::error_code ec;
    for (const auto& file : ccjail::profile_files(config.profiles_dir, ec)) {
        try {
            const auto profile = ccjail::load_profile(file.stem().string(), config.profiles_dir);
            for (const auto& secret : profile.environment.secrets) {
                rules.secret_env_names.push_back(secret.name);
            }
        } catch (const ccjail::ProfileError&) {
            // An invalid profile cannot be spawned; ccjailctl check reports it.
        }
    }
    return rules;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"ccjaild: the ccjail supervisor daemon (docs/operations.md)"};
    ccjail::server::ConfigOverrides overrides;
    ccjail::server::add_config_flags(app, overrides);
    bool print_config = false;
    app.add_flag("--print-config", print_config, "print the effective configuration and exit");
    CLI11_PARSE(app, argc, argv);

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
    std::signal(SIGPIPE, SIG_IGN);
    // Data frames are up to 256 KiB: above glibc's initial mmap threshold, each would be a fresh
    // mmap whose pages fault in on the copy and are unmapped after the write (a quarter of the
    // relay's time in profiles). Served from a heap that is trimmed only past 16 MiB, their
    // memory is reused instead; the per-connection write buffer bounds how much is live.
    ::mallopt(M_MMAP_THRESHOLD, 4 << 20);
    ::mallopt(M_TRIM_THRESHOLD, 16 << 20);

    auto logger = ccjail::audit::make_stderr_audit_logger();
    const ccjail::audit::Redactor redactor(redaction_rules(config));
    ccjail::audit::AuditLog audit(logger, redactor);
    ccjail::server::DaemonLog log(logger, redactor, spdlog::level::from_str(config.log_level));
    boost::asio::io_context io(1);
    try {
        ccjail::server::Server server(io, config, audit, log);
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
