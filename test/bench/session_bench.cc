// Session start benchmark (not a test): apply -> Ready of a VisiSession with
// 2 workers through a visid this benchmark starts, against the same network
// and containers started directly through the Docker driver, in one run:
//   - sequential: ROUNDS sessions each way, interleaved, the order within a
//     pair alternating (direct visi, visi direct, direct visi ...); p50/p99;
//   - burst: BURST sessions applied at once (POSTed back to back), against
//     the same BURST sessions started directly by BURST threads.
// "Direct" builds the containers with the reconciler's own pure function
// (BuildDesiredSession) from the spec the API server defaulted, creates the
// network, creates and starts master, workers and front end in that order,
// then probes with the reconciler's SocketProber every 5 ms: the least any
// control plane has to do. "Visi" is timed from just before the POST to the
// watch event that carries Ready=True (session_watch.h). Docker's own event
// times then split both into: apply -> network created -> front end started
// -> Ready.
// Usage: session_bench [ROUNDS=20] [BURST=10] [visid flags...]
// Bounded: every wait gives up at a global deadline (4.5 minutes); visid is
// stopped by pid; every container and network of the run (found by its
// visi.dev/instance labels) is removed at the end.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <latch>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "controller/drivers/docker/docker_client.h"
#include "controller/drivers/docker/docker_http.h"
#include "reconcilers/session/cidr.h"
#include "reconcilers/session/prober.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_spec.h"
#include "test/bench/session_start.h"
#include "test/bench/session_watch.h"
#include "test/e2e/visid_process.h"

namespace visi::bench {
namespace {

constexpr double kTargetRatio = 1.15;  // apply -> Ready <= 1.15x the direct start
constexpr int kWorkers = 2;
const std::string kNamespace = "alice";
const std::string kSessions = ResourcePath("visisessions", kNamespace);

Steady::time_point g_deadline;
volatile std::sig_atomic_t g_interrupted = 0;
bool Interrupted() { return g_interrupted != 0; }
bool OutOfTime() { return Interrupted() || Steady::now() >= g_deadline; }
Steady::time_point Until(std::chrono::seconds limit) { return std::min(g_deadline, Steady::now() + limit); }

// Nearest rank: p99 of 20 samples is the largest.
double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string SessionJson(const std::string& name) {
  return Json{{"apiVersion", "visi.dev/v1alpha1"},
              {"kind", "VisiSession"},
              {"metadata", {{"name", name}, {"namespace", kNamespace}}},
              {"spec", {{"user", kNamespace}, {"spark", {{"workers", kWorkers}}}}}}
      .dump();
}

struct Side {
  std::vector<Start> sequential, burst;
  double burst_all_ms = -1;  // the first apply -> the last Ready
};

std::vector<double> ReadyMs(const std::vector<Start>& starts) {
  std::vector<double> v;
  for (const auto& s : starts) {
    if (s.status.ok()) v.push_back(s.ready_ms);
  }
  return v;
}

class SessionBench {
 public:
  // `visid_flags` are added to visid's command line (e.g. --session-workers 10).
  SessionBench(int rounds, int burst, std::vector<std::string> visid_flags)
      : rounds_(rounds), burst_(burst), visid_flags_(std::move(visid_flags)) {}
  ~SessionBench() { Cleanup(); }

  // Prints the figures; 0 when every start succeeded.
  int Run();

 private:
  bool Setup();
  bool WarmUp();
  void Cleanup();
  DesiredSession Desired(const std::string& name, int slot);
  Start Direct(int slot);
  Start Visi(const std::string& name);
  void Burst();
  void Report();

