#include "reconcilers/farm/machine_reconciler.h"

#include <algorithm>

#include "controller/drivers/farm/exec_provider.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "reconcilers/farm/farm_metrics.h"
#include "reconcilers/farm/farm_objects.h"

namespace visi {
namespace {

std::string Seconds(std::chrono::milliseconds d) {
  return std::to_string((d.count() + 999) / 1000) + "s";
}

ExecMachine CreatedOf(const Object& m) {
  return {StringField(m.spec, "endpoint"), StringField(m.spec, "tlsSecretPath"), StringField(m.spec, "providerID")};
}

}  // namespace

MachineReconciler::MachineReconciler(Manager* manager, RuntimeForMachine runtime, MachineReconcilerOptions opts)
    : manager_(manager), runtime_(std::move(runtime)), opts_(opts), metrics_(std::make_unique<FarmMetrics>()) {
  machines_ = manager_->InformerFor("FarmMachine");
  pools_ = manager_->InformerFor("FarmPool");
  sessions_ = manager_->InformerFor("VisiSession");
  controller_ = manager_->AddController({.name = "farmmachine", .workers = opts_.workers}, "FarmMachine",
                                        [this](const std::string& key) { return Reconcile(key); });
  // Sessions placed on a machine, or leaving it, change its status.
  controller_->Watches(sessions_, [](const ObjectPtr& s) {
    const std::string m = StringField(s->status, "machine");
    return m.empty() ? std::vector<std::string>{} : std::vector<std::string>{m};
  });
  // A pool's spec (its programs) changes: its failed machines try again.
  controller_->Watches(pools_, [this](const ObjectPtr& pool) {
    std::vector<std::string> keys;
    for (const ObjectPtr& m : machines_->ByOwner(pool->metadata.uid)) keys.push_back(m->metadata.name);
    return keys;
  });
}

MachineReconciler::~MachineReconciler() = default;

std::string MachineReconciler::RenderMetrics() const { return metrics_->Render(*pools_, *machines_); }

std::vector<std::string> MachineReconciler::SessionsOn(const std::string& machine) const {
  std::vector<std::string> out;
  for (const ObjectPtr& s : sessions_->List()) {
    if (StringField(s->status, "machine") == machine) out.push_back(s->metadata.namespace_ + "/" + s->metadata.name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status MachineReconciler::WriteStatus(ObjectPtr* m, Json status) {
  if ((*m)->status == status) return OkStatus();
  Object o = **m;
  o.status = std::move(status);
  auto w = manager_->store()->UpdateStatus(std::move(o));
  if (w.ok()) *m = *w;
  return w.status();
}

std::chrono::milliseconds MachineReconciler::Backoff(const std::string& name) {
  std::lock_guard lock(mu_);
  Attempts& a = attempts_[name];
  a.failures++;
  auto d = opts_.retry_min * (int64_t{1} << std::min(a.failures - 1, 20));
  d = std::min(d, opts_.retry_max);
  a.next = manager_->clock()->Now() + d;
  return d;
}

std::chrono::milliseconds MachineReconciler::Waiting(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = attempts_.find(name);
  if (it == attempts_.end()) return std::chrono::milliseconds(0);
  const TimePoint now = manager_->clock()->Now();
  if (it->second.next <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(it->second.next - now) + std::chrono::milliseconds(1);
}

ReconcileResult MachineReconciler::Reconcile(const std::string& key) {
  ObjectPtr m = machines_->GetByKey(key);
  if (!m) {
    std::lock_guard lock(mu_);
    attempts_.erase(key);
    attempts_.erase(key + "/delete");
    return ReconcileResult::Done();
  }
  const std::string pool_name = StringField(m->spec, "pool");
  ObjectPtr pool = pools_->Get("", pool_name);
  if (m->metadata.deletion_timestamp) return Teardown(m, pool);
  if (!HasFinalizer(*m, kFinalizer)) {
    auto added = AddFinalizer(manager_->store(), *m, kFinalizer);
    if (!added.ok()) return ReconcileResult::Error(added.status());
    m = *added;
  }
  const TimePoint now = manager_->clock()->Now();
  const int64_t gen = m->metadata.generation;
  Json st = m->status.is_object() ? m->status : Json::object();
  const std::string was = StringField(st, "phase");
  st["observedGeneration"] = gen;

  if (StringField(m->spec, "endpoint").empty()) {
    // The cache may be behind the create this reconciler just recorded: ask
    // the store before running the operator's program again.
    auto fresh = manager_->store()->Get("FarmMachine", "", m->metadata.name);
    if (!fresh.ok()) return ReconcileResult::Error(fresh.status());
    if (!StringField((*fresh)->spec, "endpoint").empty()) return ReconcileResult::Done();  // its update brings it back
    // Its status too: a create that failed for good ("Failed") a moment ago
    // may not be in the cache yet, and must not run the program again.
    if ((*fresh)->metadata.uid != m->metadata.uid || (*fresh)->metadata.deletion_timestamp) {
      return ReconcileResult::Done();  // its change brings the key back
    }
    m = *fresh;
    st = m->status.is_object() ? m->status : Json::object();
    st["observedGeneration"] = gen;
  }
  if (StringField(m->spec, "endpoint").empty()) {
    auto spec = pool ? ParsePoolSpec(*pool) : StatusOr<PoolSpec>(NotFoundError("pool " + pool_name + " does not exist"));
    if (spec.ok() && spec->provider == "exec" && !pool->metadata.deletion_timestamp) return Provision(m, pool);
    st["phase"] = "Provisioning";
    st["message"] = "no Docker endpoint: " + (spec.ok() ? "the " + spec->provider + " provider did not set one"
                                                         : spec.status().message());
    SetCondition(&st, {"Ready", "False", "NoEndpoint", StringField(st, "message"), gen}, now);
    if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
    return ReconcileResult::RequeueAfter(opts_.heartbeat);
  }

  const Status ping = runtime_(m->metadata.name)->Ping();
  std::string phase = was;
  if (ping.ok()) {
    phase = "Ready";
    const auto last = ParseRfc3339(StringField(st, "heartbeatTime"));
    // Renewed at half the period: a heartbeat is a store write.
    if (was != "Ready" || !last || now - *last >= opts_.heartbeat / 2) st["heartbeatTime"] = FormatRfc3339(now);
    st["message"] = "the Docker endpoint answers";
    SetCondition(&st, {"Ready", "True", "DockerAnswers", "the Docker endpoint answers", gen}, now);
  } else {
    phase = (was == "Ready" || was == "NotReady") ? "NotReady" : "Provisioning";
    st["message"] = "the Docker endpoint does not answer: " + ping.message();
    SetCondition(&st, {"Ready", "False", phase == "NotReady" ? "DockerUnreachable" : "WaitingForDocker",
                       StringField(st, "message"), gen},
                 now);
  }
  st["phase"] = phase;
  const std::vector<std::string> sessions = SessionsOn(m->metadata.name);
  st["sessions"] = sessions;
  st["sessionCount"] = static_cast<int>(sessions.size());
  if (phase == "Ready" && sessions.empty()) {
    if (StringField(st, "idleSince").empty()) st["idleSince"] = FormatRfc3339(now);
  } else {
    st.erase("idleSince");
  }
  if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
  if (phase != was && phase == "Ready") {
    (void)manager_->events()->Record(*m, EventSeverity::kNormal, "MachineReady",
                                     "the Docker endpoint " + StringField(m->spec, "endpoint") + " answers");
  } else if (phase != was && phase == "NotReady") {
    (void)manager_->events()->Record(*m, EventSeverity::kWarning, "MachineNotReady", StringField(st, "message"));
  }
  return ReconcileResult::RequeueAfter(opts_.heartbeat);
}

ReconcileResult MachineReconciler::Provision(ObjectPtr m, const ObjectPtr& pool) {
  const std::string name = m->metadata.name;
  const TimePoint now = manager_->clock()->Now();
  const int64_t gen = m->metadata.generation;
  Json st = m->status.is_object() ? m->status : Json::object();
  st["observedGeneration"] = gen;
  {
    std::lock_guard lock(mu_);
    auto it = attempts_.find(name);
    if (it != attempts_.end() && it->second.failed_pool_generation == pool->metadata.generation &&
        StringField(st, "phase") == "Failed") {
      return ReconcileResult::Done();  // Failed until the pool changes
    }
  }
  if (auto wait = Waiting(name); wait.count() > 0) return ReconcileResult::RequeueAfter(wait);
  const PoolSpec spec = *ParsePoolSpec(*pool);
  if (StringField(st, "phase") != "Provisioning") {
    st["phase"] = "Provisioning";
    st["message"] = "running the create program " + spec.exec_create.front();
    SetCondition(&st, {"Ready", "False", "Creating", StringField(st, "message"), gen}, now);
    if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
  }
  ExecOptions run;
  run.argv = spec.exec_create;
  run.timeout = std::chrono::seconds(spec.exec_timeout_seconds);
  run.env = ExecCreateEnv(pool->metadata.name, name);
  auto created = ExecCreate(run);
  metrics_->CountExec(pool->metadata.name, "create", created.ok());
  if (created.ok()) {
    auto w = MutateWithRetry(manager_->store(), "FarmMachine", "", name, [&](Object* o) {
      if (!StringField(o->spec, "endpoint").empty()) return false;
      o->spec["endpoint"] = created->endpoint;
      if (!created->tls_secret_path.empty()) o->spec["tlsSecretPath"] = created->tls_secret_path;
      if (!created->provider_id.empty()) o->spec["providerID"] = created->provider_id;
      return true;
    });
    if (!w.ok()) return ReconcileResult::Error(w.status());
    {
      std::lock_guard lock(mu_);
      attempts_.erase(name);
    }
    (void)manager_->events()->Record(*m, EventSeverity::kNormal, "Provisioned",
                                     "the create program reported " + created->endpoint);
    return ReconcileResult::Done();  // the spec change brings it back
  }
  const Status& e = created.status();
  if (e.code() == Code::kInvalid) {
    {
      std::lock_guard lock(mu_);
      attempts_[name].failed_pool_generation = pool->metadata.generation;
    }
    st["phase"] = "Failed";
    st["message"] = "create failed, not retried until the pool changes: " + e.message();
    SetCondition(&st, {"Ready", "False", "CreateFailed", StringField(st, "message"), gen}, now);
    (void)manager_->events()->Record(*m, EventSeverity::kWarning, "CreateFailed", e.message());
    if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
    return ReconcileResult::Done();
  }
  const auto after = Backoff(name);
  st["phase"] = "Provisioning";
  st["message"] = "create failed, retrying in " + Seconds(after) + ": " + e.message();
  SetCondition(&st, {"Ready", "False", e.code() == Code::kDeadlineExceeded ? "CreateTimedOut" : "CreateFailed",
                     StringField(st, "message"), gen},
               now);
  (void)manager_->events()->Record(*m, EventSeverity::kWarning, "CreateFailed", e.message());
  if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
  return ReconcileResult::RequeueAfter(after);
}

ReconcileResult MachineReconciler::Teardown(ObjectPtr m, const ObjectPtr& pool) {
  if (!HasFinalizer(*m, kFinalizer)) return ReconcileResult::Done();
  const std::string name = m->metadata.name;
  const TimePoint now = manager_->clock()->Now();
  Json st = m->status.is_object() ? m->status : Json::object();
  // From the store, not the cache: a session placed a moment ago counts.
  ListOptions all;
  all.kind = "VisiSession";
  auto listed = manager_->store()->List(all);
  if (!listed.ok()) return ReconcileResult::Error(listed.status());
  std::vector<std::string> on;
  for (const ObjectPtr& s : listed->items) {
    if (StringField(s->status, "machine") == name) on.push_back(s->metadata.namespace_ + "/" + s->metadata.name);
  }
  if (!on.empty()) {
    st["phase"] = "Draining";
    st["sessions"] = on;
    st["sessionCount"] = static_cast<int>(on.size());
    st["message"] = "being deleted: waiting for " + std::to_string(on.size()) + " sessions to leave (" + on.front() +
                    (on.size() > 1 ? ", ..." : "") + ")";
    st.erase("idleSince");
    if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
    return ReconcileResult::RequeueAfter(opts_.heartbeat);  // and whenever one of them changes
  }
  // The delete program the machine recorded when it was made; else the
  // pool's, for a machine made before machines recorded it.
  RecordedDelete del = RecordedDeleteOf(*m);
  auto spec = pool ? ParsePoolSpec(*pool) : StatusOr<PoolSpec>(NotFoundError(""));
  if (del.argv.empty() && spec.ok() && spec->provider == "exec") {
    del.argv = spec->exec_delete;
    del.timeout_seconds = spec->exec_timeout_seconds;
  }
  const std::string pool_name = StringField(m->spec, "pool");
  if (StringField(st, "phase") != "Terminating") {
    st["phase"] = "Terminating";
    st["sessions"] = Json::array();
    st["sessionCount"] = 0;
    st.erase("idleSince");
    st["message"] = !del.argv.empty() ? "running the delete program" : "no session left";
    if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
  }
  if (!del.argv.empty()) {
    // The cache may be behind a teardown this reconciler just finished: ask
    // the store before running the operator's program again.
    auto fresh = manager_->store()->Get("FarmMachine", "", name);
    if (!fresh.ok() && fresh.status().code() == Code::kNotFound) return ReconcileResult::Done();
    if (!fresh.ok()) return ReconcileResult::Error(fresh.status());
    if ((*fresh)->metadata.uid != m->metadata.uid || !HasFinalizer(**fresh, kFinalizer)) return ReconcileResult::Done();
    // Its own back-off: a create that kept failing does not delay the delete.
    const std::string attempts = name + "/delete";
    if (auto wait = Waiting(attempts); wait.count() > 0) return ReconcileResult::RequeueAfter(wait);
    ExecOptions run;
    run.argv = del.argv;
    run.timeout = std::chrono::seconds(del.timeout_seconds);
    run.env = ExecDeleteEnv(pool_name, name, CreatedOf(*m));
    const Status e = ExecDelete(run);
    metrics_->CountExec(pool_name, "delete", e.ok());
    if (!e.ok()) {
      const auto after = Backoff(attempts);
      st["message"] = "delete failed, retrying in " + Seconds(after) + ": " + e.message();
      SetCondition(&st, {"Ready", "False", "DeleteFailed", StringField(st, "message"), m->metadata.generation}, now);
      (void)manager_->events()->Record(*m, EventSeverity::kWarning, "DeleteFailed", e.message());
      if (Status w = WriteStatus(&m, st); !w.ok()) return ReconcileResult::Error(w);
      return ReconcileResult::RequeueAfter(after);
    }
    (void)manager_->events()->Record(*m, EventSeverity::kNormal, "Deleted", "the delete program removed the machine");
  }
  {
    std::lock_guard lock(mu_);
    attempts_.erase(name);
    attempts_.erase(name + "/delete");
  }
  auto removed = RemoveFinalizer(manager_->store(), *m, kFinalizer);
  if (!removed.ok() && removed.status().code() != Code::kNotFound) return ReconcileResult::Error(removed.status());
  return ReconcileResult::Done();
}

}  // namespace visi
