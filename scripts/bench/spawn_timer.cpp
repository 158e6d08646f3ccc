// spawn_timer: measures spawn-to-exit wall time of several command lines, run round-robin so
// that the noise of a shared VM (steal time, frequency changes, a neighbour's burst) falls on
// every contender alike instead of on whichever happened to run during it.
//
//   spawn_timer [--runs N] [--warmup W] [--ratio A/B]... -- NAME [FD<FILE]... /abs/cmd ARG...
//               ::: NAME ...
//
// FD<FILE opens FILE read-only as descriptor FD in every run of that contender (a fresh open
// each time: a descriptor shared across runs would be read to its end by the first run).
//
// Prints a markdown table (wall-time percentiles, CPU time and peak RSS from wait4) and the
// requested ratios. Any run that does not exit 0 aborts the benchmark: a jail that fails fast
// would otherwise look like a fast jail.
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
#include <optional>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace ccjail::bench {
namespace {

struct Sample {
    double wall_ms;
    double cpu_ms;  // user + system of the child and every descendant it reaped
    long max_rss_kib;
};

struct Input {
    int fd;
    std::string path;
};

struct Contender {
    std::string name;
    std::vector<Input> inputs;
    std::vector<std::string> argv;
    std::vector<Sample> samples;
};

struct Options {
    int runs = 200;
    int warmup = 5;
    std::vector<std::pair<std::string, std::string>> ratios;
    std::vector<Contender> contenders;
};

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "spawn_timer: %s\n", message.c_str());
    std::exit(2);
}

int positive_int(const char* text, const char* option) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 0 || value > 1000000) {
        die(std::string("bad value for ") + option + ": " + text);
    }
    return static_cast<int>(value);
}

// "3</path" -> {3, "/path"}; anything else is not a redirection.
std::optional<Input> parse_input(const std::string& word) {
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

Contender parse_contender(const std::vector<std::string>& group) {
    if (group.empty()) {
        die("empty contender (two ::: in a row?)");
    }
    Contender contender{group[0], {}, {}, {}};
    std::size_t i = 1;
    for (; i < group.size(); ++i) {
        auto input = parse_input(group[i]);
        if (!input) {
            break;
        }
        contender.inputs.push_back(*input);
    }
    if (i == group.size()) {
        die("contender " + group[0] + " has no command");
    }
    // An absolute path: a PATH search in every run would be timed as part of the contender.
    if (group[i].front() != '/') {
        die("command of " + group[0] + " must be an absolute path: " + group[i]);
    }
    contender.argv.assign(group.begin() + static_cast<long>(i), group.end());
    return contender;
}

std::vector<Contender> parse_contenders(int argc, char** argv, int first) {
    std::vector<Contender> contenders;
    std::vector<std::string> group;
    for (int i = first; i <= argc; ++i) {
        if (i == argc || std::strcmp(argv[i], ":::") == 0) {
            contenders.push_back(parse_contender(group));
            group.clear();
        } else {
            group.emplace_back(argv[i]);
        }
    }
    return contenders;
}

std::pair<std::string, std::string> parse_ratio(const std::string& text) {
    const auto slash = text.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) {
        die("--ratio expects A/B, got " + text);
    }
    return {text.substr(0, slash), text.substr(slash + 1)};
}

Options parse_options(int argc, char** argv) {
    Options options;
    int i = 1;
    for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
        const std::string option = argv[i];
        if (i + 1 >= argc) {
            die("missing value for " + option);
        }
        if (option == "--runs") {
            options.runs = positive_int(argv[++i], "--runs");
        } else if (option == "--warmup") {
            options.warmup = positive_int(argv[++i], "--warmup");
        } else if (option == "--ratio") {
            options.ratios.push_back(parse_ratio(argv[++i]));
        } else {
            die("unknown option " + option);
        }
    }
    if (i >= argc - 1) {
        die("usage: spawn_timer [--runs N] [--warmup W] [--ratio A/B]... -- NAME CMD... ::: ...");
    }
    if (options.runs < 1) {
        die("--runs must be at least 1");
    }
    options.contenders = parse_contenders(argc, argv, i + 1);
    return options;
}

