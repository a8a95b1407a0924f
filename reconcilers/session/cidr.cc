#include "reconcilers/session/cidr.h"

#include <algorithm>
#include <cstdio>

namespace visi {

bool Cidr::Overlaps(const Cidr& o) const {
  int p = std::min(prefix, o.prefix);
  uint32_t mask = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return (base & mask) == (o.base & mask);
}

std::string FormatIPv4(uint32_t a) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
  return buf;
}

std::string Cidr::ToString() const { return FormatIPv4(base) + "/" + std::to_string(prefix); }

StatusOr<Cidr> ParseCidr(const std::string& text, const std::string& field) {
  auto bad = [&](const std::string& why) {
    return InvalidError(field + ": " + why, {{field, why + ", got \"" + text.substr(0, 32) + "\""}});
  };
  unsigned a, b, c, d, p;
  char tail;
  if (text.size() > 18 || std::sscanf(text.c_str(), "%u.%u.%u.%u/%u%c", &a, &b, &c, &d, &p, &tail) != 5) {
    return bad("must be an IPv4 CIDR such as 10.200.0.0/16");
  }
  if (a > 255 || b > 255 || c > 255 || d > 255 || p > 32) return bad("must be an IPv4 CIDR such as 10.200.0.0/16");
  Cidr out;
  out.base = (a << 24) | (b << 16) | (c << 8) | d;
  out.prefix = static_cast<int>(p);
  uint32_t host = p == 32 ? 0 : (p == 0 ? ~uint32_t{0} : ~uint32_t{0} >> p);
  if (out.base & host) return bad("host bits must be zero");
  return out;
}

}  // namespace visi
