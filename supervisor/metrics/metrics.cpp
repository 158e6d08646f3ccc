#include "metrics/metrics.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace ccjail::metrics {

namespace {

bool name_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

bool name_char(char c) {
    return name_start(c) || (c >= '0' && c <= '9');
}

// HELP text escapes only backslash and newline; quotes are literal there.
std::string escape_help(std::string_view help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void append_sample(std::string& out, std::string_view name, std::string_view labels,
                   std::string_view value) {
    out += name;
    out += labels;
    out += ' ';
    out += value;
    out += '\n';
}

std::vector<std::string> checked_label_names(std::vector<std::string> names, bool histogram) {
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (!valid_label_name(names[i])) {
            throw std::invalid_argument("invalid metric label name: " + names[i]);
        }
        // The exposition renders "le" for histogram buckets itself.
        if (histogram && names[i] == "le") {
            throw std::invalid_argument("a histogram cannot declare the label le");
        }
        for (std::size_t j = 0; j < i; ++j) {
            if (names[j] == names[i]) {
                throw std::invalid_argument("duplicate metric label name: " + names[i]);
            }
        }
    }
    return names;
}

std::vector<double> checked_bounds(std::vector<double> bounds) {
    if (bounds.empty()) {
        throw std::invalid_argument("a histogram needs at least one bucket bound");
    }
    for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (!std::isfinite(bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must be finite");
        }
        if (i > 0 && !(bounds[i - 1] < bounds[i])) {
            throw std::invalid_argument("histogram bucket bounds must strictly increase");
        }
    }
    return bounds;
}

}  // namespace

bool valid_metric_name(std::string_view name) {
    if (name.empty() || !name_start(name.front())) {
        return false;
    }
    for (char c : name) {
        if (!name_char(c)) {
            return false;
        }
    }
    return true;
}

bool valid_label_name(std::string_view name) {
    // Names starting with __ are reserved for Prometheus' own use; ':' is not allowed in labels.
    if (name.empty() || name.starts_with("__")) {
        return false;
    }
    for (char c : name) {
        if (c == ':' || !name_char(c)) {
            return false;
        }
    }
    return !(name.front() >= '0' && name.front() <= '9');
}

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string format_value(double value) {
    if (std::isnan(value)) {
        return "NaN";
    }
    if (std::isinf(value)) {
        return value > 0 ? "+Inf" : "-Inf";
    }
    char buf[64];
    // Below 2^53 every integer is exact, so printing it as an integer loses nothing.
    constexpr double exact_integer_limit = 9007199254740992.0;
    if (value == std::trunc(value) && std::fabs(value) < exact_integer_limit) {
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(value));
        return std::string(buf, end);
    }
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, end);
}

void CounterSeries::inc(double amount) {
    if (!(amount >= 0)) {
        throw std::invalid_argument("a counter increment must be non-negative");
    }
    value_ += amount;
}

HistogramSeries::HistogramSeries(const std::vector<double>* bounds)
    : bounds_(bounds), per_bucket_(bounds->size() + 1, 0) {}

void HistogramSeries::observe(double value) {
    if (std::isnan(value)) {
        throw std::invalid_argument("a histogram observation cannot be NaN");
    }
    std::size_t bucket = 0;
    while (bucket < bounds_->size() && value > (*bounds_)[bucket]) {
        ++bucket;
    }
    ++per_bucket_[bucket];
    ++count_;
    sum_ += value;
}

std::uint64_t HistogramSeries::cumulative(std::size_t bucket) const {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= bucket && i < per_bucket_.size(); ++i) {
        total += per_bucket_[i];
    }
    return total;
}

Metric::Metric(std::string name, std::string help, std::vector<std::string> label_names)
    : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

void Metric::expose(std::string& out) const {
    out += "# HELP " + name_ + ' ' + escape_help(help_) + '\n';
    out += "# TYPE " + name_ + ' ' + std::string(type()) + '\n';
    expose_samples(out);
}

void Metric::check_arity(const LabelValues& values) const {
    if (values.size() != label_names_.size()) {
        throw std::invalid_argument("metric " + name_ + " takes " +
                                    std::to_string(label_names_.size()) + " label values, got " +
                                    std::to_string(values.size()));
    }
}

std::string Metric::label_text(const LabelValues& values, std::string_view extra_name,
                               std::string_view extra_value) const {
    std::string out;
    auto add = [&out](std::string_view name, std::string_view value) {
        out += out.empty() ? "{" : ",";
        out += name;
        out += "=\"";
        out += escape_label_value(value);
        out += '"';
    };
    for (std::size_t i = 0; i < values.size(); ++i) {
        add(label_names_[i], values[i]);
    }
    if (!extra_name.empty()) {
        add(extra_name, extra_value);
    }
    if (!out.empty()) {
        out += '}';
    }
    return out;
}