double now_ms() {
    struct timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double cpu_ms_of(const struct rusage& usage) {
    const auto ms = [](const struct timeval& tv) {
        return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
    };
    return ms(usage.ru_utime) + ms(usage.ru_stime);
}

// Runs in the forked child: only async-signal-safe calls until execve.
[[noreturn]] void exec_child(const Contender& contender, char* const* argv, int devnull) {
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    for (const auto& input : contender.inputs) {
        const int fd = open(input.path.c_str(), O_RDONLY);
        if (fd < 0 || (fd != input.fd && (dup2(fd, input.fd) < 0 || close(fd) < 0))) {
            _exit(126);
        }
    }
    execve(argv[0], argv, environ);
    _exit(127);
}

std::string describe(int status) {
    if (WIFEXITED(status)) {
        return "exit code " + std::to_string(WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return std::string("signal ") + strsignal(WTERMSIG(status));
    }
    return "status " + std::to_string(status);
}

Sample run_once(const Contender& contender, int devnull) {
    std::vector<char*> argv;
    for (const auto& arg : contender.argv) {
        argv.push_back(const_cast<char*>(arg.c_str()));
    }
    argv.push_back(nullptr);
    const double start = now_ms();
    const pid_t pid = fork();
    if (pid < 0) {
        die(std::string("fork: ") + std::strerror(errno));
    }
    if (pid == 0) {
        exec_child(contender, argv.data(), devnull);
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
        die(contender.name + " failed (" + describe(status) + "); the run is void");
    }
    return {wall, cpu_ms_of(usage), usage.ru_maxrss};
}

// Each round starts with a different contender, so none always runs right after another's
// teardown (cgroup removal, namespace release and RCU work continue after the exit).
void run_rounds(std::vector<Contender>& contenders, int rounds, bool record, int devnull) {
    const std::size_t n = contenders.size();
    for (int round = 0; round < rounds; ++round) {
        for (std::size_t k = 0; k < n; ++k) {
            Contender& contender = contenders[(static_cast<std::size_t>(round) + k) % n];
            const Sample sample = run_once(contender, devnull);
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
double percentile(const std::vector<double>& sorted, double p) {
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sorted.size()));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

double median_of(const std::vector<double>& sorted) {
    const std::size_t n = sorted.size();
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
}

Summary summarize(const std::vector<Sample>& samples) {
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

const Summary* find_summary(const std::vector<Contender>& contenders,
                            const std::vector<Summary>& summaries, const std::string& name) {
    for (std::size_t i = 0; i < contenders.size(); ++i) {
        if (contenders[i].name == name) {
            return &summaries[i];
        }
    }
    die("--ratio names an unknown contender: " + name);
}

// Before any run: a typo in --ratio should not cost a whole benchmark.
void check_ratio_names(const Options& options) {
    const std::vector<Summary> none(options.contenders.size());
    for (const auto& [a, b] : options.ratios) {
        find_summary(options.contenders, none, a);
        find_summary(options.contenders, none, b);
    }
}

void print_table(const std::vector<Contender>& contenders, const std::vector<Summary>& summaries) {
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

void print_ratios(const Options& options, const std::vector<Summary>& summaries) {
    if (options.ratios.empty()) {
        return;
    }
    std::printf("\n| ratio | median | p90 | p99 | min | CPU |\n|---|--:|--:|--:|--:|--:|\n");
    for (const auto& [a, b] : options.ratios) {
        const Summary* x = find_summary(options.contenders, summaries, a);
        const Summary* y = find_summary(options.contenders, summaries, b);
        std::printf("| %s / %s | %.2f | %.2f | %.2f | %.2f | %.2f |\n", a.c_str(), b.c_str(),
                    x->median / y->median, x->p90 / y->p90, x->p99 / y->p99, x->min / y->min,
                    x->cpu_mean / y->cpu_mean);
    }
}

}  // namespace
}  // namespace ccjail::bench

int main(int argc, char** argv) {
    using namespace ccjail::bench;
    Options options = parse_options(argc, argv);
    check_ratio_names(options);
    const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        die(std::string("/dev/null: ") + std::strerror(errno));
    }
    run_rounds(options.contenders, options.warmup, false, devnull);
    run_rounds(options.contenders, options.runs, true, devnull);
    std::vector<Summary> summaries;
    for (const auto& contender : options.contenders) {
        summaries.push_back(summarize(contender.samples));
    }
    print_table(options.contenders, summaries);
    print_ratios(options, summaries);
    return 0;
}
