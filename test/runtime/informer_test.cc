#include "controller/runtime/informer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "controller/api/scheme.h"
#include "controller/store/memory/memory_store.h"
#include "test/fakes/forwarding_store.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

// A store whose watches can be broken on demand: every open watch ends with
// `error`, and while `gone` is set a watch from a revision at or before the
// break is refused with 410, as after a compaction.
class BreakableStore : public ForwardingStore {
 public:
  explicit BreakableStore(Store* inner) : ForwardingStore(inner) {}
  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& o) override {
    // Compacted up to the revision current at the break: a watch from there
    // or before is refused, however soon after the break it comes.
    if (gone_ && o.resource_version && *o.resource_version <= compacted_) {
      return GoneError("too old resource version");
    }
    VISI_ASSIGN_OR_RETURN(auto w, ForwardingStore::Watch(o));
    watches_++;
    return std::unique_ptr<Watcher>(new Breakable(std::move(w), this, epoch_.load()));
  }
  void Break(bool gone) {
    compacted_ = CurrentRevision();
    gone_ = gone;
    epoch_++;
  }
  void Heal() { gone_ = false; }
  int watches() const { return watches_; }

 private:
  class Breakable : public Watcher {
   public:
    Breakable(std::unique_ptr<Watcher> w, BreakableStore* s, int epoch) : w_(std::move(w)), s_(s), epoch_(epoch) {}
    std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
      if (s_->epoch_ != epoch_) {
        WatchEvent e;
        e.type = EventType::kError;
        e.error = s_->gone_ ? GoneError("compacted") : UnavailableError("connection lost");
        return e;
      }
      return w_->Next(std::min(timeout, std::chrono::milliseconds(20)));
    }
    void Stop() override { w_->Stop(); }

   private:
    std::unique_ptr<Watcher> w_;
    BreakableStore* s_;
    int epoch_;
  };
  std::atomic<bool> gone_{false};
  std::atomic<int> epoch_{0}, watches_{0};
  std::atomic<uint64_t> compacted_{0};
};

struct Recorded {
  std::mutex mu;
  std::vector<std::string> log;
  void Add(const std::string& s) {
    std::lock_guard lock(mu);
    log.push_back(s);
  }
  bool Has(const std::string& s) {
    std::lock_guard lock(mu);
    return std::find(log.begin(), log.end(), s) != log.end();
  }
};

ResourceHandlers RecordTo(Recorded* r) {
  ResourceHandlers h;
  h.on_add = [r](const ObjectPtr& o) { r->Add("add " + ObjectKeyOf(*o)); };
  h.on_update = [r](const ObjectPtr&, const ObjectPtr& o) { r->Add("update " + ObjectKeyOf(*o)); };
  h.on_delete = [r](const ObjectPtr& o) { r->Add("delete " + ObjectKeyOf(*o)); };
  return h;
}

class InformerTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  std::unique_ptr<Store> inner_ = NewMemoryStore(Scheme::Builtin(), &clock_);
  BreakableStore store_{inner_.get()};
};

TEST_F(InformerTest, ListsThenWatchesAndIndexes) {
  ASSERT_TRUE(store_.Create(Session("alice", "a")).ok());
  Object labelled = Session("bob", "b", "bob");
  labelled.metadata.labels["tier"] = "gold";
  auto b = store_.Create(labelled);
  ASSERT_TRUE(b.ok());
  Informer inf(&store_, &clock_, {.kind = "VisiSession"});
  Recorded rec;
  inf.AddHandlers(RecordTo(&rec));
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(5)));
  EXPECT_EQ(inf.size(), 2u);
  EXPECT_TRUE(rec.Has("add alice/a"));
  EXPECT_EQ(inf.List("bob").size(), 1u);
  EXPECT_EQ(inf.ByLabel("tier", "gold").size(), 1u);

  ASSERT_TRUE(store_.Create(OwnedEvent(**b, "owned")).ok());  // another kind: not seen
  Object c = Session("alice", "c");
  ASSERT_TRUE(store_.Create(c).ok());
  ASSERT_TRUE(Eventually([&] { return rec.Has("add alice/c"); }));
  Object changed = *inf.Get("alice", "c");
  changed.metadata.labels["tier"] = "silver";
  ASSERT_TRUE(store_.Update(changed).ok());
  ASSERT_TRUE(Eventually([&] { return rec.Has("update alice/c"); }));
  EXPECT_EQ(inf.ByLabel("tier", "silver").size(), 1u);
  ASSERT_TRUE(store_.Delete("VisiSession", "alice", "a", {}).ok());
  ASSERT_TRUE(Eventually([&] { return rec.Has("delete alice/a"); }));
  EXPECT_EQ(inf.Get("alice", "a"), nullptr);
  EXPECT_EQ(inf.List("alice").size(), 1u);
  // Cached objects are shared and immutable: the cache hands out const objects.
  static_assert(std::is_same_v<decltype(inf.Get("", "")), ObjectPtr>);
}

