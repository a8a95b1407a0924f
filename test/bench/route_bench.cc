// Routing benchmark (not a test): what the HAProxy driver costs, each figure
// against a baseline measured in the same run.
//   1. Route changes: N routes applied with HaproxyRouter (1 login each),
//      re-pointed to another backend, given a second login, removed; each
//      call timed. Baseline: the same Runtime API writes sent bare through
//      RuntimeApi, without the three reads HaproxyRouter makes first to
//      observe HAProxy's state. ROUNDS rounds, the order alternating (raw
//      router, router raw); both leave the same state (checked by
//      ListRoutes).
//   2. Growth: K new routes applied and removed while 0, 1000 and 2000
//      routes are present, against the bare writes and the three reads alone.
//   3. Proxy overhead: busybox httpd in a container, loaded directly and
//      through HAProxy (cookie and route prefix) at 16 connections, by wrk
//      and by a built-in client that also times connects (http_load.h):
//      wrk direct, wrk proxy, client direct, client proxy, twice; after
//      checking that HAProxy answers 200 with the cookie and 403 without.
//      Each run's latency figures are checked against Little's law.
// Usage: route_bench [--dir DIR] [--routes N] [--rounds R] [--seconds S] [--no-docker]
// DIR (default: a new /tmp/visi-route-bench-*) holds HAProxy's runtime files
// and haproxy.pid; S is the length of each load run (5). Bounded:
// everything gives up at a global deadline (110 s); HAProxy and wrk are
// stopped by pid; the container and network carry
// visi.dev/bench=route-<pid> and are removed at the end, also after SIGINT
// or SIGTERM.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "controller/drivers/haproxy/haproxy_router.h"
#include "controller/drivers/haproxy/managed_haproxy.h"
#include "test/bench/busybox_upstream.h"
#include "test/bench/http_load.h"
#include "test/bench/wrk_run.h"

namespace visi::bench {
namespace {

using Steady = std::chrono::steady_clock;

constexpr auto kBudget = std::chrono::seconds(110);
constexpr int kGrowthSamples = 50;
constexpr int kGrowthLevels[] = {0, 1000, 2000};
constexpr int kConnections = 16;
// One wrk thread: wrk, HAProxy and the upstream share two cores here.
constexpr int kWrkThreads = 1;
const std::string kUpstreamPath = "/s/bench/web/index.html";  // the same file both ways

volatile std::sig_atomic_t g_interrupted = 0;
Steady::time_point g_deadline;
bool OutOfTime() { return g_interrupted != 0 || Steady::now() >= g_deadline; }

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Nearest rank.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// The times of the calls of one kind, made back to back.
struct Samples {
  std::vector<double> ms;
  double total_ms = 0;
  double PerSecond() const { return total_ms > 0 ? ms.size() * 1000.0 / total_ms : 0; }
  double P50() const { return Percentile(ms, 50); }
  double P99() const { return Percentile(ms, 99); }
};

// Runs `op` and records its time; false (saying why) when it failed.
template <typename F>
bool Timed(Samples* samples, const std::string& what, F op) {
  if (OutOfTime()) {
    std::fprintf(stderr, "%s: %s\n", what.c_str(), g_interrupted ? "interrupted" : "out of time");
    return false;
  }
  const auto t0 = Steady::now();
  Status s = op();
  const double ms = Ms(Steady::now() - t0);
  samples->ms.push_back(ms);
  samples->total_ms += ms;
  if (!s.ok()) std::fprintf(stderr, "%s failed: %s\n", what.c_str(), s.ToString().c_str());
  return s.ok();
}

// Route i of namespace `ns`: `logins` cookie hashes, backend 127.0.0.1:port.
Route BenchRoute(const std::string& ns, int i, int port, int logins) {
  Route r{ns + "/r" + std::to_string(i), "/s/" + ns + "/r" + std::to_string(i) + "/", {}, ""};
  for (int j = 0; j < logins; ++j) r.cookie_hashes.push_back(CookieHash(r.key + "#" + std::to_string(j)));
  r.backend = "127.0.0.1:" + std::to_string(port);
  return NormalizeRoute(std::move(r));
}

// The Runtime API writes HaproxyRouter makes for each change, sent bare:
// nothing is read first.
class RawRoutes {
 public:
  RawRoutes(const RuntimeApi* api, const HaproxyConfigOptions& config)
      : api_(api), routes_map_(config.routes_map_path()), prefixes_map_(config.prefixes_map_path()) {}

