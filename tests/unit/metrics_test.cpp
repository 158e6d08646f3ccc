#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "metrics/daemon_metrics.hpp"
#include "metrics/metrics.hpp"

namespace ccjail::metrics {
namespace {

using protocol::ErrorCode;

// The value of the sample whose name-and-labels text is exactly `series`, if present.
std::optional<std::string> sample(const std::string& exposition, const std::string& series) {
    std::istringstream lines(exposition);
    std::string line;
    while (std::getline(lines, line)) {
        if (line.starts_with(series + " ")) {
            return line.substr(series.size() + 1);
        }
    }
    return std::nullopt;
}

// Checks the text format line by line: comments are well-formed HELP/TYPE lines, every other
// line is `name{labels} value`, and each sample belongs to the metric whose TYPE precedes it.
// Returns the first offending line, or an empty string when all lines pass.
std::string first_invalid_line(const std::string& exposition) {
    static const std::regex help(R"(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*)");
    static const std::regex type(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram))");
    static const std::regex sample_line(R"(([a-zA-Z_:][a-zA-Z0-9_:]*))"
                                        R"((\{[a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\\n])*")"
                                        R"((,[a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\\n])*")*\})?)"
                                        R"( (\+Inf|-Inf|NaN|-?[0-9]+(\.[0-9]+)?(e[+-]?[0-9]+)?))");
    if (exposition.empty() || exposition.back() != '\n') {
        return "<missing final newline>";
    }
    std::istringstream lines(exposition);
    std::string line;
    std::string family;
    std::string kind;
    while (std::getline(lines, line)) {
        std::smatch m;
        if (std::regex_match(line, help)) {
            continue;
        }
        if (std::regex_match(line, m, type)) {
            family = m[1];
            kind = m[2];
            continue;
        }
        if (!std::regex_match(line, m, sample_line)) {
            return line;
        }
        const std::string name = m[1];
        const bool belongs =
            name == family ||
            (kind == "histogram" &&
             (name == family + "_bucket" || name == family + "_sum" || name == family + "_count"));
        if (!belongs) {
            return line;
        }
    }
    return "";
}

TEST(Metrics, ExpositionMatchesGoldenText) {
    Registry registry;
    registry.counter("app_requests_total", "Requests served.", {"method"}).labels({"get"}).inc(3);
    registry.gauge("app_temperature", "Current temperature.").set(1.5);
    Histogram& latency = registry.histogram("app_latency_seconds", "Latency.", {0.1, 1});
    latency.observe(0.25);
    latency.observe(0.5);
    latency.observe(2);
    latency.observe(0.0625);

    EXPECT_EQ(registry.exposition(),
              "# HELP app_latency_seconds Latency.\n"
              "# TYPE app_latency_seconds histogram\n"
              "app_latency_seconds_bucket{le=\"0.1\"} 1\n"
              "app_latency_seconds_bucket{le=\"1\"} 3\n"
              "app_latency_seconds_bucket{le=\"+Inf\"} 4\n"
              "app_latency_seconds_sum 2.8125\n"
              "app_latency_seconds_count 4\n"
              "# HELP app_requests_total Requests served.\n"
              "# TYPE app_requests_total counter\n"
              "app_requests_total{method=\"get\"} 3\n"
              "# HELP app_temperature Current temperature.\n"
              "# TYPE app_temperature gauge\n"
              "app_temperature 1.5\n"
              "# HELP ccjail_metrics_dropped_series_total Label combinations refused because a "
              "metric reached its series limit.\n"
              "# TYPE ccjail_metrics_dropped_series_total counter\n"
              "ccjail_metrics_dropped_series_total 0\n");
}

TEST(Metrics, UnlabeledMetricIsExportedAtZeroBeforeAnyEvent) {
    Registry registry;
    registry.counter("jobs_total", "Jobs.");
    EXPECT_EQ(sample(registry.exposition(), "jobs_total"), "0");
}

TEST(Metrics, LabeledMetricWithoutSeriesHasOnlyHeader) {
    Registry registry;
    registry.counter("jobs_total", "Jobs.", {"kind"});
    const std::string text = registry.exposition();
    EXPECT_NE(text.find("# TYPE jobs_total counter\n"), std::string::npos);
    EXPECT_EQ(text.find("jobs_total{"), std::string::npos);
}

