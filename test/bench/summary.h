#pragma once

// The median, least and largest of a benchmark's samples.
#include <algorithm>
#include <cstddef>
#include <vector>

namespace visi::bench {

struct Summary {
  size_t n = 0;
  double median = 0, min = 0, max = 0;
};

inline Summary Summarize(std::vector<double> v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  s.min = v.front();
  s.max = v.back();
  return s;
}

}  // namespace visi::bench
