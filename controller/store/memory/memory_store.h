#pragma once

#include <memory>

#include "controller/api/scheme.h"
#include "controller/base/clock.h"
#include "controller/store/store.h"
#include "controller/store/store_engine.h"

namespace visi {

// The Store with no durability: the same engine, committing in memory. For
// unit tests of logic and for the hollow scale benchmarks.
std::unique_ptr<Store> NewMemoryStore(std::shared_ptr<const Scheme> scheme, Clock* clock,
                                      StoreOptions opts = {});

}  // namespace visi
