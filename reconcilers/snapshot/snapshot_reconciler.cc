#include "reconcilers/snapshot/snapshot_reconciler.h"

#include <algorithm>

#include "controller/base/failpoint.h"
#include "controller/base/utf8.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_spec.h"
#include "reconcilers/session/state_targets.h"
#include "reconcilers/snapshot/snapshot_objects.h"

namespace visi {
namespace {

bool Transient(const Status& s) {
  return s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded || s.code() == Code::kInternal;
}

// What a bundle records of its session: enough to know what it was (spec,
// status: Spark master and worker metadata), nothing the store manages.
Json SessionRecord(const Object& session) {
  return {{"apiVersion", session.api_version},
          {"kind", session.kind},
          {"metadata",
           {{"namespace", session.metadata.namespace_},
            {"name", session.metadata.name},
            {"uid", session.metadata.uid},
            {"generation", session.metadata.generation}}},
          {"spec", session.spec},
          {"status", session.status}};
}

}  // namespace

SnapshotReconciler::SnapshotReconciler(Manager* manager, RuntimeForMachine runtime, SnapshotStore* store,
                                       SnapshotReconcilerOptions opts)
    : manager_(manager), runtime_(std::move(runtime)), store_(store), opts_(std::move(opts)) {
  snapshots_ = manager_->InformerFor("Snapshot");
  sessions_ = manager_->InformerFor("VisiSession");
  controller_ = manager_->AddController({.name = "visisnapshot", .workers = opts_.workers}, "Snapshot",
                                        [this](const std::string& key) { return Reconcile(key); });
  // The store sweep is a key of its own: any snapshot or session brings it
  // in (at start too, as the caches are replayed); it then comes back every
  // gc period by itself.
  auto gc = [](const ObjectPtr&) { return std::vector<std::string>{kGcKey}; };
  controller_->Watches(snapshots_, gc);
  // A session whose restore ends, or whose retention changes, looks at its
  // snapshots again.
  controller_->Watches(sessions_, [this](const ObjectPtr& s) {
    std::vector<std::string> keys{kGcKey};
    for (const ObjectPtr& snap : snapshots_->ByLabel(kSnapshotSessionUidLabel, s->metadata.uid)) {
      if (SnapshotPhase(*snap) == "Ready") keys.push_back(snap->metadata.namespace_ + "/" + snap->metadata.name);
    }
    return keys;
  });
}

Status SnapshotReconciler::WriteStatus(ObjectPtr* snap, Json status) {
  if (status == (*snap)->status) return OkStatus();
  Object o = **snap;
  o.status = std::move(status);
  VISI_ASSIGN_OR_RETURN(*snap, manager_->store()->UpdateStatus(std::move(o)));
  return OkStatus();
}

ReconcileResult SnapshotReconciler::Fail(const ObjectPtr& snap, const std::string& reason, const std::string& message) {
  ObjectPtr current = snap;
  Json st = snap->status.is_object() ? snap->status : Json::object();
  st["phase"] = "Failed";
  st["message"] = CleanUtf8(message, 4096);
  SetCondition(&st, {"Ready", "False", reason, CleanUtf8(message, 4096), snap->metadata.generation},
               manager_->clock()->Now());
  if (Status w = WriteStatus(&current, st); !w.ok()) return ReconcileResult::Error(w);
  (void)manager_->events()->Record(*snap, EventSeverity::kWarning, reason, message);
  return ReconcileResult::Done();
}

ReconcileResult SnapshotReconciler::Reconcile(const std::string& key) {
  if (key == kGcKey) {
    auto swept = CollectGarbage();
    if (!swept.ok()) return ReconcileResult::Error(swept.status());
    return ReconcileResult::RequeueAfter(opts_.gc_period);
  }
  ObjectPtr snap = snapshots_->GetByKey(key);
  if (!snap) return ReconcileResult::Done();
  if (snap->metadata.deletion_timestamp) return Finalize(snap);
  if (!HasFinalizer(*snap, kFinalizer)) {
    auto added = AddFinalizer(manager_->store(), *snap, kFinalizer);
    if (!added.ok()) return ReconcileResult::Error(added.status());
    snap = *added;
  }
  const std::string phase = SnapshotPhase(*snap);
  if (phase == "Ready") {
    if (Status r = ApplyRetention(snap); !r.ok()) return ReconcileResult::Error(r);
    return ReconcileResult::Done();
  }
  if (phase == "Failed") return ReconcileResult::Done();
  // The cache may lag behind a capture that just finished: capture only
  // what the store itself says is still to be captured.
  auto fresh = manager_->store()->Get("Snapshot", snap->metadata.namespace_, snap->metadata.name);
  if (!fresh.ok()) {
    if (fresh.status().code() == Code::kNotFound) return ReconcileResult::Done();
    return ReconcileResult::Error(fresh.status());
  }
  if ((*fresh)->metadata.uid != snap->metadata.uid) return ReconcileResult::Done();
  const std::string stored_phase = SnapshotPhase(**fresh);
  if (stored_phase == "Ready" || stored_phase == "Failed" || (*fresh)->metadata.deletion_timestamp) {
    return ReconcileResult::Done();  // its update is on its way to the cache and brings the key back
  }
  return Capture(*fresh);
}

ReconcileResult SnapshotReconciler::Capture(const ObjectPtr& snap) {
  ObjectPtr current = snap;  // as last written
  const TimePoint now = manager_->clock()->Now();
  const std::string ns = snap->metadata.namespace_;
  const std::string session_name = snap->spec.is_object() ? snap->spec.value("session", "") : "";
  const std::string want_uid = snap->spec.is_object() ? snap->spec.value("sessionUID", "") : "";
  ObjectPtr session = sessions_->Get(ns, session_name);
  const bool for_deletion = snap->spec.is_object() && snap->spec.value("reason", "") == "Deletion";
  if (!session || (session->metadata.deletion_timestamp && !for_deletion)) {
    return Fail(snap, "SessionNotFound", "session " + ns + "/" + session_name + " does not exist");
  }
  if (!want_uid.empty() && want_uid != session->metadata.uid) {
    return Fail(snap, "SessionReplaced",
                "session " + ns + "/" + session_name + " is not the one this snapshot was asked of (uid " + want_uid + ")");
  }
  // A user's Snapshot is labelled and owned like a suspend's, so retention
  // and deletion treat them alike.
  if (snap->metadata.labels.count(kSnapshotSessionUidLabel) == 0 || snap->metadata.owner_references.empty()) {
    auto labelled = MutateWithRetry(manager_->store(), "Snapshot", ns, snap->metadata.name, [&](Object* o) {
      o->metadata.labels[kSnapshotSessionUidLabel] = session->metadata.uid;
      if (session->metadata.name.size() <= 63) o->metadata.labels[kSnapshotSessionNameLabel] = session->metadata.name;
      if (o->metadata.owner_references.empty()) o->metadata.owner_references.push_back(OwnerRefTo(*session, false));
      return true;
    });
    if (!labelled.ok()) return ReconcileResult::Error(labelled.status());
    return ReconcileResult::RequeueAfter(std::chrono::milliseconds(0));
  }
  if (!session->status.is_object() || !session->status.value("restoring", "").empty()) {
    // The containers do not hold the session's state until the restore ends.
    return ReconcileResult::RequeueAfter(opts_.retry);
  }
  auto spec = ParseSessionSpec(*session);
  if (!spec.ok()) return Fail(snap, "InvalidSessionSpec", spec.status().message());
  const std::string machine = session->status.value("machine", "");
  ContainerRuntime* rt = runtime_(machine.empty() ? opts_.machine : machine);
  auto containers = rt->ListContainers({{session_labels::kSessionUid, session->metadata.uid},
                                        {session_labels::kInstance, opts_.instance}});
  Json st = snap->status.is_object() ? snap->status : Json::object();
  auto retry = [&](const Status& why) {
    SetCondition(&st, {"Ready", "False", "CaptureRetrying", CleanUtf8(why.message(), 4096), snap->metadata.generation},
                 now);
    st["phase"] = "Capturing";
    st["message"] = CleanUtf8("capture failed, retrying: " + why.message(), 4096);
    if (Status w = WriteStatus(&current, st); !w.ok()) return ReconcileResult::Error(w);
    return ReconcileResult::RequeueAfter(opts_.retry);
  };
  if (!containers.ok()) return retry(containers.status());
  if (containers->empty()) {
    return Fail(snap, "NoContainers",
                "session " + ns + "/" + session_name + " has no containers to capture (a suspended session's state is "
                "in its last snapshot)");
  }
  const std::vector<StateTarget> targets = SessionStateTargets(*spec, *containers);
  if (SnapshotPhase(*snap) != "Capturing") {
    st["phase"] = "Capturing";
    st["message"] = "capturing " + std::to_string(targets.size()) + " containers";
    if (Status w = WriteStatus(&current, st); !w.ok()) return ReconcileResult::Error(w);
  }

  Json entries;
  auto blob = CaptureSession(rt, targets, SessionRecord(*session), store_, opts_.limits, &entries);
  if (!blob.ok()) {
    if (Transient(blob.status())) return retry(blob.status());
    const Code c = blob.status().code();
    return Fail(snap, c == Code::kNotFound ? "StatePathNotFound" : c == Code::kTooLarge ? "TooLarge" : "CaptureFailed",
                blob.status().message());
  }
  {
    std::lock_guard lock(mu_);
    in_flight_.insert(blob->digest);
  }
  Failpoint("snapshot-after-put");
  Status verified = store_->Verify(blob->digest);
  Status recorded = verified;
  if (verified.ok()) {
    Json contents = Json::array();
    for (const Json& e : entries) {
      contents.push_back({{"container", e["component"]}, {"path", e["path"]}, {"sizeBytes", e["size"]},
                          {"sha256", e["sha256"]}});
    }
    const TimePoint done = manager_->clock()->Now();
    st["phase"] = "Ready";
    st["sha256"] = blob->digest.substr(7);
    st["sizeBytes"] = blob->size_bytes;
    st["location"] = store_->Location(blob->digest);
    st["capturedTime"] = FormatRfc3339Micro(done);
    st["contents"] = std::move(contents);
    st["message"] = "stored and verified";
    SetCondition(&st, {"Ready", "True", "Verified", "stored and read back against its digest", snap->metadata.generation},
                 done);
    recorded = WriteStatus(&current, st);
  }
  {
    std::lock_guard lock(mu_);
    in_flight_.erase(blob->digest);
  }
  if (!verified.ok()) return retry(verified);
  if (!recorded.ok()) return ReconcileResult::Error(recorded);
  (void)manager_->events()->Record(*snap, EventSeverity::kNormal, "Captured",
                                   "stored " + std::to_string(blob->size_bytes) + " bytes as " + blob->digest);
  return ReconcileResult::Done();  // the Ready update brings the key back for retention
}

ReconcileResult SnapshotReconciler::Finalize(const ObjectPtr& snap) {
  if (!HasFinalizer(*snap, kFinalizer)) return ReconcileResult::Done();
  const std::string digest = SnapshotDigest(*snap);
  bool shared = false;
  for (const ObjectPtr& other : snapshots_->List()) {
    if (other->metadata.uid != snap->metadata.uid && !other->metadata.deletion_timestamp &&
        SnapshotDigest(*other) == digest) {
      shared = true;
    }
  }
  if (!digest.empty() && !shared) {
    Status d = store_->Delete(digest);
    if (!d.ok() && d.code() != Code::kNotFound) return ReconcileResult::Error(d);
  }
  auto removed = RemoveFinalizer(manager_->store(), *snap, kFinalizer);
  if (!removed.ok() && removed.status().code() != Code::kNotFound) return ReconcileResult::Error(removed.status());
  return ReconcileResult::Done();
}

Status SnapshotReconciler::ApplyRetention(const ObjectPtr& snap) {
  const std::string uid = snap->metadata.labels.count(kSnapshotSessionUidLabel)
                              ? snap->metadata.labels.at(kSnapshotSessionUidLabel)
                              : "";
  if (uid.empty()) return OkStatus();
  ObjectPtr session = sessions_->Get(snap->metadata.namespace_, snap->spec.value("session", ""));
  if (!session || session->metadata.uid != uid) return OkStatus();  // the owner's deletion takes them all
  auto spec = ParseSessionSpec(*session);
  if (!spec.ok()) return OkStatus();
  const std::string restoring = session->status.is_object() ? session->status.value("restoring", "") : "";
  const std::vector<ObjectPtr> ready = RestorableSnapshots(*snapshots_, uid);
  std::vector<ObjectPtr> doomed;
  for (size_t i = static_cast<size_t>(spec->snapshot_retain); i < ready.size(); ++i) doomed.push_back(ready[i]);
  // Failed ones (a capture that could not finish, a corrupt file) stay for
  // diagnosis until a newer snapshot is Ready.
  if (!ready.empty()) {
    const std::string newest = ready.front()->metadata.creation_timestamp;
    for (const ObjectPtr& s : snapshots_->ByLabel(kSnapshotSessionUidLabel, uid)) {
      if (SnapshotPhase(*s) == "Failed" && !s->metadata.deletion_timestamp && s->metadata.creation_timestamp < newest) {
        doomed.push_back(s);
      }
    }
  }
  for (const ObjectPtr& s : doomed) {
    if (s->metadata.name == restoring) continue;
    Preconditions pre;
    pre.uid = s->metadata.uid;
    auto d = manager_->store()->Delete("Snapshot", s->metadata.namespace_, s->metadata.name, pre);
    if (!d.ok() && d.status().code() != Code::kNotFound && d.status().code() != Code::kConflict) return d.status();
    if (d.ok()) {
      (void)manager_->events()->Record(*session, EventSeverity::kNormal, "SnapshotPruned",
                                       "deleted snapshot " + s->metadata.name + " (spec.snapshots.retain is " +
                                           std::to_string(spec->snapshot_retain) + ")");
    }
  }
  return OkStatus();
}

StatusOr<int> SnapshotReconciler::CollectGarbage() {
  VISI_ASSIGN_OR_RETURN(std::vector<SnapshotBlob> blobs, store_->List());
  std::set<std::string> named;
  for (const ObjectPtr& s : snapshots_->List()) {
    const std::string d = SnapshotDigest(*s);
    if (!d.empty()) named.insert(d);
  }
  const TimePoint now = manager_->clock()->Now();
  std::vector<std::string> doomed;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, TimePoint> still;
    for (const SnapshotBlob& b : blobs) {
      if (named.count(b.digest) || in_flight_.count(b.digest)) continue;
      auto it = unreferenced_.find(b.digest);
      const TimePoint since = it == unreferenced_.end() ? now : it->second;
      if (now - since >= opts_.gc_period) {
        doomed.push_back(b.digest);
      } else {
        still[b.digest] = since;
      }
    }
    unreferenced_ = std::move(still);
    last_sweep_ = now;
  }
  int deleted = 0;
  for (const std::string& d : doomed) {
    Status s = store_->Delete(d);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
    if (s.ok()) ++deleted;
    std::fprintf(stderr,
                 "{\"level\":\"info\",\"msg\":\"deleted a snapshot file no Snapshot names\",\"digest\":\"%s\"}\n",
                 d.c_str());
  }
  return deleted;
}

}  // namespace visi
