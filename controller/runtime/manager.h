#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/base/clock.h"
#include "controller/runtime/controller.h"
#include "controller/runtime/informer.h"
#include "controller/runtime/leader_election.h"
#include "controller/store/store.h"

namespace visi {

class EventRecorder;

// Joins Prometheus text expositions so that each metric family appears once,
// with one HELP and TYPE line and all its samples together.
std::string MergeExpositions(const std::vector<std::string>& parts);

struct ManagerOptions {
  const Clock* clock = SystemClock::Default();
  bool leader_election = true;
  LeaderElectionOptions election;  // its clock is set to `clock`
  std::string component = "visid";  // event source
};

// Runs controllers, as controller-runtime's manager does: one shared
// informer per kind (started at once, so caches are warm), controllers
// started only while this process holds the leader lease and its caches have
// synced, stopped when the lease is lost or on shutdown. Thread-safe.
class Manager {
 public:
  Manager(Store* store, ManagerOptions opts);
  ~Manager();

  // The shared informer of `kind` (created on first use).
  Informer* InformerFor(const std::string& kind);
  // Adds a controller over `kind` (before Start).
  Controller* AddController(ControllerOptions opts, const std::string& kind, ReconcileFn reconcile);
  EventRecorder* events() { return events_.get(); }
  Store* store() { return store_; }
  const Clock* clock() const { return opts_.clock; }

  void Start();
  // Stops controllers (running reconciles finish), releases the lease, stops informers.
  void Stop();

  bool IsLeader() const;
  bool Healthy() const { return started_.load(); }
  // Every informer has synced.
  bool Ready() const;
  std::string RenderMetrics() const;

 private:
  void StartControllers();
  void StopControllers();

  Store* const store_;
  ManagerOptions opts_;
  std::unique_ptr<EventRecorder> events_;
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Informer>> informers_;  // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Controller>> controllers_;        // GUARDED_BY(mu_)
  std::unique_ptr<LeaderElector> elector_;
  std::atomic<bool> started_{false}, leading_{false};
  std::mutex run_mu_;  // serializes starting and stopping controllers
};

}  // namespace visi
