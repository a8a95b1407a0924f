#include "reconcilers/route/route_reconciler.h"

#include <algorithm>
#include <set>

#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "reconcilers/route/activity.h"
#include "reconcilers/route/route_desired.h"

namespace visi {
namespace {

std::string LoginSessionKey(const ObjectPtr& login) {
  if (!login->spec.is_object()) return "";
  auto it = login->spec.find("session");
  if (it == login->spec.end() || !it->is_string()) return "";
  return login->metadata.namespace_ + "/" + it->get<std::string>();
}

// Routes per ApplyRoutes call in a repair pass, and the fewest worth one:
// a few differing routes (a session just Ready, a login) go to the workers,
// which read the newest state; a restart's thousands go in batches.
constexpr size_t kRepairBatch = 1000;
constexpr size_t kRepairBatchMin = 16;
// A route the router refused as invalid or conflicting is tried again after this.
constexpr std::chrono::seconds kBrokenRetry{30};

}  // namespace

RouteReconciler::RouteReconciler(Manager* manager, Router* router, RouteReconcilerOptions opts)
    : manager_(manager), router_(router), opts_(std::move(opts)) {
  sessions_ = manager_->InformerFor("VisiSession");
  logins_ = manager_->InformerFor("SessionLogin");
  controller_ = manager_->AddController({.name = "visiroute", .workers = opts_.workers}, "VisiSession",
                                        [this](const std::string& key) { return Reconcile(key); });
  controller_->Watches(logins_, [](const ObjectPtr& login) {
    std::string key = LoginSessionKey(login);
    return key.empty() ? std::vector<std::string>{} : std::vector<std::string>{key};
  });
  sync_thread_ = std::thread([this] { SyncLoop(); });
}

RouteReconciler::~RouteReconciler() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  sync_thread_.join();
}

std::vector<ObjectPtr> RouteReconciler::LoginsOf(const Object& session) const {
  return logins_->ByOwner(session.metadata.uid);
}

ReconcileResult RouteReconciler::Reconcile(const std::string& key) {
  const TimePoint now = manager_->clock()->Now();
  ObjectPtr session = sessions_->GetByKey(key);
  std::vector<ObjectPtr> logins = session ? LoginsOf(*session) : std::vector<ObjectPtr>{};
  std::optional<Route> desired = session ? DesiredRoute(*session, logins) : std::nullopt;

  // What the router holds and the change to it are one step under
  // router_mu_: no read-back or repair batch can slip in between.
  std::unique_lock router_lock(router_mu_);
  bool valid = false;
  {
    std::lock_guard lock(mu_);
    valid = observed_valid_;
  }
  if (!valid && !ReadRoutesLocked()) {
    return ReconcileResult::Error(UnavailableError("the router does not answer"));
  }
  std::optional<Route> have;
  {
    std::lock_guard lock(mu_);
    if (auto it = observed_.find(key); it != observed_.end()) have = it->second;
    apply_seq_[key] = ++apply_clock_;  // decided now: a repair planned from an earlier list is stale for this key
  }

  RouteOutcome outcome;
  outcome.route = desired;
  auto remove = [&]() -> Status {
    Status s = router_->RemoveRoute(key);
    if (!s.ok() && s.code() != Code::kNotFound) {
      ++apply_errors_;
      return s;
    }
    ++removes_;
    std::lock_guard lock(mu_);
    observed_.erase(key);
    broken_.clear();  // the prefix another route was refused for may be free now
    return OkStatus();
  };
  if (!desired && have) {
    if (Status s = remove(); !s.ok()) return ReconcileResult::Error(s);
  } else if (desired && (!have || *have != *desired)) {
    // From what the router is known to hold: only the difference is sent
    // (a full read of HAProxy costs milliseconds per thousand routes).
    Status s = have ? router_->ApplyRouteFrom(*have, *desired) : router_->ApplyRoute(*desired);
    if (s.ok()) {
      ++applies_;
      std::lock_guard lock(mu_);
      observed_[key] = *desired;
      broken_.erase(key);
      changed_.notify_all();
    } else {
      ++apply_errors_;
      if (s.code() == Code::kUnavailable || !session) return ReconcileResult::Error(s);
      // Fail closed: the route as it was may hold logins deleted since, or
      // a front end that is gone. No route (403) until it can be applied.
      if (have) {
        if (Status r = remove(); !r.ok()) return ReconcileResult::Error(r);
      }
      {
        // Left alone by the sync pass until the retry below.
        std::lock_guard lock(mu_);
        broken_[key] = now + kBrokenRetry;
      }
      outcome.error_reason = s.code() == Code::kAlreadyExists ? "PrefixConflict"
                             : s.code() == Code::kInvalid     ? "RouteInvalid"
                                                              : "RouterError";
      // The causes name the bad field (e.g. a path_prefix too long for the router).
      outcome.error_message = s.message();
      for (const auto& c : s.causes()) outcome.error_message += "; " + c.field + ": " + c.message;
    }
  }
  router_lock.unlock();
  if (!session) return ReconcileResult::Done();

  // Expired tickets nobody used, and logins beyond what a route holds.
  for (const auto& stale : StaleLogins(*session, logins, now)) {
    // The version seen, not only the uid: a ticket redeemed just before it
    // expired may still look unredeemed in the cache (Conflict: skipped).
    Preconditions pre;
    pre.uid = stale->metadata.uid;
    pre.resource_version = stale->metadata.resource_version;
    auto d = manager_->store()->Delete("SessionLogin", stale->metadata.namespace_, stale->metadata.name, pre);
    if (!d.ok() && d.status().code() != Code::kNotFound && d.status().code() != Code::kConflict) {
      return ReconcileResult::Error(d.status());
    }
  }

  Json status = session->status;
  std::optional<RouteStats> stats;
  {
    std::lock_guard lock(mu_);
    if (stats_valid_) {
      auto it = stats_.find(key);
      if (it != stats_.end()) stats = it->second;
    }
  }
  bool changed = SetRouteStatus(&status, *session, outcome, opts_.router_url, now);
  if (!session->metadata.deletion_timestamp) changed |= SetActivityStatus(&status, *session, stats, now);
  if (changed) {
    const Json* before = FindCondition(session->status, "Idle");
    const bool was_idle = before && before->value("status", "") == "True";
    Object o = *session;
    o.status = std::move(status);
    auto w = manager_->store()->UpdateStatus(o);
    if (!w.ok()) return ReconcileResult::Error(w.status());
    const Json* after = FindCondition((*w)->status, "Idle");
    if (!was_idle && after && after->value("status", "") == "True") {
      (void)manager_->events()->Record(**w, EventSeverity::kNormal, "Idle", after->value("message", ""));
    }
  }
  if (!outcome.error_reason.empty()) return ReconcileResult::RequeueAfter(kBrokenRetry);
  // An unredeemed ticket is deleted when it expires.
  std::optional<TimePoint> next;
  for (const auto& l : logins) {
    if (l->status.is_object() && l->status.contains("redeemedTime")) continue;
    auto t = ParseRfc3339(l->spec.value("expiresTime", ""));
    if (t && (!next || *t < *next)) next = *t;
  }
  if (next) return ReconcileResult::RequeueAfter(std::max<std::chrono::nanoseconds>(*next - now, std::chrono::seconds(1)));
  return ReconcileResult::Done();
}

