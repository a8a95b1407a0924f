#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/store/store.h"

namespace visi {

// One committed change: the unit the journal makes durable.
struct Mutation {
  uint64_t rv = 0;
  EventType type = EventType::kAdded;  // kAdded, kModified or kDeleted
  std::string key;                     // "Kind/namespace/name"
  ObjectPtr object;                    // the new state; for kDeleted the last one
  std::shared_ptr<const std::string> text;  // ObjectToJsonText(*object)
};

// What a journal holds when it is opened.
struct JournalState {
  std::vector<ObjectPtr> objects;  // every live object
  std::vector<Mutation> log;       // retained history, ascending rv
  // Each key's last state at or below `compacted`: the previous state of its
  // first retained change (so selector watches see objects leave).
  std::vector<Mutation> base;
  uint64_t revision = 0;           // newest committed revision
  uint64_t compacted = 0;          // history is complete for rv > compacted
};

// Durable storage behind the store engine. Append is called from one thread
// at a time with batches in ascending revision order.
class Journal {
 public:
  virtual ~Journal() = default;
  // Makes the whole batch durable, atomically, and drops history at or below
  // `compact_to` (0: none). Only returns OK once the data is on disk.
  virtual Status Append(const std::vector<const Mutation*>& batch, uint64_t compact_to) = 0;
};

}  // namespace visi