  // add server, enable server, add map (prefix), add map (each login).
  Status Add(const Route& r) const {
    const std::string server = ServerNameForKey(r.key);
    VISI_RETURN_IF_ERROR(api_->AddServer(kSessionsBackend, server, *ParseIpv4Endpoint(r.backend)));
    VISI_RETURN_IF_ERROR(api_->EnableServer(kSessionsBackend, server));
    VISI_RETURN_IF_ERROR(api_->AddMapEntry(prefixes_map_, server, r.path_prefix));
    for (const std::string& h : r.cookie_hashes) {
      VISI_RETURN_IF_ERROR(api_->AddMapEntry(routes_map_, RoutesMapKey(h, r.path_prefix), server));
    }
    return OkStatus();
  }
  // set server addr, shutdown sessions server.
  Status Repoint(const Route& r) const {
    const std::string server = ServerNameForKey(r.key);
    VISI_RETURN_IF_ERROR(api_->SetServerAddress(kSessionsBackend, server, *ParseIpv4Endpoint(r.backend)));
    return api_->ShutdownServerSessions(kSessionsBackend, server);
  }
  // add map (one login).
  Status AddLogin(const Route& r, const std::string& hash) const {
    return api_->AddMapEntry(routes_map_, RoutesMapKey(hash, r.path_prefix), ServerNameForKey(r.key));
  }
  // del map (each login), del map (prefix), disable server, shutdown
  // sessions server, del server.
  Status Remove(const Route& r) const {
    const std::string server = ServerNameForKey(r.key);
    for (const std::string& h : r.cookie_hashes) {
      VISI_RETURN_IF_ERROR(api_->DelMapEntry(routes_map_, RoutesMapKey(h, r.path_prefix)));
    }
    VISI_RETURN_IF_ERROR(api_->DelMapEntry(prefixes_map_, server));
    VISI_RETURN_IF_ERROR(api_->DisableServer(kSessionsBackend, server));
    VISI_RETURN_IF_ERROR(api_->ShutdownServerSessions(kSessionsBackend, server));
    return api_->DelServer(kSessionsBackend, server);
  }
  // What HaproxyRouter reads before each change: show servers state and
  // both maps, parsed.
  Status Observe() const {
    VISI_RETURN_IF_ERROR(api_->ShowServersState(kSessionsBackend).status());
    VISI_RETURN_IF_ERROR(api_->ShowMap(routes_map_).status());
    return api_->ShowMap(prefixes_map_).status();
  }

