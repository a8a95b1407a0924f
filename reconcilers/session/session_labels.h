#pragma once

// Labels on every Docker object Visi creates for a session: what a restarted
// visid lists to adopt its work, and what tests find to clean up.
namespace visi::session_labels {

inline constexpr char kManagedBy[] = "visi.dev/managed-by";  // "visid"
inline constexpr char kInstance[] = "visi.dev/instance";     // visid --instance
inline constexpr char kSessionUid[] = "visi.dev/session-uid";
inline constexpr char kSessionNamespace[] = "visi.dev/session-namespace";
inline constexpr char kSessionName[] = "visi.dev/session-name";
inline constexpr char kComponent[] = "visi.dev/component";  // frontend | master | worker
inline constexpr char kIndex[] = "visi.dev/index";          // a worker's index
inline constexpr char kSpecHash[] = "visi.dev/spec-hash";   // of the container's spec
// On SubnetClaims: a hash of "namespace/name" (names can be longer than a
// label value may be), so a claim is found from its session's key.
inline constexpr char kSessionKey[] = "visi.dev/session-key";

}  // namespace visi::session_labels
