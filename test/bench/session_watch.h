#pragma once

#include <openssl/err.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "controller/api/object.h"
#include "controller/client/config.h"
#include "test/bench/chunked.h"
#include "test/fakes/raw_tls_client.h"

namespace visi::bench {

using SteadyTime = std::chrono::steady_clock::time_point;

// What one watch saw of a session, stamped when the event's bytes arrived
// (zero: not seen yet).
struct SessionTimes {
  SteadyTime added;         // the create's event
  SteadyTime picked_up;     // the reconciler's finalizer: it has the session
  SteadyTime first_status;  // the reconciler's first status write
  SteadyTime ready;         // the first status with Ready=True
  SteadyTime deleted;
  int status_writes = 0;  // distinct statuses up to and including the Ready one
  bool is_ready() const { return ready != SteadyTime{}; }
  bool is_deleted() const { return deleted != SteadyTime{}; }
};

inline bool ReadyIn(const Json& status) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return false;
  for (const auto& c : status["conditions"]) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

// Follows a collection of VisiSessions through one watch and keeps, by name,
// the SessionTimes of each. The stream is read by a raw TLS client on a
// thread of its own (as in api_watch_bench.cc), so that an event is stamped
// the moment its bytes arrive and not when a client library hands it over;
// reads time out every 100 ms so that the destructor is prompt. A stream the
// server ends is resumed from the last resourceVersion.
class SessionWatch {
 public:
  // Watches `path` (a collection) from `resource_version` on.
  SessionWatch(ClientConfig config, std::string path, std::string resource_version)
      : config_(std::move(config)), path_(std::move(path)), rv_(std::move(resource_version)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SessionWatch() {
    stop_ = true;
    thread_.join();
  }

  // Waits until `done` holds for `name`'s times, `deadline` passes or
  // `interrupted` says so (asked every 100 ms); returns the times either way.
  SessionTimes WaitFor(const std::string& name, const std::function<bool(const SessionTimes&)>& done,
                       SteadyTime deadline, const std::function<bool()>& interrupted) {
    std::unique_lock lock(mu_);
    while (!done(times_[name]) && !interrupted() && std::chrono::steady_clock::now() < deadline) {
      cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(100)));
    }
    return times_[name];
  }
  int connects() const { return connects_; }

 private:
  void Run() {
    while (!stop_) {
      ++connects_;
      if (!Stream() && !stop_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  // One watch connection; false when it could not be opened.
  bool Stream() {
    testing::RawTlsClient conn(config_.server);
    if (!conn.Send("GET " + path_ + "?watch=true&resourceVersion=" + rv_ +
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + config_.token + "\r\n\r\n")) {
      std::fprintf(stderr, "watch: cannot connect to %s\n", config_.server.c_str());
      return false;
    }
    conn.SetReadTimeout(100);
    std::string raw, body;  // undecoded bytes; decoded chunk data
    bool headers_done = false;
    char buf[65536];
    while (!stop_) {
      errno = 0;
      int n = conn.Read(buf, sizeof buf);
      if (n <= 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          ERR_clear_error();
          continue;  // no data for 100 ms: look at stop_
        }
        return true;  // the server ended the stream
      }
      const auto now = std::chrono::steady_clock::now();
      raw.append(buf, n);
      if (!headers_done) {
        size_t end = raw.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        if (raw.rfind("HTTP/1.1 200", 0) != 0) {
          std::fprintf(stderr, "watch: %s\n", raw.substr(0, raw.find("\r\n")).c_str());
          return false;
        }
        raw.erase(0, end + 4);
        headers_done = true;
      }
      if (DecodeChunks(&raw, &body)) return true;
      size_t nl;
      while ((nl = body.find('\n')) != std::string::npos) {
        auto e = ParseJson(std::string_view(body).substr(0, nl));
        body.erase(0, nl + 1);
        if (e.ok()) Observe(*e, now);  // heartbeats are empty lines
      }
    }
    return true;
  }
  void Observe(const Json& e, SteadyTime now) {
    if (!e.contains("object") || !e["object"].is_object()) return;
    const Json& o = e["object"];
    const Json meta = o.value("metadata", Json::object());
    if (meta.contains("resourceVersion")) {
      const Json& rv = meta["resourceVersion"];
      rv_ = rv.is_string() ? rv.get<std::string>() : rv.dump();
    }
    const std::string name = meta.value("name", "");
    std::lock_guard lock(mu_);
    SessionTimes& t = times_[name];
    if (t.added == SteadyTime{}) t.added = now;
    if (t.picked_up == SteadyTime{} && meta.contains("finalizers") && !meta["finalizers"].empty()) {
      t.picked_up = now;
    }
    const Json status = o.value("status", Json());
    if (status.is_object() && !status.empty()) {
      if (t.first_status == SteadyTime{}) t.first_status = now;
      if (!t.is_ready() && status != last_status_[name]) ++t.status_writes;
      last_status_[name] = status;
      if (!t.is_ready() && ReadyIn(status)) t.ready = now;
    }
    if (e.value("type", "") == "DELETED") t.deleted = now;
    cv_.notify_all();
  }

  const ClientConfig config_;
  const std::string path_;
  std::string rv_;  // only the watch thread touches it after construction
  std::atomic<bool> stop_{false};
  std::atomic<int> connects_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, SessionTimes> times_;
  std::map<std::string, Json> last_status_;
  std::thread thread_;
};

}  // namespace visi::bench