 private:
  const RuntimeApi* api_;
  std::string routes_map_, prefixes_map_;
};

enum Phase { kAdd, kRepoint, kLogin, kRemove, kPhases };
constexpr const char* kPhaseNames[kPhases] = {"add route (1 login)", "re-point backend", "add a 2nd login",
                                              "remove route"};
constexpr int kWrites[kPhases] = {4, 2, 1, 6};  // Runtime API writes per op; the router also reads 3

// The routes of namespace `ns` that ListRoutes reports equal `want`.
bool Holds(Router* router, const std::string& ns, const std::vector<Route>& want, const char* when) {
  auto routes = router->ListRoutes();
  if (!routes.ok()) {
    std::fprintf(stderr, "ListRoutes %s: %s\n", when, routes.status().ToString().c_str());
    return false;
  }
  std::vector<Route> got;
  for (const Route& r : *routes) {
    if (r.key.rfind(ns + "/", 0) == 0) got.push_back(r);
  }
  auto by_key = [](const Route& a, const Route& b) { return a.key < b.key; };
  std::vector<Route> expected = want;
  std::sort(expected.begin(), expected.end(), by_key);
  if (got != expected) {
    std::fprintf(stderr, "%s: HAProxy holds %zu routes of %s, expected %zu (or they differ)\n", when, got.size(),
                 ns.c_str(), expected.size());
    return false;
  }
  return true;
}

// The four phases over `n` routes of `ns`, through the router or raw.
bool RunPhases(HaproxyRouter* router, const RawRoutes& raw, bool use_router, const std::string& ns, int n,
               Samples out[kPhases]) {
  std::vector<Route> first, second, both;
  for (int i = 0; i < n; ++i) {
    first.push_back(BenchRoute(ns, i, 20000 + i % 10000, 1));
    second.push_back(BenchRoute(ns, i, 30000 + i % 10000, 1));
    both.push_back(BenchRoute(ns, i, 30000 + i % 10000, 2));
  }
  const std::string who = use_router ? "router " : "raw ";
  for (int i = 0; i < n; ++i) {
    if (!Timed(&out[kAdd], who + kPhaseNames[kAdd],
               [&] { return use_router ? router->ApplyRoute(first[i]) : raw.Add(first[i]); })) {
      return false;
    }
  }
  if (!Holds(router, ns, first, (who + "after adding").c_str())) return false;
  for (int i = 0; i < n; ++i) {
    if (!Timed(&out[kRepoint], who + kPhaseNames[kRepoint],
               [&] { return use_router ? router->ApplyRoute(second[i]) : raw.Repoint(second[i]); })) {
      return false;
    }
  }
  for (int i = 0; i < n; ++i) {
    // The login `both` has and `second` has not.
    std::string added;
    for (const std::string& h : both[i].cookie_hashes) {
      if (h != second[i].cookie_hashes.front()) added = h;
    }
    if (!Timed(&out[kLogin], who + kPhaseNames[kLogin],
               [&] { return use_router ? router->ApplyRoute(both[i]) : raw.AddLogin(both[i], added); })) {
      return false;
    }
  }
  if (!Holds(router, ns, both, (who + "after the second logins").c_str())) return false;
  for (int i = 0; i < n; ++i) {
    if (!Timed(&out[kRemove], who + kPhaseNames[kRemove],
               [&] { return use_router ? router->RemoveRoute(both[i].key) : raw.Remove(both[i]); })) {
      return false;
    }
  }
  return Holds(router, ns, {}, (who + "after removing").c_str());
}

bool RouteChanges(HaproxyRouter* router, const RawRoutes& raw, int n, int rounds) {
  Samples by_router[kPhases], by_raw[kPhases];
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      const bool use_router = (k == 0) == (r % 2 == 1);  // raw router, router raw, ...
      if (!RunPhases(router, raw, use_router, use_router ? "router" : "raw", n, use_router ? by_router : by_raw)) {
        return false;
      }
    }
  }
  std::printf("\n## 1. Route changes: %d routes x %d rounds, one call at a time\n", n, rounds);
  std::printf("%-21s %6s | %-24s | %-24s | %s\n", "", "writes", "HaproxyRouter (+3 reads)", "raw Runtime API writes",
              "router/raw");
  std::printf("%-21s %6s | %8s %7s %7s | %8s %7s %7s | %s\n", "phase", "per op", "ops/s", "p50 ms", "p99 ms", "ops/s",
              "p50 ms", "p99 ms", "time per op");
  for (int p = 0; p < kPhases; ++p) {
    const Samples &a = by_router[p], &b = by_raw[p];
    std::printf("%-21s %6d | %8.0f %7.3f %7.3f | %8.0f %7.3f %7.3f | %.2fx\n", kPhaseNames[p], kWrites[p],
                a.PerSecond(), a.P50(), a.P99(), b.PerSecond(), b.P50(), b.P99(), b.PerSecond() / a.PerSecond());
  }
  std::printf(
      "# ops/s = calls / their summed time. Routes present: 0 to %d while adding, %d while re-pointing and adding\n"
      "# logins, %d to 0 while removing.\n",
      n, n, n);
  std::printf("# Both ways leave the same state in HAProxy (checked with ListRoutes after each phase).\n");
  return true;
}

// VmRSS of `pid` in MiB; -1 when unreadable.
double RssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

