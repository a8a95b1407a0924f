#pragma once

#include <chrono>
#include <optional>

#include "controller/api/object.h"
#include "controller/base/clock.h"
#include "controller/drivers/haproxy/router.h"

namespace visi {

// How often lastActivityTime is rewritten while clients keep coming: it
// moves when the activity seen is this much newer than the stored value, so
// a busy session costs one status write per interval, not one per request.
inline constexpr std::chrono::seconds kActivityWriteInterval{30};

// Updates the session's activity from its route's counters: status.
// lastActivityTime, status.connectedClients and the Idle condition (True
// once no client was connected or sent a request for
// spec.idleTimeoutSeconds; 0 turns it off). Activity counts from the later
// of the stored lastActivityTime, the Ready transition and the last request
// the router saw. Without counters (`stats` empty: the router is down or
// has not got the route yet) nothing but a missing lastActivityTime is
// written: a router outage never makes a session idle. A session that does
// not serve requests (starting, suspended) is not Idle. Returns whether
// `status` changed. Pure.
bool SetActivityStatus(Json* status, const Object& session, const std::optional<RouteStats>& stats, TimePoint now);

}  // namespace visi