TEST(Metrics, CounterAccumulatesAndRefusesNegativeIncrements) {
    Registry registry;
    Counter& jobs = registry.counter("jobs_total", "Jobs.");
    jobs.inc();
    jobs.inc(2.5);
    EXPECT_DOUBLE_EQ(jobs.value(), 3.5);
    EXPECT_THROW(jobs.inc(-1), std::invalid_argument);
    EXPECT_THROW(jobs.inc(std::numeric_limits<double>::quiet_NaN()), std::invalid_argument);
    EXPECT_EQ(sample(registry.exposition(), "jobs_total"), "3.5");
}

TEST(Metrics, GaugeSetIncDec) {
    Registry registry;
    Gauge& queue = registry.gauge("queue_depth", "Queue depth.", {"queue"});
    queue.labels({"a"}).set(10);
    queue.labels({"a"}).inc(5);
    queue.labels({"a"}).dec(16);
    queue.labels({"b"}).inc();
    const std::string text = registry.exposition();
    EXPECT_EQ(sample(text, "queue_depth{queue=\"a\"}"), "-1");
    EXPECT_EQ(sample(text, "queue_depth{queue=\"b\"}"), "1");
}

TEST(Metrics, HistogramBucketsAreCumulativeAndBoundsInclusive) {
    Registry registry;
    Histogram& h = registry.histogram("size_bytes", "Sizes.", {1, 10, 100});
    for (double v : {0.5, 1.0, 5.0, 10.0, 50.0}) {
        h.observe(v);
    }
    const std::string text = registry.exposition();
    EXPECT_EQ(sample(text, "size_bytes_bucket{le=\"1\"}"), "2");
    EXPECT_EQ(sample(text, "size_bytes_bucket{le=\"10\"}"), "4");
    EXPECT_EQ(sample(text, "size_bytes_bucket{le=\"100\"}"), "5");
    EXPECT_EQ(sample(text, "size_bytes_bucket{le=\"+Inf\"}"), "5");
    EXPECT_EQ(sample(text, "size_bytes_sum"), "66.5");
    EXPECT_EQ(sample(text, "size_bytes_count"), "5");
}

TEST(Metrics, HistogramInfBucketHoldsValuesAboveEveryBound) {
    Registry registry;
    Histogram& h = registry.histogram("wait_seconds", "Waits.", {0.5}, {"queue"});
    h.labels({"x"}).observe(3);
    h.labels({"x"}).observe(std::numeric_limits<double>::infinity());
    const std::string text = registry.exposition();
    EXPECT_EQ(sample(text, "wait_seconds_bucket{queue=\"x\",le=\"0.5\"}"), "0");
    EXPECT_EQ(sample(text, "wait_seconds_bucket{queue=\"x\",le=\"+Inf\"}"), "2");
    EXPECT_EQ(sample(text, "wait_seconds_sum{queue=\"x\"}"), "+Inf");
    EXPECT_EQ(sample(text, "wait_seconds_count{queue=\"x\"}"), "2");
    EXPECT_THROW(h.labels({"x"}).observe(std::numeric_limits<double>::quiet_NaN()),
                 std::invalid_argument);
}

