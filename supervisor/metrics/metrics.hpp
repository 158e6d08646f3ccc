#pragma once

// A small Prometheus registry rendering the text exposition format 0.0.4.
//
// Not thread-safe: the daemon updates and renders metrics from its single event loop, so the
// registry takes no locks. Callers on other threads must hand updates to that loop.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ccjail::metrics {

using LabelValues = std::vector<std::string>;

inline constexpr std::size_t default_max_series = 1000;
inline constexpr std::string_view dropped_series_metric = "ccjail_metrics_dropped_series_total";

bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);
std::string escape_label_value(std::string_view value);
// Integral values print without exponent or decimal point; others as the shortest text that
// reads back to the same double; infinities as +Inf / -Inf.
std::string format_value(double value);

class CounterSeries {
  public:
    // Counters only go up; a negative or NaN increment throws std::invalid_argument.
    void inc(double amount = 1);
    double value() const { return value_; }

  private:
    double value_ = 0;
};

class GaugeSeries {
  public:
    void set(double value) { value_ = value; }
    void inc(double amount = 1) { value_ += amount; }
    void dec(double amount = 1) { value_ -= amount; }
    double value() const { return value_; }

  private:
    double value_ = 0;
};

class HistogramSeries {
  public:
    explicit HistogramSeries(const std::vector<double>* bounds);
    // A NaN observation throws std::invalid_argument: it belongs to no bucket.
    void observe(double value);
    std::uint64_t count() const { return count_; }
    double sum() const { return sum_; }
    // Cumulative count of observations <= bounds[i]; i == bounds.size() is +Inf.
    std::uint64_t cumulative(std::size_t bucket) const;

  private:
    const std::vector<double>* bounds_;
    std::vector<std::uint64_t> per_bucket_;  // last slot: above every bound
    std::uint64_t count_ = 0;
    double sum_ = 0;
};

// Common to every metric: identity, declared labels, rendering.
class Metric {
  public:
    Metric(std::string name, std::string help, std::vector<std::string> label_names);
    virtual ~Metric() = default;
    Metric(const Metric&) = delete;
    Metric& operator=(const Metric&) = delete;

    const std::string& name() const { return name_; }
    const std::string& help() const { return help_; }
    const std::vector<std::string>& label_names() const { return label_names_; }
    virtual std::string_view type() const = 0;
    virtual std::size_t series_count() const = 0;
    // Appends HELP, TYPE and every sample, series sorted by label values.
    void expose(std::string& out) const;

  protected:
    void check_arity(const LabelValues& values) const;
    std::string label_text(const LabelValues& values, std::string_view extra_name = {},
                           std::string_view extra_value = {}) const;
    virtual void expose_samples(std::string& out) const = 0;

  private:
    std::string name_;
    std::string help_;
    std::vector<std::string> label_names_;
};

// A metric with one series per label-value combination, capped so that label values chosen by
// a hostile client cannot grow memory without bound: past the cap, labels() hands back a
// scratch series that is never exported and counts the refusal in the dropped-series counter.
template <typename Series>
class Family : public Metric {
  public:
    Family(std::string name, std::string help, std::vector<std::string> label_names,
           std::size_t max_series, CounterSeries* dropped)
        : Metric(std::move(name), std::move(help), std::move(label_names)),
          max_series_(max_series),
          dropped_(dropped) {}

    Series& labels(const LabelValues& values) {
        check_arity(values);
        if (auto it = series_.find(values); it != series_.end()) {
            return it->second;
        }
        if (series_.size() >= max_series_) {
            if (dropped_ != nullptr) {
                dropped_->inc();
            }
            if (!overflow_) {
                overflow_.emplace(make_series());
            }
            return *overflow_;
        }
        return series_.emplace(values, make_series()).first->second;
    }
    std::size_t series_count() const override { return series_.size(); }

  protected:
    virtual Series make_series() const = 0;
    const std::map<LabelValues, Series>& series() const { return series_; }

  private:
    std::size_t max_series_;
    CounterSeries* dropped_;
    std::map<LabelValues, Series> series_;
    std::optional<Series> overflow_;
};

class Counter : public Family<CounterSeries> {
  public:
    using Family::Family;
    std::string_view type() const override { return "counter"; }
    // Shorthands for a metric declared without labels.
    void inc(double amount = 1) { labels({}).inc(amount); }
    double value() { return labels({}).value(); }

  protected:
    CounterSeries make_series() const override { return {}; }
    void expose_samples(std::string& out) const override;
};

class Gauge : public Family<GaugeSeries> {
  public:
    using Family::Family;
    std::string_view type() const override { return "gauge"; }
    void set(double value) { labels({}).set(value); }
    void inc(double amount = 1) { labels({}).inc(amount); }
    void dec(double amount = 1) { labels({}).dec(amount); }

  protected:
    GaugeSeries make_series() const override { return {}; }
    void expose_samples(std::string& out) const override;
};

class Histogram : public Family<HistogramSeries> {
  public:
    // bounds: finite and strictly increasing; +Inf is implicit.
    Histogram(std::string name, std::string help, std::vector<std::string> label_names,
              std::vector<double> bounds, std::size_t max_series, CounterSeries* dropped);
    std::string_view type() const override { return "histogram"; }
    const std::vector<double>& bounds() const { return bounds_; }
    void observe(double value) { labels({}).observe(value); }

  protected:
    HistogramSeries make_series() const override { return HistogramSeries(&bounds_); }
    void expose_samples(std::string& out) const override;

  private:
    std::vector<double> bounds_;
};

class Registry {
  public:
    explicit Registry(std::size_t max_series_per_metric = default_max_series);

    // Registering a name again with the same kind, labels (and bounds) returns the existing
    // metric; any other reuse, an invalid name or an invalid label name throws
    // std::invalid_argument.
    Counter& counter(std::string_view name, std::string_view help,
                     std::vector<std::string> label_names = {});
    Gauge& gauge(std::string_view name, std::string_view help,
                 std::vector<std::string> label_names = {});
    Histogram& histogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                         std::vector<std::string> label_names = {});

    // Metrics sorted by name, each with its series sorted by label values.
    std::string exposition() const;
    double dropped_series() const { return dropped_->value(); }

  private:
    void check_new(std::string_view name, const std::vector<std::string>& label_names) const;
    Metric* find(std::string_view name) const;

    std::size_t max_series_;
    std::map<std::string, std::unique_ptr<Metric>, std::less<>> metrics_;
    CounterSeries* dropped_ = nullptr;
};

}  // namespace ccjail::metrics