  const int rounds_, burst_;
  const std::vector<std::string> visid_flags_;
  std::string instance_;
  Cidr visi_pool_, direct_pool_;
  testing::VisidProcess visid_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::unique_ptr<DockerHttp> docker_events_;  // for AddDockerTimes
  SocketProber prober_;
  std::unique_ptr<ApiClient> api_;
  std::unique_ptr<SessionWatch> watch_;
  SessionSpec spec_;
  std::mt19937_64 rng_{std::random_device{}()};
  Side direct_, visi_;
};

bool SessionBench::Setup() {
  auto d = NewDockerClient({});
  if (!d.ok() || !(*d)->Ping().ok()) {
    std::fprintf(stderr, "no Docker daemon at /var/run/docker.sock (hack/bench-session.sh starts one)\n");
    return false;
  }
  docker_ = std::move(*d);
  DockerHttpOptions events_options;
  events_options.endpoint = *ParseDockerEndpoint("unix:///var/run/docker.sock");
  auto http = DockerHttp::Create(events_options);
  if (!http.ok()) return false;
  docker_events_ = std::move(*http);
  for (const char* image : {"visi/spark:latest", "visi/frontend:latest"}) {
    auto e = docker_->ImageExists(image);
    if (!e.ok() || !*e) {
      std::fprintf(stderr, "image %s is missing: run hack/images.sh\n", image);
      return false;
    }
  }
  // A /19 of 10.176.0.0/12 that no network on the host overlaps: its first
  // /20 is visid's subnet pool, the second the direct sessions'.
  auto taken = docker_->ListNetworks({});
  if (!taken.ok()) return false;
  for (int attempt = 0; attempt < 64 && visi_pool_.prefix == 0; ++attempt) {
    const uint32_t r = rng_() % 128;
    Cidr pair{(10u << 24) | ((176 + r / 8) << 16) | ((r % 8 * 32) << 8), 19};
    bool free = true;
    for (const auto& n : *taken) {
      auto c = ParseCidr(n.subnet, "network");
      if (c.ok() && c->Overlaps(pair)) free = false;
    }
    if (!free) continue;
    visi_pool_ = Cidr{pair.base, 20};
    direct_pool_ = Cidr{pair.base + (16u << 8), 20};
  }
  if (visi_pool_.prefix == 0) {
    std::fprintf(stderr, "no free /19 in 10.176.0.0/12\n");
    return false;
  }
  instance_ = "sbench-" + std::to_string(rng_() % 1000000);
  std::vector<std::string> flags = {
      "--controllers",    "*,-visiroute",    "--instance", instance_, "--subnet-pool", visi_pool_.ToString(),
      "--session-resync", "500ms"};
  flags.insert(flags.end(), visid_flags_.begin(), visid_flags_.end());
  if (!visid_.Start(flags)) {
    std::fprintf(stderr, "visid did not start\n");
    return false;
  }
  api_ = std::make_unique<ApiClient>(visid_.AdminConfig());
  auto list = api_->Request("GET", kSessions);
  auto j = list.ok() ? ParseJson(list.body) : StatusOr<Json>(list.ToStatus());
  if (!j.ok()) {
    std::fprintf(stderr, "list sessions: %s\n", j.status().ToString().c_str());
    return false;
  }
  const Json& rv = (*j)["metadata"]["resourceVersion"];
  watch_ = std::make_unique<SessionWatch>(visid_.AdminConfig(), kSessions,
                                          rv.is_string() ? rv.get<std::string>() : rv.dump());
  return true;
}

void SessionBench::Cleanup() {
  watch_.reset();
  visid_.Stop();
  if (!docker_) return;
  for (const std::string& instance : {instance_, instance_ + "-d"}) {
    auto cs = docker_->ListContainers({{"visi.dev/instance", instance}});
    if (cs.ok()) {
      for (const auto& c : *cs) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
    auto ns = docker_->ListNetworks({{"visi.dev/instance", instance}});
    if (ns.ok()) {
      for (const auto& n : *ns) (void)docker_->RemoveNetwork(n.id);
    }
  }
}

// The direct sessions' objects carry instance "<instance>-d": the same
// labels and names as visid's, found by the cleanup, never visid's.
DesiredSession SessionBench::Desired(const std::string& name, int slot) {
  char uid[40];
  std::snprintf(uid, sizeof uid, "%016llx", static_cast<unsigned long long>(rng_()));
  Cidr subnet{direct_pool_.base + (static_cast<uint32_t>(slot % 16) << 8), 24};
  return BuildDesiredSession({kNamespace, name, uid, instance_ + "-d"}, spec_, subnet.ToString());
}

Start SessionBench::Direct(int slot) {
  const DesiredSession d = Desired("d" + std::to_string(slot), slot);
  Start r = StartDirect(docker_.get(), &prober_, d, spec_, Steady::now(), Wall::now(), Until(std::chrono::seconds(60)));
  if (r.status.ok()) AddDockerTimes(*docker_events_, kWorkers, {&r});
  RemoveDirect(docker_.get(), d);
  return r;
}

Start SessionBench::Visi(const std::string& name) {
  Start r;
  const auto t0 = Steady::now();
  r.applied = Wall::now();
  auto created = api_->Request("POST", kSessions, SessionJson(name));
  auto o = created.ok() ? ParseJson(created.body) : StatusOr<Json>(created.ToStatus());
  if (!o.ok()) {
    r.status = o.status();
    return r;
  }
  r.network = SessionNetworkName({kNamespace, name, (*o)["metadata"].value("uid", "")});
  auto t = watch_->WaitFor(
      name, [](const SessionTimes& t) { return t.is_ready(); }, Until(std::chrono::seconds(60)), Interrupted);
  if (!t.is_ready()) {
    r.status = Status(Code::kDeadlineExceeded, name + " not Ready within the limit");
  } else {
    r.ready_ms = Ms(t.ready - t0);
    r.picked_up_ms = Ms(t.picked_up - t0);
    r.status_writes = t.status_writes;
    AddDockerTimes(*docker_events_, kWorkers, {&r});
  }
  return r;
}

Status DeleteAndWait(ApiClient* api, SessionWatch* watch, const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto r = api->Request("DELETE", kSessions + "/" + n);
    if (!r.ok() && r.code != 404) return r.ToStatus();
  }
  for (const auto& n : names) {
    auto t = watch->WaitFor(
        n, [](const SessionTimes& t) { return t.is_deleted(); }, Until(std::chrono::seconds(60)), Interrupted);
    if (!t.is_deleted()) return Status(Code::kDeadlineExceeded, n + " not gone within the limit");
  }
  return OkStatus();
}

// The first session also gives the spec exactly as the API server defaulted
// it, from which the direct sessions are built. Neither start is counted.
bool SessionBench::WarmUp() {
  auto created = api_->Request("POST", kSessions, SessionJson("warm"));
  auto json = created.ok() ? ParseJson(created.body) : StatusOr<Json>(created.ToStatus());
  auto object = json.ok() ? ObjectFromJson(*json) : StatusOr<Object>(json.status());
  auto spec = object.ok() ? ParseSessionSpec(*object) : StatusOr<SessionSpec>(object.status());
  if (!spec.ok()) {
    std::fprintf(stderr, "warm-up create: %s\n", spec.status().ToString().c_str());
    return false;
  }
  spec_ = *spec;
  auto t = watch_->WaitFor(
      "warm", [](const SessionTimes& t) { return t.is_ready(); }, Until(std::chrono::seconds(60)), Interrupted);
  if (!t.is_ready()) {
    std::fprintf(stderr, "warm-up session not Ready (visid log: %s/visid.log)\n", visid_.dir().c_str());
    return false;
  }
  if (Status s = DeleteAndWait(api_.get(), watch_.get(), {"warm"}); !s.ok()) {
    std::fprintf(stderr, "warm-up delete: %s\n", s.ToString().c_str());
    return false;
  }
  if (Start d = Direct(0); !d.status.ok()) {
    std::fprintf(stderr, "warm-up direct: %s\n", d.status.ToString().c_str());
    return false;
  }
  return true;
}

void SessionBench::Burst() {
  // Direct: one thread per session, released together.
  std::vector<DesiredSession> ds;
  for (int i = 0; i < burst_; ++i) ds.push_back(Desired("db" + std::to_string(i), i));
  direct_.burst.resize(burst_);
  std::latch go(burst_ + 1);
  Steady::time_point t0;
  Wall::time_point applied;
  std::vector<std::thread> threads;
  for (int i = 0; i < burst_; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      direct_.burst[i] =
          StartDirect(docker_.get(), &prober_, ds[i], spec_, t0, applied, Until(std::chrono::seconds(90)));
    });
  }
  t0 = Steady::now();
  applied = Wall::now();
  go.arrive_and_wait();
  for (auto& t : threads) t.join();
  std::vector<Start*> started;
  for (auto& r : direct_.burst) started.push_back(&r);
  AddDockerTimes(*docker_events_, kWorkers, started);
  for (const auto& d : ds) RemoveDirect(docker_.get(), d);

