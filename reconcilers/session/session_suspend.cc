// Suspend and resume of a session (docs/snapshots.md): the parts of the
// VisiSession reconciler that take and restore Snapshots.
#include <future>

#include "controller/base/failpoint.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_pass.h"
#include "reconcilers/session/session_plan.h"
#include "reconcilers/session/session_reconciler.h"
#include "reconcilers/session/session_spec.h"
#include "reconcilers/session/session_status.h"
#include "reconcilers/session/state_targets.h"
#include "reconcilers/session/subnet_allocator.h"
#include "reconcilers/snapshot/snapshot_objects.h"

namespace visi {

namespace {

bool Unreachable(const Status& s) { return s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded; }

}  // namespace

Status SessionReconciler::StopAll(ContainerRuntime* rt, const std::vector<ContainerInfo>& containers) {
  std::vector<std::future<Status>> stops;
  for (const ContainerInfo& c : containers) {
    if (c.state != "running" && c.state != "restarting" && c.state != "paused") continue;
    const std::string name = c.name.empty() ? c.id : c.name;
    stops.push_back(std::async(std::launch::async, [rt, name, this] { return rt->StopContainer(name, opts_.stop_grace); }));
  }
  Status first;
  for (auto& f : stops) {
    Status s = f.get();
    if (!s.ok() && s.code() != Code::kNotFound && first.ok()) first = s;
  }
  return first;
}

ReconcileResult SessionReconciler::Suspend(Pass& p, const SessionSpec& spec, ContainerRuntime* rt,
                                           const ObservedSession& seen) {
  SessionObservation& obs = p.obs;
  const ObjectPtr& s = p.s;
  auto held = subnets_->Held(p.id.uid);
  if (!held.ok()) return ReconcileResult::Error(held.status());
  obs.subnet = held->value_or("");
  if (!obs.subnet.empty()) obs.network = SessionNetworkName(p.id);
  for (const auto& n : seen.networks) {
    if (!obs.network.empty() && n.name == obs.network && n.subnet == obs.subnet) obs.network_ready = true;
  }
  obs.containers_left = static_cast<int>(seen.containers.size());
  auto say = [&](const std::string& step) {
    obs.suspend_step = step;
    return WritePassStatus(p, &p.s);
  };

  if (!seen.containers.empty()) {
    // A resume that has not restored yet: its containers hold nothing of
    // the session's (its state is still in the snapshot being restored).
    const bool restored = StatusString(s->status, "restoring").empty();
    if (restored) {
      // 1. Stop, so the capture sees files at rest.
      const bool running = std::any_of(seen.containers.begin(), seen.containers.end(),
                                       [](const ContainerInfo& c) { return c.state == "running"; });
      if (running) {
        if (Status w = say("stopping " + std::to_string(seen.containers.size()) + " containers"); !w.ok()) {
          return ReconcileResult::Error(w);
        }
        if (Status e = StopAll(rt, seen.containers); !e.ok()) {
          if (Unreachable(e)) return DockerDown(p, e);
          return Blocked(p, "ActionFailed", "stopping containers: " + e.message(), opts_.probe_interval * 5);
        }
      }
      Failpoint("suspend-after-stop");
      // 2. The Snapshot: one per suspend, named for it, captured by the
      // snapshot reconciler.
      const std::string name = SuspendSnapshotName(*s);
      ObjectPtr snap = snapshots_->Get(s->metadata.namespace_, name);
      if (!snap) {
        auto made = manager_->store()->Create(NewSnapshot(*s, name, "Idle"));
        if (!made.ok() && made.status().code() != Code::kAlreadyExists) return ReconcileResult::Error(made.status());
        if (Status w = say("capturing snapshot " + name); !w.ok()) return ReconcileResult::Error(w);
        return ReconcileResult::RequeueAfter(opts_.probe_interval * 5);  // its changes bring the session back
      }
      const std::string phase = SnapshotPhase(*snap);
      if (phase == "Failed") {
        const std::string why = snap->status.is_object() ? snap->status.value("message", "") : "";
        return Blocked(p, "SnapshotFailed",
                       "snapshot " + name + " failed: " + why +
                           "; the containers are kept (stopped) with their state: fix the cause and set spec.suspend "
                           "again, or set it to false to run the session again",
                       opts_.resync, "Suspended");
      }
      if (phase != "Ready") {
        if (Status w = say("capturing snapshot " + name); !w.ok()) return ReconcileResult::Error(w);
        return ReconcileResult::RequeueAfter(opts_.probe_interval * 5);
      }
      obs.last_snapshot = {{"name", name},
                           {"sha256", snap->status.value("sha256", "")},
                           {"sizeBytes", snap->status.value("sizeBytes", 0)},
                           {"capturedTime", snap->status.value("capturedTime", "")}};
      Failpoint("suspend-after-snapshot");
    }
    // 3. The containers go.
    if (Status w = say("removing " + std::to_string(seen.containers.size()) + " containers"); !w.ok()) {
      return ReconcileResult::Error(w);
    }
    if (Status e = Execute(rt, s, PlanSuspend(seen)); !e.ok()) {
      if (Unreachable(e)) return DockerDown(p, e);
      return Blocked(p, "ActionFailed", e.message(), opts_.probe_interval * 5);
    }
    ForgetRestarts(SessionNetworkName(p.id) + "-");  // a resume starts its containers afresh
    Failpoint("suspend-after-remove");
  }

  // 4. The network goes, then (only with nothing left) the subnet.
  const Labels sel = {{session_labels::kSessionUid, p.id.uid}, {session_labels::kInstance, p.id.instance}};
  auto containers = rt->ListContainers(sel);
  if (!containers.ok()) return DockerDown(p, containers.status());
  auto networks = rt->ListNetworks(sel);
  if (!networks.ok()) return DockerDown(p, networks.status());
  obs.containers_left = static_cast<int>(containers->size());
  if (!containers->empty()) {
    if (Status w = say("waiting for " + std::to_string(containers->size()) + " containers to go"); !w.ok()) {
      return ReconcileResult::Error(w);
    }
    return ReconcileResult::RequeueAfter(opts_.probe_interval);
  }
  if (!networks->empty()) {
    ObservedSession left;
    left.networks = std::move(*networks);
    if (Status e = Execute(rt, s, PlanTeardown(left)); !e.ok()) {
      if (Unreachable(e)) return DockerDown(p, e);
      return Blocked(p, "ActionFailed", e.message(), opts_.probe_interval * 5);
    }
    auto again = rt->ListNetworks(sel);
    if (!again.ok()) return DockerDown(p, again.status());
    if (!again->empty()) return ReconcileResult::RequeueAfter(opts_.probe_interval);
  }
  if (!obs.subnet.empty()) {
    if (Status r = subnets_->Release(p.id.uid); !r.ok()) return ReconcileResult::Error(r);
  }
  obs.subnet.clear();
  obs.network.clear();
  obs.network_ready = false;
  obs.containers_left = 0;
  // Nothing is left on the FarmMachine: the resume places the session anew.
  if (obs.machine != opts_.machine) {
    obs.machine.clear();
    std::lock_guard lock(place_mu_);
    reservations_.erase(p.id.uid);
  }
  if (Status w = WritePassStatus(p); !w.ok()) return ReconcileResult::Error(w);
  return ReconcileResult::RequeueAfter(opts_.resync);
}

void SessionReconciler::MarkUnrestorable(const ObjectPtr& snap, const ObjectPtr& session, const std::string& reason,
                                         const std::string& message) {
  auto marked = MutateWithRetry(
      manager_->store(), "Snapshot", snap->metadata.namespace_, snap->metadata.name,
      [&](Object* o) {
        Json st = o->status.is_object() ? o->status : Json::object();
        st["phase"] = "Failed";
        st["message"] = message;
        SetCondition(&st, {"Restorable", "False", reason, message, o->metadata.generation}, manager_->clock()->Now());
        SetCondition(&st, {"Ready", "False", reason, message, o->metadata.generation}, manager_->clock()->Now());
        if (st == o->status) return false;
        o->status = std::move(st);
        return true;
      },
      /*status=*/true);
  (void)marked;  // best effort: the session's condition says it either way
  (void)manager_->events()->Record(*session, EventSeverity::kWarning, "SnapshotCorrupt",
                                   "snapshot " + snap->metadata.name + ": " + message);
}

ReconcileResult SessionReconciler::ExecuteWithRestore(Pass& p, const SessionSpec& spec, ContainerRuntime* rt,
                                                      std::vector<SessionAction> plan, bool* done) {
  *done = false;
  SessionObservation& obs = p.obs;
  auto failed = [&](const Status& e) {
    if (Unreachable(e)) return DockerDown(p, e);
    if (e.code() == Code::kInvalid) return Blocked(p, "ContainerCreateFailed", e.message(), opts_.resync);
    return Blocked(p, "ActionFailed", e.message(), opts_.probe_interval * 5);
  };
  std::vector<SessionAction> starts, rest;
  for (auto& a : plan) (a.type == SessionAction::Type::kStartContainer ? starts : rest).push_back(std::move(a));
  if (!rest.empty()) {
    if (Status e = Execute(rt, p.s, rest); !e.ok()) return failed(e);
    Failpoint("resume-after-create");
  }
  obs.network_ready = true;  // the plan made it, or it was there

  // Restore into the containers that were created and never started.
  auto listed = rt->ListContainers({{session_labels::kSessionUid, p.id.uid}, {session_labels::kInstance, p.id.instance}});
  if (!listed.ok()) return DockerDown(p, listed.status());
  std::vector<ContainerInfo> fresh;
  for (const ContainerInfo& c : *listed) {
    if (c.state == "created") fresh.push_back(c);
  }
  const std::vector<StateTarget> targets = SessionStateTargets(spec, fresh);
  if (!targets.empty()) {
    // The one chosen (which may be another session's, kept by
    // keepOnDelete and named by restoreFrom), then this session's others.
    std::vector<ObjectPtr> candidates;
    std::vector<std::string> bad;
    if (ObjectPtr chosen = snapshots_->Get(p.id.namespace_, obs.restoring);
        chosen && SnapshotPhase(*chosen) == "Ready" && !SnapshotDigest(*chosen).empty()) {
      candidates.push_back(chosen);
    } else if (chosen) {
      // Found unusable meanwhile (by an earlier try of this resume, or by
      // whoever else looked): it still is the one that could not be restored.
      const Json* why = FindCondition(chosen->status, "Restorable");
      const std::string reason = why && (*why)["reason"].is_string() ? (*why)["reason"].get<std::string>()
                                                                      : SnapshotPhase(*chosen);
      bad.push_back(chosen->metadata.name + " (" + reason + ")");
    }
    for (const ObjectPtr& c : RestorableSnapshots(*snapshots_, p.id.uid)) {
      if (c->metadata.name != obs.restoring) candidates.push_back(c);
    }
    ObjectPtr used;
    for (const ObjectPtr& c : candidates) {
      const std::string digest = SnapshotDigest(*c);
      const std::string where = c->status.value("location", digest);
      Status v = opts_.snapshots->Verify(digest);
      if (v.code() == Code::kNotFound) {
        MarkUnrestorable(c, p.s, "FileMissing", "the snapshot file " + where + " is missing");
        bad.push_back(c->metadata.name + " (file missing)");
        continue;
      }
      if (v.code() == Code::kInternal && v.message().rfind("digest mismatch", 0) == 0) {
        MarkUnrestorable(c, p.s, "DigestMismatch", "the snapshot file " + where + " does not match its sha256: " + v.message());
        bad.push_back(c->metadata.name + " (digest mismatch)");
        continue;
      }
      if (!v.ok()) {
        return Blocked(p, "SnapshotUnreadable", "cannot read snapshot " + c->metadata.name + ": " + v.message(),
                       opts_.docker_retry);
      }
      auto r = RestoreSession(rt, opts_.snapshots, digest, targets, opts_.bundle_limits, /*skip_undeclared=*/true);
      if (r.status().code() == Code::kInvalid) {
        MarkUnrestorable(c, p.s, "InvalidBundle", r.status().message());
        bad.push_back(c->metadata.name + " (invalid bundle)");
        continue;
      }
      if (!r.ok()) return failed(Status(r.status().code(), "restoring snapshot " + c->metadata.name + ": " + r.status().message()));
      used = c;
      break;
    }
    std::string bad_list;
    for (const std::string& b : bad) bad_list += (bad_list.empty() ? "" : ", ") + b;
    if (used && bad.empty()) {
      obs.restored_status = "True";
      obs.restored_reason = "Restored";
      obs.restored_message = "restored snapshot " + used->metadata.name + " (captured " +
                             used->status.value("capturedTime", "") + ")";
    } else if (used) {
      obs.restored_status = "False";
      obs.restored_reason = "SnapshotCorrupt";
      obs.restored_message = "could not restore " + bad_list + "; restored the previous good snapshot " +
                             used->metadata.name + " instead";
    } else {
      obs.restored_status = "False";
      obs.restored_reason = bad.empty() ? "NoSnapshot" : "NoGoodSnapshot";
      obs.restored_message = bad.empty() ? "no snapshot of this session to restore: it starts empty"
                                         : "no snapshot could be restored (" + bad_list + "): the session starts empty";
    }
    obs.restoring = used ? used->metadata.name : obs.restoring;
    Failpoint("resume-after-restore");
    // The outcome is recorded before the starts: once they ran, a later pass
    // finds nothing left to restore, and would not know what was (a status
    // write lost to a conflict with another controller's).
    if (Status w = WritePassStatus(p, &p.s); !w.ok()) return ReconcileResult::Error(w);
  }
  if (!starts.empty()) {
    if (Status e = Execute(rt, p.s, starts); !e.ok()) return failed(e);
  }
  obs.restoring.clear();
  *done = true;
  return ReconcileResult::Done();
}

std::optional<ReconcileResult> SessionReconciler::KeepStateOnDelete(const ObjectPtr& s, ContainerRuntime* rt,
                                                                   const std::vector<ContainerInfo>& containers) {
  auto spec = ParseSessionSpec(*s);
  if (!spec.ok() || !spec->keep_on_delete) return std::nullopt;
  // Containers that have not been restored into hold nothing to keep; a
  // suspended session's state is already in its last snapshot.
  if (!containers.empty() && StatusString(s->status, "restoring").empty()) {
    if (Status e = StopAll(rt, containers); !e.ok()) return ReconcileResult::Error(e);
    const std::string name = SuspendSnapshotName(*s);
    ObjectPtr snap = snapshots_->Get(s->metadata.namespace_, name);
    if (!snap) {
      auto made = manager_->store()->Create(NewSnapshot(*s, name, "Deletion"));
      if (!made.ok() && made.status().code() != Code::kAlreadyExists) return ReconcileResult::Error(made.status());
      return ReconcileResult::RequeueAfter(opts_.probe_interval * 5);
    }
    const std::string phase = SnapshotPhase(*snap);
    if (phase == "Failed") {
      (void)manager_->events()->Record(*s, EventSeverity::kWarning, "SnapshotFailed",
                                       "snapshot " + name + " before deletion failed: " +
                                           snap->status.value("message", "") +
                                           "; the deletion waits (set spec.snapshots.keepOnDelete to false to "
                                           "delete without it)");
      return ReconcileResult::RequeueAfter(opts_.resync);
    }
    if (phase != "Ready") return ReconcileResult::RequeueAfter(opts_.probe_interval * 5);
  }
  // Kept: Ready snapshots stop naming the session as their owner, so the
  // garbage collector leaves them when it goes.
  for (const ObjectPtr& snap : snapshots_->ByLabel(kSnapshotSessionUidLabel, s->metadata.uid)) {
    if (SnapshotPhase(*snap) != "Ready") continue;
    auto kept = MutateWithRetry(manager_->store(), "Snapshot", snap->metadata.namespace_, snap->metadata.name,
                                [&](Object* o) {
                                  return std::erase_if(o->metadata.owner_references, [&](const OwnerReference& r) {
                                           return r.uid == s->metadata.uid;
                                         }) > 0;
                                });
    if (!kept.ok() && kept.status().code() != Code::kNotFound) return ReconcileResult::Error(kept.status());
  }
  return std::nullopt;
}

namespace {

// Idle (the router's condition) and Ready, Idle since after the session last
// became Ready (an Idle from before that is stale).
bool IdleSinceReady(const Json& status) {
  if (!status.is_object()) return false;
  const Json* idle = FindCondition(status, "Idle");
  const Json* ready = FindCondition(status, "Ready");
  if (!idle || !ready || idle->value("status", "") != "True" || ready->value("status", "") != "True") return false;
  return idle->value("lastTransitionTime", "") >= ready->value("lastTransitionTime", "");
}

}  // namespace

bool SessionReconciler::SuspendIfIdle(const ObjectPtr& session, const SessionSpec& spec) {
  if (spec.suspend || spec.idle_timeout_seconds <= 0) return false;
  if (!IdleSinceReady(session->status)) return false;
  // The cache may lag behind our own write: only the pass whose write
  // turned suspend on records the event.
  bool turned_on = false;
  auto w = MutateWithRetry(manager_->store(), "VisiSession", session->metadata.namespace_, session->metadata.name,
                           [&](Object* o) {
                             turned_on = false;
                             // As stored: the cache may not show a client that came back.
                             if (o->metadata.uid != session->metadata.uid || !o->spec.is_object() ||
                                 o->spec.value("suspend", false) || !IdleSinceReady(o->status)) {
                               return false;
                             }
                             o->spec["suspend"] = true;
                             turned_on = true;
                             return true;
                           });
  if (!w.ok()) return false;  // the next pass tries again
  if (turned_on) NoteWrite(*w);
  // Already asked for, or no longer idle as stored: either way the stored
  // object is newer than the cached one, and its event brings the session back.
  if (!turned_on) return true;
  (void)manager_->events()->Record(*session, EventSeverity::kNormal, "IdleSuspended",
                                   "no browser for spec.idleTimeoutSeconds (" +
                                       std::to_string(spec.idle_timeout_seconds) + "s): spec.suspend set to true");
  return true;
}

}  // namespace visi
