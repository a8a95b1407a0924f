#include "controller/drivers/haproxy/route_format.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "controller/base/sha256.h"
#include "controller/drivers/docker/ipv4.h"

namespace visi {
namespace {

constexpr size_t kHashHexDigits = 64;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends.
bool IsDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

// RFC 1123 subdomain: dot-separated labels, at most 253 bytes.
bool IsDnsSubdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool IsSegmentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '~' || c == '-';
}

}  // namespace

std::string CookieHash(std::string_view secret) {
  // HAProxy's sha2(256),hex is upper-case.
  std::string out = Sha256Hex(secret);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool IsValidPathPrefix(std::string_view prefix) {
  if (prefix.size() < 3 || prefix.size() > kMaxPathPrefixBytes) return false;
  if (prefix.front() != '/' || prefix.back() != '/') return false;
  size_t start = 1;
  while (start < prefix.size()) {
    size_t slash = prefix.find('/', start);
    std::string_view segment = prefix.substr(start, slash - start);
    if (segment.empty() || segment == "." || segment == "..") return false;
    if (!std::all_of(segment.begin(), segment.end(), IsSegmentChar)) return false;
    start = slash + 1;
  }
  return true;
}

bool IsValidCookieHash(std::string_view hash) {
  return hash.size() == kHashHexDigits &&
         std::all_of(hash.begin(), hash.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); });
}

Status ValidateRouteKey(std::string_view key) {
  size_t slash = key.find('/');
  if (slash == std::string_view::npos || !IsDnsLabel(key.substr(0, slash)) || !IsDnsSubdomain(key.substr(slash + 1))) {
    return InvalidError("invalid route key",
                        {{"key", "must be \"namespace/name\" (a DNS label, '/', a DNS subdomain)"}});
  }
  return OkStatus();
}

Status ValidateRoute(const Route& route) {
  std::vector<FieldCause> causes;
  if (Status key = ValidateRouteKey(route.key); !key.ok()) causes.push_back(key.causes().front());
  if (!IsValidPathPrefix(route.path_prefix)) {
    causes.push_back({"path_prefix", "must start and end with '/', hold at most " +
                                         std::to_string(kMaxPathPrefixBytes) +
                                         " bytes and only non-empty segments of A-Z a-z 0-9 . _ ~ - (no '.' or '..')"});
  }
  if (route.cookie_hashes.size() > kMaxCookieHashesPerRoute) {
    causes.push_back({"cookie_hashes", "at most " + std::to_string(kMaxCookieHashesPerRoute) + " entries, got " +
                                           std::to_string(route.cookie_hashes.size())});
  }
  for (size_t i = 0; i < route.cookie_hashes.size(); ++i) {
    if (!IsValidCookieHash(route.cookie_hashes[i])) {
      causes.push_back({"cookie_hashes[" + std::to_string(i) + "]", "must be 64 upper-case hex digits (SHA-256)"});
    }
  }
  if (!route.backend.empty() && !ParseIpv4Endpoint(route.backend)) {
    causes.push_back({"backend", "must be empty (wake-up) or \"a.b.c.d:port\" with port 1-65535"});
  }
  if (causes.empty()) return OkStatus();
  // A bad key is not echoed: it may hold anything.
  std::string message = causes.front().field == "key" ? "invalid route" : "invalid route \"" + route.key + "\"";
  return InvalidError(std::move(message), std::move(causes));
}

Route NormalizeRoute(Route route) {
  std::sort(route.cookie_hashes.begin(), route.cookie_hashes.end());
  route.cookie_hashes.erase(std::unique(route.cookie_hashes.begin(), route.cookie_hashes.end()),
                            route.cookie_hashes.end());
  return route;
}

std::string ServerNameForKey(std::string_view key) {
  std::string out(key);
  std::replace(out.begin(), out.end(), '/', ':');
  return out;
}

std::optional<std::string> KeyForServerName(std::string_view server) {
  std::string key(server);
  size_t colon = key.find(':');
  if (colon == std::string::npos) return std::nullopt;
  key[colon] = '/';
  if (!ValidateRouteKey(key).ok()) return std::nullopt;
  return key;
}

std::string RoutesMapKey(std::string_view cookie_hash, std::string_view path_prefix) {
  return std::string(cookie_hash) + std::string(path_prefix);
}

std::optional<std::pair<std::string, std::string>> SplitRoutesMapKey(std::string_view key) {
  if (key.size() <= kHashHexDigits) return std::nullopt;
  std::string_view hash = key.substr(0, kHashHexDigits);
  std::string_view prefix = key.substr(kHashHexDigits);
  if (!IsValidCookieHash(hash) || !IsValidPathPrefix(prefix)) return std::nullopt;
  return std::make_pair(std::string(hash), std::string(prefix));
}

std::optional<Ipv4Endpoint> ParseIpv4Endpoint(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view ip = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (!ParseIpv4(ip) || port.empty() || port.size() > 5 || port.front() == '0') return std::nullopt;
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return std::nullopt;
  return Ipv4Endpoint{std::string(ip), static_cast<uint16_t>(value)};
}

}  // namespace visi
