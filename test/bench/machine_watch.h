#pragma once

// farm_bench's eye on a pool's machines: when each new FarmMachine was
// created and when it was first Ready, from one watch of the API.
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "controller/client/api_client.h"
#include "test/bench/session_watch.h"
#include "test/bench/watch_stream.h"

namespace visi::bench {

inline std::string ResourceVersionOf(const Json& o) {
  const Json meta = o.is_object() ? o.value("metadata", Json::object()) : Json::object();
  if (!meta.is_object() || !meta.contains("resourceVersion")) return "0";
  const Json& rv = meta["resourceVersion"];
  return rv.is_string() ? rv.get<std::string>() : rv.dump();
}

// The FarmMachines of `pool` created while this object lives, as one watch
// sees them (watch_stream.h): when each was created and when it first had
// Ready=True, stamped when the event's bytes arrived. Machines that existed
// before are left out.
class NewMachines {
 public:
  struct Times {
    std::chrono::steady_clock::time_point added, ready;  // zero: not seen
  };
  NewMachines(ClientConfig config, std::string pool) : config_(std::move(config)), pool_(std::move(pool)) {
    rv_ = ListVersion();
    thread_ = std::thread([this] { Run(); });
  }
  ~NewMachines() {
    stop_ = true;
    thread_.join();
  }
  std::map<std::string, Times> Seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  static inline const std::string kMachines = visi::ResourcePath("farmmachines", "");
  std::string ListVersion() const {
    auto r = visi::ApiClient(config_).Request("GET", kMachines);
    auto j = r.ok() ? ParseJson(r.body) : StatusOr<Json>(r.ToStatus());
    return j.ok() ? ResourceVersionOf(*j) : "0";
  }
  void Run() {
    while (!stop_) {
      const WatchEnd end = WatchStream(
          config_, kMachines + "?watch=true&resourceVersion=" + rv_,
          [this](const Json& e, std::chrono::steady_clock::time_point now) { return Observe(e, now); }, [this] { return !stop_; });
      if (end == WatchEnd::kStopped) rv_ = ListVersion();  // an ERROR event (410): events in between are lost
      if (end != WatchEnd::kGaveUp) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  bool Observe(const Json& e, std::chrono::steady_clock::time_point now) {
    const Json o = e.value("object", Json::object());
    if (e.value("type", "") == "ERROR" || !o.is_object()) return false;
    rv_ = ResourceVersionOf(o);
    const Json spec = o.value("spec", Json::object());
    if (!spec.is_object() || spec.value("pool", "") != pool_) return true;
    const std::string name = o.value("metadata", Json::object()).value("name", "");
    std::lock_guard lock(mu_);
    if (e.value("type", "") == "ADDED") seen_[name].added = now;
    auto it = seen_.find(name);
    if (it != seen_.end() && it->second.ready == std::chrono::steady_clock::time_point{} && ReadyIn(o.value("status", Json()))) {
      it->second.ready = now;
    }
    return true;
  }

  const ClientConfig config_;
  const std::string pool_;
  std::string rv_;  // only the watch thread touches it after construction
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<std::string, Times> seen_;
  std::thread thread_;
};

}  // namespace visi::bench
