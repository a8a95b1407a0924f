#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "controller/api/scheme.h"
#include "controller/base/statusor.h"
#include "controller/store/etcd/etcd_store.h"
#include "controller/store/store.h"

namespace visi {

// What CopyStoreToEtcd did.
struct EtcdCopyReport {
  std::map<std::string, size_t> objects;  // per kind, in the source
  size_t copied = 0;                      // written to etcd now
  size_t already = 0;                     // etcd held the same object already
  int64_t revision = 0;                   // etcd's revision after the copy
};

// Copies every object of `from` (every kind `scheme` knows) into etcd under
// `to.prefix`, as the etcd store keeps them: uid, creationTimestamp,
// generation, labels, annotations, finalizers, ownerReferences,
// deletionTimestamp, spec and status unchanged. resourceVersions become
// etcd's revisions (clients list again, as after any store migration).
//
// Never overwrites. Before writing anything it reads what etcd holds under
// the prefix: a key holding another object than the source's is kConflict
// naming it (nothing written); a key holding the same object counts as
// already copied, so an interrupted copy can simply be run again. Writes go
// in transactions that each put only keys that do not exist, so a visid
// writing meanwhile is never overwritten either (its object then conflicts).
// `dry_run`: reads and checks only. `progress` is told what happens.
StatusOr<EtcdCopyReport> CopyStoreToEtcd(Store& from, const Scheme& scheme, const EtcdStoreOptions& to,
                                         bool dry_run,
                                         const std::function<void(const std::string&)>& progress);

}  // namespace visi
