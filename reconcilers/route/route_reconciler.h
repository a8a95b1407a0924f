#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "controller/drivers/haproxy/router.h"
#include "controller/runtime/manager.h"

namespace visi {

struct RouteReconcilerOptions {
  std::string router_url;  // what browsers open, e.g. "http://127.0.0.1:8080" (no trailing '/')
  int workers = 4;
  // How often the router's live routes are read back and compared with the
  // sessions: what brings every route back after HAProxy restarts.
  std::chrono::milliseconds sync_period{1000};
  // How often the routes' counters are read for activity and idleness.
  std::chrono::milliseconds activity_period{5000};
  // Called when the router does not answer (a managed HAProxy: start it
  // again). Runs on the sync thread, whether or not this process leads.
  std::function<Status()> ensure_router;
};

// Converges the router (HAProxy) toward the VisiSessions and their
// SessionLogins, as docs/routing.md describes: one route per session at
// /s/NAMESPACE/NAME/, open to the cookies of its redeemed logins, leading to
// the front end when the session is Ready and to the wake-up endpoint
// otherwise. Writes status.url, status.route, the Routed condition, and the
// session's activity (lastActivityTime, connectedClients, Idle) from the
// router's counters. Deletes expired unredeemed logins.
//
// The router's live state is the truth: a sync thread reads it back every
// sync_period and enqueues every session whose route differs (HAProxy
// restarted empty, someone changed it by hand), and every route that no
// session wants. Reconciles run only in the leader.
class RouteReconciler {
 public:
  RouteReconciler(Manager* manager, Router* router, RouteReconcilerOptions opts);
  ~RouteReconciler();  // stops the sync thread

  ReconcileResult Reconcile(const std::string& key);
  Controller* controller() { return controller_; }

  // Waits until the router holds `cookie_hash` on the route of `key` (a
  // login just redeemed) or `timeout` passes; false on timeout.
  bool WaitForLogin(const std::string& key, const std::string& cookie_hash, std::chrono::milliseconds timeout);

  // One pass of the sync thread: read the routes back (and, when `activity`,
  // the counters) and enqueue what differs. Tests call it directly.
  void SyncOnce(bool activity);

  // visi_router_* metrics, Prometheus text.
  std::string RenderMetrics() const;

 private:
  void SyncLoop();
  // Reads the router's routes into observed_; false when it does not answer.
  bool ReadRoutes();
  bool ReadRoutesLocked();  // REQUIRES: router_mu_ held
  std::vector<ObjectPtr> LoginsOf(const Object& session) const;

  Manager* const manager_;
  Router* const router_;
  const RouteReconcilerOptions opts_;
  Informer* sessions_ = nullptr;
  Informer* logins_ = nullptr;
  Controller* controller_ = nullptr;

  // Held across each router change and the update of observed_ it causes,
  // and across a read-back and its store into observed_: a read-back taken
  // before an apply can then never overwrite what that apply recorded.
  // Taken before mu_.
  std::mutex router_mu_;
  mutable std::mutex mu_;
  std::condition_variable changed_;           // observed_ changed, or stopping_
  std::map<std::string, Route> observed_;     // GUARDED_BY(mu_): what the router holds, by key
  bool observed_valid_ = false;               // GUARDED_BY(mu_)
  std::map<std::string, RouteStats> stats_;   // GUARDED_BY(mu_)
  // Routes the router refused (invalid, conflicting), until their retry.
  std::map<std::string, TimePoint> broken_;  // GUARDED_BY(mu_)
  // When each route was last decided by a worker, on apply_clock_: a repair
  // planned from a session list taken before that is stale for the route.
  std::map<std::string, uint64_t> apply_seq_;  // GUARDED_BY(mu_)
  uint64_t apply_clock_ = 0;                   // GUARDED_BY(mu_)
  bool stats_valid_ = false;                  // GUARDED_BY(mu_)
  bool stopping_ = false;                     // GUARDED_BY(mu_)
  std::atomic<bool> router_up_{false};
  std::atomic<uint64_t> router_restarts_{0}, applies_{0}, removes_{0}, apply_errors_{0};
  std::thread sync_thread_;
};

}  // namespace visi
