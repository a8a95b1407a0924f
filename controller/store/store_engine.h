#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <unordered_map>
#include <vector>

#include "controller/api/scheme.h"
#include "controller/base/clock.h"
#include "controller/store/journal.h"
#include "controller/store/store.h"
#include "controller/store/watch_channel.h"

namespace visi {

struct StoreOptions {
  size_t history_limit = 20000;   // retained events for watch resumption
  size_t watch_buffer = 4096;     // events buffered per watcher before Gone
  size_t max_batch = 1024;        // mutations per group commit
};

// The Store's logic, shared by every implementation: validation, optimistic
// concurrency, finalizers, revisions, selectors, pagination and watch
// fan-out, over an in-memory index of committed objects.
//
// Writes are decided under one lock against the newest state, including
// writes still in flight (the pending overlay), then queued for the journal.
// The writer at the front of the queue leads: it makes the whole queue
// durable with one sync (group commit), publishes it to readers and watchers,
// acknowledges the writers it carried and hands the lead to the next one, as
// LevelDB's write queue does; a lone writer never waits for another thread.
// Without a journal, writes commit inline (the in-memory store).
class StoreEngine final : public Store {
 public:
  // `journal` may be null; `state` is what the journal held when opened.
  StoreEngine(std::shared_ptr<const Scheme> scheme, Clock* clock, StoreOptions opts,
              std::unique_ptr<Journal> journal, JournalState state);
  ~StoreEngine() override;

  StatusOr<ObjectPtr> Create(Object o) override;
  StatusOr<ObjectPtr> Get(std::string_view kind, std::string_view ns, std::string_view name) override;
  StatusOr<ListResult> List(const ListOptions& opts) override;
  StatusOr<ObjectPtr> Update(Object o) override;
  StatusOr<ObjectPtr> UpdateStatus(Object o) override;
  StatusOr<ObjectPtr> Delete(std::string_view kind, std::string_view ns, std::string_view name,
                             const Preconditions& pre) override;
  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) override;
  uint64_t CurrentRevision() override { return revision_.load(std::memory_order_acquire); }

  static std::string Key(std::string_view kind, std::string_view ns, std::string_view name);

  // Group-commit figures: journal commits made, and mutations they carried.
  struct CommitStats {
    uint64_t commits = 0;
    uint64_t mutations = 0;
  };
  CommitStats commit_stats() const { return {commits_.load(), committed_mutations_.load()}; }

 private:
  struct Pending {
    ObjectPtr object;  // null: deleted, not yet durable
    uint64_t rv;
  };
  struct HistoryEntry {
    EventType type;
    std::string key;
    ObjectPtr prev;
    ObjectPtr object;
    std::shared_ptr<const std::string> text;  // may be null (loaded history)
    uint64_t rv;
  };
  // A write waiting in the commit queue. Lives on its writer's stack.
  struct InFlight {
    Mutation mutation;
    Status status;
    bool done = false;  // GUARDED_BY(queue_mu_)
    std::condition_variable cv;
  };

  // The newest state of `key`, in flight or committed. REQUIRES: mu_ held.
  ObjectPtr LatestLocked(const std::string& key) const;
  // LatestLocked, or NotFound, or Conflict when `pre` does not hold.
  StatusOr<ObjectPtr> CheckedLatestLocked(const std::string& key, std::string_view kind,
                                          std::string_view name, const Preconditions& pre) const;
  // Assigns the next revision and commits (inline) or enqueues (journal),
  // then waits for durability. REQUIRES: `lock` holds mu_; releases it.
  Status Submit(std::unique_lock<std::mutex>& lock, EventType type, std::string key,
                std::shared_ptr<Object> obj);
  // Publishes one durable mutation to the index, history and watchers.
  void ApplyLocked(const Mutation& m);
  // Commits, as the queue's leader, a batch that starts with `self`.
  // REQUIRES: `ql` holds queue_mu_ and `self` is at the front of the queue.
  void LeadCommit(std::unique_lock<std::mutex>& ql, InFlight* self);
  std::string NewUid();
  Status CheckSize(const Object& o) const;

  const std::shared_ptr<const Scheme> scheme_;
  Clock* const clock_;
  const StoreOptions opts_;
  const std::unique_ptr<Journal> journal_;

  mutable std::mutex mu_;
  std::map<std::string, ObjectPtr> committed_;        // GUARDED_BY(mu_)
  std::unordered_map<std::string, Pending> pending_;  // GUARDED_BY(mu_)
  std::deque<HistoryEntry> history_;                  // GUARDED_BY(mu_)
  uint64_t compacted_ = 0;                            // GUARDED_BY(mu_)
  uint64_t next_rv_ = 0;                              // GUARDED_BY(mu_): last assigned
  std::atomic<uint64_t> revision_{0};                 // last committed
  std::map<std::string, std::vector<std::shared_ptr<WatchChannel>>> watchers_;  // GUARDED_BY(mu_)
  std::mt19937_64 rng_;                               // GUARDED_BY(mu_)

  // The commit queue, in revision order. Lock order: mu_ before queue_mu_.
  std::mutex queue_mu_;
  std::deque<InFlight*> queue_;  // GUARDED_BY(queue_mu_)
  uint64_t last_compaction_ = 0;  // only the current leader touches it
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_mutations_{0};
};

}  // namespace visi
