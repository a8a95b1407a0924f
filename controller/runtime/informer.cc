#include "controller/runtime/informer.h"

#include <cstdlib>

#include <random>

namespace visi {

std::string ObjectKeyOf(const Object& o) {
  return o.metadata.namespace_.empty() ? o.metadata.name : o.metadata.namespace_ + "/" + o.metadata.name;
}

std::pair<std::string, std::string> SplitObjectKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return {"", key};
  return {key.substr(0, slash), key.substr(slash + 1)};
}

Informer::Informer(Store* store, const Clock* clock, InformerOptions opts)
    : store_(store), clock_(clock), opts_(std::move(opts)) {}

Informer::~Informer() { Stop(); }

void Informer::AddHandlers(ResourceHandlers handlers) {
  std::vector<ObjectPtr> current;
  {
    std::lock_guard lock(mu_);
    handlers_.push_back(handlers);
    for (const auto& [key, o] : items_) current.push_back(o);
  }
  if (handlers.on_add) {
    for (const auto& o : current) handlers.on_add(o);
  }
}

void Informer::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Informer::Stop() {
  stop_ = true;
  {
    std::lock_guard lock(mu_);
    if (watcher_) watcher_->Stop();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return synced_.load() || stop_.load(); }) && synced_;
}

ObjectPtr Informer::Get(const std::string& ns, const std::string& name) const {
  return GetByKey(ns.empty() ? name : ns + "/" + name);
}

ObjectPtr Informer::GetByKey(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second;
}

std::vector<ObjectPtr> Informer::List(const std::string& ns) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  if (ns.empty()) {
    out.reserve(items_.size());
    for (const auto& [key, o] : items_) out.push_back(o);
    return out;
  }
  auto it = by_namespace_.find(ns);
  if (it == by_namespace_.end()) return out;
  for (const auto& key : it->second) out.push_back(items_.at(key));
  return out;
}

std::vector<ObjectPtr> Informer::ByOwner(const std::string& owner_uid) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  auto it = by_owner_.find(owner_uid);
  if (it == by_owner_.end()) return out;
  for (const auto& key : it->second) out.push_back(items_.at(key));
  return out;
}

std::vector<ObjectPtr> Informer::ByLabel(const std::string& key, const std::string& value) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectPtr> out;
  auto it = by_label_.find(key + "=" + value);
  if (it == by_label_.end()) return out;
  for (const auto& k : it->second) out.push_back(items_.at(k));
  return out;
}

size_t Informer::size() const {
  std::lock_guard lock(mu_);
  return items_.size();
}

Informer::Stats Informer::GetStats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::vector<ResourceHandlers> Informer::HandlersCopy() const {
  std::lock_guard lock(mu_);
  return handlers_;
}

void Informer::Index(const ObjectPtr& o, bool add) {
  std::string key = ObjectKeyOf(*o);
  auto apply = [&](std::map<std::string, std::set<std::string>>& index, const std::string& value) {
    if (add) {
      index[value].insert(key);
      return;
    }
    auto it = index.find(value);
    if (it == index.end()) return;
    it->second.erase(key);
    if (it->second.empty()) index.erase(it);
  };
  apply(by_namespace_, o->metadata.namespace_);
  for (const auto& ref : o->metadata.owner_references) apply(by_owner_, ref.uid);
  for (const auto& [k, v] : o->metadata.labels) apply(by_label_, k + "=" + v);
}

namespace {

// Resource versions are one global counter: a larger one is newer.
uint64_t Rv(const ObjectPtr& o) {
  return o->metadata.resource_version;
}

}  // namespace

void Informer::Upsert(const ObjectPtr& o) {
  ObjectPtr old;
  {
    std::lock_guard lock(mu_);
    auto& slot = items_[ObjectKeyOf(*o)];
    // A copy older than the cached one (a paged list read it later than the
    // watch replays it, or it is an earlier object of the same name):
    // nothing new. Resource versions are one global counter.
    if (slot && Rv(slot) > Rv(o)) return;
    old = slot;
    if (old) Index(old, false);
    slot = o;
    Index(o, true);
    stats_.events++;
  }
  for (const auto& h : HandlersCopy()) {
    if (old && h.on_update) h.on_update(old, o);
    if (!old && h.on_add) h.on_add(o);
  }
}

void Informer::Remove(const ObjectPtr& o) {
  ObjectPtr old;
  {
    std::lock_guard lock(mu_);
    auto it = items_.find(ObjectKeyOf(*o));
    if (it == items_.end()) return;
    // The delete of an older copy (an earlier object of the same name, or a
    // replayed event): the newer cached one stays.
    if (Rv(it->second) > Rv(o)) return;
    old = it->second;
    Index(old, false);
    items_.erase(it);
    stats_.events++;
  }
  // The deleted object's last state, as the store reported it.
  for (const auto& h : HandlersCopy()) {
    if (h.on_delete) h.on_delete(o);
  }
}

