#pragma once

#include <cstdint>
#include <string>

#include "controller/base/statusor.h"

namespace visi {

// Kubernetes resource quantities: "500m", "2", "1.5", "512Mi", "2G", "1e3".
// Binary suffixes Ki..Ei, decimal n u m k M G T P E, or an exponent.
// The value times `scale`, rounded up (so "1m" cpu is never 0); errors name
// `field` and say what was expected.
StatusOr<int64_t> ParseQuantity(const std::string& text, double scale, const std::string& field);

// Memory in bytes, CPU in billionths of a cpu (Docker's NanoCpus).
inline StatusOr<int64_t> ParseMemoryBytes(const std::string& text, const std::string& field) {
  return ParseQuantity(text, 1, field);
}
inline StatusOr<int64_t> ParseNanoCpus(const std::string& text, const std::string& field) {
  return ParseQuantity(text, 1e9, field);
}

}  // namespace visi
