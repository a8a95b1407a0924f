// The Store contract, part two: watch and concurrency.
#include <atomic>
#include <barrier>
#include <thread>

#include "test/fakes/objects.h"
#include "test/integration/store_factories.h"

namespace visi::testing {
namespace {

using std::chrono::milliseconds;

template <typename T>
class StoreWatchContractTest : public StoreContractTest<T> {};
TYPED_TEST_SUITE(StoreWatchContractTest, StoreImplementations, ImplName);

std::unique_ptr<Watcher> MustWatch(Store& s, WatchOptions o) {
  auto w = s.Watch(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(*w) : nullptr;
}

WatchOptions SessionsFrom(std::optional<uint64_t> rv) {
  WatchOptions o;
  o.kind = "VisiSession";
  o.resource_version = rv;
  return o;
}

// Reads exactly n events or fails.
std::vector<WatchEvent> Take(Watcher& w, size_t n) {
  std::vector<WatchEvent> out;
  while (out.size() < n) {
    auto e = w.Next(milliseconds(5000));
    if (!e) {
      ADD_FAILURE() << "timed out after " << out.size() << " of " << n << " events";
      break;
    }
    out.push_back(*e);
  }
  return out;
}

void ExpectQuiet(Watcher& w) {
  auto e = w.Next(milliseconds(50));
  EXPECT_FALSE(e.has_value()) << "unexpected " << EventTypeName(e->type);
}

TYPED_TEST(StoreWatchContractTest, InitialStateThenChangesInOrder) {
  auto store = this->factory_.Make();
  ASSERT_TRUE(store->Create(Session("alice", "a")).ok());
  ASSERT_TRUE(store->Create(Session("bob", "b", "bob")).ok());
  auto w = MustWatch(*store, SessionsFrom(std::nullopt));
  auto initial = Take(*w, 2);
  EXPECT_EQ(initial[0].type, EventType::kAdded);
  EXPECT_EQ(initial[0].object->metadata.name, "a");
  EXPECT_EQ(initial[1].object->metadata.name, "b");
  ExpectQuiet(*w);
  auto c = *store->Create(Session("alice", "c"));
  Object u = *c;
  u.spec["spark"]["workers"] = 7;
  auto u2 = *store->Update(u);
  ASSERT_TRUE(store->Delete("VisiSession", "alice", "c").ok());
  ASSERT_TRUE(store->Create(Pool("ignored")).ok());  // another kind
  auto ev = Take(*w, 3);
  EXPECT_EQ(ev[0].type, EventType::kAdded);
  EXPECT_EQ(ev[1].type, EventType::kModified);
  EXPECT_EQ(ev[1].object->spec["spark"]["workers"], 7);
  EXPECT_EQ(ev[2].type, EventType::kDeleted);
  EXPECT_GT(ev[2].resource_version, u2->metadata.resource_version);
  EXPECT_EQ(ev[2].object->metadata.resource_version, ev[2].resource_version);
  EXPECT_LT(ev[0].resource_version, ev[1].resource_version);
  ExpectQuiet(*w);
}

TYPED_TEST(StoreWatchContractTest, ResumesFromEveryRetainedRevision) {
  auto store = this->factory_.Make();
  std::vector<uint64_t> revs = {store->CurrentRevision()};
  for (int i = 0; i < 10; ++i) {
    auto o = *store->Create(Session("alice", "s" + std::to_string(i)));
    revs.push_back(o->metadata.resource_version);
  }
  for (size_t start = 0; start < revs.size(); ++start) {
    if (revs[start] == 0) continue;  // 0 means "initial state", tested above
    auto w = MustWatch(*store, SessionsFrom(revs[start]));
    auto ev = Take(*w, revs.size() - 1 - start);
    for (size_t i = 0; i < ev.size(); ++i) {
      EXPECT_EQ(ev[i].resource_version, revs[start + 1 + i]);
      EXPECT_EQ(ev[i].type, EventType::kAdded);
    }
    ExpectQuiet(*w);
  }
}

TYPED_TEST(StoreWatchContractTest, CompactedHistoryIsGone) {
  StoreOptions opts;
  opts.history_limit = 5;
  auto store = this->factory_.Make(opts);
  auto first = *store->Create(Session("alice", "first"));
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(store->Create(Session("alice", "s" + std::to_string(i))).ok());
  auto old = store->Watch(SessionsFrom(first->metadata.resource_version));
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), Code::kGone);
  EXPECT_NE(old.status().message().find("too old resource version"), std::string::npos);
  // The newest five are retained.
  auto recent = MustWatch(*store, SessionsFrom(store->CurrentRevision() - 5));
  EXPECT_EQ(Take(*recent, 5).size(), 5u);
}

TYPED_TEST(StoreWatchContractTest, SelectorsSeeObjectsEnterAndLeave) {
  auto store = this->factory_.Make();
  WatchOptions opts = SessionsFrom(store->CurrentRevision());
  opts.labels = *LabelSelector::Parse("tier=gold");
  opts.namespace_ = "alice";
  auto w = MustWatch(*store, opts);
  auto o = *store->Create(Session("alice", "nb"));                  // not gold: unseen
  ASSERT_TRUE(store->Create(Session("bob", "nb", "bob")).ok());       // other namespace
  Object gold = *o;
  gold.metadata.labels["tier"] = "gold";
  auto g = *store->Update(gold);                                    // enters: ADDED
  Object gold2 = *g;
  gold2.spec["spark"]["workers"] = 1;
  auto g2 = *store->Update(gold2);                                  // MODIFIED
  Object plain = *g2;
  plain.metadata.labels.clear();
  ASSERT_TRUE(store->Update(plain).ok());                           // leaves: DELETED
  auto ev = Take(*w, 3);
  EXPECT_EQ(ev[0].type, EventType::kAdded);
  EXPECT_EQ(ev[1].type, EventType::kModified);
  EXPECT_EQ(ev[2].type, EventType::kDeleted);
  ExpectQuiet(*w);
}

TYPED_TEST(StoreWatchContractTest, BookmarksCarryTheCurrentRevisionWhileIdle) {
  auto store = this->factory_.Make();
  WatchOptions opts = SessionsFrom(store->CurrentRevision());
  opts.bookmarks = true;
  opts.bookmark_interval = milliseconds(20);
  auto w = MustWatch(*store, opts);
  ASSERT_TRUE(store->Create(Pool("p")).ok());  // a revision the watcher's kind never sees
  auto e = w->Next(milliseconds(2000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kBookmark);
  EXPECT_EQ(e->resource_version, store->CurrentRevision());
  // Resuming from a bookmark misses nothing.
  auto s = *store->Create(Session("alice", "after"));
  auto resumed = MustWatch(*store, SessionsFrom(e->resource_version));
  auto ev = Take(*resumed, 1);
  EXPECT_EQ(ev[0].object->metadata.uid, s->metadata.uid);
}

TYPED_TEST(StoreWatchContractTest, ConcurrentWritersEveryEventInOrderNoGapNoDuplicate) {
  auto store = this->factory_.Make();
  constexpr int kWriters = 8, kEach = 40;
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < 4; ++i) watchers.push_back(MustWatch(*store, SessionsFrom(store->CurrentRevision())));
  std::mutex mu;
  std::set<uint64_t> acked;
  std::vector<std::thread> threads;
  for (int t = 0; t < kWriters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto o = store->Create(Session("ns" + std::to_string(t), "s" + std::to_string(i)));
        ASSERT_TRUE(o.ok()) << o.status().ToString();
        std::lock_guard l(mu);
        acked.insert((*o)->metadata.resource_version);
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(acked.size(), size_t{kWriters * kEach});
  for (auto& w : watchers) {
    auto ev = Take(*w, kWriters * kEach);
    std::vector<uint64_t> got;
    for (const auto& e : ev) got.push_back(e.resource_version);
    EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
    EXPECT_EQ(std::set<uint64_t>(got.begin(), got.end()), acked);  // no gap, no duplicate
    ExpectQuiet(*w);
  }
}

TYPED_TEST(StoreWatchContractTest, ASlowWatcherNeverBlocksWritersOrOtherWatchers) {
  StoreOptions opts;
  opts.watch_buffer = 50;
  auto store = this->factory_.Make(opts);
  auto stuck = MustWatch(*store, SessionsFrom(store->CurrentRevision()));  // never reads
  auto live = MustWatch(*store, SessionsFrom(store->CurrentRevision()));
  std::atomic<int> seen{0};
  std::thread reader([&] {
    // A reader that keeps up sees everything; one that falls behind the
    // small buffer is told Gone and resumes from its last revision.
    uint64_t last_seen = store->CurrentRevision();
    while (seen < 200) {
      auto e = live->Next(milliseconds(5000));
      if (!e) break;
      if (e->type == EventType::kError) {
        live = MustWatch(*store, SessionsFrom(last_seen));
        continue;
      }
      last_seen = e->resource_version;
      ++seen;
    }
  });
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(store->Create(Session("alice", "s" + std::to_string(i))).ok());
  reader.join();
  EXPECT_EQ(seen.load(), 200);
  // The stuck watcher gets what fit, then Gone, and can resume from there.
  uint64_t last = 0;
  int delivered = 0;
  while (true) {
    auto e = stuck->Next(milliseconds(1000));
    ASSERT_TRUE(e);
    if (e->type == EventType::kError) {
      EXPECT_EQ(e->error.code(), Code::kGone);
      break;
    }
    last = e->resource_version;
    ++delivered;
  }
  EXPECT_EQ(delivered, 50);
  auto resumed = MustWatch(*store, SessionsFrom(last));
  EXPECT_EQ(Take(*resumed, 150).size(), 150u);
}

TYPED_TEST(StoreWatchContractTest, ConcurrentUpdatesExactlyOneWinsEachRound) {
  auto store = this->factory_.Make();
  auto base = *store->Create(Session("alice", "counter"));
  constexpr int kThreads = 8, kRounds = 20;
  std::atomic<int> wins{0};
  std::vector<int> wins_per_round(kRounds, 0);
  std::mutex mu;
  ObjectPtr round_start = base;
  std::barrier sync(kThreads, [&]() noexcept {
    round_start = *store->Get("VisiSession", "alice", "counter");
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds; ++r) {
        Object mine = *round_start;  // everyone starts from the same revision
        mine.metadata.annotations["visi.dev/round"] = std::to_string(r);
        mine.metadata.annotations["visi.dev/writer"] = std::to_string(t);
        auto u = store->Update(mine);
        if (u.ok()) {
          ++wins;
          std::lock_guard l(mu);
          ++wins_per_round[r];
        } else {
          EXPECT_EQ(u.status().code(), Code::kConflict);
        }
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wins.load(), kRounds);
  for (int r = 0; r < kRounds; ++r) EXPECT_EQ(wins_per_round[r], 1) << "round " << r;
}

TYPED_TEST(StoreWatchContractTest, NoLostUpdatesUnderContention) {
  auto store = this->factory_.Make();
  ASSERT_TRUE(store->Create(Session("alice", "counter")).ok());
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) {
        while (true) {  // read-modify-write, retried on conflict
          Object o = **store->Get("VisiSession", "alice", "counter");
          int n = o.metadata.annotations.count("n") ? std::stoi(o.metadata.annotations["n"]) : 0;
          o.metadata.annotations["n"] = std::to_string(n + 1);
          auto u = store->Update(o);
          if (u.ok()) break;
          ASSERT_EQ(u.status().code(), Code::kConflict);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  auto o = *store->Get("VisiSession", "alice", "counter");
  EXPECT_EQ(o->metadata.annotations.at("n"), std::to_string(kThreads * kEach));
}

}  // namespace
}  // namespace visi::testing
