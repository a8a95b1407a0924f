#include "reconcilers/route/activity.h"

#include <algorithm>

#include "controller/runtime/conditions.h"
#include "reconcilers/route/route_desired.h"

namespace visi {
namespace {

std::optional<TimePoint> TimeField(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return std::nullopt;
  return ParseRfc3339(j[key].get<std::string>());
}

std::string Seconds(int64_t s) { return std::to_string(s) + "s"; }

}  // namespace

bool SetActivityStatus(Json* status, const Object& session, const std::optional<RouteStats>& stats, TimePoint now) {
  if (!status->is_object()) *status = Json::object();
  const Json before = *status;
  const int64_t gen = session.metadata.generation;
  if (!SessionServesRequests(session)) {
    if (status->contains("connectedClients")) (*status)["connectedClients"] = 0;
    if (FindCondition(*status, "Idle")) {
      SetCondition(status, {"Idle", "False", "NotRunning", "the session does not serve requests", gen}, now);
    }
    return *status != before;
  }

  const std::optional<TimePoint> stored = TimeField(*status, "lastActivityTime");
  TimePoint last = stored.value_or(TimePoint{});
  if (const Json* ready = FindCondition(*status, "Ready")) {
    if (auto t = ParseRfc3339(ready->value("lastTransitionTime", ""))) last = std::max(last, *t);
  }
  if (last == TimePoint{}) last = now;
  int clients = 0;
  if (stats) {
    clients = std::max(0, stats->current_connections);
    if (clients > 0) {
      last = now;
    } else if (stats->seconds_since_last_request >= 0) {
      last = std::max(last, now - std::chrono::seconds(stats->seconds_since_last_request));
    }
  }
  last = std::min(last, now);
  if (!stored || (stats && last - *stored >= kActivityWriteInterval)) (*status)["lastActivityTime"] = FormatRfc3339(last);
  if (!stats) return *status != before;
  (*status)["connectedClients"] = clients;

  const int64_t timeout = session.spec.is_object() ? session.spec.value("idleTimeoutSeconds", int64_t{1800}) : 1800;
  if (timeout <= 0) {
    SetCondition(status, {"Idle", "False", "IdleTimeoutOff", "spec.idleTimeoutSeconds is 0", gen}, now);
  } else if (clients == 0 && now - last >= std::chrono::seconds(timeout)) {
    SetCondition(status, {"Idle", "True", "NoClients",
                          "no client connected or sent a request for " + Seconds(timeout) + " (idleTimeoutSeconds)",
                          gen},
                 now);
  } else {
    SetCondition(status, {"Idle", "False", "Active",
                          "a client was seen within " + Seconds(timeout) + " (idleTimeoutSeconds)", gen},
                 now);
  }
  return *status != before;
}

}  // namespace visi
