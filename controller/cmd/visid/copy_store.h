#pragma once

#include <string>

#include "controller/cmd/visid/store_flags.h"

namespace CLI {
class App;
}

namespace visi {

// `visid copy-store`: copies every object of an embedded SQLite store into
// etcd, for moving an installation onto etcd (docs/store.md).
struct CopyStoreFlags {
  std::string from;  // DATA_DIR or DATA_DIR/store.db
  StoreFlags to;     // to.store: etcd://HOST:PORT[,...] or etcd+https://...
  bool dry_run = false;
};

// Adds the subcommand to visid's flags; returns it (parsed() says it ran).
CLI::App* AddCopyStoreCommand(CLI::App* app, CopyStoreFlags* flags);

// Runs it: 0 when everything is in etcd, 1 when the copy failed, 2 for a
// bad flag value. Says what it does on stderr, the result on stdout.
int RunCopyStore(const CopyStoreFlags& flags);

}  // namespace visi