  // Visi: POSTed back to back, each timed from just before its own POST.
  std::vector<std::string> names;
  std::vector<Steady::time_point> posted;
  for (int i = 0; i < burst_; ++i) {
    names.push_back("b" + std::to_string(i));
    posted.push_back(Steady::now());
    Start r;
    r.applied = Wall::now();
    auto created = api_->Request("POST", kSessions, SessionJson(names.back()));
    auto o = created.ok() ? ParseJson(created.body) : StatusOr<Json>(created.ToStatus());
    if (o.ok()) {
      r.network = SessionNetworkName({kNamespace, names.back(), (*o)["metadata"].value("uid", "")});
    } else {
      r.status = o.status();
    }
    visi_.burst.push_back(r);
  }
  Steady::time_point last = posted.front();
  for (int i = 0; i < burst_; ++i) {
    auto t = watch_->WaitFor(
        names[i], [](const SessionTimes& t) { return t.is_ready(); }, Until(std::chrono::seconds(90)), Interrupted);
    if (!t.is_ready() && visi_.burst[i].status.ok()) {
      visi_.burst[i].status = Status(Code::kDeadlineExceeded, names[i] + " not Ready within the limit");
    }
    if (!t.is_ready()) continue;
    visi_.burst[i].ready_ms = Ms(t.ready - posted[i]);
    last = std::max(last, t.ready);
  }
  started.clear();
  for (auto& r : visi_.burst) started.push_back(&r);
  AddDockerTimes(*docker_events_, kWorkers, started);
  if (Status s = DeleteAndWait(api_.get(), watch_.get(), names); !s.ok()) {
    std::fprintf(stderr, "burst delete: %s\n", s.ToString().c_str());
  }

