#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/object.h"
#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/docker/docker_http.h"
#include "reconcilers/session/prober.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_spec.h"

// Pieces of session_bench.cc: a timed session start, the direct way to
// start one, and Docker's own record of when it did each step.
namespace visi::bench {

using Steady = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;

constexpr auto kProbeEvery = std::chrono::milliseconds(5);
constexpr auto kProbeTimeout = std::chrono::milliseconds(1000);

template <typename D>
double Ms(D d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// One timed session start, direct or through visid.
struct Start {
  Status status;
  std::string network;  // its Docker events carry this name
  Wall::time_point applied;
  double ready_ms = 0;
  double picked_up_ms = 0;  // visi: apply -> the reconciler's finalizer
  int status_writes = 0;    // visi: statuses written up to the Ready one
  // On Docker's clock (the same host's wall clock): apply -> the network's
  // create event, apply -> the front end's start event; -1: not found.
  double network_ms = -1, frontend_ms = -1;
  // Between those two, summed over the containers: the previous event (the
  // network's create, the previous container's start) -> this container's
  // create event, and its create -> its start event. Each span holds the
  // daemon's work on one call and the client's turn before that call.
  double to_creates_ms = 0, to_starts_ms = 0;
};

// Starts `d` the way the reconciler would, without it: the network, then
// each container created and started in order, then both probes every 5 ms
// until they pass or `deadline`. Times from `t0` (the same moment as
// `applied`, on the other clock).
inline Start StartDirect(ContainerRuntime* rt, Prober* prober, const DesiredSession& d, const SessionSpec& spec,
                         Steady::time_point t0, Wall::time_point applied, Steady::time_point deadline) {
  Start r;
  r.network = d.network.name;
  r.applied = applied;
  auto failed = [&](Status s) {
    r.status = std::move(s);
    return r;
  };
  if (auto n = rt->CreateNetwork(d.network); !n.ok()) return failed(n.status());
  for (const auto& c : d.containers) {
    if (auto id = rt->CreateContainer(c); !id.ok()) return failed(id.status());
    if (Status s = rt->StartContainer(c.name); !s.ok()) return failed(s);
  }
  std::string master_ip, frontend_ip;
  for (const ContainerSpec* c : {&d.containers.front(), &d.containers.back()}) {
    auto info = rt->InspectContainer(c->name);
    if (!info.ok()) return failed(info.status());
    auto ip = info->ips.find(d.network.name);
    if (ip == info->ips.end()) return failed(InternalError(c->name + " has no address on " + d.network.name));
    (c->hostname == "master" ? master_ip : frontend_ip) = ip->second;
  }
  bool master = false, frontend = false;
  while (true) {
    master = master || prober->Tcp(master_ip, spec.master_port, kProbeTimeout).ok();
    frontend = frontend || prober->Http(frontend_ip, spec.frontend_port, spec.readiness_path, kProbeTimeout).ok();
    if (master && frontend) break;
    if (Steady::now() >= deadline) {
      return failed(Status(Code::kDeadlineExceeded, d.network.name + " not ready within the limit"));
    }
    std::this_thread::sleep_for(kProbeEvery);
  }
  r.ready_ms = Ms(Steady::now() - t0);
  return r;
}

inline void RemoveDirect(ContainerRuntime* rt, const DesiredSession& d) {
  for (const auto& c : d.containers) (void)rt->RemoveContainer(c.name, std::chrono::seconds(0));
  (void)rt->RemoveNetwork(d.network.name);
}

// "seconds.nanoseconds", as the Engine API takes times.
inline std::string UnixTime(Wall::time_point t) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%09lld", static_cast<long long>(ns / 1000000000),
                static_cast<long long>(ns % 1000000000));
  return buf;
}

// Fills in Docker's own times of `starts` (network created, front end
// started) from the daemon's event log, read through the Engine API (the
// driver has no events call). Call it right after they were Ready: the
// daemon keeps only its last 256 events, whoever caused them.
// `workers`: how many workers each session has.
inline void AddDockerTimes(const DockerHttp& docker, int workers, const std::vector<Start*>& starts) {
  if (starts.empty()) return;
  Wall::time_point since = starts.front()->applied;
  for (const Start* s : starts) since = std::min(since, s->applied);
  DockerRequest req;
  req.method = "GET";
  req.target = "/v1.41/events?since=" + UnixTime(since - std::chrono::seconds(1)) + "&until=" + UnixTime(Wall::now()) +
               "&filters=%7B%22event%22%3A%5B%22create%22%2C%22start%22%5D%7D";  // {"event":["create","start"]}
  req.timeout = std::chrono::milliseconds(10000);
  auto r = docker.RoundTrip(req);
  if (!r.ok() || r->status != 200) {
    std::fprintf(stderr, "docker events: %s\n", r.ok() ? r->body.c_str() : r.status().ToString().c_str());
    return;
  }
  std::map<std::string, Wall::time_point> at;  // by "NAME ACTION"
  size_t from = 0, nl;
  while ((nl = r->body.find('\n', from)) != std::string::npos) {
    auto e = ParseJson(std::string_view(r->body).substr(from, nl - from));
    from = nl + 1;
    if (!e.ok() || !e->is_object() || !(*e)["timeNano"].is_number_integer()) continue;
    const Json& attributes = (*e)["Actor"]["Attributes"];
    if (!attributes.is_object() || !(*e)["Action"].is_string()) continue;
    const std::chrono::nanoseconds t((*e)["timeNano"].get<int64_t>());
    at.emplace(attributes.value("name", "") + " " + (*e)["Action"].get<std::string>(),
               Wall::time_point(std::chrono::duration_cast<Wall::duration>(t)));
  }
  std::vector<std::string> parts = {"master"};
  for (int i = 0; i < workers; ++i) parts.push_back("worker-" + std::to_string(i));
  parts.push_back("frontend");
  for (Start* s : starts) {
    auto net = at.find(s->network + " create");
    if (net == at.end()) continue;
    Wall::time_point previous = net->second;
    double to_creates = 0, to_starts = 0;
    bool all = true;
    for (const auto& part : parts) {
      auto created = at.find(s->network + "-" + part + " create");
      auto started = at.find(s->network + "-" + part + " start");
      if (created == at.end() || started == at.end()) {
        all = false;
        break;
      }
      to_creates += Ms(created->second - previous);
      to_starts += Ms(started->second - created->second);
      previous = started->second;
    }
    if (!all) continue;
    s->network_ms = Ms(net->second - s->applied);
    s->frontend_ms = Ms(previous - s->applied);
    s->to_creates_ms = to_creates;
    s->to_starts_ms = to_starts;
  }
}

}  // namespace visi::bench
