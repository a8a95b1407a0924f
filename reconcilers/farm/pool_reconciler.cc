#include "reconcilers/farm/pool_reconciler.h"

#include <algorithm>
#include <map>
#include <set>

#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "reconcilers/farm/farm_objects.h"

namespace visi {
namespace {

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

PoolReconciler::PoolReconciler(Manager* manager, PoolReconcilerOptions opts)
    : manager_(manager), opts_(std::move(opts)) {
  pools_ = manager_->InformerFor("FarmPool");
  machines_ = manager_->InformerFor("FarmMachine");
  controller_ = manager_->AddController({.name = "farmpool", .workers = 2}, "FarmPool",
                                        [this](const std::string& key) { return Reconcile(key); });
  sessions_ = manager_->InformerFor("VisiSession");
  // Sessions waiting for room ask the pool to grow.
  controller_->Watches(sessions_, [](const ObjectPtr& s) {
    const std::string pool = StringField(s->spec, "pool");
    return pool.empty() ? std::vector<std::string>{} : std::vector<std::string>{pool};
  });
  controller_->Watches(machines_, [](const ObjectPtr& m) {
    const std::string pool = StringField(m->spec, "pool");
    return pool.empty() ? std::vector<std::string>{} : std::vector<std::string>{pool};
  });
}

std::vector<ObjectPtr> PoolReconciler::MachinesOf(const ObjectPtr& pool) const {
  std::vector<ObjectPtr> out;
  for (const ObjectPtr& m : machines_->ByOwner(pool->metadata.uid)) {
    if (StringField(m->spec, "pool") == pool->metadata.name) out.push_back(m);
  }
  return out;
}

int PoolReconciler::PendingSessions(const std::string& pool) const {
  int n = 0;
  for (const ObjectPtr& s : sessions_->List()) {
    if (StringField(s->spec, "pool") != pool || !StringField(s->status, "machine").empty() || s->metadata.deletion_timestamp) continue;
    const Json* c = s->status.is_object() ? FindCondition(s->status, "Scheduled") : nullptr;
    const std::string reason = c ? c->value("reason", "") : "";
    n += reason == "NoRoom" || reason == "NoReadyMachine" || reason == "NoMachines";
  }
  return n;
}

Status PoolReconciler::DeleteMachine(const std::string& name, const std::string& uid, uint64_t resource_version,
                                     bool* deleted) {
  Preconditions pre;
  if (!uid.empty()) pre.uid = uid;
  if (resource_version > 0) pre.resource_version = resource_version;
  auto d = manager_->store()->Delete("FarmMachine", "", name, pre);
  if (deleted) *deleted = d.ok();
  // Conflict: another machine of that name now; the next look decides again.
  if (d.status().code() == Code::kConflict) return OkStatus();
  return d.ok() || d.status().code() == Code::kNotFound ? OkStatus() : d.status();
}

ReconcileResult PoolReconciler::Teardown(const ObjectPtr& pool) {
  if (!HasFinalizer(*pool, kFinalizer)) return ReconcileResult::Done();
  const std::vector<ObjectPtr> machines = MachinesOf(pool);
  for (const ObjectPtr& m : machines) {
    if (m->metadata.deletion_timestamp) continue;
    if (Status d = DeleteMachine(m->metadata.name, m->metadata.uid); !d.ok()) return ReconcileResult::Error(d);
  }
  if (!machines.empty()) return ReconcileResult::RequeueAfter(std::chrono::seconds(5));  // and as each goes
  // The cache may not show a machine made a moment ago: ask the store.
  ListOptions all;
  all.kind = "FarmMachine";
  auto listed = manager_->store()->List(all);
  if (!listed.ok()) return ReconcileResult::Error(listed.status());
  for (const ObjectPtr& m : listed->items) {
    if (StringField(m->spec, "pool") != pool->metadata.name) continue;
    if (!m->metadata.deletion_timestamp) {
      if (Status d = DeleteMachine(m->metadata.name, m->metadata.uid); !d.ok()) return ReconcileResult::Error(d);
    }
    return ReconcileResult::RequeueAfter(std::chrono::seconds(1));
  }
  auto removed = RemoveFinalizer(manager_->store(), *pool, kFinalizer);
  if (!removed.ok() && removed.status().code() != Code::kNotFound) return ReconcileResult::Error(removed.status());
  return ReconcileResult::Done();
}

ReconcileResult PoolReconciler::Reconcile(const std::string& key) {
  ObjectPtr pool = pools_->GetByKey(key);
  if (!pool) return ReconcileResult::Done();
  if (pool->metadata.deletion_timestamp) return Teardown(pool);
  if (!HasFinalizer(*pool, kFinalizer)) {
    auto added = AddFinalizer(manager_->store(), *pool, kFinalizer);
    if (!added.ok()) return ReconcileResult::Error(added.status());
    pool = *added;
  }
  const TimePoint now = manager_->clock()->Now();
  const int64_t gen = pool->metadata.generation;
  Json st = pool->status.is_object() ? pool->status : Json::object();
  st["observedGeneration"] = gen;
  auto write = [&]() -> Status {
    if (pool->status == st) return OkStatus();
    Object o = *pool;
    o.status = st;
    return manager_->store()->UpdateStatus(std::move(o)).status();
  };

  auto spec = ParsePoolSpec(*pool);
  if (!spec.ok()) {
    st["phase"] = "Degraded";
    SetCondition(&st, {"ScalingDecision", "False", "InvalidSpec", spec.status().message(), gen}, now);
    if (Status w = write(); !w.ok()) return ReconcileResult::Error(w);
    return ReconcileResult::Terminal(spec.status());
  }
  std::vector<ObjectPtr> machines = MachinesOf(pool);
  std::vector<PoolMachine> views;
  std::map<std::string, std::string> uids;  // name -> uid
  auto plan = [&] {
    views.clear();
    uids.clear();
    for (const ObjectPtr& m : machines) {
      views.push_back(PoolMachineOf(*m));
      uids[m->metadata.name] = m->metadata.uid;
    }
    return PlanIdlePool(spec->policy, views, now, PendingSessions(pool->metadata.name));
  };
  IdlePoolDecision d = plan();
  if (spec->provider != "static" && d.provision > 0) {
    // Before growing, the store's view: the cache may lack a machine made a
    // moment ago whose name was free once (a removal it did see).
    ListOptions all;
    all.kind = "FarmMachine";
    auto listed = manager_->store()->List(all);
    if (!listed.ok()) return ReconcileResult::Error(listed.status());
    machines.clear();
    for (const ObjectPtr& m : listed->items) {
      if (StringField(m->spec, "pool") == pool->metadata.name && IsControlledBy(*m, *pool)) machines.push_back(m);
    }
    d = plan();
  }

  std::vector<std::string> created, deleted;
  if (spec->provider == "static") {
    // The list is the truth: no provisioning, no scale-down.
    d.provision = 0;
    d.drain.clear();
    std::set<std::string> listed;
    for (const StaticMachine& want : spec->static_machines) {
      listed.insert(want.name);
      ObjectPtr have = machines_->Get("", want.name);
      if (have && (StringField(have->spec, "pool") != pool->metadata.name || have->metadata.deletion_timestamp)) continue;
      if (have && StringField(have->spec, "endpoint") == want.endpoint &&
          StringField(have->spec, "tlsSecretPath") == want.tls_secret_path && have->spec.is_object() && have->spec.contains("capacity") && have->spec["capacity"] == spec->capacity) {
        continue;
      }
      if (have) {
        auto w = MutateWithRetry(manager_->store(), "FarmMachine", "", want.name, [&](Object* o) {
          o->spec["endpoint"] = want.endpoint;
          o->spec["tlsSecretPath"] = want.tls_secret_path;
          o->spec["capacity"] = spec->capacity;
          return true;
        });
        if (!w.ok()) return ReconcileResult::Error(w.status());
        continue;
      }
      Object m = NewMachine(*pool, *spec, want.name);
      m.spec["endpoint"] = want.endpoint;
      if (!want.tls_secret_path.empty()) m.spec["tlsSecretPath"] = want.tls_secret_path;
      auto c = manager_->store()->Create(std::move(m));
      if (!c.ok() && c.status().code() != Code::kAlreadyExists) return ReconcileResult::Error(c.status());
      if (c.ok()) created.push_back(want.name);
    }
    for (const ObjectPtr& m : machines) {
      if (listed.count(m->metadata.name) || m->metadata.deletion_timestamp) continue;
      if (Status e = DeleteMachine(m->metadata.name, m->metadata.uid); !e.ok()) return ReconcileResult::Error(e);
      deleted.push_back(m->metadata.name);
    }
    d.reason = "StaticMachines";
    d.message = std::to_string(spec->static_machines.size()) + " machines listed in spec.provider.static; " +
                std::to_string(d.idle) + " idle, " + std::to_string(d.in_use) + " in use";
  } else {
    for (int i = 0, made = 0; made < d.provision && i < 100000; ++i) {
      const std::string name = MachineName(pool->metadata.name, i);
      if (uids.count(name)) continue;
      Object m = NewMachine(*pool, *spec, name);
      if (spec->provider == "local") m.spec["endpoint"] = opts_.local_endpoint;
      auto c = manager_->store()->Create(std::move(m));
      ++made;  // AlreadyExists too: the cache is behind an earlier create, which counts
      if (!c.ok() && c.status().code() != Code::kAlreadyExists) return ReconcileResult::Error(c.status());
      if (c.ok()) created.push_back(name);
    }
    // Scale-down in two steps, so that no session lands on a machine as it
    // goes: cordon it now (placement re-reads the machine after placing and
    // gives up a cordoned one) ...
    for (const std::string& name : d.drain) {
      auto cordoned = MutateWithRetry(manager_->store(), "FarmMachine", "", name, [&](Object* o) {
        if (o->metadata.uid != uids[name] || o->metadata.annotations.count(kScaleDownAnnotation)) return false;
        o->metadata.annotations[kScaleDownAnnotation] = FormatRfc3339(now);
        o->spec["unschedulable"] = true;
        return true;
      });
      if (!cordoned.ok() && cordoned.status().code() != Code::kNotFound) return ReconcileResult::Error(cordoned.status());
    }
    // ... then, on a later pass, delete it if the store shows no session on
    // it, or put it back in service if one got there first.
    for (const ObjectPtr& m : machines) {
      if (!m->metadata.annotations.count(kScaleDownAnnotation) || m->metadata.deletion_timestamp) continue;
      if (std::find(d.drain.begin(), d.drain.end(), m->metadata.name) != d.drain.end()) continue;  // cordoned just now
      // The cache may still show a cordon an earlier pass took back: the
      // store's machine decides, and the delete holds only if it is unchanged
      // after the sessions were listed.
      auto fresh = manager_->store()->Get("FarmMachine", "", m->metadata.name);
      if (!fresh.ok() && fresh.status().code() != Code::kNotFound) return ReconcileResult::Error(fresh.status());
      if (!fresh.ok() || (*fresh)->metadata.uid != m->metadata.uid || (*fresh)->metadata.deletion_timestamp ||
          !(*fresh)->metadata.annotations.count(kScaleDownAnnotation)) {
        continue;
      }
      ListOptions all;
      all.kind = "VisiSession";
      auto sessions = manager_->store()->List(all);
      if (!sessions.ok()) return ReconcileResult::Error(sessions.status());
      bool used = false;
      for (const ObjectPtr& s : sessions->items) used = used || StringField(s->status, "machine") == m->metadata.name;
      if (!used) {
        bool gone = false;
        if (Status e = DeleteMachine(m->metadata.name, m->metadata.uid, (*fresh)->metadata.resource_version, &gone);
            !e.ok()) {
          return ReconcileResult::Error(e);
        }
        if (gone) deleted.push_back(m->metadata.name);
        continue;
      }
      auto back = MutateWithRetry(manager_->store(), "FarmMachine", "", m->metadata.name, [&](Object* o) {
        if (o->metadata.uid != m->metadata.uid) return false;
        o->metadata.annotations.erase(kScaleDownAnnotation);
        o->spec["unschedulable"] = false;
        return true;
      });
      if (!back.ok() && back.status().code() != Code::kNotFound) return ReconcileResult::Error(back.status());
    }
  }
  if (!created.empty()) {
    (void)manager_->events()->Record(*pool, EventSeverity::kNormal, "ScaledUp", "created machines " + Join(created));
  }
  if (!deleted.empty()) {
    (void)manager_->events()->Record(*pool, EventSeverity::kNormal, "ScaledDown", "deleting machines " + Join(deleted));
  }

  int ready = 0, failed = 0, not_ready = 0, sessions = 0;
  for (const PoolMachine& v : views) {
    ready += v.phase == "Ready";
    failed += v.phase == "Failed";
    not_ready += v.phase == "NotReady";
    sessions += v.sessions;
  }
  st["machines"] = d.machines;
  st["readyMachines"] = ready;
  st["idleMachines"] = d.idle;
  st["inUseMachines"] = d.in_use;
  st["provisioningMachines"] = d.provisioning;
  st["drainingMachines"] = d.draining;
  st["sessions"] = sessions;
  const bool degraded = failed > 0 || not_ready > 0 || d.reason == "AtMaxMachines";
  st["phase"] = ready == 0 ? (degraded ? "Degraded" : "Pending") : degraded ? "Degraded" : "Ready";
  SetCondition(&st, {"ScalingDecision", d.reason == "AtMaxMachines" ? "False" : "True", d.reason, d.message, gen}, now);
  std::string ready_message = std::to_string(ready) + " of " + std::to_string(d.machines) + " machines Ready";
  if (failed) ready_message += ", " + std::to_string(failed) + " Failed";
  if (not_ready) ready_message += ", " + std::to_string(not_ready) + " NotReady";
  SetCondition(&st, {"Ready", ready > 0 ? "True" : "False", ready > 0 ? "MachinesReady" : "NoReadyMachine",
                     ready_message, gen},
               now);
  if (Status w = write(); !w.ok()) return ReconcileResult::Error(w);
  if (!d.drain.empty()) return ReconcileResult::RequeueAfter(std::chrono::milliseconds(200));  // the second step
  if (d.recheck_at) {
    return ReconcileResult::RequeueAfter(std::max<std::chrono::nanoseconds>(*d.recheck_at - now, std::chrono::milliseconds(10)));
  }
  return ReconcileResult::Done();
}

}  // namespace visi
