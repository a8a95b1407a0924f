#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/base/status.h"
#include "controller/base/statusor.h"
#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/snapshot/snapshot_store.h"

namespace visi {

using Json = nlohmann::json;

// The session snapshot bundle: the declared state paths of every container
// of a session plus the session itself, as one file in the SnapshotStore.
//
// Format "visi.dev/session-bundle/v1": a gzip stream (RFC 1952) of one tar
// (ustar, pax for long names) whose members are, in order:
//   manifest.json        {"format": "visi.dev/session-bundle/v1",
//                         "session": <the session JSON given to CaptureSession>,
//                         "entries": [{"component": "frontend", "path": "/data",
//                                      "file": "state/frontend/0.tar",
//                                      "size": N, "sha256": "<64 lower hex>"}, ...]}
//   state/<component>/<i>.tar
//                        for each entry, the raw tar Docker's archive API gave
//                        for that path (root member = the path's last
//                        element); i is the path's index in the target.
// The encoding is deterministic (no timestamps in the gzip header or outer
// tar), so capturing unchanged state gives the same digest.

// One container of the session and the paths of its state.
struct StateTarget {
  std::string component;           // unique per session, [a-z0-9-], e.g. "frontend", "worker-1"
  std::string container;           // id or name
  std::vector<std::string> paths;  // absolute, normalized, not "/", e.g. "/data"
};

// Bounds on what a bundle may hold; capture refuses to write a bundle that
// restore with the same limits would refuse.
struct BundleLimits {
  int64_t max_bundle_bytes = int64_t{2} << 30;    // the gzip file; at most kMaxBundleLimit
  int64_t max_unpacked_bytes = int64_t{2} << 30;  // the tar inside it
  int64_t max_manifest_bytes = int64_t{1} << 20;
  int max_entries = 1024;
};

inline constexpr char kSessionBundleFormat[] = "visi.dev/session-bundle/v1";
// The largest size limit a bundle may be given (zlib counts input in 32 bits).
inline constexpr int64_t kMaxBundleLimit = int64_t{3} << 30;

// Reads every path of every target out of its container and stores the
// bundle. The bundle is built in memory before it is streamed to the store.
// `entries` (when given) gets the manifest's entries (component, path,
// file, size, sha256), what a Snapshot's status.contents lists.
// Errors: kInvalid for bad targets or a non-object session; kNotFound naming
// the component and path when a path (or container) is missing; kTooLarge
// beyond `limits`; runtime and store errors as they come.
StatusOr<SnapshotBlob> CaptureSession(ContainerRuntime* rt, const std::vector<StateTarget>& targets,
                                      const Json& session, SnapshotStore* store, const BundleLimits& limits = {},
                                      Json* entries = nullptr);

// Verifies the stored bundle, reads it and validates it completely before it
// touches any container: the format, every listed member present with its
// size and SHA-256, no member unlisted, entries only for declared (component,
// path) pairs, safe member names, each state tar confined to its path's last
// element, all within `limits`. With `skip_undeclared`, entries for pairs
// not declared are validated as well but not extracted (a resume with fewer
// workers than the snapshot had, or into some containers only); without it
// they make the bundle invalid. Then extracts each state tar into the parent
// directory of its path ("/data" into "/") and returns the manifest's
// session JSON. Declared paths without an entry are left as they are.
// Errors: kInvalid (nothing restored) for a bundle that fails validation or
// bad targets; the store's errors (kNotFound, kInternal "digest mismatch",
// kInvalid digest) with nothing restored; a runtime error during extraction
// may leave earlier paths restored (a retry restores them all again).
StatusOr<Json> RestoreSession(ContainerRuntime* rt, SnapshotStore* store, const std::string& digest,
                              const std::vector<StateTarget>& targets, const BundleLimits& limits = {},
                              bool skip_undeclared = false);

}  // namespace visi