bool Growth(HaproxyRouter* router, const RawRoutes& raw, pid_t haproxy_pid) {
  struct Level {
    int routes = 0;
    Samples apply, remove, raw_add, raw_remove, observe;
    double rss_mib = -1;
  };
  std::vector<Level> levels;
  int filled = 0;
  for (int level : kGrowthLevels) {
    for (; filled < level; ++filled) {
      Samples ignored;
      if (!Timed(&ignored, "fill", [&] { return raw.Add(BenchRoute("fill", filled, 40000, 1)); })) return false;
    }
    Level l;
    l.routes = level;
    const std::string tag = "g" + std::to_string(level);
    std::vector<Route> routed, bare;
    for (int i = 0; i < kGrowthSamples; ++i) {
      routed.push_back(BenchRoute(tag + "-router", i, 20000 + i, 1));
      bare.push_back(BenchRoute(tag + "-raw", i, 20000 + i, 1));
    }
    for (int i = 0; i < kGrowthSamples; ++i) {
      if (!Timed(&l.observe, "observe", [&] { return raw.Observe(); }) ||
          !Timed(&l.raw_add, "raw add", [&] { return raw.Add(bare[i]); }) ||
          !Timed(&l.apply, "ApplyRoute", [&] { return router->ApplyRoute(routed[i]); })) {
        return false;
      }
    }
    l.rss_mib = RssMiB(haproxy_pid);
    for (int i = 0; i < kGrowthSamples; ++i) {
      if (!Timed(&l.raw_remove, "raw remove", [&] { return raw.Remove(bare[i]); }) ||
          !Timed(&l.remove, "RemoveRoute", [&] { return router->RemoveRoute(routed[i].key); })) {
        return false;
      }
    }
    levels.push_back(std::move(l));
  }
  std::printf("\n## 2. Growth: %d new routes applied and removed while N routes are present (p50 / p99 ms)\n",
              kGrowthSamples);
  std::printf("%6s | %-15s %-15s | %-15s %-15s | %-15s | %s\n", "N", "ApplyRoute", "raw 4 writes", "RemoveRoute",
              "raw 5 writes", "3 reads alone", "HAProxy RSS");
  for (const Level& l : levels) {
    std::printf("%6d | %6.3f / %6.3f %6.3f / %6.3f | %6.3f / %6.3f %6.3f / %6.3f | %6.3f / %6.3f | %.1f MiB\n",
                l.routes, l.apply.P50(), l.apply.P99(), l.raw_add.P50(), l.raw_add.P99(), l.remove.P50(),
                l.remove.P99(), l.raw_remove.P50(), l.raw_remove.P99(), l.observe.P50(), l.observe.P99(), l.rss_mib);
  }
  const Level &lo = levels.front(), &hi = levels.back();
  const double per_thousand = (hi.apply.P50() - lo.apply.P50()) / ((hi.routes - lo.routes) / 1000.0);
  const double reads_per_thousand = (hi.observe.P50() - lo.observe.P50()) / ((hi.routes - lo.routes) / 1000.0);
  std::printf("# N counts the routes present before the %d; up to %d more are present while they are measured.\n",
              kGrowthSamples, 2 * kGrowthSamples);
  std::printf(
      "# ApplyRoute p50 grows by %.3f ms per 1000 routes present (the 3 reads alone: %.3f ms); at N=%d it is"
      " %.1fx its N=%d time, the raw writes %.1fx.\n",
      per_thousand, reads_per_thousand, hi.routes, hi.apply.P50() / lo.apply.P50(), lo.routes,
      hi.raw_add.P50() / lo.raw_add.P50());
  std::printf("# %s\n", hi.apply.P50() > 2 * lo.apply.P50()
                            ? "Each call reads HAProxy's whole state: O(N) per call, so applying N routes one by one"
                              " from scratch (a resync after a restart) is O(N^2)."
                            : "Per-call time does not grow much with N at these sizes.");
  return true;
}

// `columns` of `server`'s row in `show stat` (CSV), "name=value ...".
std::string ServerCounters(const RuntimeApi& api, const std::string& server, const std::vector<std::string>& columns) {
  auto answer = api.Execute(std::string("show stat ") + kSessionsBackend + " 4 -1");
  if (!answer.ok()) return answer.status().ToString();
  auto split = [](const std::string& line) {
    std::vector<std::string> cells;
    std::istringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    return cells;
  };
  std::istringstream lines(*answer);
  std::string line;
  std::getline(lines, line);
  const std::vector<std::string> header = split(line.substr(std::min<size_t>(2, line.size())));  // "# pxname,..."
  while (std::getline(lines, line)) {
    const std::vector<std::string> row = split(line);
    if (row.size() < 2 || row[1] != server) continue;
    std::string out;
    for (const std::string& c : columns) {
      const size_t at = std::find(header.begin(), header.end(), c) - header.begin();
      out += (out.empty() ? "" : " ") + c + "=" + (at < row.size() ? row[at] : "?");
    }
    return out;
  }
  return "no row for " + server;
}

