#include "controller/drivers/haproxy/haproxy_router.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <thread>

namespace visi {
namespace {

constexpr auto kDrainPoll = std::chrono::milliseconds(20);

std::string Endpoint(const ServerState& s) { return s.address + ":" + std::to_string(s.port); }

}  // namespace

StatusOr<std::unique_ptr<HaproxyRouter>> HaproxyRouter::Create(const HaproxyConfigOptions& config,
                                                               std::chrono::milliseconds timeout) {
  auto wakeup = ParseIpv4Endpoint(config.wakeup_address);
  if (!wakeup) {
    return InvalidError("invalid HAProxy options", {{"wakeup_address", "must be \"a.b.c.d:port\" with port 1-65535"}});
  }
  VISI_RETURN_IF_ERROR(CheckToken(config.runtime_dir, "runtime_dir"));
  return std::unique_ptr<HaproxyRouter>(new HaproxyRouter(config, *wakeup, timeout));
}

HaproxyRouter::HaproxyRouter(const HaproxyConfigOptions& config, Ipv4Endpoint wakeup, std::chrono::milliseconds timeout)
    : api_({config.socket_path(), timeout}),
      routes_map_(config.routes_map_path()),
      prefixes_map_(config.prefixes_map_path()),
      wakeup_(std::move(wakeup)),
      drain_timeout_(timeout) {}

Status HaproxyRouter::Ping() { return api_.Ping(); }

StatusOr<HaproxyRouter::Observed> HaproxyRouter::Observe() const {
  Observed out;
  VISI_ASSIGN_OR_RETURN(std::vector<ServerState> servers, api_.ShowServersState(kSessionsBackend));
  for (ServerState& s : servers) {
    std::string name = s.server;
    out.servers.emplace(std::move(name), std::move(s));
  }
  VISI_ASSIGN_OR_RETURN(std::vector<MapEntry> routes, api_.ShowMap(routes_map_));
  for (MapEntry& e : routes) {
    out.server_routes[e.value].insert(e.key);
    out.route_server[std::move(e.key)] = std::move(e.value);
  }
  VISI_ASSIGN_OR_RETURN(std::vector<MapEntry> prefixes, api_.ShowMap(prefixes_map_));
  for (MapEntry& e : prefixes) out.prefixes.emplace(std::move(e.key), std::move(e.value));
  return out;
}

StatusOr<std::vector<Route>> HaproxyRouter::ListRoutes() {
  std::lock_guard<std::mutex> lock(mu_);
  VISI_ASSIGN_OR_RETURN(Observed observed, Observe());
  // Every server name any of the three structures mentions: a route half
  // removed still shows up, so that the reconciler finishes the job.
  std::set<std::string> names;
  for (const auto& [name, state] : observed.servers) names.insert(name);
  for (const auto& [name, keys] : observed.server_routes) names.insert(name);
  for (const auto& [name, prefix] : observed.prefixes) names.insert(name);

  std::vector<Route> out;
  for (const std::string& name : names) {
    std::optional<std::string> key = KeyForServerName(name);
    if (!key) continue;  // not a route of ours
    Route route;
    route.key = *key;
    bool consistent = true;
    auto prefix = observed.prefixes.find(name);
    if (prefix != observed.prefixes.end()) route.path_prefix = prefix->second;
    auto server = observed.servers.find(name);
    if (server == observed.servers.end()) {
      consistent = false;
    } else {
      const ServerState& s = server->second;
      route.backend = (s.address == wakeup_.ip && s.port == wakeup_.port) ? "" : Endpoint(s);
      if (s.in_maintenance()) consistent = false;  // added but never enabled
      // Weight 0 is what makes a missing route fail closed (docs/routing.md):
      // a route server given weight by hand is repaired.
      if (s.weight > 0) consistent = false;
    }
    auto keys = observed.server_routes.find(name);
    for (const std::string& key : keys == observed.server_routes.end() ? std::set<std::string>{} : keys->second) {
      auto split = SplitRoutesMapKey(key);
      if (!split || split->second != route.path_prefix) {
        consistent = false;
        continue;
      }
      route.cookie_hashes.push_back(split->first);
    }
    if (!consistent || !IsValidPathPrefix(route.path_prefix)) route.path_prefix.clear();
    out.push_back(NormalizeRoute(std::move(route)));
  }
  // Server names sort differently from keys (':' and '/' differ).
  std::sort(out.begin(), out.end(), [](const Route& a, const Route& b) { return a.key < b.key; });
  return out;
}

Status HaproxyRouter::EnsureServer(const std::string& server, const Ipv4Endpoint& target,
                                   const Observed& observed) const {
  auto found = observed.servers.find(server);
  if (found == observed.servers.end()) {
    VISI_RETURN_IF_ERROR(api_.AddServer(kSessionsBackend, server, target));
    return api_.EnableServer(kSessionsBackend, server);
  }
  const ServerState& state = found->second;
  if (state.address != target.ip || state.port != target.port) {
    VISI_RETURN_IF_ERROR(api_.SetServerAddress(kSessionsBackend, server, target));
    // Requests still running against the old front end belong to what this
    // route no longer is (a stopped container): cut them. Requests to the
    // wake-up page finish: they are short, and a browser whose progress page
    // got a 502 instead would stop reloading it.
    const bool from_wakeup = state.address == wakeup_.ip && state.port == wakeup_.port;
    if (!from_wakeup) VISI_RETURN_IF_ERROR(api_.ShutdownServerSessions(kSessionsBackend, server));
  }
  if (state.weight > 0) VISI_RETURN_IF_ERROR(api_.ZeroServerWeight(kSessionsBackend, server));
  if (state.in_maintenance()) VISI_RETURN_IF_ERROR(api_.EnableServer(kSessionsBackend, server));
  return OkStatus();
}

Status HaproxyRouter::ApplyRoute(const Route& requested) {
  VISI_RETURN_IF_ERROR(ValidateRoute(requested));
  std::lock_guard<std::mutex> lock(mu_);
  VISI_ASSIGN_OR_RETURN(Observed observed, Observe());
  return ApplyOne(requested, &observed);
}

Status HaproxyRouter::ApplyRouteFrom(const Route& observed_route, const Route& requested) {
  VISI_RETURN_IF_ERROR(ValidateRoute(requested));
  const Route route = NormalizeRoute(requested);
  const Route before = NormalizeRoute(observed_route);
  if (before.key != route.key || before.path_prefix.empty() || before.path_prefix != route.path_prefix ||
      !ValidateRoute(before).ok()) {
    return ApplyRoute(route);
  }
  const std::string server = ServerNameForKey(route.key);
  Status diff = [&]() -> Status {
    std::lock_guard<std::mutex> lock(mu_);
    if (before.backend != route.backend) {
      const Ipv4Endpoint target = route.backend.empty() ? wakeup_ : *ParseIpv4Endpoint(route.backend);
      VISI_RETURN_IF_ERROR(api_.SetServerAddress(kSessionsBackend, server, target));
      // As EnsureServer: a front end's requests are cut, the wake-up page's finish.
      if (!before.backend.empty()) VISI_RETURN_IF_ERROR(api_.ShutdownServerSessions(kSessionsBackend, server));
    }
    const std::set<std::string> had(before.cookie_hashes.begin(), before.cookie_hashes.end());
    const std::set<std::string> want(route.cookie_hashes.begin(), route.cookie_hashes.end());
    for (const std::string& hash : want) {
      if (!had.count(hash)) VISI_RETURN_IF_ERROR(api_.AddMapEntry(routes_map_, RoutesMapKey(hash, route.path_prefix), server));
    }
    bool logged_out = false;
    for (const std::string& hash : had) {
      if (want.count(hash)) continue;
      Status s = api_.DelMapEntry(routes_map_, RoutesMapKey(hash, route.path_prefix));
      if (!s.ok() && s.code() != Code::kNotFound) return s;
      logged_out = true;
    }
    // A removed login's open connections (a websocket, a long download) go
    // too; the other logins' browsers reconnect.
    if (logged_out) VISI_RETURN_IF_ERROR(api_.ShutdownServerSessions(kSessionsBackend, server));
    return OkStatus();
  }();
  // The server or an entry is not what `observed` said (HAProxy restarted,
  // someone changed it): converge from HAProxy's own state.
  if (diff.code() == Code::kNotFound || diff.code() == Code::kAlreadyExists || diff.code() == Code::kInternal) {
    return ApplyRoute(route);
  }
  return diff;
}

std::vector<Status> HaproxyRouter::ApplyRoutes(const std::vector<Route>& routes) {
  std::vector<Status> out(routes.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto observed = Observe();
  for (size_t i = 0; i < routes.size(); ++i) {
    if (!observed.ok()) {
      out[i] = observed.status();
      continue;
    }
    out[i] = ValidateRoute(routes[i]);
    if (out[i].ok()) out[i] = ApplyOne(routes[i], &*observed);
    // HAProxy went away half-way: the rest would fail one by one.
    if (out[i].code() == Code::kUnavailable) observed = out[i];
  }
  return out;
}

Status HaproxyRouter::ApplyOne(const Route& requested, Observed* observed) {
  const Route route = NormalizeRoute(requested);
  const std::string server = ServerNameForKey(route.key);
  const Ipv4Endpoint target = route.backend.empty() ? wakeup_ : *ParseIpv4Endpoint(route.backend);

  for (const auto& [other, prefix] : observed->prefixes) {
    if (other != server && prefix == route.path_prefix) {
      return AlreadyExistsError("path prefix " + route.path_prefix + " already routes to " +
                                KeyForServerName(other).value_or(other));
    }
  }

  // The server first, so that a map entry never names a missing server.
  VISI_RETURN_IF_ERROR(EnsureServer(server, target, *observed));
  ServerState& state = observed->servers[server];
  state.address = target.ip;
  state.port = target.port;
  state.admin_state = 0;  // added or enabled above
  state.weight = 0;

  auto prefix = observed->prefixes.find(server);
  if (prefix == observed->prefixes.end()) {
    VISI_RETURN_IF_ERROR(api_.AddMapEntry(prefixes_map_, server, route.path_prefix));
  } else if (prefix->second != route.path_prefix) {
    VISI_RETURN_IF_ERROR(api_.SetMapEntry(prefixes_map_, server, route.path_prefix));
  }
  observed->prefixes[server] = route.path_prefix;

  // New logins before stale ones go: a changed prefix works at both for a
  // moment rather than at neither.
  std::set<std::string> wanted;
  for (const std::string& hash : route.cookie_hashes) wanted.insert(RoutesMapKey(hash, route.path_prefix));
  for (const std::string& key : wanted) {
    auto present = observed->route_server.find(key);
    if (present == observed->route_server.end()) {
      VISI_RETURN_IF_ERROR(api_.AddMapEntry(routes_map_, key, server));
    } else if (present->second != server) {  // left over by a route removed half-way
      VISI_RETURN_IF_ERROR(api_.SetMapEntry(routes_map_, key, server));
      observed->server_routes[present->second].erase(key);
    }
    observed->route_server[key] = server;
  }
  std::set<std::string>& mine = observed->server_routes[server];
  bool logged_out = false;
  for (const std::string& key : mine) {
    if (wanted.count(key)) continue;
    Status s = api_.DelMapEntry(routes_map_, key);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
    observed->route_server.erase(key);
    logged_out = true;
  }
  // A removed login's open connections go too (see ApplyRouteFrom).
  if (logged_out) VISI_RETURN_IF_ERROR(api_.ShutdownServerSessions(kSessionsBackend, server));
  // What this route now is, for the next route of a batch.
  mine = std::move(wanted);
  return OkStatus();
}

Status HaproxyRouter::DeleteServer(const std::string& server) const {
  Status disabled = api_.DisableServer(kSessionsBackend, server);
  if (disabled.code() == Code::kNotFound) return OkStatus();
  VISI_RETURN_IF_ERROR(disabled);
  VISI_RETURN_IF_ERROR(api_.ShutdownServerSessions(kSessionsBackend, server));
  // Shutting streams down is asynchronous: wait (bounded) until none remains.
  const auto deadline = std::chrono::steady_clock::now() + drain_timeout_;
  while (true) {
    Status deleted = api_.DelServer(kSessionsBackend, server);
    if (deleted.ok() || deleted.code() == Code::kNotFound) return OkStatus();
    if (deleted.code() != Code::kUnavailable || std::chrono::steady_clock::now() >= deadline) return deleted;
    std::this_thread::sleep_for(kDrainPoll);
  }
}

Status HaproxyRouter::RemoveRoute(const std::string& key) {
  VISI_RETURN_IF_ERROR(ValidateRouteKey(key));
  const std::string server = ServerNameForKey(key);
  std::lock_guard<std::mutex> lock(mu_);
  VISI_ASSIGN_OR_RETURN(Observed observed, Observe());
  std::set<std::string> entries;
  if (auto it = observed.server_routes.find(server); it != observed.server_routes.end()) entries = it->second;
  const bool has_server = observed.servers.count(server) > 0;
  const bool has_prefix = observed.prefixes.count(server) > 0;
  if (!has_server && !has_prefix && entries.empty()) return NotFoundError("no route " + key);

  // Requests stop matching first; then the server and its connections go.
  for (const std::string& entry : entries) {
    Status s = api_.DelMapEntry(routes_map_, entry);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  if (has_prefix) {
    Status s = api_.DelMapEntry(prefixes_map_, server);
    if (!s.ok() && s.code() != Code::kNotFound) return s;
  }
  if (has_server) VISI_RETURN_IF_ERROR(DeleteServer(server));
  return OkStatus();
}

StatusOr<std::vector<RouteStats>> HaproxyRouter::Stats() {
  VISI_ASSIGN_OR_RETURN(std::vector<ServerStat> rows, api_.ShowServerStats(kSessionsBackend));
  std::vector<RouteStats> out;
  for (const ServerStat& row : rows) {
    std::optional<std::string> key = KeyForServerName(row.server);
    if (!key) continue;
    out.push_back({*key, static_cast<int>(std::min<int64_t>(row.current_sessions, INT32_MAX)), row.last_session_seconds,
                   row.bytes_in, row.bytes_out});
  }
  std::sort(out.begin(), out.end(), [](const RouteStats& a, const RouteStats& b) { return a.key < b.key; });
  return out;
}

}  // namespace visi
