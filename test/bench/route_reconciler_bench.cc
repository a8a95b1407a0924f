// Route reconciler benchmark (not a test): what a user sees of the route
// reconciler, wired as visid wires it (controller/cmd/visid/router.cc:
// ManagedHaproxy + HaproxyRouter + RouteReconciler, ensure_router restarting
// HAProxy, sync every 1 s) over the SQLite store and a Manager on the system
// clock. Each figure has a baseline measured in the same run, on a second
// HAProxy driven directly through HaproxyRouter, watched the same way:
//   1. Front end ready -> routable. R rounds, one session each: created,
//      a login issued and redeemed, HAProxy routes the cookie to the wake-up
//      endpoint; then a poller thread sends GETs with the cookie back to back
//      (a new connection each), t0 = status Ready written
//      (store->UpdateStatus), t1 = the first answer from the front end.
//      Baseline: the same route re-pointed from the wake-up endpoint to the
//      front end by one ApplyRoute at t0. The two alternate which goes first.
//   2. Routes restored after HAProxy dies: N Ready sessions with one login
//      each, all routed; HAProxy SIGKILLed; a watcher thread notes when a new
//      HAProxy runs, when ListRoutes (of a Router of its own, every 50 ms)
//      answers and then holds the N routes, and when the last session's
//      cookie is answered. Baselines: Restart() and one ApplyRoutes of the N
//      routes; for N <= 1000 also Restart() and N ApplyRoute calls.
//   3. Part 1 again for L rounds with the N routes of part 2 present (each
//      ApplyRoute reads HAProxy's whole state: its cost grows with N).
// The wake-up endpoint and the front ends are in-process loopback servers
// (test/integration/loopback_http.h); no Docker.
// Usage: route_reconciler_bench [--dir DIR] [--rounds R] [--sizes N1,N2] [--late-rounds L]
// (defaults: R=100, N=1000,3000, L=20)
// DIR (default: a new /tmp/visi-route-reconciler-bench-*) holds the store
// and both HAProxys' runtime dirs (each with haproxy.pid). Bounded: every
// wait has its own limit and the run gives up at a global deadline (170 s);
// HAProxy is stopped by pid, the directory removed (when the benchmark made
// it).
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/scheme.h"
#include "controller/drivers/haproxy/haproxy_router.h"
#include "controller/drivers/haproxy/managed_haproxy.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/drivers/haproxy/runtime_api.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/manager.h"
#include "controller/runtime/ownership.h"
#include "controller/store/sqlite/sqlite_store.h"
#include "reconcilers/route/login.h"
#include "reconcilers/route/route_reconciler.h"
#include "test/fakes/objects.h"
#include "test/integration/loopback_http.h"

