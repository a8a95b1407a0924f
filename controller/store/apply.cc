#include "controller/store/apply.h"

#include <algorithm>
#include <thread>

namespace visi {

const char* ApplyResultName(ApplyResult r) {
  switch (r) {
    case ApplyResult::kCreated: return "created";
    case ApplyResult::kConfigured: return "configured";
    case ApplyResult::kUnchanged: return "unchanged";
  }
  return "unchanged";
}

StatusOr<ApplyResult> ApplyObject(Store& store, const Object& desired) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    // A pause that grows: a conflicting write may still be becoming durable.
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 6)));
    auto cur = store.Get(desired.kind, desired.metadata.namespace_, desired.metadata.name);
    if (!cur.ok() && cur.status().code() != Code::kNotFound) return cur.status();
    if (!cur.ok()) {
      auto created = store.Create(desired);
      if (created.ok()) return ApplyResult::kCreated;
      if (created.status().code() == Code::kAlreadyExists) continue;  // raced: update instead
      return created.status();
    }
    Object next = **cur;
    next.metadata.labels = desired.metadata.labels;
    next.metadata.annotations = desired.metadata.annotations;
    next.spec = desired.spec;
    auto updated = store.Update(next);
    if (updated.ok()) {
      bool same = (*updated)->metadata.resource_version == (*cur)->metadata.resource_version;
      return same ? ApplyResult::kUnchanged : ApplyResult::kConfigured;
    }
    if (updated.status().code() != Code::kConflict) return updated.status();
  }
  return ConflictError("apply of " + desired.kind + " \"" + desired.metadata.name +
                       "\" kept conflicting with concurrent writers; try again");
}

}  // namespace visi
