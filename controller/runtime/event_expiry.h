#pragma once

#include <chrono>

#include "controller/runtime/manager.h"

namespace visi {

// Deletes Events whose lastTimestamp is older than `ttl`, as the Kubernetes
// API server's event TTL does (default 1h): events are history, not state,
// and would otherwise pile up for as long as visid runs. A controller over
// the Event kind: each event is looked at again when it is due.
class EventExpiry {
 public:
  EventExpiry(Manager* manager, std::chrono::seconds ttl);

  ReconcileResult Reconcile(const std::string& key);
  uint64_t expired() const { return expired_.load(); }

 private:
  Manager* const manager_;
  const std::chrono::seconds ttl_;
  Informer* events_;
  std::atomic<uint64_t> expired_{0};
};

}  // namespace visi
