#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/drivers/docker/docker_http.h"

// Where a suspend or resume spent its time, on Docker's own clock: the
// daemon's event log read through the Engine API (the driver has no events
// call), as session_start.h's AddDockerTimes does for a start.
namespace visi::bench {

// "seconds.nanoseconds", as the Engine API takes times.
inline std::string EngineTime(std::chrono::system_clock::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(ns / 1000000000),
                static_cast<long long>(ns % 1000000000));
  return buf;
}

// The container and network actions on objects whose names start with
// `prefix` since `since`, each with the seconds from `since` to its last
// occurrence, in order of that time: "stop +0.35 s, archive-path +0.36 s,
// destroy +5.90 s, network destroy +6.01 s". `actions` picks which
// (container actions by name, network ones as "network ACTION"). Call it
// right after the step: the daemon keeps only its last 256 events.
inline std::string DockerActions(const DockerHttp& docker, const std::string& prefix,
                                 std::chrono::system_clock::time_point since, const std::vector<std::string>& actions) {
  DockerRequest req;
  req.method = "GET";
  req.target = "/v1.41/events?since=" + EngineTime(since) + "&until=" + EngineTime(std::chrono::system_clock::now()) +
               "&filters=%7B%22type%22%3A%5B%22container%22%2C%22network%22%5D%7D";  // {"type":["container","network"]}
  req.timeout = std::chrono::milliseconds(10000);
  auto r = docker.RoundTrip(req);
  if (!r.ok() || r->status != 200) return "docker events unreadable";
  std::map<std::string, int64_t> last_ns;  // action -> its last time
  size_t from = 0, nl;
  while ((nl = r->body.find('\n', from)) != std::string::npos) {
    auto e = ParseJson(std::string_view(r->body).substr(from, nl - from));
    from = nl + 1;
    if (!e.ok() || !e->is_object() || !(*e)["timeNano"].is_number_integer() || !(*e)["Action"].is_string()) continue;
    const Json& attributes = (*e)["Actor"]["Attributes"];
    if (!attributes.is_object() || attributes.value("name", "").rfind(prefix, 0) != 0) continue;
    std::string action = (*e)["Action"].get<std::string>();
    if ((*e).value("Type", "") == "network") action = "network " + action;
    int64_t& t = last_ns[action];
    t = std::max(t, (*e)["timeNano"].get<int64_t>());
  }
  const int64_t since_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count();
  std::multimap<int64_t, std::string> by_time;
  for (const auto& a : actions) {
    auto it = last_ns.find(a);
    if (it != last_ns.end()) by_time.emplace(it->second, a);
  }
  std::string out;
  for (const auto& [t, action] : by_time) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%s +%.2f s", out.empty() ? "" : ", ", action.c_str(), (t - since_ns) / 1e9);
    out += buf;
  }
  return out.empty() ? "no docker events" : out;
}

}  // namespace visi::bench
