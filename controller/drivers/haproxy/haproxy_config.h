#pragma once

#include <chrono>
#include <string>

#include "controller/base/statusor.h"

namespace visi {

// The HAProxy that fronts every session, as Visi configures it. The config
// holds no route: routes live in HAProxy's memory (a map and dynamic
// servers) and change through the Runtime API, so the file never changes
// and HAProxy never reloads. See docs/routing.md.
struct HaproxyConfigOptions {
  std::string bind_address = "127.0.0.1";  // where browsers connect (IPv4)
  int bind_port = 0;                       // 1-65535; ManagedHaproxy picks one when 0
  std::string runtime_dir;                 // absolute; holds the config, the maps and the socket
  std::string wakeup_address;              // "IP:PORT" of visid's wake-up endpoint
  int max_connections = 0;                 // 0: HAProxy derives it from the file descriptor limit
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds client_timeout{60000};    // idle client, also between keep-alive requests
  std::chrono::milliseconds server_timeout{300000};   // a session slow to answer
  std::chrono::milliseconds tunnel_timeout{3600000};  // idle websocket
  bool log_to_stdout = false;                         // one line per request; off: no logging

  std::string config_path() const { return runtime_dir + "/haproxy.cfg"; }
  std::string socket_path() const { return runtime_dir + "/admin.sock"; }
  // Key: cookie hash + path prefix; value: the route's server name.
  std::string routes_map_path() const { return runtime_dir + "/routes.map"; }
  // Key: the route's server name; value: its path prefix. Only the router
  // reads it (a route with no login still has a prefix).
  std::string prefixes_map_path() const { return runtime_dir + "/route-prefixes.map"; }
  std::string log_path() const { return runtime_dir + "/haproxy.log"; }
};

// The backend that holds one dynamic server per route.
inline constexpr char kSessionsBackend[] = "visi_sessions";
// Paths under this prefix go to visid's login endpoint without a route (a
// login link carries a one-time ticket instead of a cookie).
inline constexpr char kControlPathPrefix[] = "/_visi/";
inline constexpr char kControlBackend[] = "visi_control";
// The request header that tells a session (and the wake-up endpoint) which
// route HAProxy matched: "namespace/name". Set by HAProxy, never by clients.
inline constexpr char kRouteHeader[] = "X-Visi-Route";

// kInvalid (naming the option) unless every option is usable: bind_port
// set, runtime_dir absolute and made of A-Z a-z 0-9 . _ ~ - / only, the
// socket path short enough for a unix socket, wakeup_address "IP:PORT",
// positive timeouts, a connection limit >= 0.
Status ValidateConfigOptions(const HaproxyConfigOptions& options);

// The haproxy.cfg text for `options`.
StatusOr<std::string> RenderBaseConfig(const HaproxyConfigOptions& options);

}  // namespace visi
