#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace visi {

// "10.213.4.7" as a host-order number; nullopt unless exactly four decimal
// octets 0-255 without leading zeros.
inline std::optional<uint32_t> ParseIpv4(std::string_view text) {
  uint32_t out = 0;
  for (int octet = 0; octet < 4; ++octet) {
    if (octet > 0) {
      if (text.empty() || text.front() != '.') return std::nullopt;
      text.remove_prefix(1);
    }
    size_t n = 0;
    uint32_t value = 0;
    while (n < text.size() && n < 4 && text[n] >= '0' && text[n] <= '9') {
      value = value * 10 + static_cast<uint32_t>(text[n] - '0');
      ++n;
    }
    if (n == 0 || n > 3 || value > 255 || (n > 1 && text[0] == '0')) return std::nullopt;
    text.remove_prefix(n);
    out = (out << 8) | value;
  }
  if (!text.empty()) return std::nullopt;
  return out;
}

inline std::string FormatIpv4(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." + std::to_string((ip >> 8) & 255) +
         "." + std::to_string(ip & 255);
}

struct Ipv4Cidr {
  uint32_t base = 0;  // the network address (host bits zero)
  int prefix = 0;     // 0-32
  bool Contains(uint32_t ip) const { return prefix == 0 || (ip >> (32 - prefix)) == (base >> (32 - prefix)); }
};

// "10.213.4.0/24"; nullopt when malformed or when host bits are set.
inline std::optional<Ipv4Cidr> ParseIpv4Cidr(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto ip = ParseIpv4(text.substr(0, slash));
  std::string_view bits = text.substr(slash + 1);
  if (!ip || bits.empty() || bits.size() > 2) return std::nullopt;
  int prefix = 0;
  for (char c : bits) {
    if (c < '0' || c > '9') return std::nullopt;
    prefix = prefix * 10 + (c - '0');
  }
  if (prefix > 32) return std::nullopt;
  const uint32_t host_mask = prefix == 0 ? ~0u : (prefix == 32 ? 0u : (~0u >> prefix));
  if ((*ip & host_mask) != 0) return std::nullopt;
  return Ipv4Cidr{*ip, prefix};
}

}  // namespace visi
