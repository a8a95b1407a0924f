#include "controller/runtime/event_expiry.h"

namespace visi {

EventExpiry::EventExpiry(Manager* manager, std::chrono::seconds ttl)
    : manager_(manager), ttl_(ttl), events_(manager->InformerFor("Event")) {
  manager_->AddController({.name = "event-expiry", .workers = 1}, "Event",
                          [this](const std::string& key) { return Reconcile(key); });
}

ReconcileResult EventExpiry::Reconcile(const std::string& key) {
  ObjectPtr e = events_->GetByKey(key);
  if (!e) return ReconcileResult::Done();
  std::string last;
  if (e->spec.is_object()) {
    for (const char* field : {"lastTimestamp", "firstTimestamp"}) {
      auto it = e->spec.find(field);
      if (it != e->spec.end() && it->is_string()) {
        last = it->get<std::string>();
        break;
      }
    }
  }
  auto when = ParseRfc3339(last);
  if (!when) when = ParseRfc3339(e->metadata.creation_timestamp);
  if (!when) return ReconcileResult::Done();  // no time to age by: kept
  const TimePoint due = *when + ttl_;
  const TimePoint now = manager_->clock()->Now();
  if (now < due) return ReconcileResult::RequeueAfter(due - now);
  Preconditions pre;
  pre.uid = e->metadata.uid;
  pre.resource_version = e->metadata.resource_version;  // a repeat since bumped it: look again
  auto d = manager_->store()->Delete("Event", e->metadata.namespace_, e->metadata.name, pre);
  if (d.ok()) {
    expired_++;
    return ReconcileResult::Done();
  }
  if (d.status().code() == Code::kNotFound || d.status().code() == Code::kConflict) return ReconcileResult::Done();
  return ReconcileResult::Error(d.status());
}

}  // namespace visi
