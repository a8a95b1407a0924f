#pragma once

#include <string>

#include "controller/api/object.h"
#include "controller/base/clock.h"

namespace visi {

// Kubernetes-style conditions in status.conditions: one entry per type.
struct Condition {
  std::string type;
  std::string status;  // "True", "False" or "Unknown"
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
};

// Sets the condition of its type in `status` (an object or null).
// lastTransitionTime moves only when the status value changes. Returns
// whether anything changed, so callers can skip a write.
bool SetCondition(Json* status, const Condition& c, TimePoint now);

// The condition of `type`, or nullptr.
const Json* FindCondition(const Json& status, const std::string& type);

}  // namespace visi
