#include "controller/runtime/garbage_collector.h"

#include <gtest/gtest.h>

#include "controller/runtime/ownership.h"
#include "controller/store/memory/memory_store.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

class GarbageCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ManagerOptions mo;
    mo.leader_election = false;
    manager_ = std::make_unique<Manager>(store_.get(), mo);
    gc_ = std::make_unique<GarbageCollector>(manager_.get(), Scheme::Builtin());
    manager_->Start();
  }
  void TearDown() override { manager_->Stop(); }

  ObjectPtr Make(Object o) {
    auto c = store_->Create(std::move(o));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : nullptr;
  }
  bool Gone(const std::string& kind, const std::string& name) {
    return store_->Get(kind, "alice", name).status().code() == Code::kNotFound;
  }

  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<GarbageCollector> gc_;
};

TEST_F(GarbageCollectorTest, BackgroundDeletionCascades) {
  ObjectPtr owner = Make(Session("alice", "owner"));
  Make(OwnedEvent(*owner, "child"));
  Object grandchild_owner = Session("alice", "middle");
  grandchild_owner.metadata.owner_references.push_back(OwnerRefTo(*owner));
  ObjectPtr middle = Make(grandchild_owner);
  Make(OwnedEvent(*middle, "grandchild"));
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "owner", {}).ok());
  ASSERT_TRUE(Eventually([&] { return Gone("Event", "child") && Gone("VisiSession", "middle"); }));
  ASSERT_TRUE(Eventually([&] { return Gone("Event", "grandchild"); }));
}

TEST_F(GarbageCollectorTest, ForegroundDeletionRemovesDependentsFirst) {
  ObjectPtr owner = Make(Session("alice", "owner"));
  Make(OwnedEvent(*owner, "child"));
  Preconditions fg;
  fg.propagation = Propagation::kForeground;
  auto d = store_->Delete("VisiSession", "alice", "owner", fg);
  ASSERT_TRUE(d.ok());
  // The owner stays, marked, while its blocking dependent exists...
  if (!Gone("Event", "child")) {
    auto still = store_->Get("VisiSession", "alice", "owner");
    ASSERT_TRUE(still.ok());
    EXPECT_TRUE((*still)->metadata.deletion_timestamp.has_value());
    EXPECT_TRUE(HasFinalizer(**still, "foregroundDeletion"));
  }
  // ...and goes once the dependent is gone.
  ASSERT_TRUE(Eventually([&] { return Gone("Event", "child") && Gone("VisiSession", "owner"); }));
}

TEST_F(GarbageCollectorTest, OrphanDeletionLeavesDependentsWithoutTheOwner) {
  ObjectPtr owner = Make(Session("alice", "owner"));
  Make(OwnedEvent(*owner, "child"));
  Preconditions orphan;
  orphan.propagation = Propagation::kOrphan;
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "owner", orphan).ok());
  ASSERT_TRUE(Eventually([&] { return Gone("VisiSession", "owner"); }));
  auto child = store_->Get("Event", "alice", "child");
  ASSERT_TRUE(child.ok()) << "an orphaned dependent is kept";
  EXPECT_TRUE((*child)->metadata.owner_references.empty());
}

TEST_F(GarbageCollectorTest, CyclesAreReportedAndNotCollected) {
  ObjectPtr a = Make(Session("alice", "a"));
  Object b_obj = Session("alice", "b");
  b_obj.metadata.owner_references.push_back(OwnerRefTo(*a, false));
  ObjectPtr b = Make(b_obj);
  Object a_next = *a;
  a_next.metadata.owner_references.push_back(OwnerRefTo(*b, false));
  ASSERT_TRUE(store_->Update(a_next).ok());
  ListOptions lo;
  lo.kind = "Event";
  lo.namespace_ = "alice";
  ASSERT_TRUE(Eventually([&] {
    auto evs = store_->List(lo);
    if (!evs.ok()) return false;
    int cycles = 0;
    for (const auto& e : evs->items) cycles += e->spec["reason"] == "OwnershipCycle";
    return cycles == 2;
  }));
  EXPECT_FALSE(Gone("VisiSession", "a"));
  EXPECT_FALSE(Gone("VisiSession", "b"));
}

TEST_F(GarbageCollectorTest, ObjectsWithLiveOwnersStay) {
  ObjectPtr owner = Make(Session("alice", "owner"));
  Make(OwnedEvent(*owner, "child"));
  Make(Session("alice", "unrelated"));
  gc_->Pass();
  EXPECT_FALSE(Gone("Event", "child"));
  EXPECT_FALSE(Gone("VisiSession", "unrelated"));
  EXPECT_EQ(gc_->deleted(), 0u);
}

}  // namespace
}  // namespace visi::testing
