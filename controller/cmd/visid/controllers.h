#pragma once

#include <memory>

#include "controller/base/statusor.h"
#include "controller/cmd/visid/router.h"
#include "controller/drivers/docker/docker_client.h"
#include "controller/runtime/manager.h"
#include "controller/store/store.h"
#include "reconcilers/farm/machine_reconciler.h"
#include "reconcilers/session/session_reconciler.h"

namespace visi {

class EventExpiry;
class MachineRuntimes;
class PoolReconciler;
class GarbageCollector;
class SnapshotReconciler;
class SnapshotStore;

struct VisidControllerOptions {
  ManagerOptions manager;
  DockerClientOptions docker;        // the local machine's Docker host
  SessionReconcilerOptions session;
  bool garbage_collector = true;
  std::chrono::seconds event_ttl{3600};  // Events older than this are deleted (0: kept)
  bool sessions = true;
  bool routes = true;        // the route controller, HAProxy and the wake-up endpoint
  VisidRouterOptions router;
  bool snapshots = true;     // the Snapshot controller: capture, retention, file sweep
  bool farm = true;          // the FarmPool and FarmMachine controllers (docs/farm.md)
  MachineReconcilerOptions machines;
  std::string snapshot_dir;  // the local snapshot store's root (docs/snapshots.md)
  std::chrono::milliseconds snapshot_gc_period{std::chrono::minutes(10)};
};

// Every controller visid runs, under one manager over one store: the
// embedded store in the all-in-one process, or a remote visid's API in a
// controllers-only process (--kubeconfig).
class VisidControllers {
 public:
  // Errors name the bad option (a Docker endpoint that does not parse).
  static StatusOr<std::unique_ptr<VisidControllers>> Create(Store* store, VisidControllerOptions opts);
  ~VisidControllers();

  Manager* manager() { return manager_.get(); }
  VisidRouter* router() { return router_.get(); }  // null without the route controller
  // The farm's metrics; "" without the farm controllers.
  std::string RenderFarmMetrics() const;
  void Start() { manager_->Start(); }
  // Running reconciles finish; a held lease is released.
  void Stop() { manager_->Stop(); }

 private:
  VisidControllers() = default;

  std::unique_ptr<Manager> manager_;
  std::unique_ptr<GarbageCollector> gc_;
  std::unique_ptr<EventExpiry> event_expiry_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::unique_ptr<MachineRuntimes> runtimes_;
  std::unique_ptr<PoolReconciler> pools_;
  std::unique_ptr<MachineReconciler> machines_;
  std::unique_ptr<Prober> prober_;
  std::unique_ptr<SnapshotStore> snapshot_store_;
  std::unique_ptr<SessionReconciler> sessions_;
  std::unique_ptr<SnapshotReconciler> snapshot_reconciler_;
  std::unique_ptr<VisidRouter> router_;
};

}  // namespace visi
