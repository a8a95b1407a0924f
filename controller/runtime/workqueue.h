#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "controller/base/clock.h"
#include "controller/base/prometheus.h"
#include "controller/runtime/rate_limiter.h"

namespace visi {

// A queue of object keys for reconcile workers, in the spirit of client-go's
// RateLimitingInterface. Thread-safe. It guarantees:
//   - a key waiting to be handed out is queued once, however often it is added;
//   - a key is never handed to two Get callers at once: a key added while it
//     is being processed is handed out again after Done, exactly once more;
//   - a key has at most one pending run: of several AddAfter the earliest
//     wins, and an Add makes it ready now (dropping its delayed time; the
//     reconcile that runs is expected to requeue again if it still needs to).
// Delays are measured on the injected clock; a FakeClock drives them in tests.
class WorkQueue {
 public:
  // `name` labels the metrics. `clock` must outlive the queue.
  WorkQueue(std::string name, const Clock* clock, std::unique_ptr<RateLimiter> limiter);
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` to run now. Ignored after ShutDown.
  void Add(const std::string& key);
  // Queues `key` to run once the clock reaches now + `delay`; `delay` <= 0 is
  // Add. Ignored after ShutDown, or when the key is already ready to run.
  void AddAfter(const std::string& key, std::chrono::nanoseconds delay);
  // AddAfter(key, limiter->When(key)): counts a failure and a retry.
  void AddRateLimited(const std::string& key);
  // The key succeeded: the limiter resets its failures.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready (FIFO by the time it became ready) and marks
  // it as being processed; the caller must call Done(key) when finished.
  // nullopt once shut down and no ready key remains.
  std::optional<std::string> Get();
  // Like Get, but nullopt after `timeout` of real time with nothing ready, so
  // that a worker can poll its stop flag.
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  // Ends the processing of `key`; if it was added meanwhile it becomes ready.
  // REQUIRES: `key` was handed out by Get/GetFor and not yet Done (aborts
  // otherwise: that is a bug in the caller).
  void Done(const std::string& key);

  // Refuses new adds and drops delayed keys. Get still hands out the keys that
  // are ready, then returns nullopt. Keys already handed out may still call Done.
  void ShutDown();
  // ShutDown, then waits until every key handed out is Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;

  // Keys ready to be handed out.
  size_t Len() const;

  struct Stats {
    size_t depth, delayed, processing;
    uint64_t adds, retries;
    double longest_running_seconds, unfinished_work_seconds;
  };
  Stats GetStats() const;
  // Prometheus text of the visi_workqueue_* metrics, labelled name="<name>",
  // with HELP/TYPE lines.
  std::string RenderMetrics() const;

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  std::optional<std::string> GetUntil(std::optional<SteadyTime> real_deadline);
  // Moves the delayed keys whose time has come to the ready state.
  void PromoteLocked(TimePoint now) const;
  // `key` should run now; `ready_since` starts its queue-duration measurement.
  void MakeReadyLocked(const std::string& key, TimePoint ready_since) const;
  void DropDelayedLocked(const std::string& key) const;
  std::string HandOutLocked(TimePoint now);
  Stats StatsLocked(TimePoint now) const;

  const std::string name_;
  const Clock* const clock_;
  const std::unique_ptr<RateLimiter> limiter_;  // thread-safe on its own

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;          // a key became ready, or shut down
  std::condition_variable drained_cv_;          // processing_ became empty
  // The queue state is mutable because the const observers (Len, GetStats,
  // RenderMetrics) first promote due delayed keys: a key whose time has come
  // is logically ready, whether or not a Get has looked yet.
  //
  // A key is in at most one of dirty_ and delayed_. A dirty key is in ready_
  // unless it is being processed, in which case Done moves it to ready_.
  mutable std::deque<std::string> ready_;                         // GUARDED_BY(mu_): FIFO
  mutable std::unordered_map<std::string, TimePoint> dirty_;      // GUARDED_BY(mu_): ready since
  mutable std::unordered_map<std::string, std::pair<TimePoint, uint64_t>> delayed_;  // GUARDED_BY(mu_)
  mutable std::map<std::pair<TimePoint, uint64_t>, std::string> delayed_by_time_;  // GUARDED_BY(mu_)
  mutable uint64_t delayed_seq_ = 0;                              // GUARDED_BY(mu_): ties in FIFO
  std::unordered_map<std::string, TimePoint> processing_;         // GUARDED_BY(mu_): since
  bool shutting_down_ = false;                                    // GUARDED_BY(mu_)

  mutable uint64_t adds_ = 0;       // GUARDED_BY(mu_)
  uint64_t retries_ = 0;            // GUARDED_BY(mu_)
  PromHistogram queue_duration_;    // GUARDED_BY(mu_)
  PromHistogram work_duration_;     // GUARDED_BY(mu_)
};

}  // namespace visi
