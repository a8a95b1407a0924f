#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "controller/base/clock.h"

namespace visi {

// Decides how long a failed key waits before its next try, as client-go's
// workqueue.RateLimiter does. Implementations are thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Counts one more failure of `key` and returns the delay before its next try.
  virtual std::chrono::nanoseconds When(const std::string& key) = 0;
  // The key succeeded: its failures are reset (and its memory freed).
  virtual void Forget(const std::string& key) = 0;
  // Failures counted for `key` since the last Forget; 0 for limiters that do
  // not track keys.
  virtual int NumRequeues(const std::string& key) = 0;
};

// Per key: base * 2^(failures so far), capped at `max`. The first When is `base`.
std::unique_ptr<RateLimiter> NewItemExponentialRateLimiter(std::chrono::nanoseconds base,
                                                           std::chrono::nanoseconds max);

// One token bucket for all keys, refilled at `qps` up to `burst` tokens. Each
// When reserves a token and returns how long until that token exists (like
// golang.org/x/time/rate's Reserve().Delay()), so a burst of failures is
// spread out at 1/qps. qps <= 0 or infinite means no limit; burst < 1 acts as 1.
// `clock` must outlive the limiter.
std::unique_ptr<RateLimiter> NewBucketRateLimiter(const Clock* clock, double qps, int burst);

// The longest delay of all `limiters` (each one counts the failure).
// NumRequeues is the largest of theirs; Forget forgets in all.
std::unique_ptr<RateLimiter> NewMaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);

// The controllers' default: the max of a per-key exponential back-off from
// 5 ms to 1000 s and an overall bucket of 10 qps with a burst of 100.
std::unique_ptr<RateLimiter> NewDefaultControllerRateLimiter(const Clock* clock);

}  // namespace visi
