#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace visi {

// Prometheus metrics of the API server and store, exposed as text format
// 0.0.4 at /metrics. Thread-safe.
class Metrics {
 public:
  // One finished request.
  void ObserveRequest(const std::string& verb, const std::string& resource, int code,
                      double seconds);
  // One request counted without a latency (a watch: it lasts as long as the
  // client wants, so its duration says nothing about the server).
  void CountRequest(const std::string& verb, const std::string& resource, int code);
  // One store call, by operation (create, get, list, update, delete, watch).
  void ObserveStore(const std::string& op, double seconds);
  // Takes one of `limit` watch slots; false when all are taken. The slot
  // is counted as open from here until WatchClosed().
  bool TryOpenWatch(int64_t limit) {
    int64_t n = open_watches_.load();
    while (n < limit) {
      if (open_watches_.compare_exchange_weak(n, n + 1)) return true;
    }
    return false;
  }
  void WatchClosed() { open_watches_.fetch_sub(1); }
  void SetRevision(uint64_t rv) { revision_.store(rv); }
  int64_t open_watches() const { return open_watches_.load(); }

  // Adds text of other components (already in Prometheus text format) to
  // every Render. Call before serving.
  void AddCollector(std::function<std::string()> render) { collectors_.push_back(std::move(render)); }

  std::string Render() const;

 private:
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1,    5};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
    void Observe(double v);
  };

  mutable std::mutex mu_;
  std::map<std::string, uint64_t> requests_;        // GUARDED_BY(mu_): labels -> count
  std::map<std::string, Histogram> request_latency_;  // GUARDED_BY(mu_)
  std::map<std::string, Histogram> store_latency_;    // GUARDED_BY(mu_)
  std::atomic<int64_t> open_watches_{0};
  std::atomic<uint64_t> revision_{0};
  std::vector<std::function<std::string()>> collectors_;
};

}  // namespace visi
