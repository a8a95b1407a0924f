#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "controller/base/clock.h"
#include "controller/store/store.h"

namespace visi {

struct LeaderElectionOptions {
  std::string namespace_ = "visi-system";
  std::string name = "visid-controllers";
  std::string identity;  // REQUIRES: unique per candidate, e.g. host_pid_random
  // A candidate takes the lease over only after it saw no renewal for
  // lease_duration. The holder gives up when it could not renew for
  // renew_deadline, which is shorter: it stops before anyone else starts.
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  const Clock* clock = SystemClock::Default();
};

struct LeaderCallbacks {
  // Called on the elector's thread; must return promptly (start work on
  // threads of its own).
  std::function<void()> on_started_leading;
  // Must not return before the leader's work has stopped.
  std::function<void()> on_stopped_leading;
  std::function<void(const std::string& identity)> on_new_leader;
};

// Leader election over a Lease object, as client-go's leaderelection does:
// the holder renews spec.renewTime every retry_period; others watch for the
// record to stop changing for lease_duration (measured on their own clock,
// so clock skew between machines does not matter) before taking over with
// an update conditioned on the resourceVersion they read. Thread-safe.
class LeaderElector {
 public:
  LeaderElector(Store* store, LeaderElectionOptions opts, LeaderCallbacks callbacks);
  ~LeaderElector();

  void Start();
  // Stops; a leader stops its work and then releases the lease (holder
  // cleared) so that another candidate takes over at once.
  void Stop();
  // Stops without calling back or releasing, as a killed process would
  // (tests).
  void Abandon();

  bool IsLeader() const { return leader_.load(); }
  std::string identity() const { return opts_.identity; }
  uint64_t transitions_seen() const { return transitions_.load(); }

 private:
  void Run();
  // One attempt to acquire or renew; true when this candidate holds the lease.
  bool TryAcquireOrRenew();
  void Release();
  void SleepUntil(TimePoint t);

  Store* const store_;
  const LeaderElectionOptions opts_;
  const LeaderCallbacks callbacks_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::atomic<bool> stop_{false}, abandon_{false}, leader_{false};
  std::atomic<uint64_t> transitions_{0};
  // What this candidate last saw of the lease, and when (its own clock).
  std::string observed_record_;
  std::string observed_holder_;
  TimePoint observed_time_{};
  TimePoint last_renew_{};
};

}  // namespace visi