namespace visi::bench {
namespace {

using Steady = std::chrono::steady_clock;
using testing::LoopbackHttpServer;

constexpr auto kBudget = std::chrono::seconds(170);
constexpr char kNamespace[] = "bench";
constexpr auto kSyncPeriod = std::chrono::seconds(1);         // visid's --router-sync default
constexpr auto kActivityPeriod = std::chrono::seconds(5);     // visid's --router-activity default
constexpr auto kRestorePoll = std::chrono::milliseconds(50);  // ListRoutes
constexpr auto kRestoreTick = std::chrono::milliseconds(5);   // the pid file, the metric, one GET
constexpr auto kOldWayLimit = std::chrono::seconds(60);
constexpr int kWriters = 4;  // threads that create the sessions of part 2
constexpr double kTargetMs = 20;

volatile std::sig_atomic_t g_interrupted = 0;
Steady::time_point g_deadline;
bool OutOfTime() { return g_interrupted != 0 || Steady::now() >= g_deadline; }
void OnSignal(int) { g_interrupted = 1; }

double Ms(Steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }
double Sec(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

// Nearest rank.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

// Polls `done` every `every` until it holds, `limit` passes or the run's
// deadline; whether it held.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds limit,
               std::chrono::microseconds every = std::chrono::milliseconds(1)) {
  const auto end = std::min(g_deadline, Steady::now() + limit);
  while (true) {
    if (done()) return true;
    if (g_interrupted || Steady::now() >= end) return false;
    std::this_thread::sleep_for(every);
  }
}

std::string SessionKey(const std::string& name) { return std::string(kNamespace) + "/" + name; }
std::string SessionPath(const std::string& name) { return "/s/" + SessionKey(name) + "/"; }

// Which loopback server answered a GET of `name`'s prefix with `cookie`
// through HAProxy on `port` (a new connection): "wakeup", "upstream", or
// the status code when HAProxy answered itself (403, 502, 503), "0" when
// nothing came back.
std::string Probe(int port, const std::string& name, const std::string& cookie) {
  testing::HttpAnswer a = testing::HttpGet(port, SessionPath(name), {testing::CookieHeader(cookie)});
  if (a.status == 200 && a.body.rfind("body=", 0) == 0) return a.body.substr(5, a.body.find(' ') - 5);
  return std::to_string(a.status);
}

// GETs with the cookie back to back, on a thread of its own, from before a
// change until `want` answers (or `limit`): a user reloading the page.
struct PollResult {
  std::optional<Steady::time_point> at;  // when `want` first answered
  std::map<std::string, int> answers;    // by Probe's answer, up to and including `want`
};
class Poller {
 public:
  Poller(int port, std::string name, std::string cookie, std::string want, std::chrono::milliseconds limit)
      : thread_([this, port, name = std::move(name), cookie = std::move(cookie), want = std::move(want), limit] {
          const auto end = std::min(g_deadline, Steady::now() + limit);
          while (!stop_ && !g_interrupted && Steady::now() < end) {
            const std::string got = Probe(port, name, cookie);
            ++result_.answers[got];
            if (got == want) {
              result_.at = Steady::now();
              return;
            }
          }
        }) {}
  ~Poller() {  // gives up when Wait was not called
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits until `want` answered or the poller gave up.
  PollResult Wait() {
    thread_.join();
    return result_;
  }

 private:
  std::atomic<bool> stop_{false};
  PollResult result_;  // written by thread_ only, read after it ends
  std::thread thread_;
};

// "502 x2, 0 x1": the answers that were neither `a` nor `b`.
std::string OtherAnswers(const std::map<std::string, int>& answers, const std::string& a, const std::string& b) {
  std::string out;
  for (const auto& [answer, count] : answers) {
    if (answer == a || answer == b) continue;
    out +=
        (out.empty() ? "" : ", ") + (answer == "0" ? std::string("no answer") : answer) + " x" + std::to_string(count);
  }
  return out.empty() ? "none" : out;
}

// One HAProxy as visid runs it: ManagedHaproxy, and the Router over it.
struct Haproxy {
  std::unique_ptr<ManagedHaproxy> process;
  std::unique_ptr<HaproxyRouter> router;
  int port() const { return process->config().bind_port; }
  std::string pid_file() const { return process->config().runtime_dir + "/haproxy.pid"; }
};

StatusOr<Haproxy> StartHaproxy(const std::string& runtime_dir, const std::string& wakeup_address) {
  ManagedHaproxyOptions mo;
  mo.config.bind_address = "127.0.0.1";
  mo.config.bind_port = 0;
  mo.config.runtime_dir = runtime_dir;
  mo.config.wakeup_address = wakeup_address;
  Haproxy h;
  h.process = std::make_unique<ManagedHaproxy>(mo);
  if (Status s = h.process->Start(); !s.ok()) {
    return Status(s.code(), s.message() + "\n" + h.process->LogTail());
  }
  VISI_ASSIGN_OR_RETURN(h.router, HaproxyRouter::Create(h.process->config()));
  return h;
}

// The pid HAProxy's last start wrote (read from the file: the sync thread
// owns the ManagedHaproxy of the reconciled HAProxy).
pid_t PidFromFile(const std::string& path) {
  long pid = 0;
  std::ifstream(path) >> pid;
  return static_cast<pid_t>(pid);
}

// The store, a Manager and the route reconciler over the reconciled
// HAProxy, wired as controller/cmd/visid/router.cc does it.
class Rig {
 public:
  static StatusOr<std::unique_ptr<Rig>> Create(const std::string& dir, const std::string& wakeup_address) {
    std::unique_ptr<Rig> r(new Rig());
    VISI_ASSIGN_OR_RETURN(r->store_, OpenSqliteStore(dir + "/store.db", Scheme::Builtin(), SystemClock::Default()));
    VISI_ASSIGN_OR_RETURN(r->haproxy_, StartHaproxy(dir + "/reconciled", wakeup_address));
    r->url_ = "http://127.0.0.1:" + std::to_string(r->haproxy_.port());
    ManagerOptions mo;
    mo.leader_election = false;  // one process
    r->manager_ = std::make_unique<Manager>(r->store_.get(), mo);
    RouteReconcilerOptions ro;
    ro.router_url = r->url_;
    ro.sync_period = kSyncPeriod;
    ro.activity_period = kActivityPeriod;
    ManagedHaproxy* h = r->haproxy_.process.get();
    // As visid: only the sync thread calls this once HAProxy runs.
    ro.ensure_router = [h]() -> Status {
      if (h->Running()) return UnavailableError("HAProxy runs but does not answer");
      return h->Start();
    };
    r->reconciler_ = std::make_unique<RouteReconciler>(r->manager_.get(), r->haproxy_.router.get(), ro);
    r->manager_->Start();
    if (!WaitUntil([&] { return r->reconciler_->controller()->running(); }, std::chrono::seconds(10))) {
      return UnavailableError("the route controller did not start");
    }
    return r;
  }
  ~Rig() {
    if (manager_) manager_->Stop();
    reconciler_.reset();  // its sync thread may touch the ManagedHaproxy
    if (haproxy_.process) (void)haproxy_.process->Stop();
    manager_.reset();
  }

