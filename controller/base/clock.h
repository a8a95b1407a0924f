#pragma once

#include <chrono>
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
};

// The wall clock.
class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock* Default();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start) {}
  TimePoint Now() const override;
  void Advance(std::chrono::nanoseconds d);

 private:
  mutable std::mutex mu_;
  TimePoint now_;
};

// RFC 3339 in UTC with second precision ("2026-11-23T22:10:00Z"), as
// Kubernetes writes metav1.Time.
std::string FormatRfc3339(TimePoint t);
// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". nullopt when malformed.
std::optional<TimePoint> ParseRfc3339(std::string_view s);

}  // namespace visi