// The route answers 200 with its cookie and 403 without: else the figures
// mean nothing. Returns the upstream's answer head; "" after a failure.
std::string CheckRoute(const std::string& upstream_ip, const HaproxyConfigOptions& config, const std::string& secret) {
  struct Check {
    const char* what;
    std::string ip;
    int port;
    std::string cookie;
    int want;
  };
  const Check checks[] = {
      {"direct", upstream_ip, BusyboxUpstream::kPort, "", 200},
      {"through HAProxy with the cookie", config.bind_address, config.bind_port, secret, 200},
      {"through HAProxy without a cookie", config.bind_address, config.bind_port, "", 403},
      {"through HAProxy with another cookie", config.bind_address, config.bind_port, secret + "x", 403}};
  std::string upstream_head;
  for (const Check& c : checks) {
    auto answer = HttpGet(c.ip, c.port, kUpstreamPath, c.cookie);
    if (!answer.ok() || answer->status != c.want) {
      std::fprintf(stderr, "FAILED: GET %s %s: want %d, got %s\n", kUpstreamPath.c_str(), c.what, c.want,
                   answer.ok() ? std::to_string(answer->status).c_str() : answer.status().ToString().c_str());
      return "";
    }
    if (upstream_head.empty()) upstream_head = answer->head;
  }
  return upstream_head;
}

// One timed run of wrk or of the built-in client, with the TCP counters
// around it.
struct LoadRun {
  double rps = 0, p50_ms = 0, p99_ms = 0, mean_ms = 0;
  int64_t slow = -1;  // requests that took 1 s or more; -1: unknown (wrk)
  std::string problems;
  int64_t listen_drops = -1, syn_retransmits = -1;  // -1: unknown
  // Little's law: requests in flight = rate x mean latency, at most one per
  // connection. Well above that, the latency figures are wrong.
  double Little() const { return rps * mean_ms / 1000 / kConnections; }
  bool Trusted() const { return Little() <= 1.2; }
};