  for (Side* side : {&direct_, &visi_}) {
    bool all = true;
    for (const auto& s : side->burst) {
      if (!s.status.ok()) std::fprintf(stderr, "burst: %s\n", s.status.ToString().c_str());
      all = all && s.status.ok();
    }
    if (!all) continue;
    side->burst_all_ms = 0;
    for (const auto& s : side->burst) side->burst_all_ms = std::max(side->burst_all_ms, s.ready_ms);
  }
  // Visi's sessions were applied one after the other: all Ready counts from
  // the first POST.
  if (visi_.burst_all_ms >= 0) visi_.burst_all_ms = Ms(last - posted.front());
}

void Row(const std::string& figure, double direct, double visi, bool target) {
  const double ratio = direct > 0 ? visi / direct : 0;
  std::printf("%-46s %9.1f %9.1f %7.2f  %s\n", figure.c_str(), direct, visi, ratio,
              !target                 ? "-"
              : ratio <= kTargetRatio ? "<= 1.15 met"
                                      : "<= 1.15 NOT met");
}

void Verdict(const std::string& figure, double direct, double visi) {
  const double ratio = direct > 0 ? visi / direct : 0;
  std::printf("%s %s: visi %.0f ms, direct %.0f ms: %.2fx (target <= %.2fx; visid adds %+.0f ms)\n",
              ratio <= kTargetRatio ? "MET    " : "NOT MET", figure.c_str(), visi, direct, ratio, kTargetRatio,
              visi - direct);
}

