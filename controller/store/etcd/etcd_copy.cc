#include "controller/store/etcd/etcd_copy.h"

#include <vector>

#include "controller/store/etcd/etcd_client.h"
#include "controller/store/etcd/etcd_keyspace.h"

namespace visi {
namespace {

// Puts per transaction, and their bytes: well under etcd's --max-txn-ops
// (128) and --max-request-bytes (1.5 MiB) by default.
constexpr size_t kBatch = 64;
constexpr size_t kBatchBytes = 512 * 1024;
// Keys read per range request when reading what etcd holds.
constexpr int64_t kChunk = 500;

struct Source {
  std::string key;
  ObjectPtr object;
  std::string text;
};

// Every object of every kind of `scheme` in `from`, with its etcd key.
StatusOr<std::vector<Source>> ReadSource(Store& from, const Scheme& scheme, const EtcdKeyspace& keys,
                                         EtcdCopyReport* report) {
  std::vector<Source> out;
  for (const KindInfo& k : scheme.kinds()) {
    ListOptions opts;
    opts.kind = k.kind;
    opts.limit = 1000;
    do {
      auto page = from.List(opts);
      if (!page.ok()) return Status(page.status().code(), "reading " + k.kind + ": " + page.status().message());
      for (ObjectPtr& o : page->items) {
        out.push_back({keys.Key(o->kind, o->metadata.namespace_, o->metadata.name), o, EtcdKeyspace::Encode(*o)});
        ++report->objects[k.kind];
      }
      opts.continue_token = page->continue_token;
    } while (!opts.continue_token.empty());
  }
  return out;
}

// Whether etcd's `kv` holds the same object as `want` (resourceVersions
// aside: etcd's are its own).
bool Same(const EtcdKeyspace& keys, const EtcdKeyValue& kv, const Object& want) {
  if (kv.value == EtcdKeyspace::Encode(want)) return true;
  auto got = keys.Decode(kv, 0);
  if (!got.ok()) return false;
  Object a = **got, b = want;
  a.metadata.resource_version = b.metadata.resource_version = 0;
  return a == b;
}

std::string Describe(const Object& o) {
  return o.kind + " " + (o.metadata.namespace_.empty() ? "" : o.metadata.namespace_ + "/") + o.metadata.name;
}

}  // namespace

StatusOr<EtcdCopyReport> CopyStoreToEtcd(Store& from, const Scheme& scheme, const EtcdStoreOptions& to, bool dry_run,
                                         const std::function<void(const std::string&)>& progress) {
  if (to.prefix.empty() || to.prefix.front() != '/' || to.prefix.back() != '/') {
    return InvalidError("etcd key prefix \"" + to.prefix + "\" must start and end with \"/\"");
  }
  VISI_ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client, EtcdClient::Create(EtcdClientOptionsOf(to)));
  const EtcdKeyspace keys(to.prefix);
  EtcdCopyReport report;
  VISI_ASSIGN_OR_RETURN(std::vector<Source> source, ReadSource(from, scheme, keys, &report));
  progress("read " + std::to_string(source.size()) + " objects from the source store");

  // What etcd holds under the prefix, at one revision.
  std::map<std::string, EtcdKeyValue> existing;
  EtcdRangeRequest r{.key = to.prefix, .range_end = PrefixEnd(to.prefix), .limit = kChunk};
  while (true) {
    VISI_ASSIGN_OR_RETURN(EtcdRangeResponse page, client->Range(r));
    report.revision = page.revision;
    r.revision = page.revision;
    for (auto& kv : page.kvs) existing.emplace(kv.key, std::move(kv));
    if (!page.more || page.kvs.empty()) break;
    r.key = existing.rbegin()->first + '\0';
  }
  std::vector<const Source*> missing;
  std::vector<std::string> conflicts;
  for (const Source& s : source) {
    auto it = existing.find(s.key);
    if (it == existing.end()) {
      missing.push_back(&s);
    } else if (Same(keys, it->second, *s.object)) {
      ++report.already;
      existing.erase(it);
    } else {
      conflicts.push_back(Describe(*s.object));
      existing.erase(it);
    }
  }
  // What is left is not the source's at all: another installation, or
  // objects made on etcd since an earlier copy. Never merged into.
  for (const auto& [key, kv] : existing) conflicts.push_back(std::string(keys.Relative(key)));
  if (!conflicts.empty()) {
    std::string names;
    for (size_t i = 0; i < conflicts.size() && i < 5; ++i) names += (i ? ", " : "") + conflicts[i];
    if (conflicts.size() > 5) names += " and " + std::to_string(conflicts.size() - 5) + " more";
    return ConflictError("etcd already holds objects under " + to.prefix + " that are not the source's: " + names +
                         " (nothing was copied; copy into an empty prefix, --etcd-prefix, or delete those)");
  }
  if (report.already > 0) {
    progress(std::to_string(report.already) + " objects are in etcd already (an earlier copy)");
  }
  if (dry_run) return report;

  // Each transaction puts its keys only if none of them exists.
  auto put = [&](const std::vector<const Source*>& batch) -> StatusOr<bool> {
    std::vector<EtcdCompare> compares;
    std::vector<EtcdOp> ops;
    for (const Source* s : batch) {
      compares.push_back({s->key, EtcdCompare::Target::kCreateRevision, 0});
      ops.push_back({EtcdOp::Type::kPut, s->key, s->text});
    }
    VISI_ASSIGN_OR_RETURN(EtcdTxnResponse t, client->Txn(compares, ops, {}));
    report.revision = std::max(report.revision, t.revision);
    return t.succeeded;
  };
  for (size_t i = 0; i < missing.size();) {
    std::vector<const Source*> batch;
    size_t bytes = 0;
    for (; i < missing.size() && batch.size() < kBatch; ++i) {
      bytes += missing[i]->key.size() + missing[i]->text.size();
      if (!batch.empty() && bytes > kBatchBytes) break;
      batch.push_back(missing[i]);
    }
    VISI_ASSIGN_OR_RETURN(bool all, put(batch));
    if (all) {
      report.copied += batch.size();
    } else {
      // A key appeared since the read (a visid writing meanwhile): one at a
      // time, and that one is a conflict unless it is the same object.
      for (const Source* s : batch) {
        bool done = false;
        // A key that appears and goes again between the put and the read
        // is tried again, a few times.
        for (int attempt = 0; attempt < 3 && !done; ++attempt) {
          VISI_ASSIGN_OR_RETURN(bool one, put({s}));
          if (one) {
            ++report.copied;
            done = true;
            break;
          }
          EtcdRangeRequest read;
          read.key = s->key;
          VISI_ASSIGN_OR_RETURN(EtcdRangeResponse now, client->Range(read));
          if (now.kvs.empty()) continue;
          if (!Same(keys, now.kvs.front(), *s->object)) break;
          ++report.already;
          done = true;
        }
        if (done) continue;
        return ConflictError("etcd key of " + Describe(*s->object) +
                             " was written by someone else during the copy; " + std::to_string(report.copied) +
                             " objects were copied (run the copy again once nothing else writes under " +
                             to.prefix + ")");
      }
    }
    progress("copied " + std::to_string(report.copied) + " of " + std::to_string(missing.size()) + " objects");
  }
  return report;
}

}  // namespace visi
