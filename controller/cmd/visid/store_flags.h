#pragma once

#include <memory>
#include <string>

#include "controller/base/statusor.h"
#include "controller/store/etcd/etcd_store.h"
#include "controller/store/store.h"
#include "controller/store/store_engine.h"

namespace CLI {
class App;
}

namespace visi {

// visid's store flags: --store and the etcd connection (docs/store.md).
struct StoreFlags {
  std::string store;  // "" or "sqlite": DATA_DIR/store.db; "etcd://HOST:PORT[,...]" or "etcd+https://..."
  std::string etcd_prefix = "/visi/";
  std::string etcd_ca, etcd_cert, etcd_key;
  uint64_t etcd_compact_retention = 0;  // revisions; 0: visid never compacts etcd
};

void AddStoreFlags(CLI::App* app, StoreFlags* flags);
// Whether the flags name a store over the network (etcd), not a file.
inline bool StoreIsRemote(const StoreFlags& flags) { return flags.store.rfind("etcd", 0) == 0; }
// Only the etcd connection flags (--etcd-prefix, --etcd-ca, --etcd-cert,
// --etcd-key), for commands that name the store otherwise.
void AddEtcdFlags(CLI::App* app, StoreFlags* flags);

// The etcd store options of flags.store (an etcd URL) and the etcd flags.
// kInvalid naming the flag.
StatusOr<EtcdStoreOptions> EtcdOptionsFromFlags(const StoreFlags& flags);

// Checks the flags without contacting anything (before visid creates its
// data directory). kInvalid naming the flag.
Status CheckStoreFlags(const StoreFlags& flags);

// Opens the store the flags name; `where` says which, for the log
// ("sqlite DATA_DIR/store.db", "etcd http://..."). Errors name the flag.
StatusOr<std::unique_ptr<Store>> OpenStoreFromFlags(const StoreFlags& flags, const std::string& data_dir,
                                                    const StoreOptions& options, std::string* where);

}  // namespace visi
