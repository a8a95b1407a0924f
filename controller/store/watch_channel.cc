#include "controller/store/watch_channel.h"

namespace visi {

const char* EventTypeName(EventType t) {
  switch (t) {
    case EventType::kAdded: return "ADDED";
    case EventType::kModified: return "MODIFIED";
    case EventType::kDeleted: return "DELETED";
    case EventType::kBookmark: return "BOOKMARK";
    case EventType::kError: return "ERROR";
  }
  return "ERROR";
}

WatchChannel::WatchChannel(WatchOptions opts, size_t capacity, const std::atomic<uint64_t>* revision)
    : opts_(std::move(opts)), capacity_(capacity), revision_(revision),
      last_sent_(std::chrono::steady_clock::now()) {}

bool WatchChannel::Matches(const Object& o) const {
  if (!opts_.namespace_.empty() && o.metadata.namespace_ != opts_.namespace_) return false;
  return opts_.labels.Matches(o.metadata.labels) && opts_.fields.Matches(o);
}

void WatchChannel::Offer(EventType type, const ObjectPtr& prev, const ObjectPtr& cur,
                         const std::shared_ptr<const std::string>& text, uint64_t rv, bool bounded) {
  if (stopped_.load(std::memory_order_relaxed)) return;
  if (opts_.resource_version && rv <= *opts_.resource_version) return;
  // With a selector, an object moving into or out of the selection is seen
  // as ADDED or DELETED, as Kubernetes does.
  bool now_in = cur && Matches(*cur);
  bool was_in = prev && Matches(*prev);
  WatchEvent e;
  e.resource_version = rv;
  e.text = text;
  if (type == EventType::kDeleted) {
    if (!now_in && !was_in) return;
    e.type = EventType::kDeleted;
    e.object = cur;
  } else if (now_in) {
    e.type = (type == EventType::kAdded || !was_in) ? EventType::kAdded : EventType::kModified;
    if (type == EventType::kModified && !prev) e.type = EventType::kModified;
    e.object = cur;
  } else if (was_in) {
    e.type = EventType::kDeleted;
    e.object = cur;
  } else {
    return;
  }
  std::lock_guard lock(mu_);
  if (failed_) return;
  if (bounded && queue_.size() >= capacity_) {
    failed_ = true;
    WatchEvent err;
    err.type = EventType::kError;
    err.error = GoneError("watch buffer overflowed (" + std::to_string(capacity_) +
                          " events): the watcher is too slow; re-watch from resourceVersion " +
                          std::to_string(last_rv_));
    queue_.push_back(std::move(err));
    cv_.notify_all();
    return;
  }
  PushLocked(std::move(e));
}

void WatchChannel::PushLocked(WatchEvent e) {
  queue_.push_back(std::move(e));
  cv_.notify_one();
}

void WatchChannel::Fail(Status s) {
  std::lock_guard lock(mu_);
  if (failed_) return;
  failed_ = true;
  WatchEvent err;
  err.type = EventType::kError;
  err.error = std::move(s);
  queue_.push_back(std::move(err));
  cv_.notify_all();
}

std::optional<WatchEvent> WatchChannel::Next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (stopped_.load()) {
      WatchEvent e;
      e.type = EventType::kError;
      e.error = Status(Code::kGone, "watch stopped");
      return e;
    }
    if (!queue_.empty()) {
      WatchEvent e = std::move(queue_.front());
      if (e.type != EventType::kError) queue_.pop_front();  // an error stays: the end
      if (e.resource_version > last_rv_) last_rv_ = e.resource_version;
      last_sent_ = std::chrono::steady_clock::now();
      return e;
    }
    auto now = std::chrono::steady_clock::now();
    if (opts_.bookmarks && now - last_sent_ >= opts_.bookmark_interval) {
      // The queue is empty under mu_, and the store publishes its revision
      // only after fanning out every event up to it: nothing older is pending.
      uint64_t rv = revision_->load(std::memory_order_acquire);
      if (rv >= last_rv_) {
        last_rv_ = rv;
        last_sent_ = now;
        WatchEvent e;
        e.type = EventType::kBookmark;
        e.resource_version = rv;
        return e;
      }
    }
    if (now >= deadline) return std::nullopt;
    auto wake = deadline;
    if (opts_.bookmarks) wake = std::min(wake, last_sent_ + opts_.bookmark_interval);
    cv_.wait_until(lock, wake);
  }
}

void WatchChannel::Stop() {
  stopped_.store(true);
  std::lock_guard lock(mu_);
  cv_.notify_all();
}

}  // namespace visi
