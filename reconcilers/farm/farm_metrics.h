#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>

namespace visi {

class Informer;

// The farm's Prometheus metrics: per pool, its machines by state and its
// sessions (from the pools' status), per machine whether it is Ready and
// how many sessions it holds, and the exec provider's program runs.
class FarmMetrics {
 public:
  // Counts one run of a pool's create or delete program ("ok" or "error").
  void CountExec(const std::string& pool, const std::string& program, bool ok);

  // The text exposition of every metric; `pools` and `machines` are the
  // FarmPool and FarmMachine informers.
  std::string Render(const Informer& pools, const Informer& machines) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> exec_runs_;  // GUARDED_BY(mu_): rendered label set -> count
};

}  // namespace visi
