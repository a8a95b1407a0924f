#include "controller/store/etcd/etcd_store.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <random>

#include "controller/base/base64.h"
#include "controller/store/etcd/etcd_client.h"
#include "controller/store/etcd/etcd_keyspace.h"
#include "controller/store/etcd/etcd_watcher.h"
#include "controller/store/object_rules.h"
#include "controller/store/store_engine.h"

namespace visi {
namespace {

// Writes that lose a race re-read and try again this often before giving up
// with Conflict (only writes without a resourceVersion retry at all).
constexpr int kMaxWriteAttempts = 64;
// Keys read per range request when listing without a limit.
constexpr int64_t kListChunk = 500;

// What a write makes of the current object.
struct Change {
  std::shared_ptr<Object> next;
  bool remove = false;     // delete the key
  bool unchanged = false;  // nothing to write: the current object is the answer
};

// A key's current object and the mod_revision it was read at; null object:
// there is none.
struct Current {
  ObjectPtr object;
  int64_t mod_revision = 0;
};

// Continue tokens carry the list's revision, so that every page reads the
// same snapshot: base64("etcd1:REVISION:Kind/namespace/name").
std::string EncodeContinue(int64_t revision, std::string_view last_key) {
  return Base64Encode("etcd1:" + std::to_string(revision) + ":" + std::string(last_key));
}

struct ContinuePoint {
  int64_t revision = 0;
  std::string after;  // the relative key the previous page ended with
};

std::optional<ContinuePoint> DecodeContinue(const std::string& token, const std::string& prefix) {
  auto decoded = Base64Decode(token);
  if (!decoded || decoded->rfind("etcd1:", 0) != 0) return std::nullopt;
  size_t colon = decoded->find(':', 6);
  if (colon == std::string::npos || colon == 6 || colon - 6 > 18) return std::nullopt;
  ContinuePoint p;
  for (size_t i = 6; i < colon; ++i) {
    char c = (*decoded)[i];
    if (c < '0' || c > '9') return std::nullopt;
    p.revision = p.revision * 10 + (c - '0');
  }
  p.after = decoded->substr(colon + 1);
  if (p.revision <= 0 || p.after.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  return p;
}

class EtcdStore final : public Store {
 public:
  EtcdStore(std::shared_ptr<EtcdClient> client, const EtcdStoreOptions& options,
            std::shared_ptr<const Scheme> scheme, Clock* clock)
      : client_(std::move(client)),
        keys_(options.prefix),
        options_(options),
        scheme_(std::move(scheme)),
        clock_(clock),
        rng_(std::random_device{}()) {}

  ~EtcdStore() override {
    std::lock_guard lock(mu_);
    for (auto& w : channels_) {
      if (auto ch = w.lock()) ch->Fail(UnavailableError("store closed"));
    }
  }

  StatusOr<ObjectPtr> Create(Object o) override {
    VISI_ASSIGN_OR_RETURN(bool generate, PrepareCreate(*scheme_, *clock_, &o));
    {
      std::lock_guard lock(mu_);
      o.metadata.uid = NewUid(rng_);
    }
    for (int attempt = 0; attempt < (generate ? 16 : 1); ++attempt) {
      if (generate) {
        std::lock_guard lock(mu_);
        o.metadata.name = GenerateName(o.metadata.generate_name, rng_);
      }
      std::string key = keys_.Key(o.kind, o.metadata.namespace_, o.metadata.name);
      std::string text = EtcdKeyspace::Encode(o);
      VISI_RETURN_IF_ERROR(CheckObjectSize(*scheme_, o, text.size()));
      VISI_ASSIGN_OR_RETURN(EtcdTxnResponse r,
                            client_->Txn({{key, EtcdCompare::Target::kCreateRevision, 0}},
                                         {{EtcdOp::Type::kPut, key, std::move(text)}}, {}));
      Observe(r.revision);
      if (r.succeeded) {
        o.metadata.resource_version = static_cast<uint64_t>(r.revision);
        MaybeCompact(r.revision);
        return ObjectPtr(std::make_shared<Object>(std::move(o)));
      }
    }
    return AlreadyExistsFor(*scheme_, o.kind, o.metadata.name);
  }

  StatusOr<ObjectPtr> Get(std::string_view kind, std::string_view ns,
                          std::string_view name) override {
    VISI_ASSIGN_OR_RETURN(Current cur, Read(keys_.Key(kind, ns, name)));
    if (!cur.object) return NotFoundFor(*scheme_, kind, name);
    return cur.object;
  }

  StatusOr<ListResult> List(const ListOptions& opts) override;

  StatusOr<ObjectPtr> Update(Object o) override {
    VISI_RETURN_IF_ERROR(PrepareUpdate(*scheme_, &o));
    Preconditions pre = PreconditionsOf(o.metadata);
    return Mutate(o.kind, o.metadata.namespace_, o.metadata.name, pre,
                  [&](const Object& cur) -> StatusOr<Change> {
                    VISI_ASSIGN_OR_RETURN(std::shared_ptr<Object> next, MergeUpdate(cur, o));
                    return Change{next, RemovedByUpdate(*next), *next == cur};
                  });
  }

  StatusOr<ObjectPtr> UpdateStatus(Object o) override {
    VISI_RETURN_IF_ERROR(scheme_->ValidateStatus(&o));
    Preconditions pre = PreconditionsOf(o.metadata);
    return Mutate(o.kind, o.metadata.namespace_, o.metadata.name, pre,
                  [&](const Object& cur) -> StatusOr<Change> {
                    auto next = std::make_shared<Object>(cur);
                    next->status = o.status;
                    return Change{next, false, o.status == cur.status};
                  });
  }

  StatusOr<ObjectPtr> Delete(std::string_view kind, std::string_view ns, std::string_view name,
                             const Preconditions& pre) override {
    if (!scheme_->ByKind(kind)) return NotFoundError("unknown kind \"" + std::string(kind) + "\"");
    return Mutate(kind, ns, name, pre, [&](const Object& cur) -> StatusOr<Change> {
      DeletePlan plan = PlanDelete(cur, pre.propagation, clock_->Now());
      return Change{plan.next, plan.remove, plan.unchanged};
    });
  }

  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) override;

  uint64_t CurrentRevision() override {
    EtcdRangeRequest r;
    r.key = keys_.prefix();
    r.limit = 1;
    r.count_only = true;
    auto got = client_->Range(r);
    if (got.ok()) Observe(got->revision);
    return revision_.load();  // the last one seen when no member answers
  }

 private:
  StatusOr<Current> Read(const std::string& key) {
    EtcdRangeRequest request;
    request.key = key;
    VISI_ASSIGN_OR_RETURN(EtcdRangeResponse r, client_->Range(request));
    Observe(r.revision);
    return ToCurrent(r);
  }

  StatusOr<Current> ToCurrent(const EtcdRangeResponse& r) {
    if (r.kvs.empty()) return Current{};
    VISI_ASSIGN_OR_RETURN(ObjectPtr o, keys_.Decode(r.kvs.front()));
    return Current{o, r.kvs.front().mod_revision};
  }

  // Read, decide, then write conditioned on the key not having changed
  // since the read; on a lost race, decide again against the newer object
  // (whose resourceVersion then fails a resourceVersion precondition).
  StatusOr<ObjectPtr> Mutate(std::string_view kind, std::string_view ns, std::string_view name,
                             const Preconditions& pre,
                             const std::function<StatusOr<Change>(const Object&)>& decide) {
    std::string key = keys_.Key(kind, ns, name);
    VISI_ASSIGN_OR_RETURN(Current cur, Read(key));
    for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
      if (!cur.object) return NotFoundFor(*scheme_, kind, name);
      VISI_RETURN_IF_ERROR(CheckPreconditions(*scheme_, *cur.object, pre));
      VISI_ASSIGN_OR_RETURN(Change c, decide(*cur.object));
      if (c.unchanged) return cur.object;
      EtcdOp op{EtcdOp::Type::kDelete, key, {}};
      if (!c.remove) {
        std::string text = EtcdKeyspace::Encode(*c.next);
        VISI_RETURN_IF_ERROR(CheckObjectSize(*scheme_, *c.next, text.size()));
        op = {EtcdOp::Type::kPut, key, std::move(text)};
      }
      VISI_ASSIGN_OR_RETURN(
          EtcdTxnResponse r,
          client_->Txn({{key, EtcdCompare::Target::kModRevision, cur.mod_revision}}, {op},
                       {{EtcdOp::Type::kRange, key, {}}}));
      Observe(r.revision);
      if (r.succeeded) {
        c.next->metadata.resource_version = static_cast<uint64_t>(r.revision);
        MaybeCompact(r.revision);
        return ObjectPtr(c.next);
      }
      if (r.responses.empty()) return InternalError("etcd answered a failed txn without its range");
      VISI_ASSIGN_OR_RETURN(cur, ToCurrent(r.responses.front()));
    }
    return ConflictError("Operation cannot be fulfilled on " +
                         DescribeObject(*scheme_, kind, name) +
                         ": too many concurrent writers; try again");
  }

