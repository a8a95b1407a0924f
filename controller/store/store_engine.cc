#include "controller/store/store_engine.h"

#include <algorithm>

#include "controller/base/base64.h"
#include "controller/store/object_rules.h"

namespace visi {

std::string StoreEngine::Key(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(kind.size() + ns.size() + name.size() + 2);
  k.append(kind).append("/").append(ns).append("/").append(name);
  return k;
}

StoreEngine::StoreEngine(std::shared_ptr<const Scheme> scheme, Clock* clock, StoreOptions opts,
                         std::unique_ptr<Journal> journal, JournalState state)
    : scheme_(std::move(scheme)), clock_(clock), opts_(opts), journal_(std::move(journal)),
      rng_(std::random_device{}()) {
  for (auto& o : state.objects) {
    committed_[Key(o->kind, o->metadata.namespace_, o->metadata.name)] = o;
  }
  // Rebuild history; a change's previous state is known when it is retained.
  std::unordered_map<std::string, ObjectPtr> last;
  for (auto& m : state.base) last[m.key] = m.type == EventType::kDeleted ? nullptr : m.object;
  for (auto& m : state.log) {
    auto it = last.find(m.key);
    ObjectPtr prev = it == last.end() ? nullptr : it->second;
    history_.push_back({m.type, m.key, prev, m.object, nullptr, m.rv});
    last[m.key] = m.type == EventType::kDeleted ? nullptr : m.object;
  }
  next_rv_ = state.revision;
  compacted_ = history_.empty() ? state.revision : state.compacted;
  while (history_.size() > opts_.history_limit) {
    compacted_ = history_.front().rv;
    history_.pop_front();
  }
  revision_.store(state.revision);
}

StoreEngine::~StoreEngine() {
  // REQUIRES: no call in progress; writes are committed by their callers.
  std::lock_guard lock(mu_);
  for (auto& [kind, chans] : watchers_) {
    for (auto& ch : chans) ch->Fail(UnavailableError("store closed"));
  }
}

std::string StoreEngine::NewUid() { return ::visi::NewUid(rng_); }

ObjectPtr StoreEngine::LatestLocked(const std::string& key) const {
  if (auto it = pending_.find(key); it != pending_.end()) return it->second.object;
  auto it = committed_.find(key);
  return it == committed_.end() ? nullptr : it->second;
}

Status StoreEngine::Submit(std::unique_lock<std::mutex>& lock, EventType type, std::string key,
                           std::shared_ptr<Object> obj) {
  InFlight self;
  Mutation& m = self.mutation;
  obj->metadata.resource_version = next_rv_ + 1;
  m.text = std::make_shared<const std::string>(ObjectToJsonText(*obj));
  VISI_RETURN_IF_ERROR(CheckObjectSize(*scheme_, *obj, m.text->size()));
  m.rv = ++next_rv_;
  m.type = type;
  m.key = std::move(key);
  m.object = obj;
  if (!journal_) {
    ApplyLocked(m);
    return OkStatus();
  }
  pending_[m.key] = Pending{type == EventType::kDeleted ? nullptr : ObjectPtr(obj), m.rv};
  std::unique_lock ql(queue_mu_);
  queue_.push_back(&self);
  lock.unlock();
  self.cv.wait(ql, [&] { return self.done || queue_.front() == &self; });
  if (!self.done) LeadCommit(ql, &self);
  return self.status;
}

void StoreEngine::LeadCommit(std::unique_lock<std::mutex>& ql, InFlight* self) {
  // Everything queued so far rides in this commit; later writers queue
  // behind it and the first of them leads the next one.
  std::vector<InFlight*> batch(queue_.begin(),
                               queue_.begin() + std::min(queue_.size(), opts_.max_batch));
  ql.unlock();
  std::vector<const Mutation*> muts;
  muts.reserve(batch.size());
  for (InFlight* f : batch) muts.push_back(&f->mutation);
  // The journal keeps the same window of history as memory, trimmed in
  // steps so that most commits do not touch old rows.
  uint64_t newest = batch.back()->mutation.rv;
  uint64_t window = opts_.history_limit * 2;
  uint64_t compact_to = 0;
  if (newest > window && newest - window > last_compaction_ + 512) compact_to = newest - window;
  Status s = journal_->Append(muts, compact_to);
  if (s.ok()) {
    if (compact_to) last_compaction_ = compact_to;
    commits_.fetch_add(1);
    committed_mutations_.fetch_add(muts.size());
  }
  std::unique_lock lock(mu_);
  if (s.ok()) {
    for (const Mutation* m : muts) {
      ApplyLocked(*m);
      auto it = pending_.find(m->key);
      if (it != pending_.end() && it->second.rv == m->rv) pending_.erase(it);
    }
  } else {
    // Queued writes were decided against the failed ones: fail them too,
    // and decide later writes against what is durable.
    pending_.clear();
  }
  ql.lock();
  lock.unlock();
  size_t finished = s.ok() ? batch.size() : queue_.size();
  for (size_t i = 0; i < finished; ++i) {
    InFlight* f = queue_.front();
    queue_.pop_front();
    f->status = i < batch.size() ? s : UnavailableError("not written: an earlier write failed: " + s.message());
    f->done = true;
    if (f != self) f->cv.notify_one();
  }
  if (!queue_.empty()) queue_.front()->cv.notify_one();  // the next leader
}

void StoreEngine::ApplyLocked(const Mutation& m) {
  ObjectPtr prev;
  if (auto it = committed_.find(m.key); it != committed_.end()) {
    prev = it->second;
    if (m.type == EventType::kDeleted) {
      committed_.erase(it);
    } else {
      it->second = m.object;
    }
  } else if (m.type != EventType::kDeleted) {
    committed_.emplace(m.key, m.object);
  }
  history_.push_back({m.type, m.key, prev, m.object, m.text, m.rv});
  while (history_.size() > opts_.history_limit) {
    compacted_ = history_.front().rv;
    history_.pop_front();
  }
  if (auto it = watchers_.find(m.object->kind); it != watchers_.end()) {
    auto& chans = it->second;
    for (size_t i = 0; i < chans.size();) {
      if (chans[i]->stopped()) {
        chans[i] = chans.back();
        chans.pop_back();
        continue;
      }
      chans[i]->Offer(m.type, prev, m.object, m.text, m.rv, /*bounded=*/true);
      ++i;
    }
  }
  revision_.store(m.rv, std::memory_order_release);
}

StatusOr<ObjectPtr> StoreEngine::Create(Object o) {
  VISI_ASSIGN_OR_RETURN(bool generate, PrepareCreate(*scheme_, *clock_, &o));
  std::unique_lock lock(mu_);
  std::string key;
  if (generate) {
    for (int attempt = 0; attempt < 16; ++attempt) {
      o.metadata.name = GenerateName(o.metadata.generate_name, rng_);
      key = Key(o.kind, o.metadata.namespace_, o.metadata.name);
      if (!LatestLocked(key)) break;
    }
  } else {
    key = Key(o.kind, o.metadata.namespace_, o.metadata.name);
  }
  if (LatestLocked(key)) return AlreadyExistsFor(*scheme_, o.kind, o.metadata.name);
  o.metadata.uid = NewUid();
  auto obj = std::make_shared<Object>(std::move(o));
  VISI_RETURN_IF_ERROR(Submit(lock, EventType::kAdded, std::move(key), obj));
  return ObjectPtr(obj);
}

StatusOr<ObjectPtr> StoreEngine::Get(std::string_view kind, std::string_view ns,
                                     std::string_view name) {
  std::lock_guard lock(mu_);
  auto it = committed_.find(Key(kind, ns, name));
  if (it == committed_.end()) return NotFoundFor(*scheme_, kind, name);
  return it->second;
}

StatusOr<ListResult> StoreEngine::List(const ListOptions& opts) {
  if (!scheme_->ByKind(opts.kind)) return NotFoundError("unknown kind \"" + opts.kind + "\"");
  if (opts.limit < 0) return BadRequestError("limit must not be negative");
  const std::string prefix = opts.namespace_.empty() ? opts.kind + "/" : Key(opts.kind, opts.namespace_, "");
  std::string after;
  if (!opts.continue_token.empty()) {
    auto decoded = Base64Decode(opts.continue_token);
    if (!decoded || decoded->rfind("v1:", 0) != 0 || decoded->compare(3, prefix.size(), prefix) != 0) {
      return BadRequestError("invalid continue token: it does not belong to this list; start again without it");
    }
    after = decoded->substr(3);
  }
  ListResult out;
  std::lock_guard lock(mu_);
  out.resource_version = revision_.load(std::memory_order_relaxed);
  auto it = after.empty() ? committed_.lower_bound(prefix) : committed_.upper_bound(after);
  for (; it != committed_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    const Object& o = *it->second;
    if (!opts.labels.Matches(o.metadata.labels) || !opts.fields.Matches(o)) continue;
    if (opts.limit > 0 && static_cast<int64_t>(out.items.size()) == opts.limit) {
      // The token resumes after the last returned key, which is exact
      // whether or not the skipped keys between matched.
      out.continue_token = Base64Encode("v1:" + Key(out.items.back()->kind,
                                                    out.items.back()->metadata.namespace_,
                                                    out.items.back()->metadata.name));
      break;
    }
    out.items.push_back(it->second);
  }
  return out;
}

StatusOr<ObjectPtr> StoreEngine::CheckedLatestLocked(const std::string& key, std::string_view kind,
                                                     std::string_view name,
                                                     const Preconditions& pre) const {
  ObjectPtr cur = LatestLocked(key);
  if (!cur) return NotFoundFor(*scheme_, kind, name);
  VISI_RETURN_IF_ERROR(CheckPreconditions(*scheme_, *cur, pre));
  return cur;
}

StatusOr<ObjectPtr> StoreEngine::Update(Object o) {
  VISI_RETURN_IF_ERROR(PrepareUpdate(*scheme_, &o));
  std::unique_lock lock(mu_);
  std::string key = Key(o.kind, o.metadata.namespace_, o.metadata.name);
  VISI_ASSIGN_OR_RETURN(ObjectPtr cur, CheckedLatestLocked(key, o.kind, o.metadata.name,
                                                           PreconditionsOf(o.metadata)));
  VISI_ASSIGN_OR_RETURN(std::shared_ptr<Object> next, MergeUpdate(*cur, std::move(o)));
  // Nothing changed: no new revision, unless the state it matches is itself
  // still in flight (then it is written again, so the reply waits until the
  // state is durable: an acknowledged state is always on disk).
  if (*next == *cur && !pending_.count(key)) return cur;
  EventType type = RemovedByUpdate(*next) ? EventType::kDeleted : EventType::kModified;
  VISI_RETURN_IF_ERROR(Submit(lock, type, std::move(key), next));
  return ObjectPtr(next);
}

StatusOr<ObjectPtr> StoreEngine::UpdateStatus(Object o) {
  VISI_RETURN_IF_ERROR(scheme_->ValidateStatus(&o));
  std::unique_lock lock(mu_);
  std::string key = Key(o.kind, o.metadata.namespace_, o.metadata.name);
  VISI_ASSIGN_OR_RETURN(ObjectPtr cur, CheckedLatestLocked(key, o.kind, o.metadata.name,
                                                           PreconditionsOf(o.metadata)));
  if (o.status == cur->status && !pending_.count(key)) return cur;  // see Update
  auto next = std::make_shared<Object>(*cur);
  next->status = std::move(o.status);
  VISI_RETURN_IF_ERROR(Submit(lock, EventType::kModified, std::move(key), next));
  return ObjectPtr(next);
}

std::optional<Propagation> ParsePropagation(std::string_view s) {
  if (s == "Background") return Propagation::kBackground;
  if (s == "Foreground") return Propagation::kForeground;
  if (s == "Orphan") return Propagation::kOrphan;
  return std::nullopt;
}

StatusOr<ObjectPtr> StoreEngine::Delete(std::string_view kind, std::string_view ns,
                                        std::string_view name, const Preconditions& pre) {
  if (!scheme_->ByKind(kind)) return NotFoundError("unknown kind \"" + std::string(kind) + "\"");
  std::unique_lock lock(mu_);
  std::string key = Key(kind, ns, name);
  VISI_ASSIGN_OR_RETURN(ObjectPtr cur, CheckedLatestLocked(key, kind, name, pre));
  DeletePlan plan = PlanDelete(*cur, pre.propagation, clock_->Now());
  if (plan.unchanged && !pending_.count(key)) return cur;  // see Update
  EventType type = plan.remove ? EventType::kDeleted : EventType::kModified;
  VISI_RETURN_IF_ERROR(Submit(lock, type, std::move(key), plan.next));
  return ObjectPtr(plan.next);
}

StatusOr<std::unique_ptr<Watcher>> StoreEngine::Watch(const WatchOptions& opts) {
  if (!scheme_->ByKind(opts.kind)) return NotFoundError("unknown kind \"" + opts.kind + "\"");
  auto ch = std::make_shared<WatchChannel>(opts, opts_.watch_buffer, &revision_);
  std::lock_guard lock(mu_);
  uint64_t from = opts.resource_version.value_or(0);
  if (from == 0) {
    const std::string prefix =
        opts.namespace_.empty() ? opts.kind + "/" : Key(opts.kind, opts.namespace_, "");
    for (auto it = committed_.lower_bound(prefix);
         it != committed_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      ch->Offer(EventType::kAdded, nullptr, it->second, nullptr,
                it->second->metadata.resource_version, /*bounded=*/false);
    }
  } else {
    if (from > next_rv_) {
      return Status(Code::kDeadlineExceeded, "too large resource version: " + std::to_string(from) +
                                                 ", current: " + std::to_string(revision_.load()));
    }
    if (from < compacted_) {
      return GoneError("too old resource version: " + std::to_string(from) + " (" +
                       std::to_string(compacted_ + 1) + ")");
    }
    const std::string prefix = opts.kind + "/";
    for (const auto& h : history_) {
      if (h.rv <= from || h.key.compare(0, prefix.size(), prefix) != 0) continue;
      ch->Offer(h.type, h.prev, h.object, h.text, h.rv, /*bounded=*/false);
    }
  }
  auto& chans = watchers_[opts.kind];
  std::erase_if(chans, [](const auto& c) { return c->stopped(); });
  chans.push_back(ch);
  return std::unique_ptr<Watcher>(std::make_unique<ChannelWatcher>(ch));
}

}  // namespace visi
