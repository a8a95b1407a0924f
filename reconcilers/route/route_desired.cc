#include "reconcilers/route/route_desired.h"

#include <algorithm>

#include "controller/drivers/docker/ipv4.h"
#include "controller/drivers/haproxy/route_format.h"
#include "reconcilers/session/cidr.h"
#include "controller/runtime/conditions.h"

namespace visi {
namespace {

std::string Str(const Json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool OwnedBy(const Object& o, const std::string& uid) {
  return std::any_of(o.metadata.owner_references.begin(), o.metadata.owner_references.end(),
                     [&](const OwnerReference& r) { return r.uid == uid; });
}

bool IsLoginOf(const Object& login, const Object& session) {
  return login.metadata.namespace_ == session.metadata.namespace_ &&
         Str(login.spec, "session") == session.metadata.name && OwnedBy(login, session.metadata.uid) &&
         !login.metadata.deletion_timestamp;
}

// Redeemed logins of the session, newest first.
std::vector<ObjectPtr> Redeemed(const Object& session, const std::vector<ObjectPtr>& logins) {
  std::vector<ObjectPtr> out;
  for (const auto& l : logins) {
    if (l && IsLoginOf(*l, session) && Str(l->status, "cookieSHA256").size() == 64) out.push_back(l);
  }
  std::sort(out.begin(), out.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
    const std::string ta = Str(a->status, "redeemedTime"), tb = Str(b->status, "redeemedTime");
    if (ta != tb) return ta > tb;  // RFC 3339 in UTC sorts as text
    return a->metadata.name < b->metadata.name;
  });
  return out;
}

}  // namespace

bool SessionServesRequests(const Object& session) {
  if (session.metadata.deletion_timestamp) return false;
  if (session.spec.is_object() && session.spec.value("suspend", false) == true) return false;
  if (!session.status.is_object()) return false;
  const Json* ready = FindCondition(session.status, "Ready");
  return ready && ready->value("status", "") == "True" && FrontEndInSubnet(session);
}

bool FrontEndInSubnet(const Object& session) {
  // A second guard behind the API's rule that only controllers write status:
  // a route leads only into the session's own subnet, never to another
  // session's or to a metadata service.
  const std::string address = Str(session.status, "frontEndAddress");
  auto endpoint = ParseIpv4Endpoint(address);
  auto subnet = ParseCidr(Str(session.status, "subnet"), "status.subnet");
  if (!endpoint || !subnet.ok()) return false;
  auto ip = ParseIpv4(endpoint->ip);
  if (!ip) return false;
  const uint32_t mask = subnet->prefix == 0 ? 0 : ~uint32_t{0} << (32 - subnet->prefix);
  const uint32_t host = *ip & ~mask;
  // Not the network or broadcast address.
  return (*ip & mask) == subnet->base && host != 0 && host != (~mask & ~uint32_t{0});
}

std::vector<ObjectPtr> AcceptedLogins(const Object& session, const std::vector<ObjectPtr>& logins) {
  std::vector<ObjectPtr> out = Redeemed(session, logins);
  if (out.size() > kMaxLoginsPerRoute) out.resize(kMaxLoginsPerRoute);
  return out;
}

std::optional<Route> DesiredRoute(const Object& session, const std::vector<ObjectPtr>& logins) {
  if (session.metadata.deletion_timestamp) return std::nullopt;
  Route r;
  r.key = session.metadata.namespace_ + "/" + session.metadata.name;
  r.path_prefix = SessionPathPrefix(session.metadata.namespace_, session.metadata.name);
  for (const auto& l : AcceptedLogins(session, logins)) r.cookie_hashes.push_back(Str(l->status, "cookieSHA256"));
  if (SessionServesRequests(session)) r.backend = Str(session.status, "frontEndAddress");
  return NormalizeRoute(r);
}

std::vector<ObjectPtr> StaleLogins(const Object& session, const std::vector<ObjectPtr>& logins, TimePoint now) {
  std::vector<ObjectPtr> out;
  for (const auto& l : logins) {
    if (!l || !IsLoginOf(*l, session) || !Str(l->status, "redeemedTime").empty()) continue;
    auto expires = ParseRfc3339(Str(l->spec, "expiresTime"));
    if (!expires || *expires < now) out.push_back(l);
  }
  std::vector<ObjectPtr> redeemed = Redeemed(session, logins);
  for (size_t i = kMaxLoginsPerRoute; i < redeemed.size(); ++i) out.push_back(redeemed[i]);
  return out;
}

bool SetRouteStatus(Json* status, const Object& session, const RouteOutcome& outcome, const std::string& router_url,
                    TimePoint now) {
  if (!status->is_object()) *status = Json::object();
  const Json before = *status;
  const int64_t gen = session.metadata.generation;
  if (!outcome.error_reason.empty()) {
    SetCondition(status, {"Routed", "False", outcome.error_reason, outcome.error_message, gen}, now);
    return *status != before;
  }
  if (!outcome.route) {
    status->erase("url");
    status->erase("route");
    SetCondition(status, {"Routed", "False", "NoRoute", "the session is being deleted", gen}, now);
    return *status != before;
  }
  const Route& r = *outcome.route;
  (*status)["url"] = router_url + r.path_prefix;
  (*status)["route"] = {{"pathPrefix", r.path_prefix},
                        {"backend", r.backend.empty() ? "wake-up" : r.backend},
                        {"logins", static_cast<int>(r.cookie_hashes.size())}};
  if (r.backend.empty()) {
    SetCondition(status, {"Routed", "True", "WakeUp",
                          "requests go to the wake-up page until the session is Ready", gen},
                 now);
  } else {
    SetCondition(status, {"Routed", "True", "FrontEnd", "requests with a login cookie go to " + r.backend, gen}, now);
  }
  return *status != before;
}

}  // namespace visi