void SessionBench::Report() {
  const auto dr = ReadyMs(direct_.sequential), vr = ReadyMs(visi_.sequential);
  const auto db = ReadyMs(direct_.burst), vb = ReadyMs(visi_.burst);
  const std::string n = "(n=" + std::to_string(std::min(dr.size(), vr.size())) + ")";
  const std::string b = "burst of " + std::to_string(burst_);
  std::printf("\n%-46s %9s %9s %7s  %s\n", "figure (ms)", "direct", "visi", "ratio", "target");
  Row("apply -> Ready p50, sequential " + n, Percentile(dr, 50), Percentile(vr, 50), true);
  Row("apply -> Ready p99, sequential " + n, Percentile(dr, 99), Percentile(vr, 99), true);
  if (direct_.burst_all_ms > 0 && visi_.burst_all_ms > 0) {
    Row(b + ": all Ready", direct_.burst_all_ms, visi_.burst_all_ms, true);
    Row(b + ": each apply -> Ready p50", Percentile(db, 50), Percentile(vb, 50), true);
    Row(b + ": each apply -> Ready p99", Percentile(db, 99), Percentile(vb, 99), true);
  }

  // Where the time goes, on Docker's clock (the same host's wall clock).
  std::printf("\n%-46s %9s %9s %9s %9s %9s %9s\n", "where the time goes, p50 (ms)", "direct", "visi", "+visid",
              "direct", "visi", "+visid");
  std::printf("%-46s %29s %29s\n", "", "sequential", b.c_str());
  struct Phases {
    std::vector<double> to_network, to_frontend, to_creates, to_starts, to_ready;
  };
  auto split = [](const std::vector<Start>& starts) {
    Phases p;
    for (const auto& s : starts) {
      if (!s.status.ok() || s.network_ms < 0) continue;
      p.to_network.push_back(s.network_ms);
      p.to_frontend.push_back(s.frontend_ms - s.network_ms);
      p.to_creates.push_back(s.to_creates_ms);
      p.to_starts.push_back(s.to_starts_ms);
      p.to_ready.push_back(s.ready_ms - s.frontend_ms);
    }
    return p;
  };
  const Phases sd = split(direct_.sequential), sv = split(visi_.sequential);
  const Phases bd = split(direct_.burst), bv = split(visi_.burst);
  auto phase = [](const char* what, const std::vector<double>& d, const std::vector<double>& v,
                  const std::vector<double>& bd, const std::vector<double>& bv) {
    const double a = Percentile(d, 50), b = Percentile(v, 50), c = Percentile(bd, 50), e = Percentile(bv, 50);
    std::printf("%-46s %9.1f %9.1f %+9.1f %9.1f %9.1f %+9.1f\n", what, a, b, b - a, c, e, e - c);
  };
  phase("apply -> network created", sd.to_network, sv.to_network, bd.to_network, bv.to_network);
  phase("network created -> front end started", sd.to_frontend, sv.to_frontend, bd.to_frontend, bv.to_frontend);
  phase("  sum of (previous event -> create event)", sd.to_creates, sv.to_creates, bd.to_creates, bv.to_creates);
  phase("  sum of (create event -> start event)", sd.to_starts, sv.to_starts, bd.to_starts, bv.to_starts);
  phase("front end started -> Ready observed", sd.to_ready, sv.to_ready, bd.to_ready, bv.to_ready);
  std::vector<double> picked_up, writes;
  for (const auto& s : visi_.sequential) {
    if (!s.status.ok()) continue;
    picked_up.push_back(s.picked_up_ms);
    writes.push_back(s.status_writes);
  }
  const size_t found = sd.to_network.size() + sv.to_network.size() + bd.to_network.size() + bv.to_network.size();
  const size_t starts = direct_.sequential.size() + visi_.sequential.size() + direct_.burst.size() + visi_.burst.size();
  std::printf(
      "# visi, sequential: apply -> the reconciler's finalizer p50 %.1f ms; statuses written up to Ready "
      "p50 %.0f, max %.0f\n",
      Percentile(picked_up, 50), Percentile(writes, 50), Percentile(writes, 100));
  std::printf(
      "# %zu of %zu starts found in Docker's event log; p99 is the nearest rank (with 20 samples, the "
      "largest); watch connections: %d\n\n",
      found, starts, watch_->connects());
  Verdict("sequential p50", Percentile(dr, 50), Percentile(vr, 50));
  Verdict("sequential p99", Percentile(dr, 99), Percentile(vr, 99));
  if (direct_.burst_all_ms > 0 && visi_.burst_all_ms > 0) {
    Verdict(b + ", all Ready", direct_.burst_all_ms, visi_.burst_all_ms);
  }
}

