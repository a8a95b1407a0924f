#pragma once

// A watch stream read over a raw TLS connection with one thread, so that the
// client side costs little and a benchmark's figure is the server's: visid's
// API watches and etcd's /v3/watch gateway stream alike (chunked HTTP/1.1,
// one JSON document per line).

#include <chrono>
#include <functional>
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

}  // namespace visi::bench
