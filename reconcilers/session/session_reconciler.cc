#include "reconcilers/session/session_reconciler.h"

#include <cstdio>
#include <future>

#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_pass.h"
#include "reconcilers/session/session_plan.h"
#include "reconcilers/session/session_spec.h"
#include "reconcilers/session/session_status.h"
#include "reconcilers/session/subnet_allocator.h"
#include "reconcilers/snapshot/snapshot_objects.h"

namespace visi {
namespace {

namespace L = session_labels;

// How soon a pass whose cached object is older than its own last write
// looks again, should the write's event be slow to come.
constexpr std::chrono::milliseconds kCacheLagRetry{20};

Labels Selector(const std::string& uid, const std::string& instance) {
  return {{L::kSessionUid, uid}, {L::kInstance, instance}};
}

// The subnet range and prefix for a session: its FarmPool's, else the default.
std::pair<std::string, int> PoolRange(Informer* pools, const std::string& pool, const SessionReconcilerOptions& o) {
  ObjectPtr p = pools ? pools->Get("", pool) : nullptr;
  if (!p || !p->spec.is_object() || !p->spec.contains("network")) return {o.subnet_pool, o.subnet_prefix};
  const Json& n = p->spec["network"];
  if (!n.is_object()) return {o.subnet_pool, o.subnet_prefix};
  return {n.value("subnetPool", o.subnet_pool), n.value("subnetPrefixLength", o.subnet_prefix)};
}

}  // namespace

SessionReconciler::SessionReconciler(Manager* manager, RuntimeForMachine runtime, Prober* prober,
                                     SessionReconcilerOptions opts)
    : manager_(manager), runtime_(std::move(runtime)), prober_(prober), opts_(std::move(opts)) {
  sessions_ = manager_->InformerFor("VisiSession");
  claims_ = manager_->InformerFor("SubnetClaim");
  snapshots_ = manager_->InformerFor("Snapshot");
  subnets_ = std::make_unique<SubnetAllocator>(manager_->store(), claims_);
  pools_ = manager_->InformerFor("FarmPool");
  machines_ = manager_->InformerFor("FarmMachine");
  controller_ = manager_->AddController({.name = "visisession", .workers = opts_.workers}, "VisiSession",
                                        [this](const std::string& key) { return Reconcile(key); });
  // A suspend waits for its Snapshot: each change of it brings the session back.
  controller_->Owns(snapshots_);
  // A machine that changes (room freed, Ready, NotReady) brings back its
  // sessions and those waiting for room in its pool.
  controller_->Watches(machines_, [this](const ObjectPtr& m) { return SessionsToWake(m); });
  // A claim names its session: a claim whose session is gone brings the key
  // back, so the leftovers are cleaned up (also at start, as claims are listed).
  controller_->Watches(claims_, [](const ObjectPtr& claim) {
    const Json& spec = claim->spec;
    if (!spec.is_object()) return std::vector<std::string>{};
    return std::vector<std::string>{spec.value("sessionNamespace", "") + "/" + spec.value("sessionName", "")};
  });
}

SessionReconciler::~SessionReconciler() = default;

Status SessionReconciler::WriteStatus(const ObjectPtr& session, const Json& status, ObjectPtr* written) {
  if (session->status == status) {
    if (written) *written = session;
    return OkStatus();
  }
  Object o = *session;
  o.status = status;
  auto w = manager_->store()->UpdateStatus(std::move(o));
  if (w.ok()) NoteWrite(*w);
  if (w.ok() && written) *written = *w;
  return w.status();
}

void SessionReconciler::NoteWrite(const ObjectPtr& written) {
  const std::string key = written->metadata.namespace_ + "/" + written->metadata.name;
  std::lock_guard lock(written_mu_);
  auto& [uid, rv] = written_[key];
  if (uid != written->metadata.uid) rv = 0;
  uid = written->metadata.uid;
  rv = std::max(rv, written->metadata.resource_version);
}

bool SessionReconciler::CacheBehindOwnWrite(const std::string& key, const Object& cached) {
  std::lock_guard lock(written_mu_);
  auto it = written_.find(key);
  return it != written_.end() && it->second.first == cached.metadata.uid &&
         it->second.second > cached.metadata.resource_version;
}

void SessionReconciler::ForgetWrites(const std::string& key) {
  std::lock_guard lock(written_mu_);
  written_.erase(key);
}

Status SessionReconciler::Execute(ContainerRuntime* rt, const ObjectPtr& session,
                                  const std::vector<SessionAction>& plan) {
  using Type = SessionAction::Type;
  auto named = [](const SessionAction& a, const Status& s) {
    return Status(s.code(), std::string(ActionName(a.type)) + " " + a.target + ": " + s.message());
  };
  size_t i = 0;
  while (i < plan.size()) {
    // Consecutive removals run side by side: each may wait out a stop grace.
    if (plan[i].type == Type::kRemoveContainer) {
      std::vector<std::pair<const SessionAction*, std::future<Status>>> running;
      for (; i < plan.size() && plan[i].type == Type::kRemoveContainer; ++i) {
        const SessionAction* a = &plan[i];
        running.emplace_back(a, std::async(std::launch::async,
                                           [rt, a, this] { return rt->RemoveContainer(a->target, opts_.stop_grace); }));
      }
      Status first;
      for (auto& [a, f] : running) {
        Status s = f.get();
        if (!s.ok() && s.code() != Code::kNotFound && first.ok()) first = named(*a, s);
      }
      if (!first.ok()) return first;
      continue;
    }
    const SessionAction& a = plan[i++];
    Status s;
    switch (a.type) {
      case Type::kRemoveNetwork:
        s = rt->RemoveNetwork(a.target);
        if (s.code() == Code::kNotFound) s = OkStatus();
        break;
      case Type::kCreateNetwork:
        s = rt->CreateNetwork(a.network).status();
        if (s.code() == Code::kAlreadyExists) {
          s = Status(Code::kAlreadyExists, "a network named " + a.target + " exists without this session's labels");
        }
        break;
      case Type::kCreateContainer:
        s = rt->CreateContainer(a.container).status();
        if (s.code() == Code::kAlreadyExists) {
          s = Status(Code::kAlreadyExists, "a container named " + a.target +
                                               " exists without this session's labels: not adopted");
        }
        break;
      case Type::kStartContainer:
        s = rt->StartContainer(a.target);
        break;
      case Type::kRemoveContainer:
        break;
    }
    if (!s.ok()) return named(a, s);
    if (session && (a.type == Type::kCreateContainer || a.type == Type::kCreateNetwork)) {
      (void)manager_->events()->Record(*session, EventSeverity::kNormal,
                                       a.type == Type::kCreateNetwork ? "NetworkCreated" : "ContainerCreated",
                                       std::string(a.type == Type::kCreateNetwork ? "network " : "container ") +
                                           a.target + " (" + a.reason + ")");
    }
  }
  return OkStatus();
}

std::chrono::milliseconds SessionReconciler::ThrottleRestarts(std::vector<SessionAction>* plan, TimePoint now) {
  std::chrono::milliseconds wait{0};
  std::lock_guard lock(restart_mu_);
  std::vector<SessionAction> kept;
  for (auto& a : *plan) {
    // Only starts of containers that ran and stopped; a fresh create starts at once.
    if (a.type != SessionAction::Type::kStartContainer || a.reason == "created") {
      kept.push_back(std::move(a));
      continue;
    }
    auto& [count, last_start] = restarts_[a.target];
    // As kubelet's CrashLoopBackOff: the first restart at once, then 1 s,
    // 2 s, 4 s ... up to 5 minutes; reset once a start has lasted 10 minutes.
    if (count > 0 && now - last_start > std::chrono::minutes(10)) count = 0;
    const auto backoff = count == 0 ? std::chrono::nanoseconds(0)
                                    : std::min<std::chrono::nanoseconds>(
                                          std::chrono::seconds(1) * (1LL << std::min(count - 1, 9)),
                                          std::chrono::minutes(5));
    if (now < last_start + backoff) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(last_start + backoff - now);
      if (wait.count() == 0 || left < wait) wait = left;
      continue;
    }
    ++count;
    last_start = now;
    kept.push_back(std::move(a));
  }
  *plan = std::move(kept);
  return wait;
}

