#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "controller/base/status.h"
#include "controller/drivers/haproxy/router.h"

namespace visi {

// How a Route is spelled inside HAProxy, and the checks that keep every
// spelled value one harmless token of a runtime command: after validation no
// field holds a space, ';', a backslash, a quote or a control character.

inline constexpr size_t kMaxPathPrefixBytes = 200;
inline constexpr size_t kMaxCookieHashesPerRoute = 256;

// The upper-case hex SHA-256 of a JSESSIONID secret, exactly as HAProxy's
// `req.cook(JSESSIONID),sha2(256),hex` computes it.
std::string CookieHash(std::string_view secret);

// OK when every field is well formed; otherwise kInvalid with one cause per
// bad field ("key", "path_prefix", "cookie_hashes[2]", "backend").
//   key           "namespace/name": a DNS label, '/', a DNS subdomain
//   path_prefix   starts and ends with '/', at least one segment, only
//                 A-Z a-z 0-9 . _ ~ - inside segments, no empty or dot segment
//   cookie_hashes each 64 upper-case hex digits; at most 256
//   backend       "" or "a.b.c.d:port" with port 1-65535
Status ValidateRoute(const Route& route);
// The "key" check alone (RemoveRoute).
Status ValidateRouteKey(std::string_view key);

// `route` with its cookie hashes sorted and de-duplicated: the form
// ListRoutes reports, to compare a desired route with an observed one.
Route NormalizeRoute(Route route);

// HAProxy server names cannot hold '/', Kubernetes names never hold ':', so
// "alice/notebook" is the server "alice:notebook" and back.
std::string ServerNameForKey(std::string_view key);
// nullopt when `server` is not the spelling of a valid key.
std::optional<std::string> KeyForServerName(std::string_view server);

// The routes map key of one login of a route: hash then prefix.
std::string RoutesMapKey(std::string_view cookie_hash, std::string_view path_prefix);
// {hash, prefix}; nullopt unless `key` is a 64-digit hash and a valid prefix.
std::optional<std::pair<std::string, std::string>> SplitRoutesMapKey(std::string_view key);

struct Ipv4Endpoint {
  std::string ip;  // dotted quad
  uint16_t port = 0;
  std::string ToString() const { return ip + ":" + std::to_string(port); }
};
// "10.1.2.3:8888"; nullopt unless a dotted quad and a port 1-65535.
std::optional<Ipv4Endpoint> ParseIpv4Endpoint(std::string_view text);

// Each check alone, true when well formed.
bool IsValidPathPrefix(std::string_view prefix);
bool IsValidCookieHash(std::string_view hash);

}  // namespace visi
