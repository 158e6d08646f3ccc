// spawn_timer: measures spawn-to-exit wall time of several command lines, run round-robin
// (round_robin.hpp).
//
//   spawn_timer [--runs N] [--warmup W] [--ratio A/B]... -- NAME [FD<FILE]... /abs/cmd ARG...
//               ::: NAME ...
//
// FD<FILE opens FILE read-only as descriptor FD in every run of that contender.
//
// Prints a markdown table (wall-time percentiles, CPU time and peak RSS from wait4) and the
// requested ratios. Any run that does not exit 0 aborts the benchmark: a jail that fails fast
// would otherwise look like a fast jail.
#include "round_robin.hpp"

int main(int argc, char** argv) {
    using namespace ccjail::bench;
    int runs = 200;
    int warmup = 5;
    std::vector<Ratio> ratios;
    int i = 1;
    for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) {
        const std::string option = argv[i];
        if (i + 1 >= argc) {
            die("missing value for " + option);
        }
        if (option == "--runs") {
            runs = positive_int(argv[++i], "--runs");
        } else if (option == "--warmup") {
            warmup = positive_int(argv[++i], "--warmup");
        } else if (option == "--ratio") {
            ratios.push_back(parse_ratio(argv[++i]));
        } else {
            die("unknown option " + option);
        }
    }
    if (i >= argc - 1) {
        die("usage: spawn_timer [--runs N] [--warmup W] [--ratio A/B]... -- NAME CMD... ::: ...");
    }
    if (runs < 1) {
        die("--runs must be at least 1");
    }
    const int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) {
        die(std::string("/dev/null: ") + std::strerror(errno));
    }
    std::vector<Contender> contenders = parse_command_contenders(argc, argv, i + 1, devnull);
    run_and_report(contenders, warmup, runs, ratios);
    return 0;
}