void SessionReconciler::ForgetRestarts(const std::string& name_prefix) {
  std::lock_guard lock(restart_mu_);
  for (auto it = restarts_.lower_bound(name_prefix);
       it != restarts_.end() && it->first.compare(0, name_prefix.size(), name_prefix) == 0;) {
    it = restarts_.erase(it);
  }
}

ReconcileResult SessionReconciler::Teardown(const ObjectPtr& s) {
  if (!HasFinalizer(*s, kFinalizer)) return ReconcileResult::Done();
  if (StatusString(s->status, "phase") != "Terminating") {
    Json st = s->status.is_object() ? s->status : Json::object();
    st["phase"] = "Terminating";
    (void)WriteStatus(s, st);  // informational; the teardown goes on regardless
  }
  const std::string machine = StatusString(s->status, "machine");
  {
    std::lock_guard lock(place_mu_);
    reservations_.erase(s->metadata.uid);
  }
  ContainerRuntime* rt = runtime_(machine.empty() ? opts_.machine : machine);
  const Labels sel = Selector(s->metadata.uid, opts_.instance);
  ObservedSession seen;
  if (!machine.empty() && machine != opts_.machine && !machines_->Get("", machine)) {
    // Placed on a FarmMachine that no longer exists: its containers went with it.
    if (Status r = subnets_->Release(s->metadata.uid); !r.ok()) return ReconcileResult::Error(r);
    auto removed = RemoveFinalizer(manager_->store(), *s, kFinalizer);
    if (!removed.ok() && removed.status().code() != Code::kNotFound) return ReconcileResult::Error(removed.status());
    return ReconcileResult::Done();
  }
  auto c = rt->ListContainers(sel);
  if (!c.ok()) return ReconcileResult::Error(c.status());
  auto n = rt->ListNetworks(sel);
  if (!n.ok()) return ReconcileResult::Error(n.status());
  seen.containers = std::move(*c);
  seen.networks = std::move(*n);
  if (auto wait = KeepStateOnDelete(s, rt, seen.containers)) return *wait;
  if (!seen.containers.empty() || !seen.networks.empty()) {
    if (Status e = Execute(rt, s, PlanTeardown(seen)); !e.ok()) return ReconcileResult::Error(e);
    // Confirm: only an empty world releases the subnet.
    auto c2 = rt->ListContainers(sel);
    auto n2 = rt->ListNetworks(sel);
    if (!c2.ok()) return ReconcileResult::Error(c2.status());
    if (!n2.ok()) return ReconcileResult::Error(n2.status());
    if (!c2->empty() || !n2->empty()) return ReconcileResult::RequeueAfter(opts_.probe_interval);
  }
  if (Status r = subnets_->Release(s->metadata.uid); !r.ok()) return ReconcileResult::Error(r);
  ForgetRestarts(SessionNetworkName({s->metadata.namespace_, s->metadata.name, s->metadata.uid, opts_.instance}) + "-");
  auto removed = RemoveFinalizer(manager_->store(), *s, kFinalizer);
  if (!removed.ok() && removed.status().code() != Code::kNotFound) return ReconcileResult::Error(removed.status());
  return ReconcileResult::Done();
}

