#include "reconcilers/snapshot/snapshot_objects.h"

#include <algorithm>

#include "controller/base/clock.h"
#include "controller/base/sha256.h"
#include "controller/runtime/ownership.h"

namespace visi {

std::string SnapshotPhase(const Object& snap) {
  return snap.status.is_object() ? snap.status.value("phase", "") : "";
}

std::string SnapshotDigest(const Object& snap) {
  if (!snap.status.is_object()) return "";
  const std::string hex = snap.status.value("sha256", "");
  return hex.size() == 64 ? "sha256:" + hex : "";
}

std::vector<ObjectPtr> RestorableSnapshots(const Informer& snapshots, const std::string& session_uid) {
  std::vector<ObjectPtr> out;
  for (const ObjectPtr& s : snapshots.ByLabel(kSnapshotSessionUidLabel, session_uid)) {
    if (s->metadata.deletion_timestamp || SnapshotPhase(*s) != "Ready" || SnapshotDigest(*s).empty()) continue;
    out.push_back(s);
  }
  // Newest capture first (microseconds); the name breaks ties.
  auto captured = [](const ObjectPtr& s) {
    return ParseRfc3339(s->status.value("capturedTime", "")).value_or(TimePoint());
  };
  std::sort(out.begin(), out.end(), [&](const ObjectPtr& a, const ObjectPtr& b) {
    const TimePoint ta = captured(a), tb = captured(b);
    return ta != tb ? ta > tb : a->metadata.name > b->metadata.name;
  });
  return out;
}

std::string SuspendSnapshotName(const Object& session) {
  const std::string started = session.status.is_object() ? session.status.value("startedTime", "") : "";
  const std::string hash =
      Sha256Hex(session.metadata.uid + "/" + started + "/" + std::to_string(session.metadata.generation));
  std::string base = session.metadata.name.substr(0, 253 - 11);
  while (!base.empty() && (base.back() == '-' || base.back() == '.')) base.pop_back();
  return base + "-" + hash.substr(0, 10);
}

Object NewSnapshot(const Object& session, const std::string& name, const std::string& reason) {
  Object o;
  o.kind = "Snapshot";
  o.metadata.name = name;
  o.metadata.namespace_ = session.metadata.namespace_;
  o.metadata.labels[kSnapshotSessionUidLabel] = session.metadata.uid;
  if (session.metadata.name.size() <= 63) o.metadata.labels[kSnapshotSessionNameLabel] = session.metadata.name;
  o.metadata.owner_references.push_back(OwnerRefTo(session, /*controller=*/true));
  o.spec = {{"session", session.metadata.name}, {"sessionUID", session.metadata.uid}, {"reason", reason}};
  return o;
}

}  // namespace visi
