#include "controller/store/memory/memory_store.h"

namespace visi {

std::unique_ptr<Store> NewMemoryStore(std::shared_ptr<const Scheme> scheme, Clock* clock,
                                      StoreOptions opts) {
  return std::make_unique<StoreEngine>(std::move(scheme), clock, opts, nullptr, JournalState{});
}

}  // namespace visi
