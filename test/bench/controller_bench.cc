// Controller runtime benchmark (not a test): a no-op reconciler over 10,000
// VisiSessions. For each store kind (the embedded SQLite store, and the REST
// API of a visid this benchmark starts) it measures, in one run:
//   - the baseline: the raw store's create rate, same writers, no controller;
//   - with a Manager and one Controller (1, 2 and 4 workers): creates/s, the
//     time until every object has been reconciled, create->reconciled
//     latency (p50/p99/max) and converged objects per second;
//   - the initial pass of a fresh Manager over 10,000 existing objects
//     (list, sync, reconcile every key): reconciles per second;
//   - the informer's cache memory per object (malloc heap and RSS deltas).
// Usage: controller_bench [TMP_PARENT] [--objects N] [--writers N] [--no-remote]
// Bounded: every wait gives up at a global deadline; the temp dirs go.
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/client/remote_store.h"
#include "controller/runtime/manager.h"
#include "controller/store/sqlite/sqlite_store.h"
#include "test/e2e/visid_process.h"
#include "test/fakes/objects.h"

namespace visi {
namespace {

using Steady = std::chrono::steady_clock;

constexpr int kNamespaces = 10;  // tenants the sessions are spread over
constexpr double kConvergeTargetSeconds = 60;
constexpr double kCacheTargetBytes = 10 * 1024;

// Everything gives up here, so that the run stays under 3 minutes, or at
// SIGINT/SIGTERM (then the run winds down and still removes what it made).
Steady::time_point g_deadline;
volatile std::sig_atomic_t g_interrupted = 0;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch()).count();
}
double Seconds(int64_t from_ns, int64_t to_ns) { return (to_ns - from_ns) / 1e9; }
bool OutOfTime() { return g_interrupted || Steady::now() >= g_deadline; }
// Polls `done` every 2 ms until it holds, `limit` passes or the run's deadline.
bool WaitUntil(const std::function<bool()>& done, std::chrono::seconds limit) {
  auto end = std::min(g_deadline, Steady::now() + limit);
  while (!done() && !g_interrupted && Steady::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

// Session i: a valid VisiSession as a user writes it, in one of kNamespaces tenants.
Object BenchSession(int i) {
  std::string user = "user-" + std::to_string(i);
  Object o = testing::Session("tenant-" + std::to_string(i % kNamespaces), "s-" + std::to_string(i), user);
  o.metadata.labels = {{"visi.dev/user", user}};
  return o;
}

// The session index of a key "tenant-N/s-I"; -1 for anything else.
int IndexOf(const std::string& key) {
  auto at = key.find("/s-");
  if (at == std::string::npos) return -1;
  return std::atoi(key.c_str() + at + 3);
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

struct CreateTimes {
  std::vector<int64_t> start_ns, ack_ns;  // per object; ack 0: failed
  int failures = 0;
  double seconds = 0;
  double rate() const { return (start_ns.size() - failures) / std::max(1e-9, seconds); }
};

// Creates sessions 0..n-1 from `writers` threads (writer w takes i = w mod
// writers), recording when each create started and was acknowledged.
CreateTimes CreateAll(Store* store, int n, int writers) {
  CreateTimes t;
  t.start_ns.assign(n, 0);
  t.ack_ns.assign(n, 0);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  int64_t begin = NowNs();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = w; i < n && !OutOfTime(); i += writers) {
        t.start_ns[i] = NowNs();
        auto r = store->Create(BenchSession(i));
        if (r.ok()) {
          t.ack_ns[i] = NowNs();
        } else if (failures++ < 5) {
          std::fprintf(stderr, "create s-%d: %s\n", i, r.status().ToString().c_str());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  t.seconds = Seconds(begin, NowNs());
  t.failures = failures + static_cast<int>(std::count(t.start_ns.begin(), t.start_ns.end(), 0));
  return t;
}

// The first time the no-op reconciler saw each session.
class ReconcileLog {
 public:
  explicit ReconcileLog(int n) : seen_(n) {}
  void Saw(const std::string& key) {
    int i = IndexOf(key);
    if (i < 0 || i >= static_cast<int>(seen_.size())) return;
    int64_t zero = 0;
    if (seen_[i].compare_exchange_strong(zero, NowNs())) count_++;
  }
  int count() const { return count_.load(); }
  int64_t at(int i) const { return seen_[i].load(); }
  int64_t first() const {
    int64_t m = INT64_MAX;
    for (const auto& s : seen_) m = s.load() ? std::min(m, s.load()) : m;
    return m;
  }
  int64_t last() const {
    int64_t m = 0;
    for (const auto& s : seen_) m = std::max(m, s.load());
    return m;
  }
  bool WaitFor(int want, std::chrono::seconds limit) const {
    return WaitUntil([&] { return count() >= want; }, limit);
  }

 private:
  std::vector<std::atomic<int64_t>> seen_;
  std::atomic<int> count_{0};
};

// A Manager (no leader election: a single process) with one Controller on
// VisiSession whose reconcile reads the key from the cache, as a real
// reconciler does first, notes it, and returns Done.
struct NoOpManager {
  NoOpManager(Store* store, int workers, ReconcileLog* log) : manager(store, Options()) {
    Informer* inf = manager.InformerFor("VisiSession");
    controller = manager.AddController({.name = "bench", .workers = workers}, "VisiSession",
                                       [inf, log](const std::string& key) {
                                         if (inf->GetByKey(key)) log->Saw(key);
                                         return ReconcileResult::Done();
                                       });
  }
  static ManagerOptions Options() {
    ManagerOptions o;
    o.leader_election = false;
    return o;
  }
  Manager manager;
  Controller* controller;
};

struct ConvergeResult {
  int workers = 0;
  CreateTimes creates;
  int reconciled = 0;
  uint64_t reconciles = 0;
  double converge_s = 0;  // first create started -> last object reconciled
  std::vector<double> from_ack_ms, from_start_ms;
  int before_ack = 0;  // reconciled before its writer heard the ack
};

// Controller running first, then n creates; waits until all are reconciled.
ConvergeResult Converge(Store* writer_store, Store* manager_store, int n, int writers, int workers) {
  ConvergeResult r;
  r.workers = workers;
  ReconcileLog log(n);
  NoOpManager m(manager_store, workers, &log);
  m.manager.Start();  // returns once the (empty) cache synced and the controller runs
  int64_t begin = NowNs();
  r.creates = CreateAll(writer_store, n, writers);
  log.WaitFor(n - r.creates.failures, std::chrono::seconds(90));
  r.reconciled = log.count();
  r.reconciles = m.controller->GetStats().reconciles;
  m.manager.Stop();
  r.converge_s = Seconds(begin, log.last());
  for (int i = 0; i < n; ++i) {
    int64_t seen = log.at(i), ack = r.creates.ack_ns[i];
    if (!seen || !ack) continue;
    if (seen < ack) r.before_ack++;
    r.from_ack_ms.push_back(std::max<int64_t>(0, seen - ack) / 1e6);
    r.from_start_ms.push_back((seen - r.creates.start_ns[i]) / 1e6);
  }
  return r;
}

struct InitialPass {
  bool synced = false;
  double sync_s = 0, first_pass_s = 0, rate = 0;
  int reconciled = 0;
};

// A fresh Manager over a store that already holds n sessions: list and sync,
// then the controller's first pass enqueues and reconciles every key.
// Manager::Start waits for the sync without a limit, so it runs on a thread
// of its own and Stop ends it when the sync does not come.
InitialPass RunInitialPass(Store* store, int n, int workers, std::chrono::seconds limit) {
  InitialPass p;
  ReconcileLog log(n);
  NoOpManager m(store, workers, &log);
  std::atomic<int64_t> started{0};
  int64_t t0 = NowNs();
  std::thread starter([&] {
    m.manager.Start();
    started = NowNs();
  });
  p.synced = WaitUntil([&] { return started.load() != 0; }, limit);
  if (p.synced) log.WaitFor(n, limit);
  p.reconciled = log.count();
  m.manager.Stop();
  starter.join();
  if (!p.synced) return p;
  p.sync_s = Seconds(t0, started);
  p.first_pass_s = Seconds(t0, log.last());
  if (p.reconciled > 1) p.rate = (p.reconciled - 1) / Seconds(log.first(), log.last());
  return p;
}

struct Heap {
  int64_t malloc_bytes;  // in use: arenas plus mmapped chunks
  int64_t rss_bytes;
};

Heap HeapNow() {
  struct mallinfo2 mi = ::mallinfo2();
  long pages = 0, resident = 0;
  std::ifstream("/proc/self/statm") >> pages >> resident;
  return {static_cast<int64_t>(mi.uordblks + mi.hblkhd), resident * ::sysconf(_SC_PAGESIZE)};
}

struct CacheMemory {
  bool synced = false;
  size_t objects = 0;
  double malloc_per_object = 0, rss_per_object = 0;
  double copy_per_object = 0;   // a decoded Object of its own, deep-copied
  double json_bytes = 0;        // the object's JSON text, for scale
};

// Fresh informers (one per entry of `namespaces`; "" is all of them) list
// the sessions in `store`; the heap and RSS grow by their caches and
// indexes. Then the cost of owning each object: what a deep copy of every
// cached Object takes.
CacheMemory MeasureCache(Store* store, const std::vector<std::string>& namespaces,
                         std::chrono::seconds limit) {
  CacheMemory c;
  ListOptions warm;  // a client's connection and threads are not cache
  warm.kind = "VisiSession";
  warm.limit = 1;
  (void)store->List(warm);
  ::malloc_trim(0);
  Heap before = HeapNow();
  std::vector<std::unique_ptr<Informer>> informers;
  for (const auto& ns : namespaces) {
    InformerOptions io;
    io.kind = "VisiSession";
    io.namespace_ = ns;
    informers.push_back(std::make_unique<Informer>(store, SystemClock::Default(), io));
    informers.back()->Start();
  }
  c.synced = WaitUntil(
      [&] { return std::all_of(informers.begin(), informers.end(), [](auto& i) { return i->HasSynced(); }); },
      limit);
  if (!c.synced) return c;
  ::malloc_trim(0);
  Heap after = HeapNow();
  std::vector<ObjectPtr> cached;
  for (auto& inf : informers) {
    auto part = inf->List();
    cached.insert(cached.end(), part.begin(), part.end());
  }
  c.objects = cached.size();
  if (c.objects == 0) return c;
  c.malloc_per_object = double(after.malloc_bytes - before.malloc_bytes) / c.objects;
  c.rss_per_object = double(after.rss_bytes - before.rss_bytes) / c.objects;
  std::vector<ObjectPtr> copies;
  copies.reserve(cached.size());
  Heap b = HeapNow();
  for (const auto& o : cached) copies.push_back(std::make_shared<Object>(*o));
  Heap a = HeapNow();
  c.copy_per_object = double(a.malloc_bytes - b.malloc_bytes) / copies.size();
  size_t sampled = 0;
  for (size_t i = 0; i < cached.size(); i += std::max<size_t>(1, cached.size() / 100), ++sampled) {
    c.json_bytes += ObjectToJsonText(*cached[i]).size();
  }
  c.json_bytes /= sampled;
  return c;
}

void Row(const std::string& figure, const std::string& value, const std::string& target = "",
         const std::string& ratio = "") {
  std::printf("%-58s %12s %12s %8s\n", figure.c_str(), value.c_str(), target.c_str(), ratio.c_str());
}
std::string Num(double v, int decimals = 0) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// The figures of one store kind. `fresh` opens a new, empty store; the
// writers' store and the manager's may be different clients of it.
struct StoreUnderTest {
  Store* writers;
  Store* manager;
  std::function<void()> close;  // stops what it started
};

// Why listing every session fails, when it does.
void PrintListError(Store* store) {
  ListOptions lo;
  lo.kind = "VisiSession";
  auto l = store->List(lo);
  std::printf("#   listing every VisiSession: %s\n", l.ok() ? "works now" : l.status().ToString().c_str());
}

void ReportCache(Store* store, int n) {
  CacheMemory c = MeasureCache(store, {""}, std::chrono::seconds(15));
  std::string how = "one informer";
  if (!c.synced) {
    Row("informer over all namespaces: NEVER SYNCED (15 s)", "FAILED");
    PrintListError(store);
    // The same objects, listed per tenant in smaller pieces.
    std::vector<std::string> tenants;
    for (int t = 0; t < kNamespaces; ++t) tenants.push_back("tenant-" + std::to_string(t));
    c = MeasureCache(store, tenants, std::chrono::seconds(15));
    how = std::to_string(kNamespaces) + " namespace informers";
    if (!c.synced) {
      Row("  per-namespace informers: NEVER SYNCED either", "FAILED");
      return;
    }
  }
  Row("informer cache: objects listed (" + how + ")", std::to_string(c.objects), std::to_string(n));
  Row("informer cache: malloc bytes/object (list+sync)", Num(c.malloc_per_object), Num(kCacheTargetBytes),
      Num(c.malloc_per_object / kCacheTargetBytes, 3));
  Row("informer cache: RSS bytes/object (list+sync)", Num(c.rss_per_object), Num(kCacheTargetBytes),
      Num(c.rss_per_object / kCacheTargetBytes, 3));
  Row("  a deep copy of one cached Object, bytes", Num(c.copy_per_object));
  Row("  its JSON text, bytes", Num(c.json_bytes));
}

void PrintConverge(const ConvergeResult& r, int n, double baseline) {
  std::string w = ", " + std::to_string(r.workers) + " worker" + (r.workers == 1 ? "" : "s");
  Row("creates/s with the controller running" + w, Num(r.creates.rate()), Num(baseline) + "*",
      Num(r.creates.rate() / baseline, 2));
  if (r.reconciled < n - r.creates.failures) {
    Row("NOT CONVERGED before the deadline" + w, std::to_string(r.reconciled) + "/" + std::to_string(n));
    return;
  }
  Row("time until all " + std::to_string(n) + " reconciled (s)" + w, Num(r.converge_s, 2),
      Num(kConvergeTargetSeconds, 0), Num(r.converge_s / kConvergeTargetSeconds, 3));
  Row("converged objects/s" + w, Num(r.reconciled / r.converge_s), Num(baseline) + "*",
      Num(r.reconciled / r.converge_s / baseline, 2));
  Row("create ack -> reconciled p50 ms" + w, Num(Percentile(r.from_ack_ms, 0.50), 2));
  Row("create ack -> reconciled p99 ms" + w, Num(Percentile(r.from_ack_ms, 0.99), 2));
  Row("create ack -> reconciled max ms" + w, Num(Percentile(r.from_ack_ms, 1.0), 2));
  Row("create sent -> reconciled p50/p99 ms" + w,
      Num(Percentile(r.from_start_ms, 0.50), 2) + "/" + Num(Percentile(r.from_start_ms, 0.99), 1));
  Row("  reconciled before the writer saw its ack" + w, std::to_string(r.before_ack));
  Row("  reconciles run (no-op)" + w, std::to_string(r.reconciles));
  if (r.creates.failures) Row("  create failures" + w, std::to_string(r.creates.failures));
}

void PrintInitialPass(Store* store, int n) {
  InitialPass p = RunInitialPass(store, n, 2, std::chrono::seconds(15));
  if (!p.synced) {
    Row("fresh manager, 2 workers: CACHE NEVER SYNCED (15 s)", "FAILED");
    PrintListError(store);
    return;
  }
  Row("fresh manager: list+sync of " + std::to_string(n) + " (s)", Num(p.sync_s, 2));
  Row("fresh manager: list+sync+first pass (s), 2 workers", Num(p.first_pass_s, 2),
      Num(kConvergeTargetSeconds), Num(p.first_pass_s / kConvergeTargetSeconds, 4));
  Row("fresh manager: first-pass reconciles/s, 2 workers", Num(p.rate));
  if (p.reconciled < n) Row("  first pass NOT DONE before the deadline", std::to_string(p.reconciled));
}

// Baseline, controller runs, baseline again (the machine is noisy: the
// faster of the two is the reference, so ratios err low), then cache memory
// and a fresh manager's first pass over the first baseline's objects.
void Bench(const std::string& label, const std::function<std::optional<StoreUnderTest>()>& fresh, int n,
           int writers, const std::vector<int>& worker_counts) {
  std::printf("\n# %s: %d VisiSessions, %d writer threads\n", label.c_str(), n, writers);
  auto base = fresh();
  if (!base) return;
  CreateTimes bt = CreateAll(base->writers, n, writers);
  std::vector<ConvergeResult> runs;
  for (int workers : worker_counts) {
    if (OutOfTime()) break;
    auto s = fresh();
    if (!s) break;
    runs.push_back(Converge(s->writers, s->manager, n, writers, workers));
    s->close();
  }
  std::optional<CreateTimes> bt2;
  if (Steady::now() + std::chrono::seconds(90) < g_deadline) {
    if (auto s = fresh()) {
      bt2 = CreateAll(s->writers, n, writers);
      s->close();
    }
  }
  double baseline = std::max(bt.rate(), bt2 ? bt2->rate() : 0.0);
  Row("figure", "value", "target", "ratio");
  Row("baseline creates/s (raw store, no controller), before", Num(bt.rate()));
  if (bt2) Row("baseline creates/s (raw store, no controller), after", Num(bt2->rate()));
  if (bt.failures) Row("  baseline create failures", std::to_string(bt.failures));
  for (const auto& r : runs) PrintConverge(r, n, baseline);
  if (!OutOfTime()) ReportCache(base->manager, n);
  if (!OutOfTime()) PrintInitialPass(base->manager, n);
  base->close();
}

int Main(int argc, char** argv) {
  g_deadline = Steady::now() + std::chrono::seconds(170);
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  std::string parent = std::filesystem::temp_directory_path().string();
  int n = 10000, writers = 4;
  bool remote = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--objects" && i + 1 < argc) {
      n = std::atoi(argv[++i]);
    } else if (a == "--writers" && i + 1 < argc) {
      writers = std::atoi(argv[++i]);
    } else if (a == "--no-remote") {
      remote = false;
    } else {
      parent = a;
    }
  }
  std::string dir = parent + "/visi-controller-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::printf(
      "# Visi controller runtime benchmark, %u cores. The reconciler is a no-op: it reads\n"
      "# its key from the cache and returns. No Docker, no containers: these figures are\n"
      "# the runtime's own cost, not a session's. Targets: %d objects converged in <= 60 s\n"
      "# on 2 cores; <= 10 KB of informer cache per object. * = ratio against the faster\n"
      "# baseline of this run.\n",
      std::thread::hardware_concurrency(), n);

  int opened = 0;
  Bench("SQLite store (embedded, WAL, synchronous=FULL)",
        [&]() -> std::optional<StoreUnderTest> {
          auto s = OpenSqliteStore(dir + "/store-" + std::to_string(++opened) + ".db", Scheme::Builtin(),
                                   SystemClock::Default());
          if (!s.ok()) {
            std::fprintf(stderr, "open: %s\n", s.status().ToString().c_str());
            return std::nullopt;
          }
          Store* raw = s->get();
          auto holder = std::make_shared<std::unique_ptr<Store>>(std::move(*s));
          return StoreUnderTest{raw, raw, [holder] { holder->reset(); }};
        },
        n, writers, {1, 2, 4});

  if (remote && !OutOfTime()) {
    Bench(
        "REST API of a visid process (NewRemoteStore over HTTPS; writers and manager on separate clients)",
        [&]() -> std::optional<StoreUnderTest> {
          struct Remote {
            testing::VisidProcess visid;
            std::unique_ptr<Store> writers, manager;
          };
          auto r = std::make_shared<Remote>();
          // The API alone, as in a split deployment: the controllers are this
          // process's. (visid's own would run sessions in Docker.)
          if (!r->visid.Start({"--no-controllers"})) {
            std::fprintf(stderr, "cannot start visid\n");
            return std::nullopt;
          }
          r->writers = NewRemoteStore(std::make_shared<ApiClient>(r->visid.AdminConfig()), Scheme::Builtin());
          r->manager = NewRemoteStore(std::make_shared<ApiClient>(r->visid.AdminConfig()), Scheme::Builtin());
          return StoreUnderTest{r->writers.get(), r->manager.get(), [r] {
                                  r->visid.Stop();  // ends the watch streams first
                                  r->writers.reset();
                                  r->manager.reset();
                                }};
        },
        n, writers, {2});
  }
  if (OutOfTime())
    std::printf("# the run stopped early (its time limit or a signal); figures missing above were skipped\n");
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace visi

int main(int argc, char** argv) { return visi::Main(argc, argv); }