bool ProxyOverhead(HaproxyRouter* router, const RuntimeApi& api, const HaproxyConfigOptions& config, int seconds) {
  BusyboxUpstream upstream({{"visi.dev/bench", "route-" + std::to_string(::getpid())}});
  constexpr int kRuns = 8;  // (wrk, client) x (direct, proxy) x 2, a port each
  if (Status s = upstream.Start("visi-route-bench-" + std::to_string(::getpid()), kUpstreamPath, kRuns, OutOfTime);
      !s.ok()) {
    std::fprintf(stderr, "upstream container: %s\n", s.ToString().c_str());
    return false;
  }
  const std::string secret =
      "bench-" + std::to_string(::getpid()) + "-" + std::to_string(Steady::now().time_since_epoch().count());
  // Points the route at the upstream's `port`.
  Route route{"bench/web", "/s/bench/web/", {CookieHash(secret)}, ""};
  auto route_to = [&](int port) {
    route.backend = upstream.ip() + ":" + std::to_string(port);
    Status s = router->ApplyRoute(route);
    if (!s.ok()) std::fprintf(stderr, "ApplyRoute: %s\n", s.ToString().c_str());
    return s.ok();
  };
  if (!route_to(upstream.kPort)) return false;
  const std::string upstream_head = CheckRoute(upstream.ip(), config, secret);
  if (upstream_head.empty()) return false;

  std::printf("\n## 3. Proxy overhead: GET %s (3 bytes), %d connections, %d s per run\n", kUpstreamPath.c_str(),
              kConnections, seconds);
  std::printf("%-6s %-6s %7s %8s %8s %8s %6s %5s %8s %8s  %s\n", "tool", "path", "req/s", "p50 ms", "p99 ms", "mean ms",
              "Little", ">=1s", "SYN drop", "SYN retx", "problems");
  std::vector<LoadRun> runs[2][2];  // [client][through]
  for (int run = 0; run < kRuns; ++run) {
    // wrk direct, wrk proxy, client direct, client proxy, and again; each
    // run against a port of its own (see BusyboxUpstream).
    const int client = run / 2 % 2, through = run % 2, port = upstream.kPort + run;
    if (through && !route_to(port)) return false;
    const std::string ip = through ? config.bind_address : upstream.ip();
    const int to_port = through ? config.bind_port : port;
    const std::vector<std::string> headers = {"Cookie: JSESSIONID=" + secret};  // both ways: the same request
    const int64_t syns_before = TcpExtCounter(::getpid(), "TCPSynRetrans");
    const int64_t drops_before = upstream.pid() ? TcpExtCounter(upstream.pid(), "ListenDrops") : -1;
    LoadRun r;
    if (client) {
      HttpLoadResult load = RunHttpLoad({ip, to_port, kUpstreamPath, headers, kConnections, seconds}, OutOfTime);
      if (OutOfTime()) return false;
      r.rps = load.PerSecond();
      r.p50_ms = load.Percentile(50);
      r.p99_ms = load.Percentile(99);
      r.mean_ms = load.Mean();
      r.slow = load.AtLeast(1000);
      if (load.errors > 0) r.problems = std::to_string(load.errors) + " failed requests";
    } else {
      auto w = RunWrk(
          {"http://" + ip + ":" + std::to_string(to_port) + kUpstreamPath, headers, kWrkThreads, kConnections, seconds},
          OutOfTime);
      if (!w.ok()) {
        std::fprintf(stderr, "%s\n", w.status().ToString().c_str());
        return false;
      }
      r.rps = w->rps;
      r.p50_ms = w->p50_ms;
      r.p99_ms = w->p99_ms;
      r.mean_ms = w->mean_ms;
      r.problems = w->problems;
    }
    if (syns_before >= 0) r.syn_retransmits = TcpExtCounter(::getpid(), "TCPSynRetrans") - syns_before;
    if (drops_before >= 0) r.listen_drops = TcpExtCounter(upstream.pid(), "ListenDrops") - drops_before;
    std::printf("%-6s %-6s %7.0f %8.3f %8.3f %8.3f %5.2f%s %5s %8lld %8lld  %s\n", client ? "client" : "wrk",
                through ? "proxy" : "direct", r.rps, r.p50_ms, r.p99_ms, r.mean_ms, r.Little(), r.Trusted() ? " " : "!",
                r.slow < 0 ? "-" : std::to_string(r.slow).c_str(), static_cast<long long>(r.listen_drops),
                static_cast<long long>(r.syn_retransmits), r.problems.empty() ? "-" : r.problems.c_str());
    runs[client][through].push_back(r);
  }
  bool distrusted = false;
  for (int client : {0, 1}) {
    auto mean = [&](int through, double LoadRun::*field) {
      return (runs[client][through][0].*field + runs[client][through][1].*field) / 2;
    };
    bool trusted = true;
    for (const auto& side : runs[client]) {
      for (const LoadRun& r : side) trusted = trusted && r.Trusted();
    }
    distrusted = distrusted || !trusted;
    auto ratio = [&](double LoadRun::*field) {
      char text[32] = "n/a (!)";
      if (trusted) std::snprintf(text, sizeof text, "%.2fx", mean(1, field) / mean(0, field));
      return std::string(text);
    };
    std::printf("proxy/direct, %-6s (means of 2): req/s %.2fx, p50 %s, p99 %s\n", client ? "client" : "wrk",
                mean(1, &LoadRun::rps) / mean(0, &LoadRun::rps), ratio(&LoadRun::p50_ms).c_str(),
                ratio(&LoadRun::p99_ms).c_str());
  }
  std::printf("# Checked first: 200 direct and through HAProxy with the cookie, 403 without it and with another.\n");
  std::printf(
      "# wrk -t%d --latency times a request from its first byte written, after connecting. The client (one thread\n"
      "# per connection, test/bench/http_load.h) times it as a browser waits: connect (when the last answer\n"
      "# closed the connection) + request + answer.\n",
      kWrkThreads);
  std::printf(
      "# The upstream (busybox httpd, one process forked per connection) %s; HAProxy keeps\n"
      "# its clients' connections open and connects to the upstream for each request.\n",
      upstream_head.find("Connection: close") != std::string::npos ? "closes the connection after each answer"
                                                                   : "keeps connections open");
  std::printf(
      "# Little = req/s x mean latency / connections: at most 1 for correct figures. >=1s: requests of 1 s or\n"
      "# more. SYN drop: SYNs the upstream's listen queue dropped (busybox httpd listens with a small backlog);\n"
      "# SYN retx: SYNs this host sent again, each after 1 s.\n");
  if (distrusted) {
    std::printf("# !: latency figures that fail Little's law; no latency ratio is given from them.\n");
  }
  std::printf("# wrk or the client, HAProxy and the container share this machine's cores.\n");
  std::printf(
      "# HAProxy's counters of the route's server after the proxy runs: %s\n",
      ServerCounters(api, ServerNameForKey(route.key), {"stot", "econ", "eresp", "wretr", "hrsp_2xx", "hrsp_5xx"})
          .c_str());
  return true;
}