bool RouteReconciler::ReadRoutes() {
  std::lock_guard router_lock(router_mu_);
  return ReadRoutesLocked();
}

bool RouteReconciler::ReadRoutesLocked() {
  auto listed = router_->ListRoutes();
  if (!listed.ok()) {
    router_up_ = false;
    std::lock_guard lock(mu_);
    observed_valid_ = false;
    return false;
  }
  router_up_ = true;
  std::map<std::string, Route> observed;
  for (auto& r : *listed) observed[r.key] = std::move(r);
  std::lock_guard lock(mu_);
  observed_ = std::move(observed);
  observed_valid_ = true;
  changed_.notify_all();
  return true;
}

void RouteReconciler::SyncOnce(bool activity) {
  if (!ReadRoutes() && opts_.ensure_router && opts_.ensure_router().ok()) {
    ++router_restarts_;
    ReadRoutes();
  }
  if (!controller_->running()) return;
  // Taken before the sessions are listed: a worker that decides a route
  // after this may have read a newer session than the list holds.
  uint64_t listed_at = 0;
  {
    std::lock_guard lock(mu_);
    listed_at = apply_clock_;
  }
  std::vector<ObjectPtr> sessions = sessions_->List();
  std::vector<std::string> enqueue;
  std::set<std::string> wanted;
  std::map<std::string, RouteStats> stats;
  bool stats_ok = false;
  if (activity) {
    if (auto s = router_->Stats(); s.ok()) {
      for (auto& r : *s) stats[r.key] = std::move(r);
      stats_ok = true;
    }
  }
  const TimePoint now = manager_->clock()->Now();
  // What needs no lock first: every session's desired route and activity.
  struct Plan {
    std::string key;
    std::optional<Route> desired;
    bool stale_status = false;
  };
  std::vector<Plan> plans;
  plans.reserve(sessions.size());
  for (const auto& s : sessions) {
    Plan p{s->metadata.namespace_ + "/" + s->metadata.name, DesiredRoute(*s, LoginsOf(*s))};
    if (activity && stats_ok && !s->metadata.deletion_timestamp) {
      Json status = s->status;
      auto st = stats.find(p.key);
      p.stale_status = SetActivityStatus(&status, *s, st == stats.end() ? std::nullopt : std::optional(st->second), now);
    }
    plans.push_back(std::move(p));
  }
  std::vector<Route> repair;  // routes to re-apply in batches (after a restart: all of them)
  {
    std::lock_guard lock(mu_);
    if (activity) {
      stats_ = stats;
      stats_valid_ = stats_ok;
    }
    if (!observed_valid_) return;
    std::erase_if(broken_, [&](const auto& b) { return b.second <= now; });
    for (const Plan& p : plans) {
      wanted.insert(p.key);
      if (broken_.count(p.key)) continue;  // its reconcile retries it
      auto it = observed_.find(p.key);
      const bool differs =
          p.desired ? (it == observed_.end() || it->second != *p.desired) : it != observed_.end();
      if (differs && p.desired) repair.push_back(*p.desired);
      if (differs || p.stale_status) enqueue.push_back(p.key);
    }
    for (const auto& [key, route] : observed_) {
      if (!wanted.count(key)) enqueue.push_back(key);
    }
    std::erase_if(apply_seq_, [&](const auto& e) { return !wanted.count(e.first) && !observed_.count(e.first); });
  }
  // Routes are re-applied here in batches: HAProxy's state is read once per
  // batch, not once per route. The keys are still enqueued: their
  // reconciles write status (and retry what failed here).
  if (repair.size() < kRepairBatchMin) repair.clear();
  for (size_t at = 0; at < repair.size(); at += kRepairBatch) {
    std::vector<Route> batch(repair.begin() + at, repair.begin() + std::min(repair.size(), at + kRepairBatch));
    std::lock_guard router_lock(router_mu_);
    {
      // A worker decided a route since the sessions were listed (a login,
      // Ready): the plan's, from an older session, would put the old one back.
      std::lock_guard lock(mu_);
      std::erase_if(batch, [&](const Route& r) {
        auto it = apply_seq_.find(r.key);
        return it != apply_seq_.end() && it->second > listed_at;
      });
    }
    std::vector<Status> done = router_->ApplyRoutes(batch);
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (done[i].ok()) {
        ++applies_;
        observed_[batch[i].key] = batch[i];
      } else {
        ++apply_errors_;
      }
    }
    changed_.notify_all();
  }
  for (const auto& key : enqueue) controller_->Enqueue(key);
}

