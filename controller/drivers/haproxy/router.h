#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"

namespace visi {

// One session's entry in the front door. A request reaches `backend` only
// when its path begins with `path_prefix` AND its JSESSIONID cookie hashes to
// one of `cookie_hashes`; everything else is refused with 403 before it
// reaches any session.
struct Route {
  std::string key;                         // "namespace/name" of the session
  std::string path_prefix;                 // "/s/namespace/name/": starts and ends with '/'
  std::vector<std::string> cookie_hashes;  // upper-case hex SHA-256 of each valid JSESSIONID
                                           // (CookieHash() in route_format.h); any order on
                                           // input, sorted and unique when read back
  std::string backend;                     // "IP:PORT" of the session's front end, or "" for
                                           // the wake-up endpoint (the session is not running)
  bool operator==(const Route&) const = default;
};

// Activity of one route, for idle detection.
struct RouteStats {
  std::string key;
  int current_connections = 0;              // requests in flight (a websocket counts while open)
  int64_t seconds_since_last_request = -1;  // -1: none since the route was created
  int64_t bytes_in = 0;                     // client to session, counted when a request ends
  int64_t bytes_out = 0;                    // session to client, counted when a request ends
  bool operator==(const RouteStats&) const = default;
};

// The front door that maps users to their sessions. Every change applies at
// run time: no reload, no dropped connection on any other route. The live
// state is the truth (ListRoutes reads it back), so after the router
// restarts, with no routes, a reconciler converges it again from the store.
//
// Errors, the same on every implementation:
//   kUnavailable    the router cannot be reached or did not answer: retry later
//   kInvalid        a field of the route is malformed (the cause names it)
//   kNotFound       RemoveRoute of a key that has no route
//   kAlreadyExists  ApplyRoute with a path prefix another route already uses
//   kInternal       the router answered something unexpected
class Router {
 public:
  virtual ~Router() = default;

  // OK when the router answers.
  virtual Status Ping() = 0;

  // Every route the router holds right now, sorted by key. A route left half
  // applied by an interrupted ApplyRoute is reported with an empty
  // path_prefix, so that it never equals a desired route and is re-applied.
  virtual StatusOr<std::vector<Route>> ListRoutes() = 0;

  // Creates the route or brings it to exactly `route` (idempotent). When the
  // backend changes, requests still in flight to the old backend of this
  // route are cut; other routes are untouched.
  virtual Status ApplyRoute(const Route& route) = 0;

  // ApplyRoute(desired), for a caller that knows what the router held:
  // `observed` as ListRoutes (or a successful apply) last reported it. The
  // router may then send only the difference, without reading its whole
  // state; when `observed` turns out wrong it falls back to ApplyRoute. A
  // stale `observed` can leave the route differing from `desired`: callers
  // read the routes back now and then (ListRoutes) and re-apply.
  virtual Status ApplyRouteFrom(const Route& observed, const Route& desired) {
    (void)observed;
    return ApplyRoute(desired);
  }

  // ApplyRoute of each route, as one change: the router may read its state
  // once for all of them (after a restart, thousands of routes come back
  // in one pass instead of one full read per route). One Status per route,
  // in order; a route that fails does not stop the others.
  virtual std::vector<Status> ApplyRoutes(const std::vector<Route>& routes) {
    std::vector<Status> out;
    for (const Route& r : routes) out.push_back(ApplyRoute(r));
    return out;
  }

  // Removes the route and cuts its connections. kNotFound when absent.
  virtual Status RemoveRoute(const std::string& key) = 0;

  // Counters of every route, sorted by key. They start at zero when a route
  // is created (or the router restarts).
  virtual StatusOr<std::vector<RouteStats>> Stats() = 0;
};

}  // namespace visi