  Store* store() { return store_.get(); }
  const std::string& url() const { return url_; }
  int port() const { return haproxy_.port(); }
  const HaproxyConfigOptions& config() const { return haproxy_.process->config(); }
  std::string pid_file() const { return haproxy_.pid_file(); }
  std::string metrics() const { return reconciler_->RenderMetrics(); }
  size_t queue_depth() const { return reconciler_->controller()->GetStats().queue_depth; }

 private:
  Rig() = default;
  std::unique_ptr<Store> store_;
  Haproxy haproxy_;
  std::string url_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<RouteReconciler> reconciler_;
};

// Issues a login for the session and redeems its ticket, as visid's
// endpoint does when the link is opened.
StatusOr<RedeemedLogin> LogIn(Store* store, const std::string& name, const std::string& router_url) {
  const TimePoint now = SystemClock::Default()->Now();
  VISI_ASSIGN_OR_RETURN(Json ticket, IssueLogin(store, kNamespace, name, router_url, kDefaultLoginTtl, now));
  const std::string url = ticket.value("url", "");
  const size_t at = url.find("?ticket=");
  if (at == std::string::npos) return InternalError("no ticket in " + url);
  return RedeemLogin(store, kNamespace, name, url.substr(at + 8), now);
}

// What the session reconciler writes once the front end answers.
void MarkReady(Object* o, const std::string& front_end) {
  o->status["phase"] = "Running";
  o->status["frontEndAddress"] = front_end;
  o->status["subnet"] = "127.0.0.0/8";  // the front ends are loopback servers here
  SetCondition(&o->status, {"Ready", "True", "Ready", "", o->metadata.generation}, SystemClock::Default()->Now());
}

// Marks the session Ready. MutateWithRetry re-reads on a few conflicts; the
// reconciler's own status writes to a new session can outlast those.
Status WriteReady(Store* store, const std::string& name, const std::string& front_end) {
  Status s;
  for (int attempt = 0; attempt < 20; ++attempt) {
    s = MutateWithRetry(
            store, "VisiSession", kNamespace, name,
            [&](Object* o) {
              MarkReady(o, front_end);
              return true;
            },
            /*status=*/true)
            .status();
    if (s.code() != Code::kConflict) return s;
  }
  return s;
}

// The route the reconciler should hold for a Ready session with one login.
Route ReadyRoute(const std::string& name, const std::string& cookie_hash, const std::string& front_end) {
  return NormalizeRoute({SessionKey(name), SessionPath(name), {cookie_hash}, front_end});
}

// --- 1. Front end ready -> routable -----------------------------------------

struct ReadyRound {
  double ms = 0;
  std::map<std::string, int> answers;  // what the poller got, from t0 on
  int conflicts = 0;                   // status writes at t0 that met a conflict
  double call_ms = 0;                  // the change's own call: UpdateStatus or ApplyRoute
};

// t1 - t0 and what the poller got, once the front end answered.
std::optional<ReadyRound> Finish(Poller* poller, Steady::time_point t0, const std::string& what) {
  PollResult p = poller->Wait();
  if (!p.at) {
    std::fprintf(stderr, "%s: the front end never answered through HAProxy\n", what.c_str());
    return std::nullopt;
  }
  ReadyRound round;
  round.ms = Ms(*p.at - t0);
  round.answers = std::move(p.answers);
  return round;
}

// Session `name` through the reconciler: routed to the wake-up endpoint
// with a login's cookie, then marked Ready at t0. Adds its route to
// `expected`.
std::optional<ReadyRound> ReconcilerRound(Rig* rig, const std::string& name, const std::string& front_end,
                                          std::map<std::string, Route>* expected) {
  auto created = rig->store()->Create(testing::Session(kNamespace, name));
  if (!created.ok()) {
    std::fprintf(stderr, "create %s: %s\n", name.c_str(), created.status().ToString().c_str());
    return std::nullopt;
  }
  auto login = LogIn(rig->store(), name, rig->url());
  if (!login.ok()) {
    std::fprintf(stderr, "login %s: %s\n", name.c_str(), login.status().ToString().c_str());
    return std::nullopt;
  }
  if (!WaitUntil([&] { return Probe(rig->port(), name, login->cookie) == "wakeup"; }, std::chrono::seconds(10))) {
    std::fprintf(stderr, "%s: the cookie never reached the wake-up endpoint\n", name.c_str());
    return std::nullopt;
  }
  // The reconciler's status write for the login has landed: nothing else is
  // pending on this session, so the Ready write below is the only change.
  ObjectPtr latest;
  auto settled = [&] {
    auto o = rig->store()->Get("VisiSession", kNamespace, name);
    if (!o.ok()) return false;
    latest = *o;
    const Json& st = latest->status;
    const Json* routed = FindCondition(st, "Routed");
    return routed && routed->value("reason", "") == "WakeUp" && st.contains("route") &&
           st["route"].value("logins", 0) == 1;
  };
  if (!WaitUntil(settled, std::chrono::seconds(10))) {
    std::fprintf(stderr, "%s: the route status never showed the login\n", name.c_str());
    return std::nullopt;
  }
  Poller poller(rig->port(), name, login->cookie, "upstream", std::chrono::seconds(10));
  int conflicts = 0;
  double write_ms = 0;
  Steady::time_point t0;
  while (true) {
    Object o = *latest;
    MarkReady(&o, front_end);
    t0 = Steady::now();
    auto w = rig->store()->UpdateStatus(o);
    write_ms = Ms(Steady::now() - t0);
    if (w.ok()) break;
    if (w.status().code() != Code::kConflict || ++conflicts > 10) {
      std::fprintf(stderr, "%s: status Ready: %s\n", name.c_str(), w.status().ToString().c_str());
      return std::nullopt;
    }
    auto again = rig->store()->Get("VisiSession", kNamespace, name);
    if (!again.ok()) return std::nullopt;
    latest = *again;
  }
  auto round = Finish(&poller, t0, name);
  if (!round) return std::nullopt;
  round->conflicts = conflicts;
  round->call_ms = write_ms;
  (*expected)[SessionKey(name)] = ReadyRoute(name, login->cookie_hash, front_end);
  return round;
}

// The same change made directly: a route at the wake-up endpoint, then
// re-pointed to the front end with one ApplyRoute at t0.
std::optional<ReadyRound> DirectRound(Haproxy* bare, const std::string& name, const std::string& front_end) {
  auto cookie = RandomSecret();
  if (!cookie.ok()) return std::nullopt;
  Route route = NormalizeRoute({SessionKey(name), SessionPath(name), {CookieHash(*cookie)}, ""});
  if (Status s = bare->router->ApplyRoute(route); !s.ok()) {
    std::fprintf(stderr, "direct %s: %s\n", name.c_str(), s.ToString().c_str());
    return std::nullopt;
  }
  if (!WaitUntil([&] { return Probe(bare->port(), name, *cookie) == "wakeup"; }, std::chrono::seconds(10))) {
    std::fprintf(stderr, "direct %s: the cookie never reached the wake-up endpoint\n", name.c_str());
    return std::nullopt;
  }
  Poller poller(bare->port(), name, *cookie, "upstream", std::chrono::seconds(10));
  route.backend = front_end;
  const auto t0 = Steady::now();
  Status s = bare->router->ApplyRoute(route);
  const double apply_ms = Ms(Steady::now() - t0);
  if (!s.ok()) {
    std::fprintf(stderr, "direct %s: %s\n", name.c_str(), s.ToString().c_str());
    return std::nullopt;
  }
  auto round = Finish(&poller, t0, "direct " + name);
  if (round) round->call_ms = apply_ms;
  return round;
}

// `rounds` sessions r-FIRST.. one at a time, through the reconciler and
// directly; prints the figures under `title`.
bool ReadyToRoutable(Rig* rig, Haproxy* bare, const std::string& front_end, int first, int rounds,
                     std::map<std::string, Route>* expected, const std::string& title) {
  // Reconciles left over from what came before (a restart's re-enqueued
  // keys) finish first.
  WaitUntil([&] { return rig->queue_depth() == 0; }, std::chrono::seconds(10), std::chrono::milliseconds(10));
  const size_t present = expected->size();
  std::vector<double> reconciled, direct, write_calls, apply_calls;
  std::map<std::string, int> answers, direct_answers;
  int conflicts = 0;
  for (int i = 0; i < rounds; ++i) {
    const std::string name = "r-" + std::to_string(first + i);
    for (int k = 0; k < 2; ++k) {
      const bool through_reconciler = (k == 0) == (i % 2 == 0);  // alternate which goes first
      if (OutOfTime()) {
        std::fprintf(stderr, "front end ready -> routable: %s after %d rounds\n",
                     g_interrupted ? "interrupted" : "out of time", i);
        return false;
      }
      std::optional<ReadyRound> r;
      if (through_reconciler) {
        if (!(r = ReconcilerRound(rig, name, front_end, expected))) return false;
        reconciled.push_back(r->ms);
        write_calls.push_back(r->call_ms);
        conflicts += r->conflicts;
      } else {
        if (!(r = DirectRound(bare, name, front_end))) return false;
        direct.push_back(r->ms);
        apply_calls.push_back(r->call_ms);
      }
      for (const auto& [answer, count] : r->answers) (through_reconciler ? answers : direct_answers)[answer] += count;
    }
  }
  std::printf("\n## %s: %d sessions, one at a time, %zu to %zu routes present (target <= %.0f ms)\n", title.c_str(),
              rounds, present, present + rounds - 1, kTargetMs);
  std::printf("%-44s %8s %8s %8s %8s\n", "ms from t0 until the front end answers", "p50", "p90", "p99", "max");
  auto row = [](const char* what, const std::vector<double>& v) {
    std::printf("%-44s %8.2f %8.2f %8.2f %8.2f\n", what, Percentile(v, 50), Percentile(v, 90), Percentile(v, 99),
                Percentile(v, 100));
  };
  row("reconciler: t0 = status Ready written", reconciled);
  row("  (the UpdateStatus call alone)", write_calls);
  row("baseline: t0 = ApplyRoute called directly", direct);
  row("  (the ApplyRoute call alone)", apply_calls);
  const double p50 = Percentile(direct, 50), p99 = Percentile(direct, 99);
  std::printf("reconciler/baseline: p50 %.1fx, p99 %.1fx; reconciler rounds over %.0f ms: %ld of %d\n",
              p50 > 0 ? Percentile(reconciled, 50) / p50 : 0, p99 > 0 ? Percentile(reconciled, 99) / p99 : 0, kTargetMs,
              std::count_if(reconciled.begin(), reconciled.end(), [](double ms) { return ms > kTargetMs; }), rounds);
  auto total = [](const std::map<std::string, int>& m) {
    int n = 0;
    for (const auto& [answer, count] : m) n += count;
    return n;
  };
  if (first == 0) {
    std::printf(
        "# Each round: a session created, a login issued and redeemed, its cookie answered by the wake-up\n"
        "# endpoint through HAProxy. Then a poller thread sends GETs with the cookie back to back (a new\n"
        "# connection each), t0, the change, and t1 = the first answer from the front end. The baseline runs on\n"
        "# a second HAProxy holding as many routes, rounds alternating which goes first. Store: SQLite\n"
        "# (synchronous=FULL); 4 reconcile workers. Requests in flight to the wake-up endpoint when the backend\n"
        "# changes are cut (by design): they get 502 or no answer.\n");
  }
  std::printf(
      "# GETs per round: %.1f (reconciler), %.1f (baseline). Neither server answered: reconciler %s; baseline\n"
      "# %s. Status writes at t0 that met a conflict: %d.\n",
      static_cast<double>(total(answers)) / rounds, static_cast<double>(total(direct_answers)) / rounds,
      OtherAnswers(answers, "wakeup", "upstream").c_str(), OtherAnswers(direct_answers, "wakeup", "upstream").c_str(),
      conflicts);
  std::fflush(stdout);
  return true;
}

// --- 2. Routes restored after HAProxy restarts ------------------------------

// Sessions n-FROM .. n-(TO-1): created, Ready at `front_end`, one login each,
// from kWriters threads. Their routes go into `expected`; the last one's
// cookie into `last_cookie`.
bool AddReadySessions(Rig* rig, int from, int to, const std::string& front_end, std::map<std::string, Route>* expected,
                      std::string* last_cookie) {
  std::mutex mu;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = from + w; i < to && !OutOfTime() && failures == 0; i += kWriters) {
        const std::string name = "n-" + std::to_string(i);
        Status s = rig->store()->Create(testing::Session(kNamespace, name)).status();
        if (s.ok()) s = WriteReady(rig->store(), name, front_end);
        StatusOr<RedeemedLogin> login = s.ok() ? LogIn(rig->store(), name, rig->url()) : StatusOr<RedeemedLogin>(s);
        if (!login.ok()) {
          if (failures++ == 0) std::fprintf(stderr, "%s: %s\n", name.c_str(), login.status().ToString().c_str());
          return;
        }
        std::lock_guard lock(mu);
        (*expected)[SessionKey(name)] = ReadyRoute(name, login->cookie_hash, front_end);
        if (i == to - 1) *last_cookie = login->cookie;
      }
    });
  }
  for (auto& t : writers) t.join();
  return failures == 0 && !OutOfTime();
}