void OnSignal(int) { g_interrupted = 1; }

int Main(int argc, char** argv) {
  std::string dir;
  int routes = 500, rounds = 2, load_seconds = 5;
  bool docker = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--dir" && has_value) {
      dir = argv[++i];
    } else if (a == "--routes" && has_value) {
      routes = std::atoi(argv[++i]);
    } else if (a == "--rounds" && has_value) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--seconds" && has_value) {
      load_seconds = std::atoi(argv[++i]);
    } else if (a == "--no-docker") {
      docker = false;
    } else {
      std::fprintf(stderr, "usage: route_bench [--dir DIR] [--routes N] [--rounds R] [--seconds S] [--no-docker]\n");
      return 2;
    }
  }
  if (routes < 1 || rounds < 1 || load_seconds < 1) {
    std::fprintf(stderr, "--routes, --rounds and --seconds must be positive\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  g_deadline = Steady::now() + kBudget;

  bool own_dir = false;
  if (dir.empty()) {
    char pattern[] = "/tmp/visi-route-bench-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = pattern;
    own_dir = true;
  }
  int rc = 1;
  {
    ManagedHaproxyOptions options;
    options.config.runtime_dir = dir + "/haproxy";
    options.config.wakeup_address = "127.0.0.1:9";  // never called here
    ManagedHaproxy haproxy(options);
    // For hack/bench-route.sh, should this process die without stopping it.
    auto start = [&] {
      Status s = haproxy.Start();
      if (!s.ok()) std::fprintf(stderr, "HAProxy: %s\n%s\n", s.ToString().c_str(), haproxy.LogTail().c_str());
      std::ofstream(dir + "/haproxy.pid") << haproxy.pid() << "\n";
      return s.ok();
    };
    RuntimeApi api({haproxy.config().socket_path()});
    auto router = start() ? HaproxyRouter::Create(haproxy.config())
                          : StatusOr<std::unique_ptr<HaproxyRouter>>(UnavailableError("HAProxy did not start"));
    auto info = router.ok() ? api.Execute("show info") : StatusOr<std::string>(router.status());
    if (info.ok()) {
      const size_t at = info->find("\nVersion: ");
      const std::string version =
          at == std::string::npos ? "?" : info->substr(at + 10, info->find('\n', at + 1) - at - 10);
      std::string load[3];  // over 1, 5 and 15 minutes
      std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
      std::printf("# Routing benchmark: HAProxy %s, %ld cores, load average %s %s %s\n", version.c_str(),
                  ::sysconf(_SC_NPROCESSORS_ONLN), load[0].c_str(), load[1].c_str(), load[2].c_str());
      std::printf("# One HAProxy process; the Runtime API takes one unix-socket connection per command.\n");
      const RawRoutes raw(&api, haproxy.config());
      if (RouteChanges(router->get(), raw, routes, rounds) && Growth(router->get(), raw, haproxy.pid())) {
        // A fresh HAProxy (no routes) for the proxy figures.
        if (!docker) {
          std::printf("\n## 3. Proxy overhead: skipped (--no-docker)\n");
          rc = 0;
        } else if (haproxy.Stop().ok() && start()) {
          rc = ProxyOverhead(router->get(), api, haproxy.config(), load_seconds) ? 0 : 1;
        }
      }
    } else {
      std::fprintf(stderr, "HAProxy: %s\n", info.status().ToString().c_str());
    }
    if (g_interrupted) std::fprintf(stderr, "interrupted; cleaning up\n");
  }  // stops HAProxy; the upstream was removed when ProxyOverhead returned
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}

}  // namespace
}  // namespace visi::bench

int main(int argc, char** argv) { return visi::bench::Main(argc, argv); }
