#pragma once

#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "controller/api/object.h"
#include "controller/api/scheme.h"
#include "controller/base/clock.h"
#include "controller/store/store.h"

namespace visi {

// The rules every Store applies to a write, whatever keeps the data: the
// embedded engine and the etcd store decide creates, updates, status writes
// and deletes with these functions, so both behave the same. They are pure:
// reading the current object and making the write durable is the caller's.

// `plural.group "name"`, as Kubernetes names an object in messages.
std::string DescribeObject(const Scheme& scheme, std::string_view kind, std::string_view name);
Status NotFoundFor(const Scheme& scheme, std::string_view kind, std::string_view name);
Status AlreadyExistsFor(const Scheme& scheme, std::string_view kind, std::string_view name);
// Conflict: `cur` changed since the writer read it.
Status StaleConflict(const Scheme& scheme, const Object& cur);

// The preconditions an object sent for update carries: its uid and
// resourceVersion when set (0 means unconditional).
Preconditions PreconditionsOf(const ObjectMeta& m);
// Conflict when `pre` (uid, resourceVersion) does not hold for `cur`.
Status CheckPreconditions(const Scheme& scheme, const Object& cur, const Preconditions& pre);

// TooLarge when an object's JSON text of `text_bytes` is over kMaxObjectBytes.
Status CheckObjectSize(const Scheme& scheme, const Object& o, size_t text_bytes);

// A random RFC 4122 version-4 uid.
std::string NewUid(std::mt19937_64& rng);
// `generate_name` followed by five random characters.
std::string GenerateName(const std::string& generate_name, std::mt19937_64& rng);

// Create: clears what the server assigns, stamps creationTimestamp and
// generation 1, drops status for kinds with a status subresource, then
// validates and defaults. With generateName (and no name) the name is left
// as a placeholder of the final shape and the result is true: the caller
// picks the name with GenerateName. REQUIRES: the caller then sets the uid.
StatusOr<bool> PrepareCreate(const Scheme& scheme, const Clock& clock, Object* o);

// Update, before the current object is read: status is written through the
// status subresource only; validates and defaults.
Status PrepareUpdate(const Scheme& scheme, Object* o);
// Update, against the current object: `in` with the server-managed fields
// and the status of `cur`; generation counts spec changes. Invalid when `in`
// adds a finalizer to an object being deleted.
StatusOr<std::shared_ptr<Object>> MergeUpdate(const Object& cur, Object in);
// True when a write of `next` removes it: it is being deleted and its last
// finalizer is gone.
bool RemovedByUpdate(const Object& next);

// What a delete request makes of `cur`.
struct DeletePlan {
  // The object after the request: with the propagation finalizer and
  // deletionTimestamp while finalizers remain, else `cur` as it goes.
  std::shared_ptr<Object> next;
  bool remove = false;     // the object goes now
  bool unchanged = false;  // already being deleted: nothing to write
};
DeletePlan PlanDelete(const Object& cur, Propagation propagation, TimePoint now);

}  // namespace visi
