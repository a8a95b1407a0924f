#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "controller/api/object.h"
#include "controller/base/clock.h"
#include "controller/base/status.h"
#include "controller/store/store.h"

namespace visi {

// How an Event reads to a human: spec.type. (Not to be confused with
// visi::EventType, the kind of a watch event.)
enum class EventSeverity { kNormal, kWarning };
const char* EventSeverityName(EventSeverity s);  // "Normal" or "Warning"

// Where an Event's rules fit limits the Event CRD (crds/events.yaml) puts on them.
inline constexpr size_t kMaxEventReasonBytes = 128;
inline constexpr size_t kMaxEventMessageBytes = 4096;

// Declared outside EventRecorder so that `Options opts = {}` can default it
// (g++ rejects a nested struct's member initializers in a default argument).
struct EventRecorderOptions {
  std::string component = "visid";  // spec.source.component
  std::string host;                  // spec.source.host
  // Spam filter, per involved object: `burst` events at once, then one more
  // per `refill` (client-go: 25, then one per 5 minutes).
  int burst = 25;
  std::chrono::seconds refill = std::chrono::minutes(5);
  // Most aggregated Events remembered (saves a Get per repeat), and most
  // involved objects whose rate limit is tracked. Oldest are forgotten first.
  size_t cache_size = 4096;
};

// Records Events about objects, as client-go's record.EventRecorder does:
//  * An Event lives in the involved object's namespace ("default" for a
//    cluster-scoped object).
//  * Repeats of an event (same involved object uid, kind and name, severity,
//    reason, message and source) aggregate into one Event object: count + 1,
//    lastTimestamp = now. Its name is derived from those fields
//    ("<object name>.<16 hex digits>"), so aggregation survives a restart.
//  * Each involved object may record `burst` events at once, then one per
//    `refill` on the injected clock; the rest are dropped and counted.
// Events are best effort: callers usually ignore the returned Status.
// Thread-safe. Concurrent repeats of one event are serialized, so no count is
// lost; different events are written concurrently.
class EventRecorder {
 public:
  using Options = EventRecorderOptions;

  // REQUIRES: `store` and `clock` outlive the recorder; opts.burst >= 1,
  // opts.refill > 0, opts.cache_size >= 1.
  EventRecorder(Store* store, const Clock* clock, Options opts = {});
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // Records an event about `about` (which needs kind and metadata.name).
  // `reason` is cut to kMaxEventReasonBytes and `message` to
  // kMaxEventMessageBytes, on a UTF-8 character boundary; invalid UTF-8
  // becomes U+FFFD. Returns:
  //   OK            the Event was created or its count bumped
  //   Invalid       empty reason, or `about` without kind or name
  //   Unavailable   dropped by the rate limit (also counted in dropped())
  //   Conflict      other writers kept changing the Event: gave up
  //   other         the store's error
  Status Record(const Object& about, EventSeverity type, const std::string& reason,
                const std::string& message);

  // Events refused by the rate limit so far.
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  // One aggregated Event. `mu` serializes writes to it; `last` is what the
  // store returned for the last write (null: unknown, read it first).
  struct Entry {
    std::mutex mu;
    ObjectPtr last;  // GUARDED_BY(mu)
  };
  // A token bucket of one involved object, refilled in whole tokens.
  struct Bucket {
    int64_t tokens = 0;
    TimePoint refilled;  // when the last whole token was added
  };

  // A map that forgets its least recently used key beyond `capacity`.
  template <typename V>
  class Lru {
   public:
    explicit Lru(size_t capacity) : capacity_(capacity) {}
    // The value under `key`, made most recent; null when absent.
    V* Find(const std::string& key) {
      auto it = map_.find(key);
      if (it == map_.end()) return nullptr;
      order_.splice(order_.begin(), order_, it->second.second);
      return &it->second.first;
    }
    // Adds `key` (REQUIRES: absent) as most recent, evicting the oldest.
    V& Insert(const std::string& key, V value) {
      order_.push_front(key);
      auto& slot = map_[key];
      slot = {std::move(value), order_.begin()};
      while (map_.size() > capacity_) {
        map_.erase(order_.back());
        order_.pop_back();
      }
      return slot.first;
    }

   private:
    size_t capacity_;
    std::list<std::string> order_;  // most recent first
    std::unordered_map<std::string, std::pair<V, std::list<std::string>::iterator>> map_;
  };

  // Takes a token for `key`; false when the bucket is empty.
  bool Admit(const std::string& key);
  // The cache entry for the Event named `ns/name`, created when missing.
  std::shared_ptr<Entry> EntryFor(const std::string& key);
  // Bumps the Event `fresh` describes, or creates it. REQUIRES: e.mu held.
  Status Write(Entry& e, const Object& fresh);

  Store* store_;
  const Clock* clock_;
  const Options opts_;
  std::atomic<uint64_t> dropped_{0};

  std::mutex mu_;
  Lru<std::shared_ptr<Entry>> entries_;  // GUARDED_BY(mu_): "ns/name" -> Event
  Lru<Bucket> buckets_;                  // GUARDED_BY(mu_): involved object -> tokens
};

}  // namespace visi