int SessionBench::Run() {
  if (!Setup()) return 1;
  std::string extra;
  for (const auto& f : visid_flags_) extra += " " + f;
  std::printf(
      "# Session start: %d workers, %d sequential rounds each way (interleaved), burst of %d; instance %s, subnets "
      "from %s (visid) and %s (direct); %ld cores; extra visid flags:%s\n",
      kWorkers, rounds_, burst_, instance_.c_str(), visi_pool_.ToString().c_str(), direct_pool_.ToString().c_str(),
      sysconf(_SC_NPROCESSORS_ONLN), extra.empty() ? " none" : extra.c_str());
  std::fflush(stdout);
  if (!WarmUp()) return 1;

  bool ok = true;
  for (int i = 0; i < rounds_ && !OutOfTime(); ++i) {
    // The order within a pair alternates, so that neither side always runs
    // right after the other's teardown.
    for (int k = 0; k < 2; ++k) {
      if ((i + k) % 2 == 0) {
        direct_.sequential.push_back(Direct(i));
      } else {
        visi_.sequential.push_back(Visi("v" + std::to_string(i)));
        if (Status s = DeleteAndWait(api_.get(), watch_.get(), {"v" + std::to_string(i)}); !s.ok()) {
          std::fprintf(stderr, "round %d delete: %s\n", i, s.ToString().c_str());
        }
      }
    }
    const Start& d = direct_.sequential.back();
    const Start& v = visi_.sequential.back();
    if (!d.status.ok()) std::fprintf(stderr, "round %d direct: %s\n", i, d.status.ToString().c_str());
    if (!v.status.ok()) std::fprintf(stderr, "round %d visi: %s\n", i, v.status.ToString().c_str());
    ok = ok && d.status.ok() && v.status.ok();
    std::fprintf(stderr, "round %d: direct %.0f ms, visi %.0f ms\n", i, d.ready_ms, v.ready_ms);
  }
  if (!OutOfTime()) Burst();
  Report();
  ok = ok && static_cast<int>(visi_.sequential.size()) == rounds_ && direct_.burst_all_ms > 0 && visi_.burst_all_ms > 0;
  if (!ok) std::printf("# incomplete: some starts failed or the run ran out of time (see stderr)\n");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace visi::bench

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  const int burst = argc > 2 ? std::clamp(std::atoi(argv[2]), 1, 16) : 10;
  visi::bench::g_deadline = visi::bench::Steady::now() + std::chrono::seconds(270);
  std::signal(SIGINT, [](int) { visi::bench::g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { visi::bench::g_interrupted = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  visi::bench::SessionBench bench(rounds, burst, std::vector<std::string>(argv + std::min(argc, 3), argv + argc));
  return bench.Run();
}
