// The timing core shared by spawn_timer and daemon_bench: contenders run round-robin, so that
// the noise of a shared VM (steal time, frequency changes, a neighbour's burst) falls on every
// contender alike instead of on whichever happened to run during it; then nearest-rank
// percentiles, a markdown table and ratios of two contenders' statistics.
//
// A contender is anything that can run once and report a Sample: a command line (fork, execve,
// wait4) or, in daemon_bench, a spawn through ccjaild.
#pragma once

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace ccjail::bench {

struct Sample {
    double wall_ms;
    double cpu_ms;     // user + system of every process the run used, where it can be known
    long max_rss_kib;  // the largest process of the run
};

struct Contender {
    std::string name;
    std::function<Sample()> run;
    std::vector<Sample> samples;
};

using Ratio = std::pair<std::string, std::string>;

[[noreturn]] inline void die(const std::string& message) {
    std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, message.c_str());
    std::exit(2);
}

inline int positive_int(const char* text, const char* option) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 0 || value > 1000000) {
        die(std::string("bad value for ") + option + ": " + text);
    }
    return static_cast<int>(value);
}

inline Ratio parse_ratio(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
        die("--ratio expects A/B, got " + text);
    }
    return {text.substr(0, slash), text.substr(slash + 1)};
}

inline double now_ms() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

inline double cpu_ms_of(const struct rusage& usage) {
    const auto ms = [](const struct timeval& tv) {
        return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
    };
    return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// ---- command-line contenders ----------------------------------------------------------------

// FD<FILE: FILE opened read-only as descriptor FD in every run (a fresh open each time: a
// descriptor shared across runs would be read to its end by the first run).
struct Input {
    int fd;
    std::string path;
};

struct Command {
    std::vector<Input> inputs;
    std::vector<std::string> argv;
};

// "3</path" -> {3, "/path"}; anything else is not a redirection.
inline std::optional<Input> parse_input(const std::string& word) {
    const auto lt = word.find('<');
    if (lt == 0 || lt == std::string::npos || lt + 1 == word.size() ||
        word.find_first_not_of("0123456789") != lt) {
        return std::nullopt;
    }
    const int fd = positive_int(word.substr(0, lt).c_str(), "FD<FILE");
    if (fd <= STDERR_FILENO) {
        die("FD<FILE must use a descriptor above 2: " + word);
    }
    return Input{fd, word.substr(lt + 1)};
}

// NAME [FD<FILE]... /abs/cmd ARG...
inline std::pair<std::string, Command> parse_command(const std::vector<std::string>& group) {
    if (group.empty()) {
        die("empty contender (two ::: in a row?)");
    }
    Command command;
    std::size_t i = 1;
    for (; i < group.size(); ++i) {
        auto input = parse_input(group[i]);
        if (!input) {
            break;
        }
        command.inputs.push_back(*input);
    }
    if (i == group.size()) {
        die("contender " + group[0] + " has no command");
    }
    // An absolute path: a PATH search in every run would be timed as part of the contender.
    if (group[i].front() != '/') {
        die("command of " + group[0] + " must be an absolute path: " + group[i]);
    }
    command.argv.assign(group.begin() + static_cast<long>(i), group.end());
    return {group[0], command};
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] inline void exec_child(const Command& command, char* const* argv, int devnull) {
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    for (const auto& input : command.inputs) {
        const int fd = open(input.path.c_str(), O_RDONLY);
        if (fd < 0 || (fd != input.fd && (dup2(fd, input.fd) < 0 || close(fd) < 0))) {
            _exit(126);
        }
    }
    execve(argv[0], argv, environ);
    _exit(127);
}

inline std::string describe_status(int status) {
    if (WIFEXITED(status)) {
        return "exit code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return std::string("signal ") + strsignal(WTERMSIG(status));
    }
    return "status " + std::to_string(status);
}

// Any run that does not exit 0 voids the benchmark: a jail that fails fast would otherwise
// look like a fast jail.
inline Sample run_command(const std::string& name, const Command& command, int devnull) {
    std::vector<char*> argv;
    for (const auto& arg : command.argv) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    const double start = now_ms();
    const pid_t pid = fork();
    if (pid < 0) {
        die(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        exec_child(command, argv.data(), devnull);
    }
    int status = 0;
    struct rusage usage {};
    while (wait4(pid, &status, 0, &usage) < 0) {
        if (errno != EINTR) {
            die(std::string("wait4: ") + std::strerror(errno));
        }
    }
    const double wall = now_ms() - start;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        die(name + " failed (" + describe_status(status) + "); the run is void");
    }
    return {wall, cpu_ms_of(usage), usage.ru_maxrss};
}

// argv[first..argc) as groups separated by ":::", each a command contender.
inline std::vector<Contender> parse_command_contenders(int argc, char** argv, int first,
                                                       int devnull) {
    std::vector<Contender> contenders;
    std::vector<std::string> group;
    for (int i = first; i <= argc; ++i) {
        if (i == argc || std::strcmp(argv[i], ":::") == 0) {
            auto [name, command] = parse_command(group);
            contenders.push_back(
                {name,
                 [name, command, devnull] { return run_command(name, command, devnull); },
                 {}});
            group.clear();
        } else {
            group.emplace_back(argv[i]);
        }
    }
    return contenders;
}

// ---- rounds and statistics ------------------------------------------------------------------

// Each round starts with a different contender, so none always runs right after another's
// teardown (cgroup removal, namespace release and RCU work continue after the exit).
inline void run_rounds(std::vector<Contender>& contenders, int rounds, bool record) {
    const std::size_t n = contenders.size();
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < n; ++k) {
            Contender& contender = contenders[(static_cast<std::size_t>(round) + k) % n];
            const Sample sample = contender.run();
            if (record) {
                contender.samples.push_back(sample);
            }
        }
    }
}

