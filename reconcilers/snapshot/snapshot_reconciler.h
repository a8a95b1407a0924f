#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <string>

#include "controller/drivers/snapshot/snapshot_store.h"
#include "controller/runtime/manager.h"
#include "reconcilers/snapshot/session_bundle.h"

namespace visi {

struct SnapshotReconcilerOptions {
  std::string instance = "default";  // visid --instance: whose containers are captured
  std::string machine = "local";
  int workers = 2;
  std::chrono::milliseconds retry{2000};  // after a transient failure (Docker, disk)
  // How often the store is swept for files no Snapshot names; such a file
  // goes once it has been unreferenced this long.
  std::chrono::milliseconds gc_period{std::chrono::minutes(10)};
  BundleLimits limits;
};

// The Snapshot reconciler (docs/snapshots.md):
//  - capture: a Pending Snapshot of a session with containers is captured
//    (its state paths and the session itself, one bundle), stored, verified
//    by reading it back, and recorded: phase Ready, sha256, sizeBytes,
//    location, capturedTime, contents. Transient failures are retried; a
//    missing path or a bundle over the limits fails the Snapshot.
//  - deletion: the finalizer visi.dev/snapshot-file deletes the file (unless
//    another Snapshot names the same digest) before the object goes.
//  - retention: of a session's Ready Snapshots the newest
//    spec.snapshots.retain stay; older ones, and Failed ones older than the
//    newest Ready one, are deleted. The one a resume is restoring never is.
//  - garbage: files that no Snapshot names are deleted once seen so for a
//    gc period (crash leftovers: a capture killed after writing its file).
class SnapshotReconciler {
 public:
  static constexpr char kFinalizer[] = "visi.dev/snapshot-file";
  static constexpr char kGcKey[] = "/.store-gc";  // never an object's key

  SnapshotReconciler(Manager* manager, RuntimeForMachine runtime, SnapshotStore* store,
                     SnapshotReconcilerOptions opts);

  ReconcileResult Reconcile(const std::string& key);
  // One sweep of the store; returns how many files it deleted.
  StatusOr<int> CollectGarbage();
  Controller* controller() { return controller_; }

 private:
  ReconcileResult Capture(const ObjectPtr& snap);
  ReconcileResult Finalize(const ObjectPtr& snap);
  Status ApplyRetention(const ObjectPtr& snap);
  // Writes the snapshot's status; `*snap` becomes the object as stored, so
  // the next write carries its resourceVersion.
  Status WriteStatus(ObjectPtr* snap, Json status);
  ReconcileResult Fail(const ObjectPtr& snap, const std::string& reason, const std::string& message);

  Manager* const manager_;
  RuntimeForMachine runtime_;
  SnapshotStore* const store_;
  const SnapshotReconcilerOptions opts_;
  Informer* snapshots_ = nullptr;
  Informer* sessions_ = nullptr;
  Controller* controller_ = nullptr;

  std::mutex mu_;
  std::set<std::string> in_flight_;                // digests put by captures not yet recorded
  std::map<std::string, TimePoint> unreferenced_;  // digest -> first sweep that found it unnamed
  TimePoint last_sweep_{};
};

}  // namespace visi
