#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "controller/store/store.h"

namespace visi {

// The buffer between the store's fan-out and one watcher. The store pushes
// under its own lock and never blocks here: a full buffer ends the watch with
// Gone instead of slowing writers.
class WatchChannel : public std::enable_shared_from_this<WatchChannel> {
 public:
  // `revision` is the store's committed revision, published after each
  // fan-out; it stamps bookmarks.
  WatchChannel(WatchOptions opts, size_t capacity, const std::atomic<uint64_t>* revision);

  const WatchOptions& options() const { return opts_; }

  // Decides what this watcher sees of a change from `prev` to `cur` (either
  // may be null) and buffers it. REQUIRES: called in revision order.
  // `bounded` false skips the capacity check (the initial replay).
  // `text` is cur's JSON text, or null.
  void Offer(EventType type, const ObjectPtr& prev, const ObjectPtr& cur,
             const std::shared_ptr<const std::string>& text, uint64_t rv, bool bounded);
  // Ends the stream with an error after the buffered events.
  void Fail(Status s);

  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout);
  void Stop();
  bool stopped() const { return stopped_.load(); }

 private:
  bool Matches(const Object& o) const;
  void PushLocked(WatchEvent e);

  const WatchOptions opts_;
  const size_t capacity_;
  const std::atomic<uint64_t>* revision_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WatchEvent> queue_;       // GUARDED_BY(mu_)
  bool failed_ = false;                // GUARDED_BY(mu_): an error is queued
  uint64_t last_rv_ = 0;               // GUARDED_BY(mu_): newest rv handed out
  std::chrono::steady_clock::time_point last_sent_;  // GUARDED_BY(mu_)
  std::atomic<bool> stopped_{false};
};

// The Watcher handed to callers: stops its channel when destroyed; the
// store drops stopped channels at its next fan-out.
class ChannelWatcher final : public Watcher {
 public:
  explicit ChannelWatcher(std::shared_ptr<WatchChannel> ch) : ch_(std::move(ch)) {}
  ~ChannelWatcher() override { ch_->Stop(); }
  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
    return ch_->Next(timeout);
  }
  void Stop() override { ch_->Stop(); }

 private:
  std::shared_ptr<WatchChannel> ch_;
};

}  // namespace visi