bool Matches(const std::vector<Route>& routes, const std::map<std::string, Route>& expected) {
  if (routes.size() != expected.size()) return false;
  for (const Route& r : routes) {
    auto it = expected.find(r.key);
    if (it == expected.end() || it->second != r) return false;
  }
  return true;
}

bool Holds(Router* router, const std::map<std::string, Route>& expected) {
  auto routes = router->ListRoutes();
  return routes.ok() && Matches(*routes, expected);
}

std::vector<Route> Values(const std::map<std::string, Route>& m) {
  std::vector<Route> out;
  for (const auto& [key, route] : m) out.push_back(route);
  return out;
}

// "visi_router_restarts_total 2" -> 2.
long MetricValue(const std::string& metrics, const std::string& name) {
  const size_t at = metrics.find("\n" + name + " ");
  return at == std::string::npos ? -1 : std::atol(metrics.c_str() + at + name.size() + 2);
}

// What a client sees of one HAProxy coming back with the N routes: on a
// thread of its own, every kRestoreTick the HAProxy's pid file and a GET with
// the last session's cookie, every kRestorePoll ListRoutes through a Router
// of its own. Only what happens once a new HAProxy was spawned (the pid file
// no longer names `old_pid`) counts. Seconds from `t0`.
struct RestoreTimes {
  std::optional<double> spawned, answering, routes, request;
};
class RestoreWatcher {
 public:
  RestoreWatcher(Router* observer, int port, std::string pid_file, pid_t old_pid,
                 const std::map<std::string, Route>* expected, std::string last, std::string last_cookie,
                 Steady::time_point t0)
      : thread_([=, this] {
          auto since = [&] { return Sec(Steady::now() - t0); };
          const auto end = std::min(g_deadline, t0 + std::chrono::seconds(60));
          for (int tick = 0; (!times_.routes || !times_.request) && !stop_ && !g_interrupted && Steady::now() < end;
               ++tick) {
            const auto at = Steady::now();
            if (!times_.spawned) {
              const pid_t now_pid = PidFromFile(pid_file);
              if (now_pid > 0 && now_pid != old_pid) times_.spawned = since();
            }
            // Polled from the start, so that it loads HAProxy the same way throughout.
            StatusOr<std::vector<Route>> listed = UnavailableError("not polled on this tick");
            if (tick % (kRestorePoll / kRestoreTick) == 0) listed = observer->ListRoutes();
            if (times_.spawned) {
              if (!times_.request && Probe(port, last, last_cookie) == "upstream") times_.request = since();
              if (listed.ok() && !times_.answering) times_.answering = since();
              if (listed.ok() && !times_.routes && Matches(*listed, *expected)) times_.routes = since();
            }
            std::this_thread::sleep_until(at + kRestoreTick);
          }
        }) {}
  ~RestoreWatcher() {  // gives up when Wait was not called
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  RestoreTimes Wait() {
    thread_.join();
    return times_;
  }

 private:
  std::atomic<bool> stop_{false};
  RestoreTimes times_;  // written by thread_ only, read after it ends
  std::thread thread_;
};

struct Restored {
  int n = 0;
  double setup_s = 0;
  long restarts = 0;                 // by the reconciler's sync thread
  RestoreTimes reconciler;           // from the SIGKILL
  std::optional<double> repaired_s;  // the reconciler holds the N routes by its own count (visi_router_routes)
  RestoreTimes applied;              // from the Restart() call; then one ApplyRoutes
  double restart_call_s = 0, apply_call_s = 0;
  std::optional<RestoreTimes> one_by_one;  // Restart(), then N ApplyRoute (the old way)
  int one_by_one_done = 0;
};

bool RestoreAfterKill(Rig* rig, Haproxy* bare, HaproxyRouter* observer, HaproxyRouter* bare_observer,
                      const std::string& front_end, int n, std::map<std::string, Route>* expected,
                      std::string* last_cookie, int* sessions, Restored* out) {
  out->n = n;
  const auto setup_start = Steady::now();
  if (!AddReadySessions(rig, *sessions, n, front_end, expected, last_cookie)) return false;
  *sessions = n;
  const std::string last = "n-" + std::to_string(n - 1);
  if (!WaitUntil([&] { return Holds(observer, *expected); }, std::chrono::seconds(90),
                 std::chrono::milliseconds(200))) {
    std::fprintf(stderr, "N=%d: the reconciler never routed every session\n", n);
    return false;
  }
  out->setup_s = Sec(Steady::now() - setup_start);

  // The reconciler's HAProxy dies; its sync thread starts it again.
  {
    const pid_t pid = PidFromFile(rig->pid_file());
    const long restarts_before = MetricValue(rig->metrics(), "visi_router_restarts_total");
    const auto t0 = Steady::now();
    if (pid <= 0 || ::kill(pid, SIGKILL) != 0) {
      std::fprintf(stderr, "cannot SIGKILL HAProxy pid %d\n", pid);
      return false;
    }
    RestoreWatcher watcher(observer, rig->port(), rig->pid_file(), pid, expected, last, *last_cookie, t0);
    // The reconciler's own view meanwhile: its count falls when it reads the
    // new, empty HAProxy and is N again once its batches are applied.
    bool dropped = false;
    WaitUntil(
        [&] {
          const long held = MetricValue(rig->metrics(), "visi_router_routes");
          dropped = dropped || held < n;
          return dropped && held == n;
        },
        std::chrono::seconds(60), kRestoreTick);
    if (dropped) out->repaired_s = Sec(Steady::now() - t0);
    out->reconciler = watcher.Wait();
    out->restarts = MetricValue(rig->metrics(), "visi_router_restarts_total") - restarts_before;
    if (!out->reconciler.routes || !out->reconciler.request) {
      std::fprintf(stderr, "N=%d: routes not restored within 60 s of the SIGKILL\n", n);
      return false;
    }
  }

  // Baseline: the same routes on the bare HAProxy, restarted and refilled
  // by one ApplyRoutes, watched the same way.
  const std::vector<Route> all = Values(*expected);
  auto refill = [&](const char* what, bool one_by_one, RestoreTimes* times) {
    for (const Status& s : bare->router->ApplyRoutes(all)) {
      if (!s.ok()) {
        std::fprintf(stderr, "baseline fill: %s\n", s.ToString().c_str());
        return false;
      }
    }
    if (!Holds(bare_observer, *expected)) {
      std::fprintf(stderr, "baseline fill: the bare HAProxy does not hold the N routes\n");
      return false;
    }
    const pid_t pid = bare->process->pid();
    const auto t0 = Steady::now();
    RestoreWatcher watcher(bare_observer, bare->port(), bare->pid_file(), pid, expected, last, *last_cookie, t0);
    if (Status s = bare->process->Restart(); !s.ok()) {
      std::fprintf(stderr, "%s: Restart: %s\n", what, s.ToString().c_str());
      return false;
    }
    const auto restarted = Steady::now();
    if (!one_by_one) {
      for (const Status& s : bare->router->ApplyRoutes(all)) {
        if (!s.ok()) {
          std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
          return false;
        }
      }
      out->restart_call_s = Sec(restarted - t0);
      out->apply_call_s = Sec(Steady::now() - restarted);
    } else {
      const auto limit = std::min(g_deadline, restarted + kOldWayLimit);
      for (const Route& r : all) {
        if (g_interrupted || Steady::now() >= limit) break;
        if (Status s = bare->router->ApplyRoute(r); !s.ok()) {
          std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
          return false;
        }
        ++out->one_by_one_done;
      }
      if (out->one_by_one_done < n) return true;  // reported as "> limit"
    }
    *times = watcher.Wait();
    return true;
  };
  if (!refill("baseline ApplyRoutes", false, &out->applied)) return false;
  if (n <= 1000) {
    RestoreTimes t;
    if (!refill("baseline ApplyRoute x N", true, &t)) return false;
    if (out->one_by_one_done == n) out->one_by_one = t;
  }
  return true;
}

void PrintRestored(const std::vector<Restored>& runs) {
  std::printf("\n## 2. Routes restored after HAProxy dies: seconds from the SIGKILL (reconciler) or from the\n");
  std::printf("##    Restart() call (baselines)\n");
  std::printf("%6s | %-46s | %-35s | %-9s | %s\n", "", "reconciler: SIGKILL, then sync + ensure_router",
              "baseline: Restart() + ApplyRoutes", "ratio", "old way");
  std::printf("%6s | %7s %7s %8s %8s %9s | %8s %8s %8s %8s | %9s | %s\n", "N", "new", "answers", "repaired", "N routes",
              "last GET", "Restart", "+Apply-", "N routes", "last GET", "N routes", "N routes");
  std::printf("%6s | %7s %7s %8s %8s %9s | %8s %8s %8s %8s | %9s | %s\n", "", "HAProxy", "again", "(itself)", "listed",
              "answered", "() call", "Routes", "listed", "answered", "listed", "listed");
  auto f = [](const std::optional<double>& v) { return v.value_or(-1); };
  for (const Restored& r : runs) {
    std::string old_way = "-";
    if (r.one_by_one) {
      char text[32];
      std::snprintf(text, sizeof text, "%.3f", f(r.one_by_one->routes));
      old_way = text;
    } else if (r.n <= 1000) {
      old_way = "> " + std::to_string(kOldWayLimit.count()) + " s (" + std::to_string(r.one_by_one_done) + " done)";
    }
    const double base = f(r.applied.routes);
    std::printf("%6d | %7.3f %7.3f %8.3f %8.3f %9.3f | %8.3f %8.3f %8.3f %8.3f | %8.1fx | %s\n", r.n,
                f(r.reconciler.spawned), f(r.reconciler.answering), f(r.repaired_s), f(r.reconciler.routes),
                f(r.reconciler.request), r.restart_call_s, r.apply_call_s, base, f(r.applied.request),
                base > 0 ? f(r.reconciler.routes) / base : 0, old_way.c_str());
  }
  for (const Restored& r : runs) {
    std::printf(
        "# N=%d: set up (sessions written, all routed) in %.1f s; the sync thread restarted HAProxy %ld"
        " time(s).\n",
        r.n, r.setup_s, r.restarts);
  }
  std::printf(
      "# Watched the same way in all three: new HAProxy = its pid file names a new process; answers again =\n"
      "# ListRoutes through a Router of the watcher's own succeeds (every %lld ms); N routes listed = it returns\n"
      "# exactly the N routes; last GET = the last session's cookie reaches its front end (a GET every %lld ms).\n"
      "# repaired = the reconciler's own count (visi_router_routes) fell and is N again. The sync thread (every\n"
      "# %lld s) finds HAProxy dead, starts it on the same port and re-applies the routes in ApplyRoutes batches\n"
      "# of 1000. ratio = reconciler / baseline, N routes listed. Restart() = SIGTERM, wait for the exit, start,\n"
      "# wait for the socket. Old way: Restart(), then one ApplyRoute per route, each reading HAProxy's whole state.\n",
      static_cast<long long>(kRestorePoll.count()), static_cast<long long>(kRestoreTick.count()),
      static_cast<long long>(kSyncPeriod.count()));
  std::fflush(stdout);
}

// --- main -------------------------------------------------------------------

std::string HaproxyVersion(const HaproxyConfigOptions& config) {
  RuntimeApi api({config.socket_path()});
  auto info = api.Execute("show info");
  if (!info.ok()) return "?";
  const size_t at = info->find("\nVersion: ");
  return at == std::string::npos ? "?" : info->substr(at + 10, info->find('\n', at + 1) - at - 10);
}

std::string LoadAverage() {
  std::string load[3];
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  return load[0] + " " + load[1] + " " + load[2];
}

std::vector<int> ParseSizes(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::atoi(item.c_str()));
  return out;
}

