#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/selector.h"
#include "controller/base/clock.h"
#include "controller/store/store.h"

namespace visi {

// "namespace/name", or "name" for cluster-scoped objects: the key work
// queues carry.
std::string ObjectKeyOf(const Object& o);
// Splits a key back into namespace and name.
std::pair<std::string, std::string> SplitObjectKey(const std::string& key);

// Called on the informer's thread after its cache has changed. Objects are
// shared and immutable: copy before changing.
struct ResourceHandlers {
  std::function<void(const ObjectPtr&)> on_add;
  std::function<void(const ObjectPtr& old_obj, const ObjectPtr& new_obj)> on_update;
  std::function<void(const ObjectPtr&)> on_delete;
};

struct InformerOptions {
  std::string kind;        // REQUIRES: a kind the store knows
  std::string namespace_;  // empty: all namespaces
  LabelSelector labels;
  // Re-list/re-watch backoff after an error: doubles from base to max, with
  // up to 50% jitter.
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_max{30000};
  // Objects per page of the initial list (and of every re-list).
  int64_t page_size = 500;
};

// Lists and watches one kind into a local cache, as client-go's shared
// informer does. A watch that ends with 410 Gone, or a lost connection,
// leads to a re-watch from the last revision seen or, when that revision is
// gone, to a re-list whose differences are delivered as add, update and
// delete. Indexes: namespace, owner uid, label key=value. Thread-safe.
class Informer {
 public:
  Informer(Store* store, const Clock* clock, InformerOptions opts);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Handlers added after the first sync first see the current objects as adds.
  void AddHandlers(ResourceHandlers handlers);
  void Start();
  void Stop();
  bool HasSynced() const { return synced_.load(); }
  // Real time.
  bool WaitForSync(std::chrono::milliseconds timeout) const;

  ObjectPtr Get(const std::string& ns, const std::string& name) const;
  ObjectPtr GetByKey(const std::string& key) const;
  std::vector<ObjectPtr> List(const std::string& ns = "") const;
  std::vector<ObjectPtr> ByOwner(const std::string& owner_uid) const;
  std::vector<ObjectPtr> ByLabel(const std::string& key, const std::string& value) const;
  size_t size() const;
  const std::string& kind() const { return opts_.kind; }

  struct Stats {
    uint64_t lists = 0, watches = 0, events = 0, errors = 0;
    uint64_t revision = 0;  // the newest revision the cache reflects
  };
  Stats GetStats() const;

 private:
  void Run();
  // Lists into the cache; the revision of the list. False after an error.
  bool ListAndReplace(uint64_t* revision);
  // Watches from `revision` until stopped or an error; false when the
  // revision is gone and a re-list is due.
  bool WatchFrom(uint64_t* revision);
  void Upsert(const ObjectPtr& o);
  void Remove(const ObjectPtr& o);
  void Index(const ObjectPtr& o, bool add);  // REQUIRES: mu_ held
  void Backoff(int* failures);
  std::vector<ResourceHandlers> HandlersCopy() const;

  Store* const store_;
  const Clock* const clock_;
  const InformerOptions opts_;

  mutable std::mutex mu_;
  std::map<std::string, ObjectPtr> items_;                       // GUARDED_BY(mu_): key -> object
  std::map<std::string, std::set<std::string>> by_namespace_;    // GUARDED_BY(mu_)
  std::map<std::string, std::set<std::string>> by_owner_;        // GUARDED_BY(mu_)
  std::map<std::string, std::set<std::string>> by_label_;        // GUARDED_BY(mu_): "k=v"
  std::vector<ResourceHandlers> handlers_;                       // GUARDED_BY(mu_)
  Stats stats_;                                                  // GUARDED_BY(mu_)
  std::unique_ptr<Watcher> watcher_;                             // GUARDED_BY(mu_)
  mutable std::condition_variable cv_;
  std::atomic<bool> synced_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace visi
