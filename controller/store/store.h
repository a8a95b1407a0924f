#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/object.h"
#include "controller/api/selector.h"
#include "controller/base/statusor.h"

namespace visi {

struct ListOptions {
  std::string kind;        // REQUIRES: a kind the store's scheme knows
  std::string namespace_;  // empty: every namespace
  LabelSelector labels;
  FieldSelector fields;
  int64_t limit = 0;           // 0: no limit
  std::string continue_token;  // from a previous page's ListResult
};

struct ListResult {
  std::vector<ObjectPtr> items;  // sorted by namespace, then name
  uint64_t resource_version = 0; // the store revision this page reflects
  std::string continue_token;    // non-empty when more items remain
};

enum class EventType { kAdded, kModified, kDeleted, kBookmark, kError };
const char* EventTypeName(EventType t);  // "ADDED", "MODIFIED", ...

struct WatchEvent {
  EventType type = EventType::kAdded;
  // The object after the change; for kDeleted its last state with the
  // deletion's resourceVersion; for kBookmark only the revision is meaningful.
  ObjectPtr object;
  // The object's JSON text when the store has it (serialized once per change
  // and shared by every watcher); may be null.
  std::shared_ptr<const std::string> text;
  uint64_t resource_version = 0;
  Status error;  // set for kError
};

struct WatchOptions {
  std::string kind;
  std::string namespace_;  // empty: every namespace
  LabelSelector labels;
  FieldSelector fields;
  // Events after this revision are delivered, from retained history first.
  // nullopt or 0: an ADDED event for every current object, then changes.
  std::optional<uint64_t> resource_version;
  bool bookmarks = false;  // send BOOKMARK events while idle
  std::chrono::milliseconds bookmark_interval{1000};
};

// A stream of events for one watch. Events come in revision order with no gap
// and no duplicate. A consumer that falls too far behind receives kError
// (Gone) after the events already buffered: it must re-watch from the last
// revision it saw, or re-list.
class Watcher {
 public:
  virtual ~Watcher() = default;
  // Waits up to `timeout` for the next event. nullopt on timeout. After an
  // kError event or Stop(), returns kError at once.
  virtual std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) = 0;
  // Ends the watch; Next() returns at once. Safe from any thread.
  virtual void Stop() = 0;
};

// DeleteOptions.propagationPolicy: what happens to an object's dependents.
enum class Propagation {
  kBackground,  // the object goes now; the garbage collector deletes dependents afterwards
  kForeground,  // the object stays (finalizer "foregroundDeletion") until blocking dependents are gone
  kOrphan,      // the object stays (finalizer "orphan") until its dependents no longer name it
};
// "Background", "Foreground", "Orphan"; nullopt for anything else.
std::optional<Propagation> ParsePropagation(std::string_view s);

// Kubernetes' DeleteOptions: preconditions and the propagation policy.
struct Preconditions {
  std::optional<std::string> uid;
  std::optional<uint64_t> resource_version;
  Propagation propagation = Propagation::kBackground;
};

// Versioned, watchable object storage with one global, monotonic revision.
// Every write is validated and defaulted against the scheme and is durable
// before it returns. Reads see only durable writes. Safe for many threads.
class Store {
 public:
  virtual ~Store() = default;

  // Stores a new object. Assigns uid, creationTimestamp, generation 1 and a
  // resourceVersion; `metadata.generateName` makes a unique name. Status is
  // dropped for kinds with a status subresource. AlreadyExists when the name
  // is taken; Invalid with every bad field.
  virtual StatusOr<ObjectPtr> Create(Object o) = 0;

  virtual StatusOr<ObjectPtr> Get(std::string_view kind, std::string_view ns,
                                  std::string_view name) = 0;

  // BadRequest on a malformed continue token.
  virtual StatusOr<ListResult> List(const ListOptions& opts) = 0;

  // Replaces metadata and spec; status is kept. Conflict when
  // `metadata.resourceVersion` is set and stale (0 means unconditional).
  // generation is bumped only when spec changes. A no-op update returns the
  // stored object unchanged. Removing the last finalizer of an object being
  // deleted removes it.
  virtual StatusOr<ObjectPtr> Update(Object o) = 0;

  // Replaces status only, with the same concurrency rules as Update.
  virtual StatusOr<ObjectPtr> UpdateStatus(Object o) = 0;

  // Deletes the object, or, while it has finalizers, sets deletionTimestamp
  // and returns it. Foreground and orphan propagation first add their
  // finalizer, so the object stays until the garbage collector removes it.
  // Conflict when a precondition does not hold.
  virtual StatusOr<ObjectPtr> Delete(std::string_view kind, std::string_view ns,
                                     std::string_view name, const Preconditions& pre = {}) = 0;

  // Gone when `opts.resource_version` is older than the retained history.
  virtual StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) = 0;

  // The newest durable revision.
  virtual uint64_t CurrentRevision() = 0;
};

}  // namespace visi
