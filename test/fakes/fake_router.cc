#include "test/fakes/fake_router.h"

#include "controller/drivers/haproxy/route_format.h"

namespace visi::testing {

Status FakeRouter::Injected(const std::string& method) {
  if (down_) return UnavailableError("fake router is down: connection refused");
  auto it = fail_next_.find(method);
  if (it != fail_next_.end() && !it->second.empty()) {
    Status s = std::move(it->second.front());
    it->second.pop_front();
    return s;
  }
  return OkStatus();
}

Status FakeRouter::Ping() {
  std::lock_guard lock(mu_);
  ++calls_.ping;
  return Injected("Ping");
}

StatusOr<std::vector<Route>> FakeRouter::ListRoutes() {
  std::vector<Route> out;
  std::function<void()> hook;
  {
    std::lock_guard lock(mu_);
    ++calls_.list_routes;
    if (Status s = Injected("ListRoutes"); !s.ok()) return s;
    for (const auto& [key, route] : routes_) out.push_back(route);
    hook = after_list_;
  }
  if (hook) hook();
  return out;
}

Status FakeRouter::ApplyRoute(const Route& route) {
  std::lock_guard lock(mu_);
  ++calls_.apply_route;
  if (Status s = Injected("ApplyRoute"); !s.ok()) return s;
  if (Status s = ValidateRoute(route); !s.ok()) return s;
  for (const auto& [key, other] : routes_) {
    if (key != route.key && !other.path_prefix.empty() && other.path_prefix == route.path_prefix) {
      return AlreadyExistsError("path prefix " + route.path_prefix + " is already the route of " + key);
    }
  }
  routes_[route.key] = NormalizeRoute(route);
  if (!stats_.count(route.key)) stats_[route.key] = RouteStats{.key = route.key};
  return OkStatus();
}

Status FakeRouter::RemoveRoute(const std::string& key) {
  std::lock_guard lock(mu_);
  ++calls_.remove_route;
  if (Status s = Injected("RemoveRoute"); !s.ok()) return s;
  if (Status s = ValidateRouteKey(key); !s.ok()) return s;
  if (!routes_.erase(key)) return NotFoundError("no route " + key);
  stats_.erase(key);
  return OkStatus();
}

StatusOr<std::vector<RouteStats>> FakeRouter::Stats() {
  std::lock_guard lock(mu_);
  ++calls_.stats;
  if (Status s = Injected("Stats"); !s.ok()) return s;
  std::vector<RouteStats> out;
  for (const auto& [key, st] : stats_) {
    if (routes_.count(key)) out.push_back(st);
  }
  return out;
}

void FakeRouter::SetDown(bool down) {
  std::lock_guard lock(mu_);
  down_ = down;
}

void FakeRouter::Restart() {
  std::lock_guard lock(mu_);
  routes_.clear();
  stats_.clear();
}

void FakeRouter::SetStats(const std::string& key, RouteStats stats) {
  std::lock_guard lock(mu_);
  stats.key = key;
  stats_[key] = stats;
}

void FakeRouter::FailNext(const std::string& method, Status status, int times) {
  std::lock_guard lock(mu_);
  for (int i = 0; i < times; ++i) fail_next_[method].push_back(status);
}

void FakeRouter::ClearFailures() {
  std::lock_guard lock(mu_);
  fail_next_.clear();
}

bool FakeRouter::MakeHalfApplied(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = routes_.find(key);
  if (it == routes_.end()) return false;
  it->second.path_prefix.clear();
  return true;
}

void FakeRouter::SetAfterListHook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  after_list_ = std::move(hook);
}

std::optional<Route> FakeRouter::RouteOf(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = routes_.find(key);
  if (it == routes_.end()) return std::nullopt;
  return it->second;
}

std::vector<Route> FakeRouter::Routes() const {
  std::lock_guard lock(mu_);
  std::vector<Route> out;
  for (const auto& [key, route] : routes_) out.push_back(route);
  return out;
}

FakeRouter::CallCounts FakeRouter::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

}  // namespace visi::testing