TEST_F(InformerTest, OwnerIndex) {
  auto owner = store_.Create(Session("alice", "owner"));
  ASSERT_TRUE(owner.ok());
  Informer events(&store_, &clock_, {.kind = "Event"});
  events.Start();
  ASSERT_TRUE(events.WaitForSync(std::chrono::seconds(5)));
  ASSERT_TRUE(store_.Create(OwnedEvent(**owner, "e1")).ok());
  ASSERT_TRUE(store_.Create(OwnedEvent(**owner, "e2")).ok());
  ASSERT_TRUE(Eventually([&] { return events.ByOwner((*owner)->metadata.uid).size() == 2; }));
}

TEST_F(InformerTest, ResumesAfterALostConnectionWithoutRelisting) {
  Informer inf(&store_, &clock_, {.kind = "VisiSession"});
  Recorded rec;
  inf.AddHandlers(RecordTo(&rec));
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(5)));
  store_.Break(/*gone=*/false);
  ASSERT_TRUE(store_.Create(Session("alice", "during")).ok());
  // The informer backs off on the injected clock before it re-watches.
  ASSERT_TRUE(Eventually([&] {
    clock_.Advance(std::chrono::milliseconds(100));
    return rec.Has("add alice/during");
  }));
  EXPECT_EQ(inf.GetStats().lists, 1u) << "a resumable watch does not re-list";
}

TEST_F(InformerTest, RelistsAfterGoneAndDeliversWhatChangedMeanwhile) {
  ASSERT_TRUE(store_.Create(Session("alice", "stays")).ok());
  ASSERT_TRUE(store_.Create(Session("alice", "goes")).ok());
  Informer inf(&store_, &clock_, {.kind = "VisiSession"});
  Recorded rec;
  inf.AddHandlers(RecordTo(&rec));
  inf.Start();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(5)));
  store_.Break(/*gone=*/true);
  ASSERT_TRUE(store_.Delete("VisiSession", "alice", "goes", {}).ok());
  ASSERT_TRUE(store_.Create(Session("alice", "new")).ok());
  ASSERT_TRUE(Eventually([&] {
    clock_.Advance(std::chrono::milliseconds(100));
    return rec.Has("delete alice/goes") && rec.Has("add alice/new");
  }));
  store_.Heal();
  EXPECT_GE(inf.GetStats().lists, 2u);
  EXPECT_EQ(inf.size(), 2u);
  EXPECT_NE(inf.Get("alice", "stays"), nullptr);
  // And it keeps watching afterwards.
  ASSERT_TRUE(store_.Create(Session("alice", "after")).ok());
  ASSERT_TRUE(Eventually([&] {
    clock_.Advance(std::chrono::milliseconds(100));
    return rec.Has("add alice/after");
  }));
}

}  // namespace
}  // namespace visi::testing

namespace visi::testing {
namespace {

// The initial list comes in pages; writes made while the pages are read are
// replayed by the watch, and a stale copy never replaces a newer one.
TEST_F(InformerTest, ListsInPagesAndConverges) {
  for (int i = 0; i < 250; ++i) ASSERT_TRUE(inner_->Create(Session("alice", "s" + std::to_string(i))).ok());
  InformerOptions o;
  o.kind = "VisiSession";
  o.page_size = 40;
  Informer inf(&store_, &clock_, o);
  std::atomic<int> updates{0};
  ResourceHandlers h;
  h.on_update = [&](const ObjectPtr& before, const ObjectPtr& after) {
    // Never backwards.
    EXPECT_LE(before->metadata.resource_version, after->metadata.resource_version);
    updates++;
  };
  inf.AddHandlers(h);
  std::thread writer([&] {
    for (int i = 0; i < 250; i += 5) {
      Object s = **inner_->Get("VisiSession", "alice", "s" + std::to_string(i));
      s.metadata.labels["round"] = "1";
      EXPECT_TRUE(inner_->Update(s).ok());
    }
  });
  inf.Start();
  writer.join();
  ASSERT_TRUE(inf.WaitForSync(std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] {
    auto list = inner_->List(ListOptions{.kind = "VisiSession"});
    if (!list.ok() || list->items.size() != inf.size()) return false;
    for (const auto& x : list->items) {
      auto c = inf.Get("alice", x->metadata.name);
      if (!c || c->metadata.resource_version != x->metadata.resource_version) return false;
    }
    return true;
  }));
  EXPECT_GE(inf.GetStats().lists, 1u);
  inf.Stop();
}

}  // namespace
}  // namespace visi::testing
