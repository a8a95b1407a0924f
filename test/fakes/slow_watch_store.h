#pragma once

// A Store whose watches of one kind deliver each event `delay` late: an
// informer cache that lags behind the store, as a loaded visid's may (its
// watch stream is behind, other kinds' are not). Everything else goes
// straight to the wrapped store. For tests of logic only.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "controller/store/store.h"

namespace visi::testing {

class SlowWatchStore : public Store {
 public:
  SlowWatchStore(Store* inner, std::string kind, std::chrono::milliseconds delay)
      : inner_(inner), kind_(std::move(kind)), delay_(delay) {}

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
  uint64_t CurrentRevision() override { return inner_->CurrentRevision(); }

  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) override {
    auto w = inner_->Watch(opts);
    if (!w.ok() || opts.kind != kind_) return w;
    return std::unique_ptr<Watcher>(new Slow(std::move(*w), delay_));
  }

 private:
  class Slow : public Watcher {
   public:
    Slow(std::unique_ptr<Watcher> inner, std::chrono::milliseconds delay) : inner_(std::move(inner)), delay_(delay) {}
    std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
      auto e = inner_->Next(timeout);
      if (e && e->type != EventType::kError && e->type != EventType::kBookmark) std::this_thread::sleep_for(delay_);
      return e;
    }
    void Stop() override { inner_->Stop(); }

   private:
    std::unique_ptr<Watcher> inner_;
    const std::chrono::milliseconds delay_;
  };

  Store* const inner_;
  const std::string kind_;
  const std::chrono::milliseconds delay_;
};

}  // namespace visi::testing
