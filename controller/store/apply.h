#pragma once

#include <string>

#include "controller/store/store.h"

namespace visi {

enum class ApplyResult { kCreated, kConfigured, kUnchanged };
const char* ApplyResultName(ApplyResult r);  // "created", "configured", "unchanged"

// Creates `desired`, or replaces labels, annotations and spec of the stored
// object of the same kind, namespace and name (status and server-managed
// fields are kept). Idempotent: applying the same object twice reports
// kUnchanged and writes nothing. Retries on Conflict a few times.
StatusOr<ApplyResult> ApplyObject(Store& store, const Object& desired);

}  // namespace visi
