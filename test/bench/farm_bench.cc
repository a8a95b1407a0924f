// Farm benchmark (not a test): apply -> Ready of a VisiSession (1 worker)
// placed on a FarmPool whose exec provider is hack/farm-machine.sh (each
// machine a separate dockerd on this host, the stand-in images copied in),
// through a visid this benchmark starts, in one run, ROUNDS times each:
//   warm:     a pool keeping one machine idle and warm (minIdle 1, maxIdle 1,
//             maxMachines 2, machineCapacity.sessions 1, no scale-down delay). Each
//             round starts when status.idleMachines is 1 and the pool has no
//             other machine; the session takes the idle machine, and the
//             pool provisions a replacement meanwhile, as it would for real.
//             After the delete the pool is waited back to 1 machine, idle.
//   cold:     a pool with no machine (minIdle 0, maxIdle 0, delay 0): the
//             session waits (Scheduled=False, NoMachines), the pool makes a
//             machine for it (a dockerd started, the images copied), then it
//             is placed and started. After the delete: 0 machines again.
//   baseline: the same three containers (network, master, worker, front end)
//             started directly on the main dockerd through the Docker driver,
//             then probed every 5 ms until the master and the front end answer
//             (session_start.h's StartDirect, as session_bench's "direct").
//   direct on the warm machine: the same direct start on the idle machine's
//             own dockerd (informational: it separates what visid adds from
//             what differs between the two daemons).
//   warm, no replacement: as warm, on a pool of maxMachines 1, so that no
//             replacement is provisioned during the start (informational: on
//             this one host the replacement's dockerd start and image copy
//             share the CPUs with the warm start; on a real farm they would
//             run on another host).
// Visi is timed from just before the POST to the watch event that carries
// Ready=True (session_watch.h). The order of the cases within a round rotates
// from round to round. Figures: median, min and max per case; the ratios
// warm/baseline (target <= 1.15) and cold/warm.
// Usage: farm_bench [--reps N] [--budget SECONDS] [--instance NAME]
//                   [--farm-dir DIR] [--script PATH]
// Needs root (the farm's daemons) and the main dockerd with the stand-in
// images. Bounded: no round starts after the budget (default 300 s), every
// wait has a limit. At the end, also after SIGINT or SIGTERM: the sessions
// and pools are deleted, visid is stopped by pid, `farm-machine.sh
// delete-all` stops every daemon left under the farm dir, and every container
// and network with the run's instance labels (NAME, NAME-d) on the main
// daemon is removed.
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "controller/drivers/docker/docker_client.h"
#include "reconcilers/session/cidr.h"
#include "reconcilers/session/prober.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_spec.h"
#include "test/bench/bench_budget.h"
#include "test/bench/machine_watch.h"
#include "test/bench/summary.h"
#include "test/bench/session_start.h"
#include "test/bench/session_watch.h"
#include "test/bench/watch_stream.h"
#include "test/e2e/visid_process.h"

namespace visi::bench {
namespace {

constexpr double kTargetRatio = 1.15;  // warm apply -> Ready <= 1.15x the direct start
constexpr int kWorkers = 1;
constexpr auto kReadyLimit = std::chrono::seconds(240);   // a cold start includes a machine
constexpr auto kSettleLimit = std::chrono::seconds(180);  // a pool back to its resting state
const std::string kNamespace = "farmbench";
const std::string kSessions = ResourcePath("visisessions", kNamespace);
const std::string kPools = ResourcePath("farmpools", "");
const std::string kMachines = ResourcePath("farmmachines", "");

Steady::time_point Within(std::chrono::seconds limit) { return Steady::now() + limit; }

// Every IPv4 network on this host: the main daemon's and every interface's
// (the farm's daemons share the host's network stack, and their networks
// are not the main daemon's).
std::vector<Cidr> HostNetworks(ContainerRuntime* docker) {
  std::vector<Cidr> out;
  if (auto ns = docker->ListNetworks({}); ns.ok()) {
    for (const auto& n : *ns) {
      if (auto c = ParseCidr(n.subnet, "network"); c.ok()) out.push_back(*c);
    }
  }
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_netmask == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    const uint32_t addr = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr);
    const uint32_t mask = ntohl(reinterpret_cast<sockaddr_in*>(i->ifa_netmask)->sin_addr.s_addr);
    out.push_back(Cidr{addr & mask, std::popcount(mask)});
  }
  ::freeifaddrs(list);
  return out;
}