Status SessionReconciler::CleanUpEarlierIncarnations(const std::string& ns, const std::string& name,
                                                     const std::string& cached_uid) {
  std::vector<ObjectPtr> stale;
  for (const auto& claim : claims_->ByLabel(L::kSessionKey, SessionKeyHash(ns, name))) {
    const Json& spec = claim->spec;
    if (!spec.is_object() || spec.value("sessionNamespace", "") != ns || spec.value("sessionName", "") != name) continue;
    const std::string uid = spec.value("sessionUID", "");
    if (!uid.empty() && uid != cached_uid) stale.push_back(claim);
  }
  if (stale.empty()) return OkStatus();
  // Caches lag: destroy only what the store confirms is not the live session.
  std::string live_uid;
  auto live = manager_->store()->Get("VisiSession", ns, name);
  if (live.ok()) {
    live_uid = (*live)->metadata.uid;
  } else if (live.status().code() != Code::kNotFound) {
    return live.status();
  }
  for (const auto& claim : stale) {
    const std::string uid = claim->spec.value("sessionUID", "");
    if (uid == live_uid) continue;
    // Where its network and containers went; a FarmMachine that is gone took them along.
    const std::string machine = StatusString(claim->spec, "machine");
    if (!machine.empty() && machine != opts_.machine && !machines_->Get("", machine)) {
      VISI_RETURN_IF_ERROR(subnets_->Release(uid));
      continue;
    }
    ContainerRuntime* rt = runtime_(machine.empty() ? opts_.machine : machine);
    const Labels sel = Selector(uid, opts_.instance);
    ObservedSession left;
    VISI_ASSIGN_OR_RETURN(left.containers, rt->ListContainers(sel));
    VISI_ASSIGN_OR_RETURN(left.networks, rt->ListNetworks(sel));
    if (!left.containers.empty() || !left.networks.empty()) {
      std::fprintf(stderr,
                   "{\"level\":\"info\",\"msg\":\"removing leftovers of a deleted session\",\"session\":%s,"
                   "\"uid\":%s,\"containers\":%zu,\"networks\":%zu}\n",
                   Json(ns + "/" + name).dump().c_str(), Json(uid).dump().c_str(), left.containers.size(),
                   left.networks.size());
      VISI_RETURN_IF_ERROR(Execute(rt, nullptr, PlanTeardown(left)));
      // Only an empty world releases the subnet.
      VISI_ASSIGN_OR_RETURN(auto c, rt->ListContainers(sel));
      VISI_ASSIGN_OR_RETURN(auto n, rt->ListNetworks(sel));
      if (!c.empty() || !n.empty()) return UnavailableError("leftovers of " + ns + "/" + name + " still being removed");
    }
    VISI_RETURN_IF_ERROR(subnets_->Release(uid));
  }
  return OkStatus();
}

