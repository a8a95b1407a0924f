#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "controller/api/object.h"

namespace visi {

// Finalizers of the two non-background deletion modes, as in Kubernetes.
inline constexpr char kFinalizerForeground[] = "foregroundDeletion";
inline constexpr char kFinalizerOrphan[] = "orphan";

// One step the garbage collector asks the executor to take.
struct GcAction {
  enum class Type { kDelete, kRemoveOwnerRefs, kRemoveFinalizer };
  Type type;
  std::string kind, namespace_, name, uid;  // the object acted on
  bool foreground = false;                  // kDelete: propagate in the foreground
  std::vector<std::string> owner_uids;      // kRemoveOwnerRefs: refs to drop (sorted)
  std::string finalizer;                    // kRemoveFinalizer

  bool operator==(const GcAction&) const = default;
};

// Actions in execution order: every kRemoveOwnerRefs, then every kDelete, then
// every kRemoveFinalizer, each group sorted by uid. The executor applies them
// in order and stops at the first failure: a finalizer is removed only after
// the refs that had to go before it.
struct GcPlan {
  std::vector<GcAction> actions;
  std::vector<std::vector<std::string>> cycles;  // as OwnershipGraph::Cycles()

  bool operator==(const GcPlan&) const = default;
};

// The ownership graph of one snapshot and what garbage collection does next,
// in the manner of Kubernetes' garbage collector. Pure: no store, no clock.
// The plan is one pass; the caller applies it and plans again on the next
// snapshot, so a cascade advances one level per pass.
//
// A reference from a dependent to an owner uid is dangling when no object has
// that uid, the object's kind is not the ref's kind, a namespaced dependent
// names a namespaced owner in another namespace, or a cluster-scoped dependent
// names a namespaced owner. Names and apiVersions are not compared.
//
// Background: an object not being deleted whose refs are all dangling is
//   deleted (foreground only if it already carries the foreground finalizer).
//   If some owner is live ("solid"), the dangling refs are dropped instead.
// Foreground (owner deleting with "foregroundDeletion"): each dependent not
//   being deleted is deleted in the foreground, unless it has another solid
//   owner: then only its ref to this owner is dropped (as Kubernetes does).
//   The finalizer is removed once no dependent with blockOwnerDeletion remains;
//   dependents being deleted still count, dependents whose ref is dropped in
//   this plan do not.
// Orphan (owner deleting with "orphan"): every dependent's ref to the owner is
//   dropped, then the finalizer is removed. It takes precedence over
//   "foregroundDeletion" on the same owner. An orphaning owner counts as solid.
// Cycles: objects that own each other are never deleted while all exist. A
//   dependent that the foreground owner reaches through a cycle back to itself
//   is deleted in the background, and a blocking dependent in the owner's own
//   cycle that is itself deleting in the foreground does not hold the owner's
//   finalizer; either way the cycle is torn down instead of deadlocking.
class OwnershipGraph {
 public:
  // Objects without a uid are ignored; of two with one uid, the first in
  // (kind, namespace, name) order is kept. A null cluster_scoped treats a kind
  // none of whose objects has a namespace as cluster-scoped.
  OwnershipGraph(const std::vector<ObjectPtr>& objects,
                 std::function<bool(const std::string& kind)> cluster_scoped);
  ~OwnershipGraph();
  OwnershipGraph(OwnershipGraph&&) noexcept;
  OwnershipGraph& operator=(OwnershipGraph&&) noexcept;

  // What garbage collection does next; the same for any order of the input.
  GcPlan Plan() const;

  // Objects with a valid ref to owner_uid, sorted; empty for an unknown uid.
  std::vector<std::string> Dependents(const std::string& owner_uid) const;

  // Every transitive dependent of root_uid, then root_uid: each object comes
  // before its owners, deepest (longest ownership path from the root) first,
  // ties by uid. Members of a cycle share a depth and are ordered by uid.
  // Empty for an unknown uid.
  std::vector<std::string> TeardownOrder(const std::string& root_uid) const;

  // Each ownership cycle as the sorted uids of one strongly connected
  // component (or one self-owning object); the list is sorted.
  std::vector<std::vector<std::string>> Cycles() const;

 private:
  struct Impl;
  std::unique_ptr<const Impl> impl_;
};

}  // namespace visi