bool Informer::ListAndReplace(uint64_t* revision) {
  // In pages, as client-go lists: one huge answer would be held (and, over
  // the API, parsed) at once. The pages are not one snapshot; the watch
  // starts from the first page's revision, so whatever changed while later
  // pages were read is delivered again, and stale copies are ignored (Upsert).
  ListOptions lo;
  lo.kind = opts_.kind;
  lo.namespace_ = opts_.namespace_;
  lo.labels = opts_.labels;
  lo.limit = opts_.page_size;
  std::map<std::string, ObjectPtr> fresh;
  uint64_t first_revision = 0;
  do {
    auto page = store_->List(lo);
    if (!page.ok()) return false;
    if (first_revision == 0) first_revision = page->resource_version;
    for (auto& o : page->items) fresh[ObjectKeyOf(*o)] = o;
    lo.continue_token = page->continue_token;
  } while (!lo.continue_token.empty() && !stop_);
  // What vanished while nobody watched is delivered as deletes; the rest as
  // adds or updates (only when the object changed).
  std::vector<ObjectPtr> gone;
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, o] : items_) {
      // Newer than the first page: created or changed while the pages were
      // read, behind the cursor. The watch from first_revision settles it.
      if (!fresh.count(key) && o->metadata.resource_version <= first_revision) gone.push_back(o);
    }
    stats_.lists++;
  }
  for (const auto& o : gone) Remove(o);
  for (const auto& [key, o] : fresh) {
    ObjectPtr cur = GetByKey(key);
    if (cur && cur->metadata.resource_version == o->metadata.resource_version &&
        cur->metadata.uid == o->metadata.uid) {
      continue;
    }
    if (cur && cur->metadata.uid != o->metadata.uid) Remove(cur);  // deleted and re-created
    Upsert(o);
  }
  *revision = first_revision;
  {
    std::lock_guard lock(mu_);
    stats_.revision = *revision;
  }
  synced_ = true;
  cv_.notify_all();
  return true;
}

bool Informer::WatchFrom(uint64_t* revision) {
  WatchOptions wo;
  wo.kind = opts_.kind;
  wo.namespace_ = opts_.namespace_;
  wo.labels = opts_.labels;
  wo.resource_version = *revision;
  wo.bookmarks = true;
  auto w = store_->Watch(wo);
  if (!w.ok()) return w.status().code() != Code::kGone;
  {
    std::lock_guard lock(mu_);
    watcher_ = std::move(*w);
    stats_.watches++;
    if (stop_) watcher_->Stop();
  }
  bool keep_revision = true;
  while (!stop_) {
    std::optional<WatchEvent> e;
    {
      // The watcher lives until this thread replaces it; Stop() only calls
      // its Stop().
      Watcher* w_raw;
      {
        std::lock_guard lock(mu_);
        w_raw = watcher_.get();
      }
      e = w_raw->Next(std::chrono::milliseconds(500));
    }
    if (!e) continue;
    if (e->type == EventType::kError) {
      keep_revision = e->error.code() != Code::kGone;
      break;
    }
    if (e->type == EventType::kDeleted) Remove(e->object);
    else if (e->type != EventType::kBookmark) Upsert(e->object);
    *revision = e->resource_version;
    std::lock_guard lock(mu_);
    stats_.revision = *revision;
  }
  std::lock_guard lock(mu_);
  watcher_.reset();
  return keep_revision;
}

void Informer::Backoff(int* failures) {
  ++*failures;
  auto d = opts_.backoff_base * (1LL << std::min(*failures - 1, 20));
  if (d > opts_.backoff_max) d = opts_.backoff_max;
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  auto jitter = std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, d.count() / 2)(rng));
  auto deadline = clock_->Now() + d + jitter;
  std::unique_lock lock(mu_);
  stats_.errors++;
  while (!stop_ && clock_->Now() < deadline) clock_->WaitUntil(lock, cv_, deadline);
}

void Informer::Run() {
  uint64_t revision = 0;
  bool need_list = true;
  int failures = 0;
  while (!stop_) {
    if (need_list) {
      if (!ListAndReplace(&revision)) {
        Backoff(&failures);
        continue;
      }
      need_list = false;
    }
    uint64_t before = revision;
    bool resumable = WatchFrom(&revision);
    if (stop_) break;
    if (!resumable) {
      need_list = true;  // 410 Gone: the history we need is compacted away
      failures = 0;
      continue;
    }
    // The watch ended (lost connection, server restart): back off, then
    // resume from the last revision seen. Progress resets the backoff.
    if (revision != before) failures = 0;
    Backoff(&failures);
  }
}

}  // namespace visi