  // Compacts etcd's history down to the retained revisions, now and then.
  void MaybeCompact(int64_t revision) {
    if (options_.retained_revisions == 0) return;
    int64_t retained = static_cast<int64_t>(options_.retained_revisions);
    int64_t target = revision - retained;
    int64_t step = std::max<int64_t>(1, retained / 16);
    std::unique_lock lock(compact_mu_, std::try_to_lock);
    if (!lock.owns_lock() || target < compacted_ + step) return;
    Status s = client_->Compact(target);
    // kGone: someone compacted further already. Anything else: next time.
    if (s.ok() || s.code() == Code::kGone) compacted_ = target;
  }

  void Observe(int64_t revision) {
    uint64_t r = static_cast<uint64_t>(std::max<int64_t>(revision, 0));
    uint64_t seen = revision_.load();
    while (r > seen && !revision_.compare_exchange_weak(seen, r)) {
    }
  }

  // Offers every object under `prefix` at one revision (0: the newest) to
  // `visit`, in key order, a chunk at a time; returns the revision.
  StatusOr<int64_t> Scan(const std::string& start, const std::string& end, int64_t revision,
                         int64_t chunk, const std::function<StatusOr<bool>(ObjectPtr)>& visit);

  const std::shared_ptr<EtcdClient> client_;
  const EtcdKeyspace keys_;
  const EtcdStoreOptions options_;
  const std::shared_ptr<const Scheme> scheme_;
  Clock* const clock_;
  std::atomic<uint64_t> revision_{0};  // the newest revision seen

