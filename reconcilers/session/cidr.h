#pragma once

#include <cstdint>
#include <string>

#include "controller/base/statusor.h"

namespace visi {

// An IPv4 network: base address (host bits zero) and prefix length.
struct Cidr {
  uint32_t base = 0;
  int prefix = 0;

  uint64_t size() const { return uint64_t{1} << (32 - prefix); }
  bool Overlaps(const Cidr& o) const;
  std::string ToString() const;
  bool operator==(const Cidr&) const = default;
};

// "10.200.0.0/16"; host bits must be zero. Errors name `field`.
StatusOr<Cidr> ParseCidr(const std::string& text, const std::string& field);

std::string FormatIPv4(uint32_t addr);

}  // namespace visi
