#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/snapshot/snapshot_store.h"
#include "controller/runtime/manager.h"
#include "reconcilers/farm/placement.h"
#include "reconcilers/session/prober.h"
#include "reconcilers/snapshot/session_bundle.h"

namespace visi {

class SubnetAllocator;
struct SessionIdentity;
struct SessionSpec;

struct SessionReconcilerOptions {
  std::string instance = "default";            // visid --instance; labels every Docker object
  std::string subnet_pool = "10.200.0.0/16";   // used until the session's FarmPool names one
  int subnet_prefix = 24;
  // Where sessions run when their spec.pool names no FarmPool (the
  // single-host mode): visid's own Docker host.
  std::string machine = "local";
  int workers = 16;  // a burst of sessions starts side by side (docs/benchmarks.md)
  std::chrono::milliseconds resync{10000};     // a Ready session is re-observed this often
  std::chrono::milliseconds probe_interval{200};
  std::chrono::milliseconds probe_timeout{1000};
  std::chrono::milliseconds docker_retry{2000};  // while the daemon is down
  std::chrono::seconds stop_grace{5};
  // Where suspends keep session state (docs/snapshots.md); required.
  SnapshotStore* snapshots = nullptr;
  BundleLimits bundle_limits;
};

// The VisiSession reconciler: observe (containers and networks by the
// session's uid label, probes) → plan (session_plan.h) → act → write status.
// Finalizer-guarded teardown on delete: containers, network, then the
// subnet claim. Suspend (spec.suspend, or Idle past idleTimeoutSeconds):
// stop, capture a Snapshot, and only once it is verified remove the
// containers and network and release the subnet. Resume: create the
// containers, restore the newest good Snapshot into them, then start them
// (session_suspend.cc; docs/snapshots.md).
class SessionReconciler {
 public:
  static constexpr char kFinalizer[] = "visi.dev/session-teardown";

  SessionReconciler(Manager* manager, RuntimeForMachine runtime, Prober* prober, SessionReconcilerOptions opts);
  ~SessionReconciler();

  ReconcileResult Reconcile(const std::string& key);
  Controller* controller() { return controller_; }

 private:
  struct Pass;  // one reconcile of one live session (session_reconciler.cc)

