#pragma once

#include <optional>
#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/clock.h"
#include "controller/drivers/haproxy/router.h"
#include "reconcilers/session/session_desired.h"  // SessionPathPrefix

namespace visi {

// A route holds at most this many logins (HAProxy map entries); older
// redeemed logins beyond it are deleted, newest kept.
inline constexpr size_t kMaxLoginsPerRoute = 256;


// True when the session's front end should get its requests: Ready, not
// suspended, with a front-end address. Otherwise its route leads to the
// wake-up endpoint.
bool SessionServesRequests(const Object& session);

// True when status.frontEndAddress is a host address inside status.subnet
// (not its network or broadcast address).
bool FrontEndInSubnet(const Object& session);

// The SessionLogins among `logins` whose cookie opens `session`: redeemed,
// naming the session and owned by this incarnation of it (its uid), the
// newest kMaxLoginsPerRoute by redemption time (then name). Pure.
std::vector<ObjectPtr> AcceptedLogins(const Object& session, const std::vector<ObjectPtr>& logins);

// The route the router should hold for `session`, normalized; nullopt when
// it should hold none (the session is being deleted). Pure.
std::optional<Route> DesiredRoute(const Object& session, const std::vector<ObjectPtr>& logins);

// Logins to delete: unredeemed ones past their expiry, and redeemed ones
// beyond the newest kMaxLoginsPerRoute of the session. Pure.
std::vector<ObjectPtr> StaleLogins(const Object& session, const std::vector<ObjectPtr>& logins, TimePoint now);

// What the route reconciler writes into the session's status about its
// route: url, route {pathPrefix, backend, logins}, the Routed condition.
// `route_error` is empty when the router holds `route`, else why not.
// Returns whether `status` changed. Pure.
struct RouteOutcome {
  std::optional<Route> route;  // as applied
  std::string error_reason;    // CamelCase: RouterUnavailable, RouteInvalid, PrefixConflict
  std::string error_message;
};
bool SetRouteStatus(Json* status, const Object& session, const RouteOutcome& outcome, const std::string& router_url,
                    TimePoint now);

}  // namespace visi
