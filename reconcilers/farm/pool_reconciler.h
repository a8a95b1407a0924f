#pragma once

#include <string>
#include <vector>

#include "controller/runtime/manager.h"

namespace visi {

struct PoolReconcilerOptions {
  // The endpoint `local` machines are given: visid's own Docker host.
  std::string local_endpoint = "unix:///var/run/docker.sock";
};

// The FarmPool reconciler (docs/farm.md):
//  - local and exec pools: the idle pool (PlanIdlePool) decides; new
//    machines are FarmMachines named POOL-N (the lowest free N, so a cache
//    that lags behind a create cannot make a second one), owned by the
//    pool; local ones get local_endpoint, exec ones are created by the
//    machine reconciler. Surplus idle machines are deleted (their
//    reconciler drains them first).
//  - static pools: one FarmMachine per listed endpoint, kept in step with
//    the list.
//  - status: the counts, phase (Pending, Ready, Degraded) and the
//    ScalingDecision condition explaining the last decision.
//  - deletion (finalizer visi.dev/pool-machines): every machine is deleted
//    and the pool goes once none is left.
class PoolReconciler {
 public:
  static constexpr char kFinalizer[] = "visi.dev/pool-machines";

  PoolReconciler(Manager* manager, PoolReconcilerOptions opts);

  ReconcileResult Reconcile(const std::string& key);
  Controller* controller() { return controller_; }

 private:
  std::vector<ObjectPtr> MachinesOf(const ObjectPtr& pool) const;
  // Sessions of the pool waiting for room (Scheduled False, no machine).
  int PendingSessions(const std::string& pool) const;
  ReconcileResult Teardown(const ObjectPtr& pool);
  // Deletes the machine of that name and uid (its reconciler drains it); a
  // missing one, or one of another uid, is fine.
  // Deletes machine `name` if it still has `uid` (and, when given, is still
  // at `resource_version`); another object of that name, or a machine
  // changed meanwhile, is left for the next look. `*deleted` (when given)
  // says whether this call deleted it.
  Status DeleteMachine(const std::string& name, const std::string& uid, uint64_t resource_version = 0,
                       bool* deleted = nullptr);

  Manager* const manager_;
  const PoolReconcilerOptions opts_;
  Informer* pools_ = nullptr;
  Informer* machines_ = nullptr;
  Informer* sessions_ = nullptr;
  Controller* controller_ = nullptr;
};

}  // namespace visi
