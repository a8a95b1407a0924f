#pragma once

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "controller/drivers/haproxy/router.h"

namespace visi::testing {

// The in-memory twin of HaproxyRouter: the contract of router.h, with routes
// validated by the driver's own code (route_format.h), so a route the fake
// accepts is one HAProxy would be given.
//
//   - ListRoutes and Stats are sorted by key; routes read back normalized
//     (cookie hashes sorted and unique), as NormalizeRoute gives them
//   - ApplyRoute is idempotent; kInvalid from ValidateRoute; kAlreadyExists
//     when another key holds the same path prefix
//   - RemoveRoute of an absent key is kNotFound
//   - every route has counters from its creation (zero, no request yet);
//     re-applying a route keeps them, removing it drops them
//
// Thread-safe.
class FakeRouter : public Router {
 public:
  // Calls made so far, failed ones included.
  struct CallCounts {
    int ping = 0;
    int list_routes = 0;
    int apply_route = 0;
    int remove_route = 0;
    int stats = 0;
  };

  Status Ping() override;
  StatusOr<std::vector<Route>> ListRoutes() override;
  Status ApplyRoute(const Route& route) override;
  Status RemoveRoute(const std::string& key) override;
  StatusOr<std::vector<RouteStats>> Stats() override;

  // --- Test controls ---

  // While down, every call is kUnavailable (and still counted).
  void SetDown(bool down);
  // An HAProxy restart: every route and counter is gone.
  void Restart();
  // The counters Stats() reports for `key` (its route must exist then for
  // them to be reported; they are dropped with the route).
  void SetStats(const std::string& key, RouteStats stats);
  // The next `times` calls of `method` ("ApplyRoute", "RemoveRoute",
  // "ListRoutes", "Stats", "Ping") fail with `status` and change nothing.
  // Queued per method.
  void FailNext(const std::string& method, Status status, int times = 1);
  // Drops every queued failure.
  void ClearFailures();
  // An ApplyRoute interrupted half way: the route of `key` is read back with
  // an empty path_prefix. false when there is no such route.
  bool MakeHalfApplied(const std::string& key);

  // Called by each ListRoutes after it has read the routes and before it
  // returns them (outside the fake's lock): a read-back on its way while
  // other calls change the routes. nullptr: none.
  void SetAfterListHook(std::function<void()> hook);

  // The route of `key` as held now (whether or not the router is down).
  std::optional<Route> RouteOf(const std::string& key) const;
  // Every route as held now, sorted by key.
  std::vector<Route> Routes() const;
  CallCounts calls() const;

 private:
  // kUnavailable while down; a queued failure of `method`; else OK.
  // REQUIRES: mu_ held.
  Status Injected(const std::string& method);

  mutable std::mutex mu_;
  bool down_ = false;                                       // GUARDED_BY(mu_)
  std::map<std::string, Route> routes_;                     // GUARDED_BY(mu_)
  std::map<std::string, RouteStats> stats_;                 // GUARDED_BY(mu_)
  std::map<std::string, std::deque<Status>> fail_next_;     // GUARDED_BY(mu_)
  CallCounts calls_;                                        // GUARDED_BY(mu_)
  std::function<void()> after_list_;                        // GUARDED_BY(mu_)
};

}  // namespace visi::testing
