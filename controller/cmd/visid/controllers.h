#pragma once

#include <memory>

#include "controller/runtime/manager.h"
#include "controller/store/store.h"

namespace visi {

class GarbageCollector;

// Every controller visid runs, under one manager over one store: the
// embedded store in the all-in-one process, or a remote visid's API in a
// controllers-only process (--kubeconfig).
class VisidControllers {
 public:
  VisidControllers(Store* store, ManagerOptions opts);
  ~VisidControllers();

  Manager* manager() { return manager_.get(); }
  void Start() { manager_->Start(); }
  // Running reconciles finish; a held lease is released.
  void Stop() { manager_->Stop(); }

 private:
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<GarbageCollector> gc_;
};

}  // namespace visi
