#include "controller/cmd/visid/controllers.h"

#include "controller/api/scheme.h"
#include "controller/runtime/event_expiry.h"
#include "controller/drivers/snapshot/local_snapshot_store.h"
#include "controller/runtime/garbage_collector.h"
#include "reconcilers/farm/machine_runtimes.h"
#include "reconcilers/farm/pool_reconciler.h"
#include "reconcilers/snapshot/snapshot_reconciler.h"

namespace visi {

StatusOr<std::unique_ptr<VisidControllers>> VisidControllers::Create(Store* store, VisidControllerOptions opts) {
  std::unique_ptr<VisidControllers> c(new VisidControllers());
  c->manager_ = std::make_unique<Manager>(store, opts.manager);
  if (opts.garbage_collector) {
    c->gc_ = std::make_unique<GarbageCollector>(c->manager_.get(), Scheme::Builtin());
    if (opts.event_ttl.count() > 0) {
      c->event_expiry_ = std::make_unique<EventExpiry>(c->manager_.get(), opts.event_ttl);
    }
  }
  if (opts.sessions || opts.snapshots || opts.farm) {
    VISI_ASSIGN_OR_RETURN(c->docker_, NewDockerClient(opts.docker));
    if (opts.snapshot_dir.empty()) return InvalidError("--snapshot-dir: no snapshot directory given");
    auto store = LocalSnapshotStore::Open(opts.snapshot_dir);
    if (!store.ok()) {
      return Status(store.status().code(), "--snapshot-dir " + opts.snapshot_dir + ": " + store.status().message());
    }
    c->snapshot_store_ = std::move(*store);
  }
  // Each machine's Docker host: "local" is this one, a FarmMachine its endpoint.
  c->runtimes_ = std::make_unique<MachineRuntimes>(c->manager_->InformerFor("FarmMachine"), c->docker_.get(),
                                                   opts.docker);
  RuntimeForMachine runtime = c->runtimes_->AsFunction();
  if (opts.farm) {
    c->pools_ = std::make_unique<PoolReconciler>(c->manager_.get(), PoolReconcilerOptions{opts.docker.endpoint});
    c->machines_ = std::make_unique<MachineReconciler>(c->manager_.get(), runtime, opts.machines);
  }
  if (opts.sessions) {
    c->prober_ = std::make_unique<SocketProber>();
    opts.session.snapshots = c->snapshot_store_.get();
    c->sessions_ = std::make_unique<SessionReconciler>(c->manager_.get(), runtime, c->prober_.get(), opts.session);
  }
  if (opts.snapshots) {
    SnapshotReconcilerOptions so;
    so.instance = opts.session.instance;
    so.machine = opts.session.machine;
    so.gc_period = opts.snapshot_gc_period;
    so.limits = opts.session.bundle_limits;
    c->snapshot_reconciler_ =
        std::make_unique<SnapshotReconciler>(c->manager_.get(), runtime, c->snapshot_store_.get(), so);
  }
  if (opts.routes) {
    VISI_ASSIGN_OR_RETURN(c->router_, VisidRouter::Create(c->manager_.get(), opts.router));
  }
  return c;
}

std::string VisidControllers::RenderFarmMetrics() const { return machines_ ? machines_->RenderMetrics() : ""; }

VisidControllers::~VisidControllers() {
  if (manager_) manager_->Stop();
  router_.reset();  // before the manager its reconciler was added to
}

}  // namespace visi
