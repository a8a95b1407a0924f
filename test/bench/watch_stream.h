#pragma once

#include <openssl/err.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "controller/api/object.h"
#include "controller/client/config.h"
#include "test/bench/chunked.h"
#include "test/fakes/raw_tls_client.h"

namespace visi::bench {

// What WatchStream saw last.
enum class WatchEnd {
  kStopped,  // `on_event` returned false
  kGaveUp,   // `keep_going` returned false
  kEnded,    // the server ended the stream (a re-watch may continue)
  kFailed,   // no connection or not 200
};

// Follows one watch (`target` is a path with ?watch=true&resourceVersion=RV)
// over a raw TLS connection, as session_watch.h does: each event is handed
// to `on_event` with the moment its bytes arrived. Reads time out every
// 100 ms to ask `keep_going`, so a caller's deadline holds even when no
// event comes (ApiClient::Watch waits for the next event).
inline WatchEnd WatchStream(const ClientConfig& config, const std::string& target,
                            const std::function<bool(const Json&, std::chrono::steady_clock::time_point)>& on_event,
                            const std::function<bool()>& keep_going) {
  testing::RawTlsClient conn(config.server);
  if (!conn.Send("GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + config.token +
                 "\r\n\r\n")) {
    return WatchEnd::kFailed;
  }
  conn.SetReadTimeout(100);
  std::string raw, body;  // undecoded bytes; decoded chunk data
  bool headers_done = false;
  char buf[65536];
  while (keep_going()) {
    errno = 0;
    int n = conn.Read(buf, sizeof buf);
    if (n <= 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        ERR_clear_error();
        continue;
      }
      return WatchEnd::kEnded;
    }
    const auto now = std::chrono::steady_clock::now();
    raw.append(buf, n);
    if (!headers_done) {
      size_t end = raw.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      if (raw.rfind("HTTP/1.1 200", 0) != 0) return WatchEnd::kFailed;
      raw.erase(0, end + 4);
      headers_done = true;
    }
    if (DecodeChunks(&raw, &body)) return WatchEnd::kEnded;
    size_t nl;
    while ((nl = body.find('\n')) != std::string::npos) {
      auto e = ParseJson(std::string_view(body).substr(0, nl));
      body.erase(0, nl + 1);
      if (e.ok() && !on_event(*e, now)) return WatchEnd::kStopped;  // heartbeats are empty lines
    }
  }
  return WatchEnd::kGaveUp;
}

}  // namespace visi::bench
