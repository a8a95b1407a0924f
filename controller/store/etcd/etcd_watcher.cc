#include "controller/store/etcd/etcd_watcher.h"

#include <algorithm>

namespace visi {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// The deleted object when etcd no longer has its last state (compacted):
// what its key says.
ObjectPtr FromKeyOnly(std::string_view relative, uint64_t rv) {
  auto o = std::make_shared<Object>();
  size_t a = relative.find('/'), b = relative.rfind('/');
  o->kind = std::string(relative.substr(0, a));
  if (a != std::string_view::npos && b != a) {
    o->metadata.namespace_ = std::string(relative.substr(a + 1, b - a - 1));
  }
  if (b != std::string_view::npos) o->metadata.name = std::string(relative.substr(b + 1));
  o->metadata.resource_version = rv;
  return o;
}

}  // namespace

EtcdWatcher::EtcdWatcher(std::shared_ptr<EtcdClient> client, EtcdKeyspace keyspace,
                         std::shared_ptr<WatchChannel> channel, EtcdWatchRequest request,
                         uint64_t from, const WatchOptions& opts, milliseconds reconnect_deadline)
    : client_(std::move(client)),
      keyspace_(std::move(keyspace)),
      channel_(std::move(channel)),
      request_(std::move(request)),
      bookmarks_(opts.bookmarks),
      bookmark_interval_(opts.bookmark_interval),
      reconnect_deadline_(reconnect_deadline),
      progress_(from),
      last_rv_(from),
      last_sent_(SteadyClock::now()) {
  request_.prev_kv = true;
  request_.progress_notify = true;
  reader_ = std::thread([this] { Run(); });
}

EtcdWatcher::~EtcdWatcher() {
  Stop();
  reader_.join();
}

void EtcdWatcher::Stop() {
  channel_->Stop();
  std::lock_guard lock(mu_);
  stopped_ = true;
  if (stream_) stream_->Cancel();
  cv_.notify_all();
}

std::optional<WatchEvent> EtcdWatcher::Next(milliseconds timeout) {
  auto deliver = [&](WatchEvent e) {
    if (e.type != EventType::kError) {
      last_rv_ = std::max(last_rv_, e.resource_version);
      last_sent_ = SteadyClock::now();
    }
    return e;
  };
  auto deadline = SteadyClock::now() + timeout;
  while (true) {
    auto now = SteadyClock::now();
    auto wake = deadline;
    if (bookmarks_) {
      if (now - last_sent_ >= bookmark_interval_) {
        // Read the progress before looking at the channel: the reader
        // publishes it after offering every event up to it, so an empty
        // channel then means nothing at or below it is left to deliver.
        uint64_t vouched = progress_.load(std::memory_order_acquire);
        if (auto e = channel_->Next(milliseconds(0))) return deliver(std::move(*e));
        last_sent_ = now;  // look again after another interval
        if (vouched > last_rv_) {
          last_rv_ = vouched;
          WatchEvent b;
          b.type = EventType::kBookmark;
          b.resource_version = vouched;
          return b;
        }
      }
      wake = std::min(wake, last_sent_ + bookmark_interval_);
    }
    auto wait = std::max(milliseconds(0), std::chrono::ceil<milliseconds>(wake - now));
    if (auto e = channel_->Next(wait)) return deliver(std::move(*e));
    if (SteadyClock::now() >= deadline) return std::nullopt;
  }
}

void EtcdWatcher::Run() {
  std::optional<SteadyClock::time_point> down_since;
  milliseconds backoff(50);
  while (true) {
    std::shared_ptr<EtcdWatchStream> stream = client_->NewWatchStream();
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
      stream_ = stream;
    }
    request_.start_revision = static_cast<int64_t>(progress_.load()) + 1;
    bool accepted = false;
    Status s = stream->Start(request_);
    if (s.ok()) s = Stream(*stream, &accepted);
    {
      std::lock_guard lock(mu_);
      stream_.reset();
      if (stopped_) return;
    }
    if (s.ok()) return;  // the watch has ended
    if (s.code() != Code::kUnavailable) {
      channel_->Fail(s);
      return;
    }
    // The stream broke or no member took it: reopen from the last revision
    // offered, backing off while no member answers.
    auto now = SteadyClock::now();
    if (accepted) {
      down_since.reset();
      backoff = milliseconds(50);
    }
    if (!down_since) down_since = now;
    if (now - *down_since > reconnect_deadline_) {
      channel_->Fail(UnavailableError("the watch lost etcd: " + s.message()));
      return;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [&] { return stopped_; })) return;
    backoff = std::min(backoff * 2, milliseconds(2000));
  }
}

Status EtcdWatcher::Stream(EtcdWatchStream& stream, bool* accepted) {
  while (true) {
    auto r = stream.Read();
    if (!r.ok()) return r.status();
    if (r->created) *accepted = true;
    if (r->canceled) {
      if (r->compact_revision > 0) {
        channel_->Fail(
            GoneError("too old resource version: " + std::to_string(request_.start_revision - 1) +
                      " (" + std::to_string(r->compact_revision) + ")"));
      } else {
        channel_->Fail(UnavailableError("etcd at " + stream.endpoint() + " canceled the watch" +
                                        (r->cancel_reason.empty() ? "" : ": " + r->cancel_reason)));
      }
      return OkStatus();
    }
    if (r->created) continue;
    if (!Offer(*r)) return OkStatus();
  }
}

bool EtcdWatcher::Offer(const EtcdWatchResponse& r) {
  uint64_t done = progress_.load();
  uint64_t top = done;
  for (const EtcdEvent& ev : r.events) {
    uint64_t rv = static_cast<uint64_t>(ev.kv.mod_revision);
    if (rv <= done) continue;  // already offered before the stream was reopened
    ObjectPtr prev, cur;
    if (ev.prev_kv) {
      auto p = keyspace_.Decode(*ev.prev_kv);
      if (!p.ok()) {
        channel_->Fail(p.status());
        return false;
      }
      prev = *p;
    }
    EventType type;
    if (ev.type == EtcdEvent::Type::kPut) {
      auto c = keyspace_.Decode(ev.kv);
      if (!c.ok()) {
        channel_->Fail(c.status());
        return false;
      }
      cur = *c;
      type = ev.kv.create_revision == ev.kv.mod_revision ? EventType::kAdded : EventType::kModified;
    } else {
      // A deleted object's last state, at the deletion's revision.
      type = EventType::kDeleted;
      if (prev) {
        auto last = std::make_shared<Object>(*prev);
        last->metadata.resource_version = rv;
        cur = last;
      } else {
        cur = FromKeyOnly(keyspace_.Relative(ev.kv.key), rv);
      }
    }
    channel_->Offer(type, prev, cur, nullptr, rv, /*bounded=*/true);
    top = std::max(top, rv);
  }
  if (r.IsProgress()) top = std::max(top, static_cast<uint64_t>(r.revision));
  if (top > done) progress_.store(top, std::memory_order_release);
  return !channel_->stopped();
}

}  // namespace visi