Status SessionReconciler::WritePassStatus(Pass& p, ObjectPtr* written) {
  ObjectPtr before = p.s;  // the object the write goes over
  const int64_t generation = p.s->metadata.generation;
  Json status = BuildSessionStatus(*p.s, p.obs, p.now, p.start_timeout);
  ObjectPtr after;
  Status w = WriteStatus(p.s, status, &after);
  // Another controller wrote the session meanwhile (the router's Routed,
  // Idle): what this pass observed still holds for the same spec, so it is
  // written over the fresh object, which keeps the other fields. A new spec
  // is the next pass's to observe; so is a status of this controller's that
  // the pass did not start from (another visid's, or one written after the
  // cached object: the pass's observations are older than it).
  for (int attempt = 0; w.code() == Code::kConflict && attempt < 3; ++attempt) {
    auto fresh = manager_->store()->Get("VisiSession", p.id.namespace_, p.id.name);
    if (!fresh.ok() || (*fresh)->metadata.uid != p.id.uid ||
        (*fresh)->metadata.generation != generation || !SameSessionPart((*fresh)->status, before->status)) {
      return w;
    }
    p.s = *fresh;
    before = p.s;  // events compare against what was really there
    status = BuildSessionStatus(*p.s, p.obs, p.now, p.start_timeout);
    w = WriteStatus(p.s, status, &after);
  }
  VISI_RETURN_IF_ERROR(w);
  p.s = after;
  if (written) *written = after;
  // Events compare against the object the write really went over: a cache
  // that lagged behind this controller's own last write would say it again.
  if (StatusIsReady(status) && !StatusIsReady(before->status)) {
    (void)manager_->events()->Record(*before, EventSeverity::kNormal, "Ready",
                                     "front end at " + StatusString(status, "frontEndAddress") + ", Spark master at " +
                                         StatusString(status, "sparkMasterAddress"));
  }
  // Events for the Suspended condition's transitions.
  const Json* was = FindCondition(before->status, "Suspended");
  const Json* now = FindCondition(status, "Suspended");
  if (!now || (was && was->value("reason", "") == now->value("reason", "") &&
               was->value("status", "") == now->value("status", ""))) {
    return OkStatus();
  }
  if (StatusIsSuspended(status)) {
    (void)manager_->events()->Record(*before, EventSeverity::kNormal, "Suspended", now->value("message", ""));
  } else if (now->value("reason", "") == "Resumed") {
    (void)manager_->events()->Record(*before, EventSeverity::kNormal, "Resumed", "spec.suspend is false: starting again");
  }
  return OkStatus();
}

