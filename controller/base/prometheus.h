#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace visi {

// Small helpers for the Prometheus text exposition format 0.0.4, shared by
// the components that render their own /metrics text.

// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view value);

// A sample value as Prometheus writes it: the shortest text that reads back
// as the same double ("0.005", "1e-08", "10"), and "+Inf", "-Inf", "NaN".
std::string FormatPromValue(double value);

// "# HELP <name> <help>\n# TYPE <name> <type>\n".
std::string PromHeader(std::string_view name, std::string_view type, std::string_view help);

// A histogram with fixed bucket upper bounds (an implicit +Inf bucket is
// added). Not thread-safe: the owner guards it with its own lock.
class PromHistogram {
 public:
  // REQUIRES: `upper_bounds` ascending and finite.
  explicit PromHistogram(std::vector<double> upper_bounds);

  void Observe(double value);

  // The cumulative "<name>_bucket{<labels>,le="..."}" lines, then "<name>_sum"
  // and "<name>_count". `labels` is already rendered (`name="pods"`) and may
  // be empty. No HELP/TYPE lines: see PromHeader.
  std::string Render(std::string_view name, std::string_view labels) const;

  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::vector<double> upper_bounds_;
  std::vector<uint64_t> bucket_counts_;  // not cumulative; one per upper bound
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace visi
