#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace visi {

using TimePoint = std::chrono::system_clock::time_point;

// Time is injected so that tests never sleep on the real clock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
  // Waits on `cv`, with `lock` held on entry and on return, until notified or
  // until Now() reaches `deadline`. May return early (spuriously): callers
  // re-check their condition and Now().
  virtual void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         TimePoint deadline) const = 0;
};

// The wall clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) const override {
    cv.wait_until(lock, deadline);
  }
  static SystemClock* Default();
};

// A clock that moves only when told to. Thread-safe. WaitUntil returns
// within about a millisecond of real time once Advance has passed the
// deadline (it re-checks that often), so waiters never miss an Advance.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start = TimePoint(std::chrono::hours(24 * 365 * 56))) : now_(start) {}
  TimePoint Now() const override;
  void WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 TimePoint deadline) const override;
  void Advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

// RFC 3339 in UTC with second precision ("2026-11-23T22:10:00Z"), as
// Kubernetes writes metav1.Time.
std::string FormatRfc3339(TimePoint t);
// With microseconds, as Kubernetes' MicroTime: 2026-01-02T15:04:05.123456Z.
std::string FormatRfc3339Micro(TimePoint t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". nullopt when malformed.
std::optional<TimePoint> ParseRfc3339(std::string_view s);

}  // namespace visi