int Run(const std::string& dir, int rounds, int late_rounds, const std::vector<int>& sizes) {
  LoopbackHttpServer wakeup("wakeup"), upstream("upstream");
  auto rig = Rig::Create(dir, wakeup.address());
  if (!rig.ok()) {
    std::fprintf(stderr, "reconciled HAProxy: %s\n", rig.status().ToString().c_str());
    return 1;
  }
  auto bare = StartHaproxy(dir + "/bare", wakeup.address());
  if (!bare.ok()) {
    std::fprintf(stderr, "bare HAProxy: %s\n", bare.status().ToString().c_str());
    return 1;
  }
  // Routers of the benchmark's own, to read each HAProxy's routes back.
  auto observer = HaproxyRouter::Create((*rig)->config());
  auto bare_observer = HaproxyRouter::Create(bare->process->config());
  if (!observer.ok() || !bare_observer.ok()) return 1;
  std::printf("# Route reconciler benchmark: HAProxy %s, %ld cores, load average %s\n",
              HaproxyVersion((*rig)->config()).c_str(), ::sysconf(_SC_NPROCESSORS_ONLN), LoadAverage().c_str());
  std::printf(
      "# visid's wiring: ManagedHaproxy + HaproxyRouter + RouteReconciler (sync %lld s, activity %lld s), SQLite\n"
      "# store, Manager on the system clock. Front ends and the wake-up endpoint: loopback servers in-process.\n",
      static_cast<long long>(kSyncPeriod.count()), static_cast<long long>(kActivityPeriod.count()));
  std::fflush(stdout);

  std::map<std::string, Route> expected;  // every session's route, by key
  if (!ReadyToRoutable(rig->get(), &*bare, upstream.address(), 0, rounds, &expected,
                       "1. Front end ready -> routable")) {
    return 1;
  }

  // Part 1's sessions are Ready with one login each: the first of the N.
  std::vector<Restored> restored;
  int sessions = static_cast<int>(expected.size());
  std::string last_cookie;
  // The sessions of part 1 are named r-*, those added here n-<index>, the
  // index counting from the number already present.
  for (int n : sizes) {
    if (n < sessions) continue;
    Restored r;
    if (!RestoreAfterKill(rig->get(), &*bare, observer->get(), bare_observer->get(), upstream.address(), n, &expected,
                          &last_cookie, &sessions, &r)) {
      if (!restored.empty()) PrintRestored(restored);
      return 1;
    }
    restored.push_back(r);
  }
  PrintRestored(restored);
  // Part 1 again, now that every HAProxy holds the most routes: each
  // ApplyRoute reads HAProxy's whole state first.
  if (late_rounds > 0 && !ReadyToRoutable(rig->get(), &*bare, upstream.address(), rounds, late_rounds, &expected,
                                          "3. Front end ready -> routable, with many routes present")) {
    return 1;
  }
  std::printf("\n# load average at the end: %s\n", LoadAverage().c_str());
  return 0;
}

