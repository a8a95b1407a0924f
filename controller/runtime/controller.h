#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "controller/base/clock.h"
#include "controller/runtime/informer.h"
#include "controller/store/store.h"

namespace visi {

class EventRecorder;
class PromHistogram;
class WorkQueue;

// What a reconcile asks for next.
struct ReconcileResult {
  enum class Outcome {
    kDone,          // converged: forget the key's failures
    kRequeueAfter,  // converged for now; look again after `after`
    kError,         // failed: retried with per-key exponential backoff
    kTerminal,      // failed for good until the object changes: a condition and an event, no retry
  };
  Outcome outcome = Outcome::kDone;
  std::chrono::nanoseconds after{0};
  Status error;

  static ReconcileResult Done() { return {}; }
  static ReconcileResult RequeueAfter(std::chrono::nanoseconds d) { return {Outcome::kRequeueAfter, d, {}}; }
  static ReconcileResult Error(Status s) { return {Outcome::kError, {}, std::move(s)}; }
  static ReconcileResult Terminal(Status s) { return {Outcome::kTerminal, {}, std::move(s)}; }
};

// Takes only a key ("namespace/name"): reconcilers read what they need
// from caches or the store, so a key that changed many times runs once.
using ReconcileFn = std::function<ReconcileResult(const std::string& key)>;

struct ControllerOptions {
  std::string name;  // metrics label and event source, e.g. "visisession"
  int workers = 2;
  const Clock* clock = SystemClock::Default();
  // The condition a terminal error sets False on the primary object (and
  // True again once a reconcile succeeds).
  std::string condition_type = "Reconciled";
};

// Runs a reconcile function over the keys of one kind with N workers, as
// controller-runtime does: changes to the primary kind enqueue their key,
// changes to owned objects enqueue their controlling owner, a key is never
// reconciled by two workers at once, and an exception is an error.
// Start/Stop may alternate (a leader that loses and regains its lease).
class Controller {
 public:
  Controller(ControllerOptions opts, Store* store, Informer* primary, ReconcileFn reconcile,
             EventRecorder* events = nullptr);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Objects of another kind whose controller owner is of the primary kind.
  void Owns(Informer* owned);
  // Objects of another kind mapped to primary keys by `map` (on an update,
  // the keys of both the old and the new version).
  void Watches(Informer* other, std::function<std::vector<std::string>(const ObjectPtr&)> map);

  // Starts the workers and enqueues every key in the primary cache (the
  // first pass of a level-triggered controller).
  void Start();
  // Stops handing out keys and waits for running reconciles to finish.
  // Keys still queued stay for the next Start (they are re-listed anyway).
  void Stop();
  bool running() const { return running_.load(); }

  // Enqueues a key now (tests, manual triggers).
  void Enqueue(const std::string& key);

  const std::string& name() const { return opts_.name; }
  struct Stats {
    uint64_t reconciles = 0, errors = 0, terminal = 0, exceptions = 0;
    int active_workers = 0;
    size_t queue_depth = 0;
  };
  Stats GetStats() const;
  std::string RenderMetrics() const;

 private:
  void Work(std::shared_ptr<WorkQueue> queue);
  ReconcileResult RunOne(const std::string& key);
  void Report(const std::string& key, const ReconcileResult& r);
  std::shared_ptr<WorkQueue> Queue() const;

  const ControllerOptions opts_;
  Store* const store_;
  Informer* const primary_;
  // Watches() sources, replayed into the queue at Start (guarded by mu_).
  std::vector<std::pair<Informer*, std::function<std::vector<std::string>(const ObjectPtr&)>>> watched_;
  const ReconcileFn reconcile_;
  EventRecorder* const events_;

  mutable std::mutex mu_;
  std::shared_ptr<WorkQueue> queue_;  // GUARDED_BY(mu_); null while stopped
  std::vector<std::thread> workers_;  // GUARDED_BY(mu_)
  std::atomic<bool> running_{false};
  std::atomic<uint64_t> reconciles_{0}, errors_{0}, terminal_{0}, exceptions_{0};
  std::atomic<int> active_{0};
  std::unique_ptr<PromHistogram> duration_;  // GUARDED_BY(mu_)
};

}  // namespace visi
