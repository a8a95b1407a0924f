#pragma once

#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/runtime/informer.h"

namespace visi {

// Labels on every Snapshot a session's suspend creates (and that a user's
// Snapshot gets from the snapshot reconciler): which session it belongs to.
inline constexpr char kSnapshotSessionUidLabel[] = "visi.dev/session-uid";
inline constexpr char kSnapshotSessionNameLabel[] = "visi.dev/session-name";

// "sha256:<hex>" from a Snapshot's status.sha256, "" when it has none.
std::string SnapshotDigest(const Object& snap);

// status.phase of a Snapshot ("" when unset).
std::string SnapshotPhase(const Object& snap);

// A session's Snapshots that may be restored, newest capture first: Ready,
// labelled with this uid, with a digest, not being deleted.
std::vector<ObjectPtr> RestorableSnapshots(const Informer& snapshots, const std::string& session_uid);

// The name of the Snapshot a suspend of `session` takes: "<name>-<10 hex>"
// from the session's uid, its status.startedTime and metadata.generation.
// The same suspend (retried, or after a crash) names the same Snapshot; the
// next run, or a spec change while suspending, names a new one.
std::string SuspendSnapshotName(const Object& session);

// A Snapshot of `session` (owned by it, labelled with it) named `name`.
Object NewSnapshot(const Object& session, const std::string& name, const std::string& reason);

}  // namespace visi
