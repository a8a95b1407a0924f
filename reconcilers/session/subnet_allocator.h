#pragma once

#include <mutex>
#include <set>

#include <optional>
#include <string>
#include <vector>

#include "controller/base/statusor.h"
#include "controller/store/store.h"
#include "reconcilers/session/cidr.h"
#include "reconcilers/session/session_desired.h"

namespace visi {

class Informer;

// Hands out one subnet per session from a pool's range. A subnet is held by
// a SubnetClaim object named after it: the store's create-if-absent makes the
// allocation atomic across reconcile workers and across visid processes, with
// no lock in memory. A claim is deleted (Release) only once the session's
// network is gone.
class SubnetAllocator {
 public:
  // `claims`: an informer over SubnetClaim (the cache; the store is asked
  // when the cache may lag).
  SubnetAllocator(Store* store, Informer* claims) : store_(store), claims_(claims) {}

  // The subnet the session holds, claiming a free one of `range` split into
  // /`prefix` when it holds none. Subnets overlapping `taken` (networks on the
  // host that Visi did not make) are skipped. kUnavailable when the range is
  // exhausted ("no free /24 in 10.200.0.0/16: 256 claimed"). The claim
  // records `machine`, where the session's network goes.
  StatusOr<std::string> Ensure(const SessionIdentity& session, const std::string& pool, const Cidr& range,
                               int prefix, const std::vector<Cidr>& taken, const std::string& machine = "");

  // The subnet the session holds, if any (the store, not the cache).
  StatusOr<std::optional<std::string>> Held(const std::string& session_uid);

  // Deletes every claim of the session. Idempotent.
  Status Release(const std::string& session_uid);

  // "10.200.4.0/24" -> "10-200-4-0-24", the claim's name.
  static std::string ClaimName(const std::string& subnet);

 private:
  StatusOr<std::vector<ObjectPtr>> ClaimsOf(const std::string& session_uid);

  Store* const store_;
  Informer* const claims_;
  // Claims this allocator deleted (by object uid) that the cache may still
  // show for a moment: never taken for held.
  std::mutex mu_;
  std::set<std::string> released_;  // GUARDED_BY(mu_)
};

}  // namespace visi