enum class Case { kBaseline, kOnMachine, kWarm, kSolo, kCold };
const char* const kCaseNames[] = {"baseline", "direct on machine", "warm", "warm no replacement", "cold"};

struct Options {
  int reps = 5;
  std::string instance, farm_dir, script;
};

class FarmBench {
 public:
  explicit FarmBench(Options o) : opts_(std::move(o)) {}
  ~FarmBench() { Cleanup(); }

  // Prints the figures; 0 when every round ran and every start succeeded.
  int Run();

 private:
  bool Setup();
  bool WarmUp();
  void Cleanup();
  Status Step(Case c, int round);
  // A start on `pool`'s idle machine: apply -> Ready into `out`, the
  // replacement machine's apply -> Ready (if one is made) into `replacement`.
  Status WarmStep(const std::string& name, const std::string& pool, std::vector<double>* out,
                  std::vector<double>* replacement);
  std::vector<double>& FiguresOf(Case c);
  // POSTs session `name` on `pool` and waits for its Ready event.
  struct Applied {
    Steady::time_point t0, ready;
    Json created;         // the POST's reply: the session as the API server defaulted it
    std::string machine;  // status.machine once Ready
  };
  StatusOr<Applied> Apply(const std::string& name, const std::string& pool);
  Status DeleteSession(const std::string& name);
  // Polls `pool` every 100 ms until it has `machines` machines, `idle` of
  // them idle and Ready (the list and the pool's status agree).
  Status Settle(const std::string& pool, int machines, int idle);
  Status Direct(ContainerRuntime* rt, int slot, std::vector<double>* out);
  StatusOr<std::unique_ptr<ContainerRuntime>> IdleMachineDocker();
  Json Get(const std::string& path);
  Json PoolJson(const std::string& name, int idle, int max_machines, const Cidr& subnets) const;
  void Report();

  const Options opts_;
  std::string farm_dir_;  // VISI_FARM_DIR: --farm-dir, else visid's data dir + /farm
  std::string warm_pool_, solo_pool_, cold_pool_;
  Cidr warm_subnets_, solo_subnets_, cold_subnets_, direct_subnets_, local_subnets_;
  testing::VisidProcess visid_;
  std::unique_ptr<ApiClient> api_;
  std::unique_ptr<SessionWatch> watch_;
  std::unique_ptr<ContainerRuntime> docker_;  // the main daemon
  SocketProber prober_;
  SessionSpec spec_;  // as the API server defaulted it (the warm-up's)
  std::mt19937_64 rng_{std::random_device{}()};
  std::vector<std::string> sessions_;  // created and maybe not deleted yet
  bool cleaned_ = false;
  // Figures, ms.
  std::vector<double> baseline_, on_machine_, warm_, solo_, cold_;
  std::vector<double> cold_machine_added_, cold_machine_ready_, cold_placed_ready_, warm_replacement_ready_;
  std::vector<std::string> notes_;
};

Json FarmBench::Get(const std::string& path) {
  auto r = api_->Request("GET", path);
  auto j = r.code == 200 ? ParseJson(r.body) : StatusOr<Json>(Json::object());
  return j.ok() && j->is_object() ? *j : Json::object();
}

// minIdle = maxIdle = `idle`, one session per machine, no scale-down delay.
Json FarmBench::PoolJson(const std::string& name, int idle, int max_machines, const Cidr& subnets) const {
  return Json{
      {"apiVersion", "visi.dev/v1alpha1"},
      {"kind", "FarmPool"},
      {"metadata", {{"name", name}}},
      {"spec",
       {{"provider",
         {{"type", "exec"}, {"exec", {{"create", {opts_.script, "create"}}, {"delete", {opts_.script, "delete"}}}}}},
        {"machineCapacity", {{"sessions", 1}}},
        {"idlePool", {{"minIdle", idle}, {"maxIdle", idle}}},
        {"maxMachines", max_machines},
        {"scaleDownDelaySeconds", 0},
        {"network", {{"subnetPool", subnets.ToString()}}}}}};
}

