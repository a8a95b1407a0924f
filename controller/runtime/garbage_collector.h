#pragma once

#include <memory>
#include <set>
#include <string>

#include "controller/api/scheme.h"
#include "controller/runtime/manager.h"

namespace visi {

struct GcAction;

// The garbage collector: a controller over every kind that plans with the
// ownership graph (ownership_graph.h) and carries the plan out. Objects whose
// owners are all gone are deleted; foreground and orphan deletions are
// completed; ownership cycles are reported as Warning events
// ("OwnershipCycle") on their members.
class GarbageCollector {
 public:
  // Registers its informers and controller with `manager` (before Start).
  GarbageCollector(Manager* manager, std::shared_ptr<const Scheme> scheme);

  // One full pass: plan over every cached object and apply the actions in
  // order. Public for tests.
  ReconcileResult Pass();
  uint64_t deleted() const { return deleted_.load(); }

 private:
  // Before an orphaning owner's finalizer goes: every dependent in the store
  // (not only in the caches) lets go of it.
  Status ReleaseLiveDependents(const GcAction& owner);
  Manager* const manager_;
  const std::shared_ptr<const Scheme> scheme_;
  std::vector<Informer*> informers_;
  std::atomic<uint64_t> deleted_{0};
  std::mutex mu_;
  std::set<std::string> reported_cycles_;  // GUARDED_BY(mu_)
};

}  // namespace visi