struct Summary {
    double median, p90, p99, min, mean, cpu_mean;
    long max_rss_kib;
};

// Nearest-rank percentile of sorted values.
inline double percentile(const std::vector<double>& sorted, double p) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

inline double median_of(const std::vector<double>& sorted) {
    const std::size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

inline Summary summarize(const std::vector<Sample>& samples) {
    std::vector<double> wall;
    double wall_sum = 0, cpu_sum = 0;
    long rss = 0;
    for (const auto& s : samples) {
        wall.push_back(s.wall_ms);
        wall_sum += s.wall_ms;
        cpu_sum += s.cpu_ms;
        rss = std::max(rss, s.max_rss_kib);
    }
    std::sort(wall.begin(), wall.end());
    const double n = static_cast<double>(samples.size());
    return {median_of(wall),
            percentile(wall, 90),
            percentile(wall, 99),
            wall.front(),
            wall_sum / n,
            cpu_sum / n,
            rss};
}

inline std::size_t index_of(const std::vector<Contender>& contenders, const std::string& name) {
    for (std::size_t i = 0; i < contenders.size(); ++i) {
        if (contenders[i].name == name) {
            return i;
        }
    }
    die("--ratio names an unknown contender: " + name);
}

// Before any run: a typo in --ratio should not cost a whole benchmark.
inline void check_ratio_names(const std::vector<Contender>& contenders,
                              const std::vector<Ratio>& ratios) {
    for (const auto& [a, b] : ratios) {
        index_of(contenders, a);
        index_of(contenders, b);
    }
}

inline void print_table(const std::vector<Contender>& contenders,
                        const std::vector<Summary>& summaries) {
    std::printf(
        "| contender | runs | median ms | p90 ms | p99 ms | min ms | mean ms | CPU ms/run | "
        "peak RSS MiB |\n");
    std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (std::size_t i = 0; i < contenders.size(); ++i) {
        const Summary& s = summaries[i];
        std::printf("| %s | %zu | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f |\n",
                    contenders[i].name.c_str(), contenders[i].samples.size(), s.median, s.p90,
                    s.p99, s.min, s.mean, s.cpu_mean, static_cast<double>(s.max_rss_kib) / 1024.0);
    }
}

inline void print_ratios(const std::vector<Contender>& contenders,
                         const std::vector<Summary>& summaries, const std::vector<Ratio>& ratios) {
    if (ratios.empty()) {
        return;
    }
    std::printf("\n| ratio | median | p90 | p99 | min | CPU |\n|---|--:|--:|--:|--:|--:|\n");
    for (const auto& [a, b] : ratios) {
        const Summary& x = summaries[index_of(contenders, a)];
        const Summary& y = summaries[index_of(contenders, b)];
        std::printf("| %s / %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", a.c_str(), b.c_str(),
                    x.median / y.median, x.p90 / y.p90, x.p99 / y.p99, x.min / y.min,
                    x.cpu_mean / y.cpu_mean);
    }
}

// Warm-up rounds (not recorded), the recorded rounds, then the table and the ratios.
inline void run_and_report(std::vector<Contender>& contenders, int warmup, int runs,
                           const std::vector<Ratio>& ratios) {
    check_ratio_names(contenders, ratios);
    run_rounds(contenders, warmup, false);
    run_rounds(contenders, runs, true);
    std::vector<Summary> summaries;
    for (const auto& contender : contenders) {
        summaries.push_back(summarize(contender.samples));
    }
    print_table(contenders, summaries);
    print_ratios(contenders, summaries, ratios);
}

}  // namespace ccjail::bench
