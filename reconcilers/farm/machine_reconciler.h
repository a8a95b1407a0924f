#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "controller/runtime/manager.h"

namespace visi {

struct MachineReconcilerOptions {
  int workers = 4;  // exec create and delete programs block a worker while they run
  // How often a machine's Docker endpoint is asked whether it answers.
  std::chrono::milliseconds heartbeat{10000};
  // Back-off of a failed exec create or delete: doubles from min up to max.
  std::chrono::milliseconds retry_min{1000};
  std::chrono::milliseconds retry_max{300000};
};

// The FarmMachine reconciler (docs/farm.md):
//  - exec machines without an endpoint run the pool's create program; what
//    it prints becomes spec.endpoint, spec.tlsSecretPath, spec.providerID.
//    Failures are retried with back-off; one that retrying cannot fix
//    (no such program, output that is not the contract's JSON) is phase
//    Failed until the pool's spec changes.
//  - Provisioning → Ready when the Docker endpoint answers, heartbeatTime
//    renewed every heartbeat; a Ready machine that stops answering is
//    NotReady (its sessions get a condition) and Ready again when it
//    answers.
//  - status.sessions: the VisiSessions whose status.machine names it;
//    idleSince while Ready with none.
//  - deletion (finalizer visi.dev/machine-teardown): Draining while any
//    session is on it (read from the store, not a cache), then Terminating:
//    the exec provider's delete program, retried with back-off.
class FarmMetrics;

class MachineReconciler {
 public:
  static constexpr char kFinalizer[] = "visi.dev/machine-teardown";

  // `runtime`: each machine's Docker host (MachineRuntimes in visid).
  MachineReconciler(Manager* manager, RuntimeForMachine runtime, MachineReconcilerOptions opts);
  ~MachineReconciler();

  ReconcileResult Reconcile(const std::string& key);
  Controller* controller() { return controller_; }
  // The farm's metrics (farm_metrics.h).
  std::string RenderMetrics() const;

 private:
  ReconcileResult Provision(ObjectPtr machine, const ObjectPtr& pool);
  ReconcileResult Teardown(ObjectPtr machine, const ObjectPtr& pool);
  // Writes `status` when it changed; *machine becomes the object as stored.
  Status WriteStatus(ObjectPtr* machine, Json status);
  // The next back-off for `name` after one more failure.
  std::chrono::milliseconds Backoff(const std::string& name);
  // How long `name` must still wait before the next try (0: now).
  std::chrono::milliseconds Waiting(const std::string& name);
  std::vector<std::string> SessionsOn(const std::string& machine) const;

  Manager* const manager_;
  const RuntimeForMachine runtime_;
  const MachineReconcilerOptions opts_;
  Informer* machines_ = nullptr;
  Informer* pools_ = nullptr;
  Informer* sessions_ = nullptr;
  Controller* controller_ = nullptr;
  std::unique_ptr<FarmMetrics> metrics_;
  struct Attempts {
    int failures = 0;
    TimePoint next;
    int64_t failed_pool_generation = -1;  // Failed for good while the pool has this generation
  };
  std::mutex mu_;
  std::map<std::string, Attempts> attempts_;  // GUARDED_BY(mu_): by machine name; memory only
};

}  // namespace visi
