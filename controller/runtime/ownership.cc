#include "controller/runtime/ownership.h"

#include <algorithm>

namespace visi {

bool HasFinalizer(const Object& o, const std::string& finalizer) {
  const auto& f = o.metadata.finalizers;
  return std::find(f.begin(), f.end(), finalizer) != f.end();
}

StatusOr<ObjectPtr> MutateWithRetry(Store* store, const std::string& kind, const std::string& ns,
                                    const std::string& name, const std::function<bool(Object*)>& mutate,
                                    bool status) {
  constexpr int kAttempts = 8;
  Status last;
  for (int i = 0; i < kAttempts; ++i) {
    VISI_ASSIGN_OR_RETURN(ObjectPtr cur, store->Get(kind, ns, name));
    Object next = *cur;
    if (!mutate(&next)) return cur;
    next.metadata.resource_version = cur->metadata.resource_version;
    auto written = status ? store->UpdateStatus(std::move(next)) : store->Update(std::move(next));
    if (written.ok() || written.status().code() != Code::kConflict) return written;
    last = written.status();
  }
  return last;
}

StatusOr<ObjectPtr> AddFinalizer(Store* store, const Object& o, const std::string& finalizer) {
  return MutateWithRetry(store, o.kind, o.metadata.namespace_, o.metadata.name, [&](Object* x) {
    if (HasFinalizer(*x, finalizer) || x->metadata.deletion_timestamp) return false;
    x->metadata.finalizers.push_back(finalizer);
    return true;
  });
}

StatusOr<ObjectPtr> RemoveFinalizer(Store* store, const Object& o, const std::string& finalizer) {
  return MutateWithRetry(store, o.kind, o.metadata.namespace_, o.metadata.name, [&](Object* x) {
    auto& f = x->metadata.finalizers;
    auto it = std::find(f.begin(), f.end(), finalizer);
    if (it == f.end()) return false;
    f.erase(it);
    return true;
  });
}

OwnerReference OwnerRefTo(const Object& owner, bool controller) {
  OwnerReference r;
  r.api_version = owner.api_version;
  r.kind = owner.kind;
  r.name = owner.metadata.name;
  r.uid = owner.metadata.uid;
  r.controller = controller;
  r.block_owner_deletion = true;
  return r;
}

const OwnerReference* ControllerOf(const Object& o) {
  for (const auto& r : o.metadata.owner_references) {
    if (r.controller) return &r;
  }
  return nullptr;
}

bool IsControlledBy(const Object& o, const Object& owner) {
  const OwnerReference* c = ControllerOf(o);
  return c && c->uid == owner.metadata.uid;
}

Status SetControllerReference(const Object& owner, Object* o) {
  if (owner.metadata.uid.empty()) return InvalidError("the owner has no uid yet: create it first");
  if (!owner.metadata.namespace_.empty() && owner.metadata.namespace_ != o->metadata.namespace_) {
    return InvalidError("a " + owner.kind + " in namespace \"" + owner.metadata.namespace_ +
                        "\" cannot own an object in namespace \"" + o->metadata.namespace_ + "\"");
  }
  if (const OwnerReference* c = ControllerOf(*o); c && c->uid != owner.metadata.uid) {
    return Status(Code::kConflict, o->kind + " \"" + o->metadata.name + "\" is already controlled by " +
                                                 c->kind + " \"" + c->name + "\" (uid " + c->uid + ")");
  }
  auto& refs = o->metadata.owner_references;
  auto it = std::find_if(refs.begin(), refs.end(), [&](const OwnerReference& r) { return r.uid == owner.metadata.uid; });
  if (it != refs.end()) {
    *it = OwnerRefTo(owner, true);
  } else {
    refs.push_back(OwnerRefTo(owner, true));
  }
  return OkStatus();
}

}  // namespace visi