void Counter::expose_samples(std::string& out) const {
    for (const auto& [values, series] : series()) {
        append_sample(out, name(), label_text(values), format_value(series.value()));
    }
}

void Gauge::expose_samples(std::string& out) const {
    for (const auto& [values, series] : series()) {
        append_sample(out, name(), label_text(values), format_value(series.value()));
    }
}

Histogram::Histogram(std::string name, std::string help, std::vector<std::string> label_names,
                     std::vector<double> bounds, std::size_t max_series, CounterSeries* dropped)
    : Family(std::move(name), std::move(help), std::move(label_names), max_series, dropped),
      bounds_(checked_bounds(std::move(bounds))) {}

void Histogram::expose_samples(std::string& out) const {
    const std::string bucket_name = name() + "_bucket";
    for (const auto& [values, series] : series()) {
        for (std::size_t i = 0; i < bounds_.size(); ++i) {
            append_sample(out, bucket_name, label_text(values, "le", format_value(bounds_[i])),
                          std::to_string(series.cumulative(i)));
        }
        append_sample(out, bucket_name, label_text(values, "le", "+Inf"),
                      std::to_string(series.count()));
        append_sample(out, name() + "_sum", label_text(values), format_value(series.sum()));
        append_sample(out, name() + "_count", label_text(values), std::to_string(series.count()));
    }
}

Registry::Registry(std::size_t max_series_per_metric) : max_series_(max_series_per_metric) {
    if (max_series_ == 0) {
        throw std::invalid_argument("the series limit per metric must be at least 1");
    }
    Counter& dropped =
        counter(dropped_series_metric,
                "Label combinations refused because a metric reached its series limit.");
    dropped_ = &dropped.labels({});
}

Metric* Registry::find(std::string_view name) const {
    auto it = metrics_.find(name);
    return it == metrics_.end() ? nullptr : it->second.get();
}

void Registry::check_new(std::string_view name, const std::vector<std::string>& label_names) const {
    if (!valid_metric_name(name)) {
        throw std::invalid_argument("invalid metric name: " + std::string(name));
    }
    if (const Metric* existing = find(name);
        existing != nullptr && existing->label_names() != label_names) {
        throw std::invalid_argument("metric " + std::string(name) +
                                    " is already registered with other labels");
    }
}

namespace {

template <typename Wanted>
Wanted& reuse(Metric* existing) {
    auto* same_kind = dynamic_cast<Wanted*>(existing);
    if (same_kind == nullptr) {
        throw std::invalid_argument("metric " + existing->name() + " is already registered as a " +
                                    std::string(existing->type()));
    }
    return *same_kind;
}

// A metric without labels has exactly one series; creating it now exports a 0 from the start
// rather than leaving the metric absent until its first event.
template <typename M>
M& with_default_series(M& metric) {
    if (metric.label_names().empty()) {
        metric.labels({});
    }
    return metric;
}

}  // namespace

Counter& Registry::counter(std::string_view name, std::string_view help,
                           std::vector<std::string> label_names) {
    label_names = checked_label_names(std::move(label_names), false);
    check_new(name, label_names);
    if (Metric* existing = find(name)) {
        return reuse<Counter>(existing);
    }
    auto metric = std::make_unique<Counter>(std::string(name), std::string(help),
                                            std::move(label_names), max_series_, dropped_);
    Counter& ref = *metric;
    metrics_.emplace(std::string(name), std::move(metric));
    return with_default_series(ref);
}

Gauge& Registry::gauge(std::string_view name, std::string_view help,
                       std::vector<std::string> label_names) {
    label_names = checked_label_names(std::move(label_names), false);
    check_new(name, label_names);
    if (Metric* existing = find(name)) {
        return reuse<Gauge>(existing);
    }
    auto metric = std::make_unique<Gauge>(std::string(name), std::string(help),
                                          std::move(label_names), max_series_, dropped_);
    Gauge& ref = *metric;
    metrics_.emplace(std::string(name), std::move(metric));
    return with_default_series(ref);
}

Histogram& Registry::histogram(std::string_view name, std::string_view help,
                               std::vector<double> bounds, std::vector<std::string> label_names) {
    label_names = checked_label_names(std::move(label_names), true);
    check_new(name, label_names);
    if (Metric* existing = find(name)) {
        auto& same = reuse<Histogram>(existing);
        if (same.bounds() != bounds) {
            throw std::invalid_argument("histogram " + std::string(name) +
                                        " is already registered with other buckets");
        }
        return same;
    }
    auto metric =
        std::make_unique<Histogram>(std::string(name), std::string(help), std::move(label_names),
                                    std::move(bounds), max_series_, dropped_);
    Histogram& ref = *metric;
    metrics_.emplace(std::string(name), std::move(metric));
    return with_default_series(ref);
}

std::string Registry::exposition() const {
    std::string out;
    for (const auto& [name, metric] : metrics_) {
        metric->expose(out);
    }
    return out;
}

}  // namespace ccjail::metrics
