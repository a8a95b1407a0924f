#pragma once

// A Store whose watches of one kind deliver each event `delay` late: an
// informer cache that lags behind the store, as a loaded visid's may (its
// watch stream is behind, other kinds' are not). Everything else goes
// straight to the wrapped store. For tests of logic only.
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "test/fakes/forwarding_store.h"

namespace visi::testing {

class SlowWatchStore : public ForwardingStore {
 public:
  SlowWatchStore(Store* inner, std::string kind, std::chrono::milliseconds delay)
      : ForwardingStore(inner), kind_(std::move(kind)), delay_(delay) {}

  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) override {
    auto w = ForwardingStore::Watch(opts);
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

  const std::string kind_;
  const std::chrono::milliseconds delay_;
};

}  // namespace visi::testing
