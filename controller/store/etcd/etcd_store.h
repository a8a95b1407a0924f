#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "controller/api/scheme.h"
#include "controller/base/clock.h"
#include "controller/base/statusor.h"
#include "controller/store/store.h"

namespace visi {

// Where the etcd store is and how to reach it.
struct EtcdStoreOptions {
  // Client URLs of the cluster's members: "http://127.0.0.1:2379" or
  // "https://host:2379". Requests go to one member and move to the next
  // when it does not answer.
  std::vector<std::string> endpoints;
  // Every key the store writes starts with this, so several installations
  // can share one etcd ("/visi/" then "Kind/namespace/name").
  std::string prefix = "/visi/";
  // TLS: the CA that signed the members' certificates, and the client
  // certificate and key etcd asks for with --client-cert-auth (PEM files).
  // Empty: the system's CAs, no client certificate.
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  // Bounds every request but watches.
  std::chrono::milliseconds request_timeout{10000};
  // Events buffered per watcher: one that falls this far behind is told
  // Gone, as in the embedded store (StoreOptions::watch_buffer).
  size_t watch_buffer = 4096;
  // The history watches can resume from, in revisions: after a write, the
  // store compacts etcd to this many revisions below the newest (in steps of
  // a sixteenth of it). 0: the store never compacts, and etcd's
  // --auto-compaction-* settings (or an operator) must.
  uint64_t retained_revisions = 0;
};

struct EtcdClientOptions;
// The client options of a store's: members, TLS files, request timeout.
EtcdClientOptions EtcdClientOptionsOf(const EtcdStoreOptions& options);

// Parses visid's --store value "etcd://HOST:PORT[,HOST:PORT...]" (or
// "etcd+https://..." for TLS) into endpoints. kInvalid naming the flag.
StatusOr<std::vector<std::string>> ParseEtcdStoreUrl(const std::string& url);

// The Store on etcd v3, through its JSON gateway (docs/store.md, "etcd"):
// resourceVersion is etcd's revision (an object's is its mod_revision);
// creates, updates and deletes are transactions conditioned on the key's
// create_revision / mod_revision, so several visid on one etcd never
// overwrite each other; lists are linearizable range reads at one revision,
// paged with continue tokens; watches start at a revision, and a revision
// etcd has compacted away gives Gone (410). Validation, defaulting,
// finalizers and selectors behave exactly as in the embedded store (the
// contract suite runs against both). Checks that a member answers.
StatusOr<std::unique_ptr<Store>> OpenEtcdStore(const EtcdStoreOptions& options,
                                               std::shared_ptr<const Scheme> scheme, Clock* clock);

}  // namespace visi
