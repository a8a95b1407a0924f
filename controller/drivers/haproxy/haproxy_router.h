#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "controller/drivers/haproxy/haproxy_config.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/drivers/haproxy/router.h"
#include "controller/drivers/haproxy/runtime_api.h"

namespace visi {

// The Router over one HAProxy configured by RenderBaseConfig, through its
// Runtime API. A route is three things in HAProxy's memory (docs/routing.md):
//   - a dynamic server "namespace:name" in backend visi_sessions (weight 0),
//     at the session's front end or, while it sleeps, at the wake-up endpoint;
//   - one routes-map entry per login: cookie hash + path prefix -> server;
//   - one prefixes-map entry: server -> path prefix.
// Thread-safe: changes are serialized. Another writer to the same HAProxy
// is not expected.
class HaproxyRouter final : public Router {
 public:
  // `config` must be the options HAProxy runs with (ManagedHaproxy::config()).
  // kInvalid when they are not valid.
  static StatusOr<std::unique_ptr<HaproxyRouter>> Create(const HaproxyConfigOptions& config,
                                                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

  Status Ping() override;
  StatusOr<std::vector<Route>> ListRoutes() override;
  Status ApplyRoute(const Route& route) override;
  std::vector<Status> ApplyRoutes(const std::vector<Route>& routes) override;
  // Sends only the difference (set server addr, add/del map entries) when
  // `observed` is a whole route with the same key and prefix; else, or when
  // HAProxy does not know the server or an entry, ApplyRoute.
  Status ApplyRouteFrom(const Route& observed, const Route& desired) override;
  Status RemoveRoute(const std::string& key) override;
  StatusOr<std::vector<RouteStats>> Stats() override;

 private:
  // HAProxy's state, as read at the start of a call.
  struct Observed {
    std::map<std::string, ServerState> servers;   // by server name
    std::map<std::string, std::string> route_server;             // routes-map key -> server name
    std::map<std::string, std::set<std::string>> server_routes;  // server name -> its routes-map keys
    std::map<std::string, std::string> prefixes;  // server name -> prefix
  };

  HaproxyRouter(const HaproxyConfigOptions& config, Ipv4Endpoint wakeup, std::chrono::milliseconds timeout);
  StatusOr<Observed> Observe() const;
  Status EnsureServer(const std::string& server, const Ipv4Endpoint& target, const Observed& observed) const;
  // Applies one route against `observed` and records what it changed there,
  // so that the next route of a batch sees it. REQUIRES: mu_ held.
  Status ApplyOne(const Route& requested, Observed* observed);
  Status DeleteServer(const std::string& server) const;

  RuntimeApi api_;
  std::string routes_map_;
  std::string prefixes_map_;
  Ipv4Endpoint wakeup_;
  std::chrono::milliseconds drain_timeout_;
  std::mutex mu_;  // serializes observe-then-change
};

}  // namespace visi