  std::mutex mu_;
  std::mt19937_64 rng_;                                // GUARDED_BY(mu_)
  std::vector<std::weak_ptr<WatchChannel>> channels_;  // GUARDED_BY(mu_)
  std::mutex compact_mu_;
  int64_t compacted_ = 0;  // GUARDED_BY(compact_mu_)
};

StatusOr<int64_t> EtcdStore::Scan(const std::string& start, const std::string& end,
                                  int64_t revision, int64_t chunk,
                                  const std::function<StatusOr<bool>(ObjectPtr)>& visit) {
  EtcdRangeRequest r{.key = start, .range_end = end, .limit = chunk, .revision = revision};
  while (true) {
    auto page = client_->Range(r);
    if (!page.ok()) {
      if (page.status().code() == Code::kGone && r.revision > 0) {
        return GoneError("the list's revision " + std::to_string(r.revision) +
                         " is compacted away; start the list again");
      }
      return page.status();
    }
    Observe(page->revision);
    if (r.revision == 0) r.revision = page->revision;
    for (const auto& kv : page->kvs) {
      VISI_ASSIGN_OR_RETURN(ObjectPtr o, keys_.Decode(kv));
      VISI_ASSIGN_OR_RETURN(bool more, visit(std::move(o)));
      if (!more) return r.revision;
    }
    if (!page->more || page->kvs.empty()) return r.revision;
    r.key = page->kvs.back().key + '\0';
  }
}

StatusOr<ListResult> EtcdStore::List(const ListOptions& opts) {
  if (!scheme_->ByKind(opts.kind)) return NotFoundError("unknown kind \"" + opts.kind + "\"");
  if (opts.limit < 0) return BadRequestError("limit must not be negative");
  const std::string prefix = keys_.KindPrefix(opts.kind, opts.namespace_);
  const std::string relative_prefix(keys_.Relative(prefix));
  std::string start = prefix;
  int64_t revision = 0;
  if (!opts.continue_token.empty()) {
    auto point = DecodeContinue(opts.continue_token, relative_prefix);
    if (!point) {
      return BadRequestError(
          "invalid continue token: it does not belong to this list; start again without it");
    }
    revision = point->revision;
    start = keys_.prefix() + point->after + '\0';
  }
  ListResult out;
  bool full = false;  // `limit` items taken
  bool more = false;  // and another one matches: the next page starts there
  int64_t chunk = opts.limit > 0 ? std::min(opts.limit + 1, kListChunk) : kListChunk;
  auto scanned =
      Scan(start, PrefixEnd(prefix), revision, chunk, [&](ObjectPtr o) -> StatusOr<bool> {
        if (!opts.labels.Matches(o->metadata.labels) || !opts.fields.Matches(*o)) return true;
        if (full) {
          more = true;
          return false;
        }
        out.items.push_back(std::move(o));
        full = opts.limit > 0 && static_cast<int64_t>(out.items.size()) == opts.limit;
        return true;
      });
  if (!scanned.ok() && revision > 0 && scanned.status().code() == Code::kDeadlineExceeded) {
    // A token's revision this etcd never reached: it was not made here.
    return BadRequestError(
        "invalid continue token: its revision is from the future; start again without it");
  }
  VISI_ASSIGN_OR_RETURN(int64_t at, std::move(scanned));
  out.resource_version = static_cast<uint64_t>(at);
  if (more) {
    // The token resumes after the last returned key, at the same revision.
    const Object& last = *out.items.back();
    out.continue_token = EncodeContinue(
        at, StoreEngine::Key(last.kind, last.metadata.namespace_, last.metadata.name));
  }
  return out;
}

StatusOr<std::unique_ptr<Watcher>> EtcdStore::Watch(const WatchOptions& opts) {
  if (!scheme_->ByKind(opts.kind)) return NotFoundError("unknown kind \"" + opts.kind + "\"");
  const std::string prefix = keys_.KindPrefix(opts.kind, opts.namespace_);
  WatchOptions channel_opts = opts;
  channel_opts.bookmarks = false;  // the watcher sends them: it knows the stream's progress
  static const std::atomic<uint64_t> kUnused{0};
  auto channel = std::make_shared<WatchChannel>(channel_opts, options_.watch_buffer, &kUnused);
  uint64_t from = opts.resource_version.value_or(0);
  if (from == 0) {
    // The current objects, at one revision; changes follow from the next.
    VISI_ASSIGN_OR_RETURN(
        int64_t at,
        Scan(prefix, PrefixEnd(prefix), 0, kListChunk, [&](ObjectPtr o) -> StatusOr<bool> {
          uint64_t rv = o->metadata.resource_version;
          channel->Offer(EventType::kAdded, nullptr, o, nullptr, rv, /*bounded=*/false);
          return true;
        }));
    from = static_cast<uint64_t>(at);
  } else {
    // A read at `from` fails exactly when etcd no longer has that revision
    // (compacted: Gone) or does not have it yet.
    EtcdRangeRequest probe{.key = prefix,
                           .range_end = PrefixEnd(prefix),
                           .limit = 1,
                           .revision = static_cast<int64_t>(from),
                           .count_only = true};
    auto r = client_->Range(probe);
    if (!r.ok() && r.status().code() == Code::kGone) {
      return GoneError("too old resource version: " + std::to_string(from) +
                       " (etcd has compacted its history past it)");
    }
    if (!r.ok() && r.status().code() == Code::kDeadlineExceeded) {
      return Status(Code::kDeadlineExceeded, "too large resource version: " + std::to_string(from) +
                                                 ", current: " + std::to_string(CurrentRevision()));
    }
    if (!r.ok()) return r.status();
    Observe(r->revision);
  }
  {
    std::lock_guard lock(mu_);
    std::erase_if(channels_, [](const auto& w) { return w.expired(); });
    channels_.push_back(channel);
  }
  EtcdWatchRequest request{.key = prefix, .range_end = PrefixEnd(prefix)};
  return std::unique_ptr<Watcher>(std::make_unique<EtcdWatcher>(client_, keys_, std::move(channel),
                                                                std::move(request), from, opts,
                                                                options_.request_timeout));
}

}  // namespace