int Main(int argc, char** argv) {
  std::string dir;
  int rounds = 100, late_rounds = 20;
  std::vector<int> sizes = {1000, 3000};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--dir" && has_value) {
      dir = argv[++i];
    } else if (a == "--rounds" && has_value) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--late-rounds" && has_value) {
      late_rounds = std::atoi(argv[++i]);
    } else if (a == "--sizes" && has_value) {
      sizes = ParseSizes(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: route_reconciler_bench [--dir DIR] [--rounds R] [--sizes N1,N2] [--late-rounds L]\n");
      return 2;
    }
  }
  if (rounds < 1 || late_rounds < 0 || std::any_of(sizes.begin(), sizes.end(), [](int n) { return n < 1; })) {
    std::fprintf(stderr, "--rounds and --sizes must be positive, --late-rounds not negative\n");
    return 2;
  }
  std::sort(sizes.begin(), sizes.end());
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  g_deadline = Steady::now() + kBudget;

  bool own_dir = false;
  if (dir.empty()) {
    char pattern[] = "/tmp/visi-route-reconciler-bench-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = pattern;
    own_dir = true;
  }
  const int rc = Run(dir, rounds, late_rounds, sizes);  // stops both HAProxys before returning
  if (g_interrupted) std::fprintf(stderr, "interrupted; cleaned up\n");
  if (own_dir) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  return rc;
}

}  // namespace
}  // namespace visi::bench

int main(int argc, char** argv) { return visi::bench::Main(argc, argv); }
