#include "controller/runtime/garbage_collector.h"

#include <algorithm>
#include <cstdio>

#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "controller/runtime/ownership_graph.h"

namespace visi {
namespace {

constexpr char kGcKey[] = "garbage-collector";

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
      case GcAction::Type::kRemoveOwnerRefs:
        s = MutateWithRetry(store, a.kind, a.namespace_, a.name, [&](Object* o) {
              if (o->metadata.uid != a.uid) return false;
              auto& refs = o->metadata.owner_references;
              auto before = refs.size();
              refs.erase(std::remove_if(refs.begin(), refs.end(),
                                        [&](const OwnerReference& r) {
                                          return std::find(a.owner_uids.begin(), a.owner_uids.end(), r.uid) !=
                                                 a.owner_uids.end();
                                        }),
                         refs.end());
              return refs.size() != before;
            }).status();
        break;
      case GcAction::Type::kRemoveFinalizer:
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
    // Gone already, or changed under us: the next pass sees the new state.
    if (!s.ok() && s.code() != Code::kNotFound && s.code() != Code::kConflict) {
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
