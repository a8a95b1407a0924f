#include "controller/runtime/garbage_collector.h"

#include <algorithm>
#include <cstdio>

#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "controller/runtime/ownership_graph.h"

namespace visi {
namespace {

constexpr char kGcKey[] = "garbage-collector";

// Removes from the object `uid` (if it is still the one of that name) every
// owner reference to one of `owner_uids`.
Status DropOwnerRefs(Store* store, const Object& o, const std::vector<std::string>& owner_uids) {
  const std::string& uid = o.metadata.uid;
  return MutateWithRetry(store, o.kind, o.metadata.namespace_, o.metadata.name, [&](Object* live) {
           if (live->metadata.uid != uid) return false;
           auto& refs = live->metadata.owner_references;
           auto before = refs.size();
           refs.erase(std::remove_if(refs.begin(), refs.end(),
                                     [&](const OwnerReference& r) {
                                       return std::find(owner_uids.begin(), owner_uids.end(), r.uid) !=
                                              owner_uids.end();
                                     }),
                      refs.end());
           return refs.size() != before;
         })
      .status();
}

}  // namespace

GarbageCollector::GarbageCollector(Manager* manager, std::shared_ptr<const Scheme> scheme)
    : manager_(manager), scheme_(std::move(scheme)) {
  for (const auto& k : scheme_->kinds()) informers_.push_back(manager_->InformerFor(k.kind));
  // Every change anywhere may orphan something: all map to one key, so a
  // burst of changes costs one pass.
  Controller* c = manager_->AddController({.name = "garbage-collector", .workers = 1}, scheme_->kinds()[0].kind,
                                          [this](const std::string&) { return Pass(); });
  for (Informer* inf : informers_) {
    c->Watches(inf, [](const ObjectPtr&) { return std::vector<std::string>{kGcKey}; });
  }
}

Status GarbageCollector::ReleaseLiveDependents(const GcAction& owner) {
  Store* store = manager_->store();
  const KindInfo* owner_kind = scheme_->ByKind(owner.kind);
  const bool cluster_owner = owner_kind && !owner_kind->namespaced;
  for (const auto& k : scheme_->kinds()) {
    // A namespaced owner can only have dependents in its own namespace.
    if (!cluster_owner && !k.namespaced) continue;
    ListOptions lo;
    lo.kind = k.kind;
    lo.namespace_ = cluster_owner ? "" : owner.namespace_;
    auto items = store->List(lo);
    if (!items.ok()) return items.status();
    for (const auto& o : items->items) {
      const auto& refs = o->metadata.owner_references;
      if (std::none_of(refs.begin(), refs.end(), [&](const OwnerReference& r) { return r.uid == owner.uid; })) {
        continue;
      }
      Status s = DropOwnerRefs(store, *o, {owner.uid});
      if (!s.ok() && s.code() != Code::kNotFound) return s;
    }
  }
  return Status();
}

ReconcileResult GarbageCollector::Pass() {
  std::vector<ObjectPtr> all;
  for (Informer* inf : informers_) {
    auto items = inf->List();
    all.insert(all.end(), items.begin(), items.end());
  }
  auto scheme = scheme_;
  OwnershipGraph graph(all, [scheme](const std::string& kind) {
    const KindInfo* k = scheme->ByKind(kind);
    return k && !k->namespaced;
  });
  GcPlan plan = graph.Plan();
  Store* store = manager_->store();
  Status failed;
  for (const GcAction& a : plan.actions) {
    Status s;
    switch (a.type) {
      case GcAction::Type::kDelete: {
        // Caches lag: before deleting, confirm against the store that the
        // object is the one planned for and that every owner is really gone
        // (an owner's orphaning may have just removed the reference).
        auto live = store->Get(a.kind, a.namespace_, a.name);
        if (!live.ok() || (*live)->metadata.uid != a.uid) break;
        // No owners left in the store (an orphaning owner let go of it after
        // the cache was filled): a root now, not garbage.
        if ((*live)->metadata.owner_references.empty()) break;
        bool owned = false;
        for (const auto& ref : (*live)->metadata.owner_references) {
          const KindInfo* k = scheme_->ByKind(ref.kind);
          if (!k) continue;
          auto owner = store->Get(ref.kind, k->namespaced ? a.namespace_ : "", ref.name);
          if (owner.ok() && (*owner)->metadata.uid == ref.uid) owned = true;
        }
        if (owned && !a.foreground) break;
        Preconditions pre;
        pre.uid = a.uid;  // never delete a newer object of the same name
        pre.resource_version = (*live)->metadata.resource_version;
        pre.propagation = a.foreground ? Propagation::kForeground : Propagation::kBackground;
        auto d = store->Delete(a.kind, a.namespace_, a.name, pre);
        s = d.status();
        if (d.ok()) deleted_++;
        break;
      }
      case GcAction::Type::kRemoveOwnerRefs: {
        Object target;
        target.kind = a.kind;
        target.metadata.namespace_ = a.namespace_;
        target.metadata.name = a.name;
        target.metadata.uid = a.uid;
        s = DropOwnerRefs(store, target, a.owner_uids);
        break;
      }
      case GcAction::Type::kRemoveFinalizer:
        // The plan saw only the dependents in the caches; one created just
        // before the owner's deletion may not have arrived yet. Once the
        // orphan finalizer is gone nothing protects it, so ask the store.
        if (a.finalizer == kFinalizerOrphan) s = ReleaseLiveDependents(a);
        if (!s.ok()) break;
        s = MutateWithRetry(store, a.kind, a.namespace_, a.name, [&](Object* o) {
              if (o->metadata.uid != a.uid) return false;
              auto& f = o->metadata.finalizers;
              auto it = std::find(f.begin(), f.end(), a.finalizer);
              if (it == f.end()) return false;
              f.erase(it);
              return true;
            }).status();
        break;
    }
    // Gone already: nothing left to do for it. Anything else, a conflict that
    // outlasted the retries included, stops the pass: later actions (a
    // finalizer removal) may rely on this one having landed.
    if (!s.ok() && s.code() != Code::kNotFound) {
      failed = s;
      break;  // actions are ordered: later ones may depend on this one
    }
  }
  for (const auto& cycle : plan.cycles) {
    std::string id;
    for (const auto& uid : cycle) id += uid + ",";
    {
      std::lock_guard lock(mu_);
      if (!reported_cycles_.insert(id).second) continue;
    }
    std::string names;
    std::vector<ObjectPtr> members;
    for (const auto& o : all) {
      if (std::find(cycle.begin(), cycle.end(), o->metadata.uid) != cycle.end()) {
        members.push_back(o);
        names += (names.empty() ? "" : ", ") + o->kind + " " + ObjectKeyOf(*o);
      }
    }
    std::fprintf(stderr, "{\"level\":\"warn\",\"msg\":\"ownership cycle\",\"objects\":%s}\n",
                 Json(names).dump().c_str());
    for (const auto& o : members) {
      (void)manager_->events()->Record(*o, EventSeverity::kWarning, "OwnershipCycle",
                                       "ownership cycle: " + names + "; none of them is collected while the cycle holds");
    }
  }
  if (!failed.ok()) return ReconcileResult::Error(failed);
  return ReconcileResult::Done();
}

}  // namespace visi