void RouteReconciler::SyncLoop() {
  auto next_activity = std::chrono::steady_clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    changed_.wait_for(lock, opts_.sync_period, [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    const bool activity = std::chrono::steady_clock::now() >= next_activity;
    if (activity) next_activity = std::chrono::steady_clock::now() + opts_.activity_period;
    SyncOnce(activity);
    lock.lock();
  }
}

bool RouteReconciler::WaitForLogin(const std::string& key, const std::string& cookie_hash,
                                   std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    if (stopping_) return true;
    auto it = observed_.find(key);
    if (it == observed_.end()) return false;
    const auto& hashes = it->second.cookie_hashes;
    return std::find(hashes.begin(), hashes.end(), cookie_hash) != hashes.end();
  }) && !stopping_;
}

std::string RouteReconciler::RenderMetrics() const {
  size_t routes = 0;
  {
    std::lock_guard lock(mu_);
    routes = observed_.size();
  }
  std::string m;
  m += "# HELP visi_router_up Whether the router (HAProxy) answered its last read-back.\n";
  m += "# TYPE visi_router_up gauge\n";
  m += "visi_router_up " + std::to_string(router_up_ ? 1 : 0) + "\n";
  m += "# HELP visi_router_routes Routes the router held at its last read-back.\n";
  m += "# TYPE visi_router_routes gauge\n";
  m += "visi_router_routes " + std::to_string(routes) + "\n";
  m += "# HELP visi_router_restarts_total Times the router did not answer and was started again.\n";
  m += "# TYPE visi_router_restarts_total counter\n";
  m += "visi_router_restarts_total " + std::to_string(router_restarts_.load()) + "\n";
  m += "# HELP visi_router_route_changes_total Routes applied or removed, by result.\n";
  m += "# TYPE visi_router_route_changes_total counter\n";
  m += "visi_router_route_changes_total{op=\"apply\",result=\"ok\"} " + std::to_string(applies_.load()) + "\n";
  m += "visi_router_route_changes_total{op=\"remove\",result=\"ok\"} " + std::to_string(removes_.load()) + "\n";
  m += "visi_router_route_changes_total{op=\"any\",result=\"error\"} " + std::to_string(apply_errors_.load()) + "\n";
  return m;
}

}  // namespace visi
