// What only the durable store must do: survive reopening, refuse damage,
// share syncs between concurrent writers, and keep one owner.
#include <sqlite3.h>

#include <fstream>
#include <thread>

#include "test/fakes/objects.h"
#include "test/integration/store_factories.h"

namespace visi::testing {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  StatusOr<std::unique_ptr<Store>> Open(StoreOptions opts = {}) {
    return OpenSqliteStore(path_, Scheme::Builtin(), &clock_, opts);
  }
  SqliteFactory dir_;
  std::string path_ = dir_.dir_ + "/visi.db";
  FakeClock clock_{*ParseRfc3339("2026-11-23T22:00:00Z")};
};

TEST_F(SqliteStoreTest, EverythingSurvivesReopening) {
  uint64_t rv;
  std::string uid;
  {
    auto store = *Open();
    uid = (*store->Create(Session("alice", "nb")))->metadata.uid;
    Object o = **store->Get("VisiSession", "alice", "nb");
    o.status = {{"phase", "Running"}};
    ASSERT_TRUE(store->UpdateStatus(o).ok());
    ASSERT_TRUE(store->Create(Pool("default")).ok());
    ASSERT_TRUE(store->Create(Session("alice", "gone")).ok());
    ASSERT_TRUE(store->Delete("VisiSession", "alice", "gone").ok());
    rv = store->CurrentRevision();
  }
  auto store = *Open();
  EXPECT_EQ(store->CurrentRevision(), rv);
  auto nb = *store->Get("VisiSession", "alice", "nb");
  EXPECT_EQ(nb->metadata.uid, uid);
  EXPECT_EQ(nb->status["phase"], "Running");
  EXPECT_EQ(store->Get("VisiSession", "alice", "gone").status().code(), Code::kNotFound);
  EXPECT_TRUE(store->Get("FarmPool", "", "default").ok());
  // Revisions continue from where they were.
  EXPECT_GT((*store->Create(Session("alice", "next")))->metadata.resource_version, rv);
}

TEST_F(SqliteStoreTest, WatchResumesAcrossAReopen) {
  uint64_t from;
  {
    auto store = *Open();
    ASSERT_TRUE(store->Create(Session("alice", "a")).ok());
    from = store->CurrentRevision();
    ASSERT_TRUE(store->Create(Session("alice", "b")).ok());
    Object b = **store->Get("VisiSession", "alice", "b");
    b.metadata.labels["x"] = "y";
    ASSERT_TRUE(store->Update(b).ok());
    ASSERT_TRUE(store->Delete("VisiSession", "alice", "a").ok());
  }
  auto store = *Open();
  WatchOptions w;
  w.kind = "VisiSession";
  w.resource_version = from;
  auto watcher = *store->Watch(w);
  std::vector<EventType> types;
  for (int i = 0; i < 3; ++i) {
    auto e = watcher->Next(std::chrono::milliseconds(2000));
    ASSERT_TRUE(e);
    types.push_back(e->type);
  }
  EXPECT_EQ(types, (std::vector<EventType>{EventType::kAdded, EventType::kModified, EventType::kDeleted}));
  EXPECT_FALSE(watcher->Next(std::chrono::milliseconds(50)));
}

TEST_F(SqliteStoreTest, HistoryCompactionSurvivesReopening) {
  StoreOptions opts;
  opts.history_limit = 10;
  {
    auto store = *Open(opts);
    ASSERT_TRUE(store->Create(Pool("kept")).ok());
    for (int i = 0; i < 1000; ++i) {
      Object p = **store->Get("FarmPool", "", "kept");
      p.metadata.labels["n"] = std::to_string(i);
      ASSERT_TRUE(store->Update(p).ok());
      ASSERT_TRUE(store->Create(Pool("temp")).ok());
      ASSERT_TRUE(store->Delete("FarmPool", "", "temp").ok());
    }
  }
  auto store = *Open(opts);
  WatchOptions w;
  w.kind = "FarmPool";
  w.resource_version = 5;
  EXPECT_EQ(store->Watch(w).status().code(), Code::kGone);
  w.resource_version = store->CurrentRevision() - 10;
  EXPECT_TRUE(store->Watch(w).ok());
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM log", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_LT(sqlite3_column_int(st, 0), 1000);  // the journal trims its history too
  sqlite3_finalize(st);
  sqlite3_close(db);
  // The long-lived object's state outlives its compacted history.
  auto kept = store->Get("FarmPool", "", "kept");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)->metadata.labels.at("n"), "999");
  EXPECT_EQ(store->Get("FarmPool", "", "temp").status().code(), Code::kNotFound);
}

TEST_F(SqliteStoreTest, SelectorWatchesSeeObjectsLeaveAfterCompactionAndRestart) {
  StoreOptions opts;
  opts.history_limit = 10;
  uint64_t before_relabel;
  {
    auto store = *Open(opts);
    Object gold = Session("alice", "nb");
    gold.metadata.labels["tier"] = "gold";
    ASSERT_TRUE(store->Create(gold).ok());
    ASSERT_TRUE(store->Create(Pool("churn")).ok());
    for (int i = 0; i < 600; ++i) {  // compacts the session's creation away
      Object p = **store->Get("FarmPool", "", "churn");
      p.metadata.labels["n"] = std::to_string(i);
      ASSERT_TRUE(store->Update(p).ok());
    }
    before_relabel = store->CurrentRevision();
    Object silver = **store->Get("VisiSession", "alice", "nb");
    silver.metadata.labels["tier"] = "silver";
    ASSERT_TRUE(store->Update(silver).ok());
  }
  auto store = *Open(opts);
  WatchOptions w;
  w.kind = "VisiSession";
  w.resource_version = before_relabel;
  w.labels = *LabelSelector::Parse("tier=gold");
  auto watcher = store->Watch(w);
  ASSERT_TRUE(watcher.ok()) << watcher.status().ToString();
  auto e = (*watcher)->Next(std::chrono::milliseconds(2000));
  ASSERT_TRUE(e) << "the object left the selection; the watch must say so";
  EXPECT_EQ(e->type, EventType::kDeleted);
  EXPECT_EQ(e->object->metadata.name, "nb");
}

TEST_F(SqliteStoreTest, OneProcessOwnsTheDatabase) {
  auto first = *Open();
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kUnavailable);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos);
}

TEST_F(SqliteStoreTest, ConcurrentWritersShareSyncs) {
  auto store = *Open();
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(store->Create(Session("ns" + std::to_string(t), "s" + std::to_string(i))).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto stats = dynamic_cast<StoreEngine&>(*store).commit_stats();
  EXPECT_EQ(stats.mutations, 480u);
  EXPECT_LT(stats.commits, stats.mutations / 2) << "writes did not share commits";
}

TEST_F(SqliteStoreTest, ADamagedFileIsRefusedWithAClearError) {
  {
    std::ofstream f(path_, std::ios::binary);
    f << "this is not a database, just some hostile bytes" << std::string(8192, '\x7f');
  }
  auto s = Open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
  EXPECT_NE(s.status().message().find(path_), std::string::npos) << s.status().message();
}

TEST_F(SqliteStoreTest, ACorruptRowIsNamedAndNothingIsOverwritten) {
  {
    auto store = *Open();
    ASSERT_TRUE(store->Create(Session("alice", "nb")).ok());
  }
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE log SET data = '{\"kind\": 3' WHERE key = 'VisiSession/alice/nb'",
                         nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  auto s = Open();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kInternal);
  EXPECT_NE(s.status().message().find("object VisiSession/alice/nb"), std::string::npos)
      << s.status().message();
}

}  // namespace
}  // namespace visi::testing