bool FarmBench::Setup() {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "farm_bench starts Docker daemons (hack/farm-machine.sh): run it as root\n");
    return false;
  }
  auto d = NewDockerClient({});
  if (!d.ok() || !(*d)->Ping().ok()) {
    std::fprintf(stderr, "no Docker daemon at /var/run/docker.sock (hack/bench-farm.sh starts one)\n");
    return false;
  }
  docker_ = std::move(*d);
  for (const char* image : {"visi/busybox:latest", "visi/spark:latest", "visi/frontend:latest"}) {
    auto e = docker_->ImageExists(image);
    if (!e.ok() || !*e) {
      std::fprintf(stderr, "image %s is missing: run hack/images.sh\n", image);
      return false;
    }
  }
  // A /19 of 10.224.0.0/12 that no network on the host overlaps: a /21 for
  // each pool, a /22 for the direct starts and a /22 for visid's own
  // --subnet-pool (unused unless a session misses its pool).
  const std::vector<Cidr> taken = HostNetworks(docker_.get());
  for (int attempt = 0; attempt < 64 && warm_subnets_.prefix == 0; ++attempt) {
    const uint32_t r = rng_() % 128;
    const Cidr block{(10u << 24) | ((224 + r / 8) << 16) | ((r % 8 * 32) << 8), 19};
    if (std::any_of(taken.begin(), taken.end(), [&](const Cidr& c) { return c.Overlaps(block); })) continue;
    warm_subnets_ = Cidr{block.base, 21};
    solo_subnets_ = Cidr{block.base + (8u << 8), 21};
    cold_subnets_ = Cidr{block.base + (16u << 8), 21};
    direct_subnets_ = Cidr{block.base + (24u << 8), 22};
    local_subnets_ = Cidr{block.base + (28u << 8), 22};
  }
  if (warm_subnets_.prefix == 0) {
    std::fprintf(stderr, "no free /19 in 10.224.0.0/12\n");
    return false;
  }
  warm_pool_ = opts_.instance + "-warm";
  solo_pool_ = opts_.instance + "-solo";
  cold_pool_ = opts_.instance + "-cold";
  farm_dir_ = opts_.farm_dir.empty() ? visid_.dir() + "/farm" : opts_.farm_dir;
  visid_.SetEnv("VISI_FARM_DIR", farm_dir_);
  if (!visid_.Start({"--controllers", "*,-visiroute", "--instance", opts_.instance, "--subnet-pool",
                     local_subnets_.ToString(), "--session-resync", "500ms", "--machine-heartbeat", "500ms",
                     "--docker-host", "unix:///var/run/docker.sock"})) {
    std::fprintf(stderr, "visid did not start (log: %s)\n", visid_.log_path().c_str());
    return false;
  }
  api_ = std::make_unique<ApiClient>(visid_.AdminConfig());
  // maxMachines bounds each pool: 2 lets the warm pool replace its idle
  // machine while a session holds it; 1 keeps the solo pool from doing so.
  for (const Json& pool : {PoolJson(warm_pool_, 1, 2, warm_subnets_), PoolJson(solo_pool_, 1, 1, solo_subnets_),
                           PoolJson(cold_pool_, 0, 1, cold_subnets_)}) {
    auto r = api_->Request("POST", kPools, pool.dump());
    if (r.code != 201) {
      std::fprintf(stderr, "create pool: %d %s\n", r.code, r.body.c_str());
      return false;
    }
  }
  auto list = api_->Request("GET", kSessions);
  auto j = list.ok() ? ParseJson(list.body) : StatusOr<Json>(list.ToStatus());
  if (!j.ok()) {
    std::fprintf(stderr, "list sessions: %s\n", j.status().ToString().c_str());
    return false;
  }
  watch_ = std::make_unique<SessionWatch>(visid_.AdminConfig(), kSessions, ResourceVersionOf(*j));
  for (const auto& pool : {warm_pool_, solo_pool_}) {
    if (Status s = Settle(pool, 1, 1); !s.ok()) {
      std::fprintf(stderr, "the first machine: %s (visid log: %s)\n", s.ToString().c_str(), visid_.log_path().c_str());
      return false;
    }
  }
  return true;
}

