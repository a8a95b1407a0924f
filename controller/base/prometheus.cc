#include "controller/base/prometheus.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <utility>

namespace visi {

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string FormatPromValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, end);
}

std::string PromHeader(std::string_view name, std::string_view type, std::string_view help) {
  std::string out;
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  return out;
}

PromHistogram::PromHistogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), bucket_counts_(upper_bounds_.size(), 0) {}

void PromHistogram::Observe(double value) {
  // The first bucket whose upper bound is >= value; none means only +Inf.
  auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  if (it != upper_bounds_.end()) ++bucket_counts_[it - upper_bounds_.begin()];
  ++count_;
  sum_ += value;
}

std::string PromHistogram::Render(std::string_view name, std::string_view labels) const {
  std::string prefix(name);
  prefix += "_bucket{";
  if (!labels.empty()) prefix.append(labels).append(",");
  prefix += "le=\"";
  std::string braces = labels.empty() ? "" : "{" + std::string(labels) + "}";

  std::string out;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += bucket_counts_[i];
    out += prefix + FormatPromValue(upper_bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += prefix + "+Inf\"} " + std::to_string(count_) + "\n";
  out.append(name).append("_sum").append(braces).append(" ").append(FormatPromValue(sum_)).append("\n");
  out.append(name).append("_count").append(braces).append(" ").append(std::to_string(count_)).append("\n");
  return out;
}

}  // namespace visi
