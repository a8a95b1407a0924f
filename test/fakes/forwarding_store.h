#pragma once

// A Store that forwards every call to another: the base of test wrappers
// that change one behaviour (a lagging watch, a broken watch, a hook after
// a read) and leave the rest to a real store.
#include <memory>
#include <string_view>

#include "controller/store/store.h"

namespace visi::testing {

class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store* inner) : inner_(inner) {}

  StatusOr<ObjectPtr> Create(Object o) override { return inner_->Create(std::move(o)); }
  StatusOr<ObjectPtr> Get(std::string_view kind, std::string_view ns, std::string_view name) override {
    return inner_->Get(kind, ns, name);
  }
  StatusOr<ListResult> List(const ListOptions& opts) override { return inner_->List(opts); }
  StatusOr<ObjectPtr> Update(Object o) override { return inner_->Update(std::move(o)); }
  StatusOr<ObjectPtr> UpdateStatus(Object o) override { return inner_->UpdateStatus(std::move(o)); }
  StatusOr<ObjectPtr> Delete(std::string_view kind, std::string_view ns, std::string_view name,
                             const Preconditions& pre) override {
    return inner_->Delete(kind, ns, name, pre);
  }
  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) override { return inner_->Watch(opts); }
  uint64_t CurrentRevision() override { return inner_->CurrentRevision(); }

 protected:
  Store* inner() const { return inner_; }

 private:
  Store* const inner_;
};

}  // namespace visi::testing