EtcdClientOptions EtcdClientOptionsOf(const EtcdStoreOptions& options) {
  EtcdClientOptions c;
  c.endpoints = options.endpoints;
  c.tls_ca_file = options.tls_ca_file;
  c.tls_cert_file = options.tls_cert_file;
  c.tls_key_file = options.tls_key_file;
  c.request_timeout = options.request_timeout;
  return c;
}

StatusOr<std::unique_ptr<Store>> OpenEtcdStore(const EtcdStoreOptions& options,
                                               std::shared_ptr<const Scheme> scheme, Clock* clock) {
  if (options.prefix.empty() || options.prefix.back() != '/') {
    return InvalidError("etcd key prefix \"" + options.prefix + "\" must end with \"/\"");
  }
  VISI_ASSIGN_OR_RETURN(std::unique_ptr<EtcdClient> client, EtcdClient::Create(EtcdClientOptionsOf(options)));
  // A member must answer now: a store that cannot reach etcd is better
  // refused at start than failing every call.
  EtcdRangeRequest probe;
  probe.key = options.prefix;
  probe.limit = 1;
  probe.count_only = true;
  VISI_RETURN_IF_ERROR(client->Range(probe).status());
  return std::unique_ptr<Store>(std::make_unique<EtcdStore>(
      std::shared_ptr<EtcdClient>(std::move(client)), options, std::move(scheme), clock));
}

}  // namespace visi
