#pragma once

#include <memory>
#include <string>

#include "controller/api/scheme.h"
#include "controller/base/clock.h"
#include "controller/store/store.h"
#include "controller/store/store_engine.h"

namespace visi {

// Opens (creating if needed) the embedded store in the SQLite database at
// `path` (WAL mode, synchronous=FULL: a write is on disk before it is
// acknowledged; concurrent writes share one sync). One process at a time:
// Unavailable when another process holds the database. Refuses, with the
// row named, a database whose contents do not decode.
StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                 std::shared_ptr<const Scheme> scheme,
                                                 Clock* clock, StoreOptions opts = {});

}  // namespace visi
