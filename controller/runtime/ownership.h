#pragma once

#include <functional>
#include <string>

#include "controller/store/store.h"

namespace visi {

// Finalizer and owner-reference helpers, as controller-runtime's
// controllerutil offers them.

bool HasFinalizer(const Object& o, const std::string& finalizer);

// Re-reads the object and applies `mutate` to a copy, then writes it with the
// resourceVersion it read (status through /status when `status`). On a
// Conflict it starts over, a few times. `mutate` returns false when nothing
// needs to change; the stored object is then returned as it is.
StatusOr<ObjectPtr> MutateWithRetry(Store* store, const std::string& kind, const std::string& ns,
                                    const std::string& name, const std::function<bool(Object*)>& mutate,
                                    bool status = false);

StatusOr<ObjectPtr> AddFinalizer(Store* store, const Object& o, const std::string& finalizer);
// Removing the last finalizer of an object being deleted lets the store
// delete it: the result is then the last state, or NotFound.
StatusOr<ObjectPtr> RemoveFinalizer(Store* store, const Object& o, const std::string& finalizer);

// A reference to `owner`, as its controller when `controller`, blocking the
// owner's foreground deletion.
OwnerReference OwnerRefTo(const Object& owner, bool controller = true);
// The reference with controller=true, or nullptr.
const OwnerReference* ControllerOf(const Object& o);
bool IsControlledBy(const Object& o, const Object& owner);

// Makes `owner` the controller of `o`. Adoption refuses an object that
// another owner controls: Conflict naming that owner.
Status SetControllerReference(const Object& owner, Object* o);

}  // namespace visi