TEST(Metrics, HistogramRefusesBadBoundsAndLeLabel) {
    Registry registry;
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_THROW(registry.histogram("h1", "h", {}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h2", "h", {2, 1}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h3", "h", {1, 1}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h4", "h", {1, inf}), std::invalid_argument);
    EXPECT_THROW(registry.histogram("h5", "h", {1}, {"le"}), std::invalid_argument);
    EXPECT_EQ(registry.exposition().find("# TYPE h"), std::string::npos);
}

TEST(Metrics, LabelValuesAreEscaped) {
    Registry registry;
    registry.counter("odd_total", "Odd values.", {"v"}).labels({"a\\b\"c\nd"}).inc();
    EXPECT_EQ(sample(registry.exposition(), R"(odd_total{v="a\\b\"c\nd"})"), "1");
    EXPECT_EQ(escape_label_value("plain-value/ok"), "plain-value/ok");
}

TEST(Metrics, HelpTextEscapesBackslashAndNewlineOnly) {
    Registry registry;
    registry.gauge("g", "line1\nC:\\path \"quoted\"");
    EXPECT_NE(registry.exposition().find("# HELP g line1\\nC:\\\\path \"quoted\"\n"),
              std::string::npos);
}

TEST(Metrics, InvalidMetricNamesAreRefused) {
    Registry registry;
    for (const char* bad : {"", "1abc", "a-b", "a b", "a.b", "é"}) {
        EXPECT_THROW(registry.counter(bad, "x"), std::invalid_argument) << bad;
    }
    for (const char* good : {"a", "_a", ":a", "a:b_c9", "ABC"}) {
        EXPECT_NO_THROW(registry.gauge(good, "x")) << good;
    }
}

TEST(Metrics, InvalidLabelNamesAreRefused) {
    Registry registry;
    for (const char* bad : {"", "__reserved", "1a", "a-b", "a:b"}) {
        EXPECT_THROW(registry.counter("c_total", "x", {bad}), std::invalid_argument) << bad;
    }
    EXPECT_THROW(registry.counter("c_total", "x", {"a", "a"}), std::invalid_argument);
    EXPECT_NO_THROW(registry.counter("c_total", "x", {"_a", "b9"}));
}

TEST(Metrics, LabelValueCountMustMatchDeclaredNames) {
    Registry registry;
    Counter& c = registry.counter("c_total", "x", {"profile", "result"});
    EXPECT_THROW(c.labels({"only-one"}), std::invalid_argument);
    EXPECT_THROW(c.labels({"a", "b", "c"}), std::invalid_argument);
    EXPECT_THROW(c.inc(), std::invalid_argument);
    EXPECT_NO_THROW(c.labels({"a", "b"}).inc());
    Gauge& g = registry.gauge("g", "x");
    EXPECT_THROW(g.labels({"extra"}), std::invalid_argument);
}

TEST(Metrics, CardinalityCapDropsNewSeriesAndCountsThem) {
    Registry registry(3);
    Counter& c = registry.counter("c_total", "x", {"who"});
    for (int i = 0; i < 10; ++i) {
        c.labels({"client" + std::to_string(i)}).inc();
    }
    EXPECT_EQ(c.series_count(), 3U);
    EXPECT_DOUBLE_EQ(registry.dropped_series(), 7);
    const std::string text = registry.exposition();
    EXPECT_EQ(sample(text, "ccjail_metrics_dropped_series_total"), "7");
    EXPECT_EQ(sample(text, "c_total{who=\"client2\"}"), "1");
    EXPECT_EQ(sample(text, "c_total{who=\"client3\"}"), std::nullopt);
}

TEST(Metrics, CardinalityCapKeepsExistingSeriesWorking) {
    Registry registry(2);
    Histogram& h = registry.histogram("h_seconds", "x", {1}, {"who"});
    h.labels({"a"}).observe(0.5);
    h.labels({"b"}).observe(0.5);
    h.labels({"c"}).observe(0.5);  // refused: goes to scratch, not exported
    h.labels({"a"}).observe(2);
    const std::string text = registry.exposition();
    EXPECT_EQ(sample(text, "h_seconds_count{who=\"a\"}"), "2");
    EXPECT_EQ(sample(text, "h_seconds_count{who=\"c\"}"), std::nullopt);
    EXPECT_EQ(h.series_count(), 2U);
    EXPECT_THROW(Registry(0), std::invalid_argument);
}

TEST(Metrics, OutputIsSortedRegardlessOfInsertionOrder) {
    auto build = [](bool reversed) {
        Registry registry;
        std::vector<std::string> names = {"zeta", "alpha", "mid"};
        std::vector<std::string> values = {"b", "a", "c"};
        if (reversed) {
            std::reverse(names.begin(), names.end());
            std::reverse(values.begin(), values.end());
        }
        for (const auto& name : names) {
            Counter& c = registry.counter(name + "_total", "x", {"k"});
            for (const auto& value : values) {
                c.labels({value}).inc();
            }
        }
        return registry.exposition();
    };
    const std::string text = build(false);
    EXPECT_EQ(text, build(true));
    EXPECT_LT(text.find("alpha_total"), text.find("mid_total"));
    EXPECT_LT(text.find("mid_total"), text.find("zeta_total"));
    EXPECT_LT(text.find("alpha_total{k=\"a\"}"), text.find("alpha_total{k=\"b\"}"));
    EXPECT_LT(text.find("alpha_total{k=\"b\"}"), text.find("alpha_total{k=\"c\"}"));
}

TEST(Metrics, ReRegistrationReturnsSameMetricOrRefusesConflicts) {
    Registry registry;
    Counter& first = registry.counter("c_total", "x", {"a"});
    EXPECT_EQ(&registry.counter("c_total", "x", {"a"}), &first);
    EXPECT_THROW(registry.counter("c_total", "x", {"b"}), std::invalid_argument);
    EXPECT_THROW(registry.gauge("c_total", "x", {"a"}), std::invalid_argument);
    registry.histogram("h", "x", {1, 2});
    EXPECT_THROW(registry.histogram("h", "x", {1, 3}), std::invalid_argument);
    EXPECT_THROW(registry.counter(dropped_series_metric, "x", {"a"}), std::invalid_argument);
}

TEST(Metrics, FormatValuePrintsIntegersPlainAndFractionsShortest) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(42), "42");
    EXPECT_EQ(format_value(-7), "-7");
    EXPECT_EQ(format_value(1e12), "1000000000000");
    EXPECT_EQ(format_value(0.1), "0.1");
    EXPECT_EQ(format_value(0.005), "0.005");
    EXPECT_EQ(format_value(1.0 / 3), "0.3333333333333333");
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_value(std::numeric_limits<double>::quiet_NaN()), "NaN");
    EXPECT_EQ(std::stod(format_value(1e300)), 1e300);
}