  ReconcileResult Teardown(const ObjectPtr& session);
  // A pass that cannot go on: the status says why; the next look is `after`
  // from now.
  ReconcileResult Blocked(Pass& p, const std::string& reason, const std::string& message,
                          std::chrono::milliseconds after, const std::string& condition = "ContainersReady");
  ReconcileResult DockerDown(Pass& p, const Status& why);
  // Sets p.obs.machine: the machine the session is on, or a new placement on
  // a machine of its FarmPool (written to status before anything is
  // created), or visid's own host when the pool does not exist. A result
  // when the session must wait for room (session_placement.cc).
  std::optional<ReconcileResult> Place(Pass& p, const struct SessionSpec& spec);
  // The FarmMachines of a pool, from the cache.
  std::vector<ObjectPtr> PoolMachines(const ObjectPtr& pool) const;
  // A machine changed: the sessions on it, and those waiting for room in its pool.
  std::vector<std::string> SessionsToWake(const ObjectPtr& machine);
  // Writes the pass's status (and the Suspended/Resumed events).
  Status WritePassStatus(Pass& p, ObjectPtr* written = nullptr);
  // spec.suspend: stop, snapshot, remove, release (session_suspend.cc).
  ReconcileResult Suspend(Pass& p, const struct SessionSpec& spec, ContainerRuntime* rt,
                          const struct ObservedSession& seen);
  // Stops every running container of `containers` side by side.
  Status StopAll(ContainerRuntime* rt, const std::vector<ContainerInfo>& containers);
  // Resume: runs `plan` with the starts held back until the containers it
  // created hold the restored state (session_suspend.cc).
  ReconcileResult ExecuteWithRestore(Pass& p, const struct SessionSpec& spec, ContainerRuntime* rt,
                                     std::vector<struct SessionAction> plan, bool* done);
  // spec.snapshots.keepOnDelete on a session being deleted: its state is
  // captured (reason Deletion) and its Ready Snapshots are orphaned so they
  // outlive it. A result while the teardown must wait for the capture.
  std::optional<ReconcileResult> KeepStateOnDelete(const ObjectPtr& session, ContainerRuntime* rt,
                                                   const std::vector<ContainerInfo>& containers);
  // Idle past spec.idleTimeoutSeconds: sets spec.suspend. True when it did.
  bool SuspendIfIdle(const ObjectPtr& session, const struct SessionSpec& spec);
  // Marks a Snapshot that cannot be restored (phase Failed, Restorable False).
  void MarkUnrestorable(const ObjectPtr& snap, const ObjectPtr& session, const std::string& reason,
                        const std::string& message);
  // Removes what earlier objects of this name left (their SubnetClaims name
  // them): a session deleted while no visid ran, its finalizer stripped by
  // hand. Everything labelled with their uid on the machine the claim names
  // goes, then the claim.
  Status CleanUpEarlierIncarnations(const std::string& ns, const std::string& name, const std::string& cached_uid);
  // Writes `status` through the status subresource when it changed; the
  // object as stored after that goes to `written` (when given).
  Status WriteStatus(const ObjectPtr& session, const Json& status, ObjectPtr* written = nullptr);
  // This controller's writes of a session: a pass never starts from a
  // cached object older than the last of them. Its observations would be
  // out of date, and written over the newer status (a conflict's redo
  // keeps the other controllers' fields), they would undo what the later
  // pass recorded (a resume's "restoring" outliving it, so the next
  // suspend took no snapshot).
  void NoteWrite(const ObjectPtr& written);
  bool CacheBehindOwnWrite(const std::string& key, const Object& cached);
  void ForgetWrites(const std::string& key);
  // Executes the plan; returns the first error (with the action named).
  Status Execute(ContainerRuntime* rt, const ObjectPtr& session, const std::vector<struct SessionAction>& plan);

  // Starts of stopped containers allowed now (the rest wait out a backoff:
  // a container that exits at once is not restarted in a tight loop). Returns
  // how long the earliest held-back start must wait (0: none held back).
  std::chrono::milliseconds ThrottleRestarts(std::vector<struct SessionAction>* plan, TimePoint now);
  void ForgetRestarts(const std::string& name_prefix);

  Manager* const manager_;
  RuntimeForMachine runtime_;
  Prober* const prober_;
  const SessionReconcilerOptions opts_;
  Informer* sessions_ = nullptr;
  Informer* claims_ = nullptr;
  Informer* snapshots_ = nullptr;
  Informer* pools_ = nullptr;
  Informer* machines_ = nullptr;
  std::unique_ptr<SubnetAllocator> subnets_;
  Controller* controller_ = nullptr;
  std::mutex written_mu_;
  // session key -> (uid, resourceVersion) of this controller's last write.
  std::map<std::string, std::pair<std::string, uint64_t>> written_;  // GUARDED_BY(written_mu_)
  std::mutex restart_mu_;
  // container name -> (restarts so far, the last one). Memory only: losing
  // it on a visid restart only resets a rate limit.
  std::map<std::string, std::pair<int, TimePoint>> restarts_;
  // Placement is one at a time, so two sessions never take the last room
  // of a machine together. A placement is remembered until the sessions
  // cache shows it (the next placement must count it).
  struct Reservation {
    std::string machine;
    Resources need;
    std::string session_namespace, session_name;
    uint64_t written_rv = 0;  // the placement's status write; 0 until it is done
  };
  std::mutex place_mu_;
  std::map<std::string, Reservation> reservations_;        // GUARDED_BY(place_mu_): by session uid
  std::map<std::string, std::set<std::string>> waiting_;   // GUARDED_BY(place_mu_): pool -> session keys
};

}  // namespace visi
