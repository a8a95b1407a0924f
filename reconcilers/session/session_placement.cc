// Placement of a session on a machine of its FarmPool (docs/farm.md).
#include "controller/runtime/event_recorder.h"
#include "reconcilers/farm/farm_objects.h"
#include "reconcilers/farm/placement.h"
#include "reconcilers/session/session_pass.h"
#include "reconcilers/session/session_spec.h"

namespace visi {
namespace {

Resources NeedOf(const SessionSpec& spec) {
  Resources r;
  r.nano_cpus = spec.frontend_limits.nano_cpus + spec.spark_limits.nano_cpus * (1 + spec.workers);
  r.memory_bytes = spec.frontend_limits.memory_bytes + spec.spark_limits.memory_bytes * (1 + spec.workers);
  return r;
}

}  // namespace

std::vector<ObjectPtr> SessionReconciler::PoolMachines(const ObjectPtr& pool) const {
  std::vector<ObjectPtr> out;
  for (const ObjectPtr& m : machines_->ByOwner(pool->metadata.uid)) {
    if (StringField(m->spec, "pool") == pool->metadata.name) out.push_back(m);
  }
  return out;
}

std::optional<ReconcileResult> SessionReconciler::Place(Pass& p, const SessionSpec& spec) {
  const std::string key = p.id.namespace_ + "/" + p.id.name;
  const std::string current = StatusString(p.s->status, "machine");
  if (!current.empty()) {
    p.obs.machine = current;
    return std::nullopt;  // a placed session stays where its containers are
  }
  ObjectPtr pool = pools_->Get("", spec.pool);
  if (!pool) {
    // The cache may not show a pool made a moment ago: ask the store before
    // settling on the single-host mode, which sticks.
    auto stored = manager_->store()->Get("FarmPool", "", spec.pool);
    if (stored.ok()) return ReconcileResult::RequeueAfter(opts_.probe_interval);  // the cache catches up
    if (stored.status().code() != Code::kNotFound) return ReconcileResult::Error(stored.status());
  }
  if (!pool || pool->metadata.deletion_timestamp) {
    // No FarmPool of that name: the single-host mode, on visid's own Docker host.
    p.obs.machine = opts_.machine;
    return std::nullopt;
  }
  const Resources need = NeedOf(spec);
  Placement placed;
  {
    std::lock_guard lock(place_mu_);
    std::vector<ObjectPtr> machines = PoolMachines(pool);
    std::map<std::string, MachineView> views;
    for (const ObjectPtr& m : machines) {
      MachineView v = MachineViewOf(*m);
      v.sessions = 0;  // counted below, from the sessions themselves: fresher than the machine's status
      views[v.name] = v;
    }
    // What each session placed on these machines asks for: those the cache
    // shows, and those placed here whose status the cache does not show yet.
    std::map<std::string, std::pair<std::string, Resources>> seen;  // uid -> machine, need
    for (const ObjectPtr& s : sessions_->List()) {
      const std::string on = StatusString(s->status, "machine");
      if (on.empty() || !views.count(on)) continue;
      auto other = ParseSessionSpec(*s);
      seen[s->metadata.uid] = {on, other.ok() ? NeedOf(*other) : Resources{}};
    }
    for (auto it = reservations_.begin(); it != reservations_.end();) {
      // The cache has caught up with the placement (whatever the session
      // did since), or the session is gone.
      ObjectPtr cached = sessions_->Get(it->second.session_namespace, it->second.session_name);
      if (!cached || cached->metadata.uid != it->first ||
          (it->second.written_rv > 0 && cached->metadata.resource_version >= it->second.written_rv)) {
        it = reservations_.erase(it);
        continue;
      }
      seen[it->first] = {it->second.machine, it->second.need};
      ++it;
    }
    for (const auto& [uid, at] : seen) {
      if (uid == p.id.uid) continue;
      auto v = views.find(at.first);
      if (v == views.end()) continue;
      v->second.sessions++;
      v->second.used.nano_cpus += at.second.nano_cpus;
      v->second.used.memory_bytes += at.second.memory_bytes;
    }
    std::vector<MachineView> list;
    for (auto& [name, v] : views) list.push_back(std::move(v));
    placed = PlaceSession(need, list);
    if (placed.machine.empty()) {
      waiting_[spec.pool].insert(key);
    } else {
      reservations_[p.id.uid] = {placed.machine, need, p.id.namespace_, p.id.name};
      if (auto w = waiting_.find(spec.pool); w != waiting_.end()) w->second.erase(key);
    }
  }
  if (placed.machine.empty()) {
    return Blocked(p, placed.reason, "waiting for a machine of pool " + spec.pool + ": " + placed.message,
                   opts_.resync, "Scheduled");
  }
  // Durable before anything is created: a crash after this finds the
  // session's containers on the machine its status names.
  p.obs.machine = placed.machine;
  if (Status w = WritePassStatus(p, &p.s); !w.ok()) {
    std::lock_guard lock(place_mu_);
    reservations_.erase(p.id.uid);
    return ReconcileResult::Error(w);
  }
  {
    std::lock_guard lock(place_mu_);
    if (auto r = reservations_.find(p.id.uid); r != reservations_.end()) r->second.written_rv = p.s->metadata.resource_version;
  }
  // The machine may have been deleted since the cache said otherwise. Its
  // reconciler lists sessions from the store after the deletion, so either
  // it sees this placement and waits, or the store shows the deletion here.
  auto fresh = manager_->store()->Get("FarmMachine", "", placed.machine);
  if (!fresh.ok() || MachineViewOf(**fresh).unschedulable) {  // deleted or cordoned meanwhile
    p.obs.machine.clear();
    {
      std::lock_guard lock(place_mu_);
      reservations_.erase(p.id.uid);
    }
    if (Status w = WritePassStatus(p, &p.s); !w.ok()) return ReconcileResult::Error(w);
    return ReconcileResult::RequeueAfter(opts_.probe_interval);
  }
  (void)manager_->events()->Record(*p.s, EventSeverity::kNormal, "Scheduled",
                                   "placed on machine " + placed.machine + " of pool " + spec.pool);
  return std::nullopt;
}

std::vector<std::string> SessionReconciler::SessionsToWake(const ObjectPtr& machine) {
  std::vector<std::string> keys;
  const Json& st = machine->status;
  if (st.is_object() && st.contains("sessions") && st["sessions"].is_array()) {
    for (const auto& s : st["sessions"]) {
      if (s.is_string()) keys.push_back(s.get<std::string>());
    }
  }
  const std::string pool = StringField(machine->spec, "pool");
  std::lock_guard lock(place_mu_);
  if (auto w = waiting_.find(pool); w != waiting_.end()) keys.insert(keys.end(), w->second.begin(), w->second.end());
  return keys;
}

}  // namespace visi