ReconcileResult SessionReconciler::Blocked(Pass& p, const std::string& reason, const std::string& message,
                                           std::chrono::milliseconds after, const std::string& condition) {
  p.obs.blocked_reason = reason;
  p.obs.blocked_message = message;
  p.obs.blocked_condition = condition;
  const bool changed = StatusString(p.s->status, "message") != message;
  if (Status w = WritePassStatus(p); !w.ok()) return ReconcileResult::Error(w);
  if (changed) (void)manager_->events()->Record(*p.s, EventSeverity::kWarning, reason, message);
  return ReconcileResult::RequeueAfter(after);
}

ReconcileResult SessionReconciler::DockerDown(Pass& p, const Status& why) {
  ObjectPtr m = machines_->Get("", p.obs.machine);
  if (m && StatusString(m->status, "phase") == "NotReady") {
    return Blocked(p, "MachineNotReady",
                   "machine " + p.obs.machine + " is NotReady (its Docker endpoint stopped answering): " + why.message(),
                   opts_.docker_retry);
  }
  return Blocked(p, "DockerUnavailable",
                 "the Docker daemon of machine " + p.obs.machine + " is unavailable: " + why.message(),
                 opts_.docker_retry);
}

ReconcileResult SessionReconciler::Reconcile(const std::string& key) {
  ObjectPtr s = sessions_->GetByKey(key);
  {
    const auto slash = key.find('/');
    Status c = CleanUpEarlierIncarnations(key.substr(0, slash), key.substr(slash + 1), s ? s->metadata.uid : "");
    if (!c.ok()) return ReconcileResult::Error(c);
  }
  if (!s) {  // gone: its finalizer saw the teardown through
    ForgetWrites(key);
    std::lock_guard lock(place_mu_);
    for (auto& [pool, keys] : waiting_) keys.erase(key);
    return ReconcileResult::Done();
  }
  // The event of that write is on its way and brings the key back.
  if (CacheBehindOwnWrite(key, *s)) return ReconcileResult::RequeueAfter(kCacheLagRetry);
  if (s->metadata.deletion_timestamp) return Teardown(s);
  if (!HasFinalizer(*s, kFinalizer)) {
    auto added = AddFinalizer(manager_->store(), *s, kFinalizer);
    if (!added.ok()) return ReconcileResult::Error(added.status());
    s = *added;
    NoteWrite(s);
  }
  Pass p;
  p.s = s;
  p.now = manager_->clock()->Now();
  p.id = SessionIdentity{s->metadata.namespace_, s->metadata.name, s->metadata.uid, opts_.instance};
  p.obs.machine = StatusString(s->status, "machine");
  const SessionIdentity& id = p.id;
  SessionObservation& obs = p.obs;
  const TimePoint now = p.now;

  auto spec = ParseSessionSpec(*s);
  if (!spec.ok()) {
    (void)Blocked(p, "InvalidSpec", spec.status().message(), opts_.resync);
    return ReconcileResult::Terminal(spec.status());
  }
  if (SuspendIfIdle(s, *spec)) return ReconcileResult::Done();  // the spec change brings it back
  p.start_timeout = spec->start_timeout_seconds;
  obs.suspend = spec->suspend;
  obs.frontend_port = spec->frontend_port;
  obs.master_port = spec->master_port;

  if (!spec->suspend) {
    // Resume: the first start after a suspend restores the newest good
    // snapshot into the containers it creates, before they start. Until
    // that is done status.restoring names it (a crash in between restores
    // again into the containers still only created). Decided before the
    // session is placed: the placement's status write ends the suspend.
    obs.restoring = StatusString(s->status, "restoring");
    if (obs.restoring.empty() && !spec->restore_from.empty() && StatusString(s->status, "startedTime").empty()) {
      // The first start of a session that asks for a kept snapshot.
      ObjectPtr from = snapshots_->Get(id.namespace_, spec->restore_from);
      if (!from || SnapshotPhase(*from) != "Ready") {
        return Blocked(p, "RestoreSourceNotReady",
                       "spec.snapshots.restoreFrom: snapshot " + spec->restore_from + " in namespace " + id.namespace_ +
                           (from ? " is " + SnapshotPhase(*from) + ", not Ready" : " does not exist"),
                       opts_.resync);
      }
      obs.restoring = spec->restore_from;
      if (Status w = WritePassStatus(p, &p.s); !w.ok()) return ReconcileResult::Error(w);
      s = p.s;
    } else if (obs.restoring.empty() && StatusWasSuspending(s->status)) {
      auto good = RestorableSnapshots(*snapshots_, id.uid);
      if (!good.empty()) {
        obs.restoring = good.front()->metadata.name;
      } else {
        obs.restored_status = "False";
        obs.restored_reason = "NoSnapshot";
        obs.restored_message = "no snapshot of this session to restore: it starts empty";
      }
      // Say Resuming (and which snapshot) before anything is created.
      if (Status w = WritePassStatus(p, &p.s); !w.ok()) return ReconcileResult::Error(w);
      s = p.s;
    }
  }
  if (!spec->suspend) {
    if (auto wait = Place(p, *spec)) return *wait;
    s = p.s;
  }
  ContainerRuntime* rt = runtime_(obs.machine.empty() ? opts_.machine : obs.machine);
  if (Status ping = rt->Ping(); !ping.ok()) return DockerDown(p, ping);

  // Observe: everything of this session on the host, found by label.
  const Labels sel = Selector(id.uid, id.instance);
  ObservedSession seen;
  auto containers = rt->ListContainers(sel);
  if (!containers.ok()) return DockerDown(p, containers.status());
  auto networks = rt->ListNetworks(sel);
  if (!networks.ok()) return DockerDown(p, networks.status());
  seen.containers = std::move(*containers);
  seen.networks = std::move(*networks);

  if (spec->suspend) return Suspend(p, *spec, rt, seen);

  // The subnet: the one held, or a new claim avoiding the host's other networks.
  auto held = subnets_->Held(id.uid);
  if (!held.ok()) return ReconcileResult::Error(held.status());
  std::string subnet = held->value_or("");
  if (subnet.empty()) {
    auto [range_text, prefix] = PoolRange(manager_->InformerFor("FarmPool"), spec->pool, opts_);
    auto range = ParseCidr(range_text, "FarmPool " + spec->pool + " spec.network.subnetPool");
    if (!range.ok()) return Blocked(p, "InvalidSubnetPool", range.status().message(), opts_.resync, "NetworkReady");
    auto all = rt->ListNetworks({});
    if (!all.ok()) return DockerDown(p, all.status());
    std::vector<Cidr> taken;
    for (const auto& n : *all) {
      auto c = ParseCidr(n.subnet, "network");
      if (c.ok()) taken.push_back(*c);
    }
    auto got = subnets_->Ensure(id, spec->pool, *range, prefix, taken, obs.machine);
    if (!got.ok()) {
      if (got.status().code() == Code::kUnavailable) {
        return Blocked(p, "SubnetsExhausted", got.status().message(), opts_.resync, "NetworkReady");
      }
      return ReconcileResult::Error(got.status());
    }
    subnet = *got;
  }
  obs.subnet = subnet;
  const DesiredSession desired = BuildDesiredSession(id, *spec, subnet);
  obs.network = desired.network.name;

  // Images must be on the host: none is pulled (no registry is assumed).
  std::vector<std::string> images = {spec->master_image, spec->frontend_image};
  if (spec->workers > 0) images.push_back(spec->worker_image);
  for (const auto& image : images) {
    auto exists = rt->ImageExists(image);
    if (!exists.ok()) return DockerDown(p, exists.status());
    if (!*exists) {
      return Blocked(p, "ImageMissing",
                     "image " + image + " is not on machine " + obs.machine +
                         " (Visi pulls nothing: load or build it there; the demo images come from hack/images.sh)",
                     std::chrono::milliseconds(5000));
    }
  }

  // Plan and act.
  auto plan = PlanSession(desired, seen);
  const std::chrono::milliseconds restart_wait = ThrottleRestarts(&plan, now);
  if (!obs.restoring.empty()) {
    bool done = false;
    ReconcileResult r = ExecuteWithRestore(p, *spec, rt, std::move(plan), &done);
    if (!done) return r;
    auto again = rt->ListContainers(sel);
    if (!again.ok()) return DockerDown(p, again.status());
    seen.containers = std::move(*again);
  } else if (!plan.empty()) {
    if (Status e = Execute(rt, s, plan); !e.ok()) {
      if (e.code() == Code::kUnavailable || e.code() == Code::kDeadlineExceeded) return DockerDown(p, e);
      // The subnet overlaps a network that appeared after it was claimed
      // (another installation on this host): nothing uses the claim yet, so
      // give it back; the next pass claims one that avoids that network.
      if (e.code() == Code::kConflict && e.message().rfind("CreateNetwork ", 0) == 0 && seen.networks.empty() &&
          seen.containers.empty()) {
        if (Status r = subnets_->Release(id.uid); !r.ok()) return ReconcileResult::Error(r);
        return Blocked(p, "SubnetInUse", "subnet " + subnet + " is taken on machine " + obs.machine + " (" +
                                          e.message() + "); claiming another",
                       opts_.probe_interval, "NetworkReady");
      }
      if (e.code() == Code::kInvalid) return Blocked(p, "ContainerCreateFailed", e.message(), opts_.resync);
      return Blocked(p, "ActionFailed", e.message(), opts_.probe_interval * 5);
    }
    auto again = rt->ListContainers(sel);
    if (!again.ok()) return DockerDown(p, again.status());
    seen.containers = std::move(*again);
  }
  obs.network_ready = true;

  // Probe: the master accepts connections, the front end answers HTTP.
  for (const auto& want : desired.containers) {
    ComponentState c;
    c.name = want.hostname;
    c.container = want.name;
    c.state = "missing";
    for (const auto& have : seen.containers) {
      if (have.name != want.name) continue;
      c.state = have.state;
      auto ip = have.ips.find(desired.network.name);
      if (ip != have.ips.end()) c.address = ip->second;
    }
    if (c.state != "running") {
      c.message = "container is " + c.state;
    } else if (c.address.empty()) {
      c.message = "no address on " + desired.network.name;
    } else if (c.name == "master") {
      Status p = prober_->Tcp(c.address, spec->master_port, opts_.probe_timeout);
      c.ready = p.ok();
      if (!p.ok()) c.message = "port " + std::to_string(spec->master_port) + " not open yet: " + p.message();
    } else if (c.name == "frontend") {
      Status p = prober_->Http(c.address, spec->frontend_port, spec->readiness_path, opts_.probe_timeout);
      c.ready = p.ok();
      if (!p.ok()) c.message = "readiness probe: " + p.message();
    } else {
      c.ready = true;
    }
    obs.components.push_back(std::move(c));
  }
  ObjectPtr written;
  if (Status w = WritePassStatus(p, &written); !w.ok()) return ReconcileResult::Error(w);
  if (StatusIsReady(written->status)) return ReconcileResult::RequeueAfter(opts_.resync);
  return ReconcileResult::RequeueAfter(std::max(opts_.probe_interval, restart_wait));
}

}  // namespace visi