TEST(Metrics, ValidatorRejectsMalformedLines) {
    EXPECT_EQ(first_invalid_line("# TYPE a counter\na 1\n"), "");
    EXPECT_EQ(first_invalid_line("# TYPE a counter\na{x=\"1\"}\n"), "a{x=\"1\"}");
    EXPECT_EQ(first_invalid_line("# TYPE a counter\na{x=1} 2\n"), "a{x=1} 2");
    EXPECT_EQ(first_invalid_line("# TYPE a counter\nb 2\n"), "b 2");
    EXPECT_EQ(first_invalid_line("# TYPE a counter\na 1e\n"), "a 1e");
    EXPECT_EQ(first_invalid_line("# TYPE a counter\na 1"), "<missing final newline>");
}

TEST(Metrics, ExpositionOfBusyRegistryParsesLineByLine) {
    Registry registry;
    Counter& c = registry.counter("c_total", "Help with \\ and\nnewline.", {"a", "b"});
    c.labels({"x\"y", "line\nbreak"}).inc(1.25);
    c.labels({"back\\slash", ""}).inc();
    registry.gauge("g", "x").set(-0.000001);
    registry.histogram("h_seconds", "x", {0.005, 0.5, 10}, {"p"}).labels({"q"}).observe(0.3);
    EXPECT_EQ(first_invalid_line(registry.exposition()), "");
}

TEST(DaemonMetrics, SessionsActiveTrackedPerProfile) {
    DaemonMetrics m;
    m.session_started("claude-code");
    m.session_started("claude-code");
    m.session_started("minimal");
    m.session_ended("claude-code");
    const std::string text = m.exposition();
    EXPECT_NE(text.find("# TYPE ccjail_sessions_active gauge\n"), std::string::npos);
    EXPECT_EQ(sample(text, "ccjail_sessions_active{profile=\"claude-code\"}"), "1");
    EXPECT_EQ(sample(text, "ccjail_sessions_active{profile=\"minimal\"}"), "1");
}

TEST(DaemonMetrics, SpawnResultsCountedByProfileAndResultWithLatency) {
    DaemonMetrics m;
    m.spawn_succeeded("claude-code", 0.004);
    m.spawn_succeeded("claude-code", 0.2);
    m.spawn_failed("claude-code", ErrorCode::spawn_failed, 3);
    m.spawn_result("minimal", "ok", 20);
    const std::string text = m.exposition();
    EXPECT_EQ(sample(text, "ccjail_spawns_total{profile=\"claude-code\",result=\"ok\"}"), "2");
    EXPECT_EQ(sample(text, "ccjail_spawns_total{profile=\"claude-code\",result=\"spawn_failed\"}"),
              "1");
    EXPECT_EQ(sample(text, "ccjail_spawns_total{profile=\"minimal\",result=\"ok\"}"), "1");
    EXPECT_EQ(sample(text, "ccjail_spawn_latency_seconds_bucket{le=\"0.005\"}"), "1");
    EXPECT_EQ(sample(text, "ccjail_spawn_latency_seconds_bucket{le=\"0.25\"}"), "2");
    EXPECT_EQ(sample(text, "ccjail_spawn_latency_seconds_bucket{le=\"10\"}"), "3");
    EXPECT_EQ(sample(text, "ccjail_spawn_latency_seconds_bucket{le=\"+Inf\"}"), "4");
    EXPECT_EQ(sample(text, "ccjail_spawn_latency_seconds_count"), "4");
}

