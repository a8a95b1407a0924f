#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "controller/store/etcd/etcd_client.h"
#include "controller/store/etcd/etcd_keyspace.h"
#include "controller/store/store.h"
#include "controller/store/watch_channel.h"

namespace visi {

// One Store watch on an etcd watch stream, read by a thread of its own into
// a WatchChannel (which applies namespace and selectors, and ends a watcher
// that falls `capacity` events behind with Gone, as the embedded store
// does). A stream that breaks is reopened, on another member if needed,
// from the last revision delivered; history etcd has compacted meanwhile
// gives Gone; no member for `reconnect_deadline` gives Unavailable.
//
// Bookmarks carry the newest revision the stream has vouched for: that of
// its last event or of etcd's last progress notification (sent every
// --experimental-watch-progress-notify-interval while the stream is idle,
// 10 minutes by default). A bookmark is sent only when that revision moved
// past everything already delivered.
class EtcdWatcher final : public Watcher {
 public:
  // Streams `request.key`..`request.range_end` from `from` + 1; every event
  // at or below `from` was already offered to `channel`.
  EtcdWatcher(std::shared_ptr<EtcdClient> client, EtcdKeyspace keyspace,
              std::shared_ptr<WatchChannel> channel, EtcdWatchRequest request, uint64_t from,
              const WatchOptions& opts, std::chrono::milliseconds reconnect_deadline);
  ~EtcdWatcher() override;

  // REQUIRES: one caller at a time.
  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override;
  void Stop() override;

 private:
  void Run();
  // Streams until the stream breaks (the error) or the watch ends (OK).
  Status Stream(EtcdWatchStream& stream, bool* delivered);
  // Offers one response's events; false when the watch has ended.
  bool Offer(const EtcdWatchResponse& r);

  const std::shared_ptr<EtcdClient> client_;
  const EtcdKeyspace keyspace_;
  const std::shared_ptr<WatchChannel> channel_;
  EtcdWatchRequest request_;  // the reader thread's
  const bool bookmarks_;
  const std::chrono::milliseconds bookmark_interval_;
  const std::chrono::milliseconds reconnect_deadline_;
  // The revision up to which every event was offered to the channel.
  std::atomic<uint64_t> progress_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;                     // GUARDED_BY(mu_)
  std::shared_ptr<EtcdWatchStream> stream_;  // GUARDED_BY(mu_): the open one

  // Next()'s own.
  uint64_t last_rv_ = 0;
  std::chrono::steady_clock::time_point last_sent_;

  std::thread reader_;
};

}  // namespace visi
