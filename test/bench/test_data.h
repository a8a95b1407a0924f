#pragma once

// Benchmark state: incompressible and repetitive bytes, the same in every
// benchmark that writes state (snapshot_bench, suspend_bench).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace visi::bench {

// Incompressible: splitmix64.
inline std::string RandomBytes(size_t size, uint64_t& state) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    std::memcpy(&s[i], &z, std::min<size_t>(8, size - i));
  }
  return s;
}

inline std::string RepetitiveText(size_t size, int64_t file) {
  std::string s;
  s.reserve(size + 128);
  for (int line = 0; s.size() < size; ++line) {
    s += "file " + std::to_string(file) + " line " + std::to_string(line) +
         ": the quick brown fox jumps over the lazy dog; all work and no play\n";
  }
  s.resize(size);
  return s;
}

}  // namespace visi::bench
