#include "controller/runtime/rate_limiter.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace visi {
namespace {

using std::chrono::nanoseconds;

class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(nanoseconds base, nanoseconds max) : base_(base), max_(max) {}

  nanoseconds When(const std::string& key) override {
    int exp;
    {
      std::lock_guard lock(mu_);
      int& failures = failures_[key];
      exp = failures;
      if (failures < INT_MAX) ++failures;
    }
    // In double so that a long failure streak saturates instead of overflowing.
    double backoff = static_cast<double>(base_.count()) * std::pow(2.0, exp);
    if (backoff >= static_cast<double>(max_.count())) return max_;
    return nanoseconds(static_cast<int64_t>(backoff));
  }

  void Forget(const std::string& key) override {
    std::lock_guard lock(mu_);
    failures_.erase(key);
  }

  int NumRequeues(const std::string& key) override {
    std::lock_guard lock(mu_);
    auto it = failures_.find(key);
    return it == failures_.end() ? 0 : it->second;
  }

 private:
  const nanoseconds base_;
  const nanoseconds max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;  // GUARDED_BY(mu_)
};

class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(const Clock* clock, double qps, int burst)
      : clock_(clock),
        qps_(qps),
        burst_(std::max(burst, 1)),
        tokens_(burst_),
        last_(clock->Now()) {}

  nanoseconds When(const std::string& key) override {
    if (!(qps_ > 0) || std::isinf(qps_)) return nanoseconds(0);
    std::lock_guard lock(mu_);
    TimePoint now = clock_->Now();
    if (now > last_) {
      double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min<double>(burst_, tokens_ + elapsed * qps_);
      last_ = now;
    }
    // Reserve a token even if it does not exist yet: the debt is what spaces
    // the following reservations.
    tokens_ -= 1;
    if (tokens_ >= 0) return nanoseconds(0);
    return nanoseconds(std::llround(-tokens_ / qps_ * 1e9));
  }

  void Forget(const std::string& key) override {}
  int NumRequeues(const std::string& key) override { return 0; }

 private:
  const Clock* const clock_;
  const double qps_;
  const int burst_;
  std::mutex mu_;
  double tokens_;   // GUARDED_BY(mu_): negative while reservations are pending
  TimePoint last_;  // GUARDED_BY(mu_): when tokens_ was last brought up to date
};

class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}

  nanoseconds When(const std::string& key) override {
    nanoseconds longest(0);
    for (auto& limiter : limiters_) longest = std::max(longest, limiter->When(key));
    return longest;
  }

  void Forget(const std::string& key) override {
    for (auto& limiter : limiters_) limiter->Forget(key);
  }

  int NumRequeues(const std::string& key) override {
    int most = 0;
    for (auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(key));
    return most;
  }

 private:
  const std::vector<std::unique_ptr<RateLimiter>> limiters_;  // each thread-safe
};

}  // namespace

std::unique_ptr<RateLimiter> NewItemExponentialRateLimiter(nanoseconds base, nanoseconds max) {
  return std::make_unique<ItemExponentialRateLimiter>(base, max);
}

std::unique_ptr<RateLimiter> NewBucketRateLimiter(const Clock* clock, double qps, int burst) {
  return std::make_unique<BucketRateLimiter>(clock, qps, burst);
}

std::unique_ptr<RateLimiter> NewMaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters) {
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

std::unique_ptr<RateLimiter> NewDefaultControllerRateLimiter(const Clock* clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(NewItemExponentialRateLimiter(std::chrono::milliseconds(5),
                                                   std::chrono::seconds(1000)));
  limiters.push_back(NewBucketRateLimiter(clock, 10, 100));
  return NewMaxOfRateLimiter(std::move(limiters));
}

}  // namespace visi
