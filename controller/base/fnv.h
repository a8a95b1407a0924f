#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace visi {

// 64-bit FNV-1a: stable across builds and processes, unlike std::hash. For
// names and labels derived from content (event names, spec hashes), not for
// anything that must resist an adversary.
inline uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The same as 16 lower-case hex digits.
inline std::string Fnv1a64Hex(std::string_view s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(Fnv1a64(s)));
  return buf;
}

}  // namespace visi
