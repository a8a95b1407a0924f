#include "controller/cmd/visid/controllers.h"

#include "controller/api/scheme.h"
#include "controller/runtime/garbage_collector.h"

namespace visi {

VisidControllers::VisidControllers(Store* store, ManagerOptions opts)
    : manager_(std::make_unique<Manager>(store, std::move(opts))),
      gc_(std::make_unique<GarbageCollector>(manager_.get(), Scheme::Builtin())) {}

VisidControllers::~VisidControllers() { manager_->Stop(); }

}  // namespace visi