TEST(DaemonMetrics, BytesCountedByDirection) {
    DaemonMetrics m;
    m.bytes_relayed(Direction::out, 4096);
    m.bytes_relayed(Direction::out, 1);
    m.bytes_relayed(Direction::in, 12);
    const std::string text = m.exposition();
    EXPECT_EQ(sample(text, "ccjail_relayed_bytes_total{direction=\"out\"}"), "4097");
    EXPECT_EQ(sample(text, "ccjail_relayed_bytes_total{direction=\"in\"}"), "12");
}

TEST(DaemonMetrics, ThrottlingOomAndAuthFailuresCounted) {
    DaemonMetrics m;
    const std::string before = m.exposition();
    EXPECT_EQ(sample(before, "ccjail_throttled_seconds_total"), "0");
    EXPECT_EQ(sample(before, "ccjail_oom_kills_total"), "0");
    EXPECT_EQ(sample(before, "ccjail_auth_failures_total"), "0");
    m.throttled(0.5);
    m.throttled(0.25);
    m.oom_kill();
    m.auth_failure();
    m.auth_failure();
    const std::string text = m.exposition();
    EXPECT_EQ(sample(text, "ccjail_throttled_seconds_total"), "0.75");
    EXPECT_EQ(sample(text, "ccjail_oom_kills_total"), "1");
    EXPECT_EQ(sample(text, "ccjail_auth_failures_total"), "2");
}

TEST(DaemonMetrics, RejectionsByCodeStartAtZeroForEveryCode) {
    DaemonMetrics m;
    m.rejection(ErrorCode::rate_limited);
    m.rejection(ErrorCode::rate_limited);
    const std::string text = m.exposition();
    for (ErrorCode code : protocol::all_error_codes()) {
        const std::string series =
            "ccjail_rejections_total{code=\"" + std::string(protocol::to_string(code)) + "\"}";
        EXPECT_EQ(sample(text, series), code == ErrorCode::rate_limited ? "2" : "0") << series;
    }
}

TEST(DaemonMetrics, HostileProfileNamesCannotGrowSeriesPastCap) {
    // The cap must leave room for the closed set of rejection codes, exported from the start.
    DaemonMetrics m(16);
    for (int i = 0; i < 100; ++i) {
        m.spawn_failed("nope-" + std::to_string(i), ErrorCode::unknown_profile, 0.001);
    }
    const std::string text = m.exposition();
    EXPECT_EQ(sample(text, "ccjail_metrics_dropped_series_total"), "84");
    EXPECT_EQ(sample(text, "ccjail_rejections_total{code=\"internal\"}"), "0");
    EXPECT_EQ(sample(text, "ccjail_spawn_latency_seconds_count"), "100");
    EXPECT_EQ(first_invalid_line(text), "");
}

TEST(DaemonMetrics, FullExpositionParsesLineByLine) {
    DaemonMetrics m;
    m.session_started("claude-code");
    m.spawn_succeeded("claude-code", 0.07);
    m.bytes_relayed(Direction::in, 3);
    m.throttled(1.5);
    m.rejection(ErrorCode::bad_request);
    const std::string text = m.exposition();
    EXPECT_EQ(first_invalid_line(text), "");
    for (const char* type :
         {"# TYPE ccjail_sessions_active gauge", "# TYPE ccjail_spawns_total counter",
          "# TYPE ccjail_spawn_latency_seconds histogram",
          "# TYPE ccjail_relayed_bytes_total counter",
          "# TYPE ccjail_throttled_seconds_total counter", "# TYPE ccjail_oom_kills_total counter",
          "# TYPE ccjail_auth_failures_total counter", "# TYPE ccjail_rejections_total counter"}) {
        EXPECT_NE(text.find(std::string(type) + "\n"), std::string::npos) << type;
    }
}

}  // namespace
}  // namespace ccjail::metrics
