#pragma once

// A watch stream read over a raw TLS connection with one thread, so that the
// client side costs little and a benchmark's figure is the server's: visid's
// API watches and etcd's /v3/watch gateway stream alike (chunked HTTP/1.1,
// one JSON document per line).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <thread>
#include <string>
#include <string_view>
#include <vector>

#include "test/bench/chunked.h"
#include "test/fakes/raw_tls_client.h"

namespace visi::bench {

class RawWatcher {
 public:
  // The steady-clock stamps (nanoseconds) its writer put in the events of
  // one line of the stream.
  using Stamps = std::function<void(std::string_view line, std::vector<long long>* t0)>;

  // `request`: the whole HTTP request that opens the stream.
  RawWatcher(const std::string& url, const std::string& request, Stamps stamps)
      : conn_(url), stamps_(std::move(stamps)) {
    // Bounded: a stream silent this long ends the run instead of hanging.
    conn_.SetReadTimeout(15000);
    ok_ = conn_.Send(request);
  }
  bool ok() const { return ok_; }

  // Reads until `events` stamped events have arrived or the stream ends,
  // recording each one's delay since its stamp, in milliseconds.
  void Run(int events, std::vector<double>* latencies) {
    std::string raw;   // undecoded bytes
    std::string body;  // decoded chunk data
    bool headers_done = false;
    char buf[65536];
    std::vector<long long> t0;
    while (static_cast<int>(latencies->size()) < events) {
      int n = conn_.Read(buf, sizeof buf);
      if (n <= 0) return;
      const long long now = std::chrono::steady_clock::now().time_since_epoch().count();
      raw.append(buf, n);
      if (!headers_done) {
        size_t end = raw.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        raw.erase(0, end + 4);
        headers_done = true;
      }
      const bool ended = DecodeChunks(&raw, &body);
      size_t start = 0, nl;
      while ((nl = body.find('\n', start)) != std::string::npos) {
        t0.clear();
        stamps_(std::string_view(body).substr(start, nl - start), &t0);
        for (long long t : t0) latencies->push_back((now - t) / 1e6);
        start = nl + 1;
      }
      body.erase(0, start);
      if (ended) return;
    }
  }

 private:
  visi::testing::RawTlsClient conn_;
  Stamps stamps_;
  bool ok_ = false;
};

// Opens `watchers` streams with `request`, then makes `writes` stamped
// writes with `write(n)`, one every `interval_ms`, and prints the delivery
// latency over all watchers: "watch latency WHAT, N watchers, ...". The
// exit status for main(): 1 when a watcher cannot connect or nothing came.
inline int MeasureWatchDelivery(const std::string& what, const std::string& url, const std::string& request,
                                const RawWatcher::Stamps& stamps, int watchers, int writes, int interval_ms,
                                const std::function<void(int)>& write) {
  std::vector<std::unique_ptr<RawWatcher>> ws;
  for (int i = 0; i < watchers; ++i) {
    ws.push_back(std::make_unique<RawWatcher>(url, request, stamps));
    if (!ws.back()->ok()) {
      std::fprintf(stderr, "watcher %d could not connect\n", i);
      return 1;
    }
  }
  std::vector<std::vector<double>> lat(watchers);
  std::vector<std::thread> threads;
  for (int i = 0; i < watchers; ++i) threads.emplace_back([&, i] { ws[i]->Run(writes, &lat[i]); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // streams established
  for (int n = 0; n < writes; ++n) {
    write(n);
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  if (all.empty()) {
    std::printf("no events delivered\n");
    return 1;
  }
  std::printf("watch latency %s, %d watchers, a write every %d ms: p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms, %zu events of %d\n",
              what.c_str(), watchers, interval_ms, all[all.size() / 2], all[all.size() * 99 / 100], all.back(),
              all.size(), watchers * writes);
  return 0;
}

}  // namespace visi::bench