void FarmBench::Cleanup() {
  if (cleaned_) return;
  cleaned_ = true;
  watch_.reset();
  if (api_) {
    // Sessions first: a machine is never deleted while a session is on it.
    for (const auto& name : sessions_) (void)api_->Request("DELETE", kSessions + "/" + name);
    const std::vector<std::string> pools = {warm_pool_, solo_pool_, cold_pool_};
    for (const auto& pool : pools) (void)api_->Request("DELETE", kPools + "/" + pool);
    const auto end = Within(std::chrono::seconds(120));
    auto gone = [&] {
      return std::all_of(pools.begin(), pools.end(), [&](const auto& p) { return Get(kPools + "/" + p).empty(); });
    };
    while (Steady::now() < end && !gone()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  visid_.Stop();
  // Whatever the pools did not stop (visid gave up, or died).
  if (!farm_dir_.empty()) {
    auto [rc, out] =
        testing::RunCommand("VISI_FARM_DIR=" + testing::ShellQuote(farm_dir_) + " " +
                            testing::ShellQuote(opts_.script) + " delete-all 2>&1");
    if (rc != 0) std::fprintf(stderr, "farm-machine.sh delete-all: %s\n", out.c_str());
  }
  if (!docker_) return;
  for (const std::string& instance : {opts_.instance, opts_.instance + "-d"}) {
    if (auto cs = docker_->ListContainers({{"visi.dev/instance", instance}}); cs.ok()) {
      for (const auto& c : *cs) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
    if (auto ns = docker_->ListNetworks({{"visi.dev/instance", instance}}); ns.ok()) {
      for (const auto& n : *ns) (void)docker_->RemoveNetwork(n.id);
    }
  }
}

StatusOr<FarmBench::Applied> FarmBench::Apply(const std::string& name, const std::string& pool) {
  const Json body = {{"apiVersion", "visi.dev/v1alpha1"},
                     {"kind", "VisiSession"},
                     {"metadata", {{"name", name}, {"namespace", kNamespace}}},
                     {"spec", {{"user", kNamespace}, {"pool", pool}, {"spark", {{"workers", kWorkers}}}}}};
  Applied a;
  a.t0 = Steady::now();
  auto created = api_->Request("POST", kSessions, body.dump());
  if (created.code != 201) return created.ToStatus();
  sessions_.push_back(name);
  VISI_ASSIGN_OR_RETURN(a.created, ParseJson(created.body));
  const SessionTimes t = watch_->WaitFor(
      name, [](const SessionTimes& t) { return t.is_ready(); }, Within(kReadyLimit), Interrupted);
  if (!t.is_ready()) {
    return Status(Code::kDeadlineExceeded, name + " not Ready; status " + Get(kSessions + "/" + name)["status"].dump());
  }
  a.ready = t.ready;
  // Untimed: where it runs must be a machine of its pool, not visid's host.
  a.machine = Get(kSessions + "/" + name).value("status", Json::object()).value("machine", "");
  const Json m = Get(kMachines + "/" + a.machine);
  if (m.value("spec", Json::object()).value("pool", "") != pool) {
    return Status(Code::kInternal, name + " ran on \"" + a.machine + "\", not on a machine of pool " + pool);
  }
  return a;
}

Status FarmBench::DeleteSession(const std::string& name) {
  auto r = api_->Request("DELETE", kSessions + "/" + name);
  if (!r.ok() && r.code != 404) return r.ToStatus();
  const SessionTimes t = watch_->WaitFor(
      name, [](const SessionTimes& t) { return t.is_deleted(); }, Within(kSettleLimit), Interrupted);
  if (!t.is_deleted()) return Status(Code::kDeadlineExceeded, name + " not gone within the limit");
  sessions_.erase(std::remove(sessions_.begin(), sessions_.end(), name), sessions_.end());
  return OkStatus();
}

Status FarmBench::Settle(const std::string& pool, int machines, int idle) {
  const auto end = Within(kSettleLimit);
  Json status;
  while (!Interrupted() && Steady::now() < end) {
    int listed = 0;
    for (const auto& m : Get(kMachines).value("items", Json::array())) {
      listed += m.value("spec", Json::object()).value("pool", "") == pool;
    }
    status = Get(kPools + "/" + pool).value("status", Json::object());
    if (listed == machines && status.value("machines", -1) == machines && status.value("idleMachines", -1) == idle &&
        status.value("readyMachines", -1) == idle) {
      return OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status(Code::kDeadlineExceeded, "pool " + pool + " not at " + std::to_string(machines) + " machine(s), " +
                                             std::to_string(idle) + " idle; status " + status.dump());
}

Status FarmBench::Direct(ContainerRuntime* rt, int slot, std::vector<double>* out) {
  char uid[17];
  std::snprintf(uid, sizeof uid, "%016llx", static_cast<unsigned long long>(rng_()));
  const Cidr subnet{direct_subnets_.base + (static_cast<uint32_t>(slot % 4) << 8), 24};
  const DesiredSession d = BuildDesiredSession({kNamespace, "d" + std::to_string(slot), uid, opts_.instance + "-d"},
                                               spec_, subnet.ToString());
  const Start r = StartDirect(rt, &prober_, d, spec_, Steady::now(), Wall::now(), Within(std::chrono::seconds(60)));
  RemoveDirect(rt, d);
  if (!r.status.ok()) return r.status;
  if (out) out->push_back(r.ready_ms);
  return OkStatus();
}

StatusOr<std::unique_ptr<ContainerRuntime>> FarmBench::IdleMachineDocker() {
  for (const auto& m : Get(kMachines).value("items", Json::array())) {
    const Json spec = m.value("spec", Json::object()), status = m.value("status", Json::object());
    if (spec.value("pool", "") != warm_pool_ || status.value("phase", "") != "Ready") continue;
    DockerClientOptions o;
    o.endpoint = spec.value("endpoint", "");
    return NewDockerClient(o);
  }
  return Status(Code::kNotFound, "the warm pool has no Ready machine");
}

std::vector<double>& FarmBench::FiguresOf(Case c) {
  switch (c) {
    case Case::kBaseline:
      return baseline_;
    case Case::kOnMachine:
      return on_machine_;
    case Case::kWarm:
      return warm_;
    case Case::kSolo:
      return solo_;
    case Case::kCold:
      break;
  }
  return cold_;
}

Status FarmBench::WarmStep(const std::string& name, const std::string& pool, std::vector<double>* out,
                           std::vector<double>* replacement) {
  NewMachines made(visid_.AdminConfig(), pool);
  VISI_ASSIGN_OR_RETURN(Applied a, Apply(name, pool));
  out->push_back(Ms(a.ready - a.t0));
  VISI_RETURN_IF_ERROR(DeleteSession(name));
  VISI_RETURN_IF_ERROR(Settle(pool, 1, 1));
  for (const auto& [machine, t] : made.Seen()) {
    if (machine == a.machine) notes_.push_back(name + " ran on a machine made during its start");
    if (machine == a.machine || t.ready == Steady::time_point{}) continue;
    if (replacement) {
      replacement->push_back(Ms(t.ready - a.t0));
    } else {
      notes_.push_back(name + ": pool " + pool + " made machine " + machine + " during the start");
    }
  }
  return OkStatus();
}

Status FarmBench::Step(Case c, int round) {
  switch (c) {
    case Case::kBaseline:
      return Direct(docker_.get(), round, &baseline_);
    case Case::kOnMachine: {
      VISI_ASSIGN_OR_RETURN(auto rt, IdleMachineDocker());
      return Direct(rt.get(), round, &on_machine_);
    }
    case Case::kWarm:
      return WarmStep("w" + std::to_string(round), warm_pool_, &warm_, &warm_replacement_ready_);
    case Case::kSolo:
      return WarmStep("s" + std::to_string(round), solo_pool_, &solo_, nullptr);
    case Case::kCold: {
      const std::string name = "c" + std::to_string(round);
      NewMachines made(visid_.AdminConfig(), cold_pool_);
      VISI_ASSIGN_OR_RETURN(Applied a, Apply(name, cold_pool_));
      cold_.push_back(Ms(a.ready - a.t0));
      auto seen = made.Seen();
      if (auto it = seen.find(a.machine); it != seen.end() && it->second.ready != Steady::time_point{}) {
        cold_machine_added_.push_back(Ms(it->second.added - a.t0));
        cold_machine_ready_.push_back(Ms(it->second.ready - a.t0));
        cold_placed_ready_.push_back(Ms(a.ready - it->second.ready));
      } else {
        notes_.push_back("cold round " + std::to_string(round) + ": the machine's creation was not seen");
      }
      VISI_RETURN_IF_ERROR(DeleteSession(name));
      return Settle(cold_pool_, 0, 0);
    }
  }
  return OkStatus();
}

// One start on each warm pool (the first gives the spec exactly as the API
// server defaulted it, from which the direct starts are built) and one
// direct start on each daemon, none counted: the first containers a daemon
// ever starts are slower, and the warm pools' machines are reused from round
// to round (scale-down removes the longest idle, the replacement).
bool FarmBench::WarmUp() {
  auto a = Apply("warmup", warm_pool_);
  auto object = a.ok() ? ObjectFromJson(a->created) : StatusOr<Object>(a.status());
  auto spec = object.ok() ? ParseSessionSpec(*object) : StatusOr<SessionSpec>(object.status());
  Status s = spec.status();
  if (s.ok()) {
    spec_ = *spec;
    s = DeleteSession("warmup");
  }
  if (s.ok()) s = Settle(warm_pool_, 1, 1);
  std::vector<double> uncounted;
  if (s.ok()) s = WarmStep("warmup-solo", solo_pool_, &uncounted, nullptr);
  if (s.ok()) s = Direct(docker_.get(), 3, nullptr);
  if (s.ok()) {
    auto rt = IdleMachineDocker();
    s = rt.ok() ? Direct(rt->get(), 3, nullptr) : rt.status();
  }
  if (!s.ok()) std::fprintf(stderr, "warm-up: %s (visid log: %s)\n", s.ToString().c_str(), visid_.log_path().c_str());
  return s.ok();
}

void Row(const char* what, const std::vector<double>& v) {
  const Summary s = Summarize(v);
  std::printf("%-50s %3zu %9.1f %9.1f %9.1f\n", what, s.n, s.median, s.min, s.max);
}

void Ratio(const char* what, double num, double den, bool target) {
  const double r = den > 0 ? num / den : 0;
  std::printf("%-50s %9.2f  %s\n", what, r, !target ? "-" : r <= kTargetRatio ? "<= 1.15 met" : "<= 1.15 NOT met");
}

void FarmBench::Report() {
  std::printf("\n%-50s %3s %9s %9s %9s\n", "case (ms)", "n", "median", "min", "max");
  Row("baseline: direct on the main dockerd", baseline_);
  Row("direct on the warm machine's dockerd", on_machine_);
  Row("warm: apply -> Ready, idle machine", warm_);
  Row("  warm: apply -> replacement machine Ready", warm_replacement_ready_);
  Row("warm, no replacement (maxMachines 1)", solo_);
  Row("cold: apply -> Ready, machine provisioned", cold_);
  Row("  cold: apply -> FarmMachine created", cold_machine_added_);
  Row("  cold: apply -> FarmMachine Ready", cold_machine_ready_);
  Row("  cold: FarmMachine Ready -> session Ready", cold_placed_ready_);
  const double b = Summarize(baseline_).median, m = Summarize(on_machine_).median;
  const double w = Summarize(warm_).median, c = Summarize(cold_).median, s = Summarize(solo_).median;
  std::printf("\n%-50s %9s  %s\n", "ratio of medians", "ratio", "target");
  Ratio("warm / baseline", w, b, true);
  Ratio("warm / direct on the warm machine", w, m, false);
  Ratio("warm, no replacement / baseline", s, b, false);
  Ratio("warm, no replacement / direct on the warm machine", s, m, false);
  Ratio("cold / warm", c, w, false);
  for (const auto& note : notes_) std::printf("# %s\n", note.c_str());
  if (b > 0 && w > 0) {
    std::printf(
        "\n%s warm apply -> Ready: visi %.0f ms, direct on the main dockerd %.0f ms: %.2fx (target <= %.2fx; "
        "%+.0f ms)\n",
        w / b <= kTargetRatio ? "MET    " : "NOT MET", w, b, w / b, kTargetRatio, w - b);
  }
  if (w > 0 && c > 0) {
    std::printf("        the idle machine saves %.0f ms per start (cold %.0f ms = %.1fx warm)\n", c - w, c, c / w);
  }
}

int FarmBench::Run() {
  if (!Setup()) return 1;
  double load[3] = {0, 0, 0};
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::printf(
      "# Farm: %d rounds; a session of %d worker (3 containers); pools %s, %s and %s, exec provider %s; "
      "direct subnets %s; %ld cores, load average %.2f %.2f %.2f\n",
      opts_.reps, kWorkers, warm_pool_.c_str(), solo_pool_.c_str(), cold_pool_.c_str(), opts_.script.c_str(),
      direct_subnets_.ToString().c_str(), sysconf(_SC_NPROCESSORS_ONLN), load[0], load[1], load[2]);
  std::fflush(stdout);
  if (!WarmUp()) return 1;
  const std::vector<Case> cases = {Case::kBaseline, Case::kWarm, Case::kOnMachine, Case::kCold, Case::kSolo};
  bool ok = true;
  int rounds = 0;  // complete ones
  for (int i = 0; i < opts_.reps && ok && !Interrupted() && Steady::now() < g_deadline; ++i) {
    std::string line;
    for (size_t k = 0; k < cases.size() && ok; ++k) {
      const Case c = cases[(i + k) % cases.size()];
      const char* name = kCaseNames[static_cast<int>(c)];
      const auto t0 = Steady::now();
      if (Status s = Step(c, i); !s.ok()) {
        std::fprintf(stderr, "round %d %s: %s (visid log: %s)\n", i, name, s.ToString().c_str(),
                     visid_.log_path().c_str());
        ok = false;
        break;
      }
      char buf[96];
      std::snprintf(buf, sizeof buf, "%s%s %.0f ms (step %.1f s)", line.empty() ? "" : ", ", name, FiguresOf(c).back(),
                    Ms(Steady::now() - t0) / 1000);
      line += buf;
    }
    if (ok) ++rounds;
    std::fprintf(stderr, "round %d: %s\n", i, line.c_str());
  }
  Report();
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::printf("# load average at the end %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  if (rounds < opts_.reps || !ok) {
    std::printf("# incomplete: %d of %d rounds; a step failed or the budget ran out (see stderr)\n", rounds,
                opts_.reps);
  }
  Cleanup();
  return ok && rounds == opts_.reps ? 0 : 1;
}

int Main(int argc, char** argv) {
  Options o;
  o.instance = "fbench-" + std::to_string(::getpid());
  o.script = std::string(VISI_SOURCE_DIR) + "/hack/farm-machine.sh";
  int budget_s = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--reps" && has_value) {
      o.reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--budget" && has_value) {
      budget_s = std::atoi(argv[++i]);
    } else if (a == "--instance" && has_value) {
      o.instance = argv[++i];
    } else if (a == "--farm-dir" && has_value) {
      o.farm_dir = argv[++i];
    } else if (a == "--script" && has_value) {
      o.script = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: farm_bench [--reps N] [--budget SECONDS] [--instance NAME] [--farm-dir DIR] "
                   "[--script PATH]\n");
      return 2;
    }
  }
  StartBudget(budget_s);
  FarmBench bench(std::move(o));
  return bench.Run();
}

}  // namespace
}  // namespace visi::bench

int main(int argc, char** argv) { return visi::bench::Main(argc, argv); }
