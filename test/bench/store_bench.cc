// Store benchmark (not a test): durable creates/s and updates/s with 1 and 32
// concurrent writers on the SQLite store, beside a baseline measured in the
// same run (plain SQLite, one synced transaction per write, same rows), and
// write-to-watch-event latency p50/p99 with 100 watchers.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/sqlite/sqlite_store.h"

namespace visi {
namespace {

using Clock = std::chrono::steady_clock;

Object BenchSession(int writer, int i) {
  Object o;
  o.kind = "VisiSession";
  o.metadata.namespace_ = "bench-" + std::to_string(writer);
  o.metadata.name = "s-" + std::to_string(i);
  o.metadata.labels = {{"app", "bench"}};
  // About 1 KiB stored, like a real session with its defaults.
  o.spec = {{"user", "bench"}, {"env", {{{"name", "PAD"}, {"value", std::string(400, 'p')}}}}};
  return o;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// ops/s of `writers` threads each doing `each` writes through `op`.
template <typename Op>
double RunWriters(int writers, int each, Op op) {
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < each; ++i) op(w, i);
    });
  }
  for (auto& t : threads) t.join();
  return writers * each / Seconds(start, Clock::now());
}

// Baseline: the same JSON rows into SQLite, WAL + synchronous=FULL, one
// transaction (one sync) per write, writers serialized on one connection.
double SqliteBaseline(const std::string& path, int writers, int each) {
  sqlite3* db;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                   "CREATE TABLE objects (key TEXT PRIMARY KEY, data BLOB) WITHOUT ROWID;",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* st;
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO objects VALUES (?1, ?2)", -1, &st, nullptr);
  std::mutex mu;
  std::string text = ObjectToJsonText(BenchSession(0, 0));
  double rate = RunWriters(writers, each, [&](int w, int i) {
    std::string key = std::to_string(w) + "/" + std::to_string(i);
    std::lock_guard l(mu);
    sqlite3_bind_text(st, 1, key.data(), key.size(), SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, text.data(), text.size(), SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
  });
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rate;
}

struct WatchLatency {
  double p50_ms, p99_ms, max_ms;
  size_t samples;
};

WatchLatency MeasureWatch(Store& store, int watchers, int writes) {
  std::vector<std::unique_ptr<Watcher>> ws;
  for (int i = 0; i < watchers; ++i) {
    WatchOptions o;
    o.kind = "FarmPool";
    o.resource_version = store.CurrentRevision();
    ws.push_back(std::move(*store.Watch(o)));
  }
  std::vector<std::vector<double>> lat(watchers);
  std::vector<std::thread> readers;
  for (int i = 0; i < watchers; ++i) {
    readers.emplace_back([&, i] {
      for (int n = 0; n < writes; ++n) {
        auto e = ws[i]->Next(std::chrono::seconds(10));
        if (!e || e->type == EventType::kError) return;
        auto t0 = std::stoll(e->object->metadata.annotations.at("bench/t0"));
        auto now = Clock::now().time_since_epoch().count();
        lat[i].push_back((now - t0) / 1e6);
      }
    });
  }
  for (int n = 0; n < writes; ++n) {
    Object p;
    p.kind = "FarmPool";
    p.metadata.name = "watch-" + std::to_string(n);
    p.metadata.annotations["bench/t0"] = std::to_string(Clock::now().time_since_epoch().count());
    p.spec = Json::object();
    (void)store.Create(p);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (auto& r : readers) r.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  if (all.empty()) return {0, 0, 0, 0};
  return {all[all.size() / 2], all[all.size() * 99 / 100], all.back(), all.size()};
}

int Main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : std::filesystem::temp_directory_path().string();
  dir += "/visi-store-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::printf("# Visi store benchmark (SQLite, WAL, synchronous=FULL) in %s\n", dir.c_str());
  std::printf("%-34s %12s %12s %8s\n", "figure", "visi", "baseline", "ratio");
  int run = 0;
  for (int writers : {1, 32}) {
    int each = writers == 1 ? 1000 : 100;
    double base = SqliteBaseline(dir + "/baseline-" + std::to_string(writers) + ".db", writers, each);
    auto store = *OpenSqliteStore(dir + "/store-" + std::to_string(++run) + ".db", Scheme::Builtin(),
                                  SystemClock::Default());
    double creates = RunWriters(writers, each, [&](int w, int i) {
      auto r = store->Create(BenchSession(w, i));
      if (!r.ok()) std::fprintf(stderr, "create: %s\n", r.status().ToString().c_str());
    });
    double updates = RunWriters(writers, each, [&](int w, int i) {
      Object o = BenchSession(w, i);
      o.metadata.labels["round"] = "2";
      auto r = store->Update(o);
      if (!r.ok()) std::fprintf(stderr, "update: %s\n", r.status().ToString().c_str());
    });
    auto stats = dynamic_cast<StoreEngine&>(*store).commit_stats();
    std::printf("%-34s %12.0f %12.0f %8.2f\n",
                ("creates/s, " + std::to_string(writers) + " writers").c_str(), creates, base,
                creates / base);
    std::printf("%-34s %12.0f %12.0f %8.2f\n",
                ("updates/s, " + std::to_string(writers) + " writers").c_str(), updates, base,
                updates / base);
    std::printf("%-34s %12.1f\n", ("writes per sync, " + std::to_string(writers) + " writers").c_str(),
                double(stats.mutations) / std::max<uint64_t>(1, stats.commits));
  }
  auto store = *OpenSqliteStore(dir + "/watch.db", Scheme::Builtin(), SystemClock::Default());
  WatchLatency w = MeasureWatch(*store, 100, 300);
  std::printf("%-34s %12.2f\n", "watch latency p50 ms, 100 watchers", w.p50_ms);
  std::printf("%-34s %12.2f\n", "watch latency p99 ms, 100 watchers", w.p99_ms);
  std::printf("%-34s %12.2f\n", "watch latency max ms, 100 watchers", w.max_ms);
  std::printf("%-34s %12zu\n", "watch events delivered", w.samples);
  std::printf("# baseline: plain SQLite, one synced transaction per write, same rows.\n"
              "# watch latency: from the start of Create() to delivery, durable commit included.\n");
  store.reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace
}  // namespace visi

int main(int argc, char** argv) { return visi::Main(argc, argv); }
