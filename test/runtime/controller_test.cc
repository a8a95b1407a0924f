#include "controller/runtime/controller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "controller/api/scheme.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "controller/store/memory/memory_store.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    inf_.Start();
    ASSERT_TRUE(inf_.WaitForSync(std::chrono::seconds(5)));
  }
  void TearDown() override { inf_.Stop(); }

  std::map<std::string, int> Counts() {
    std::lock_guard lock(mu_);
    return counts_;
  }
  void Count(const std::string& key) {
    std::lock_guard lock(mu_);
    counts_[key]++;
  }

  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  Informer inf_{store_.get(), SystemClock::Default(), {.kind = "VisiSession"}};
  EventRecorder events_{store_.get(), SystemClock::Default()};
  std::mutex mu_;
  std::map<std::string, int> counts_;
};

TEST_F(ControllerTest, ReconcilesWhatExistsAndEveryChange) {
  ASSERT_TRUE(store_->Create(Session("alice", "before")).ok());
  ASSERT_TRUE(Eventually([&] { return inf_.size() == 1; }));
  Controller c({.name = "test"}, store_.get(), &inf_, [&](const std::string& key) {
    Count(key);
    return ReconcileResult::Done();
  });
  c.Start();
  ASSERT_TRUE(Eventually([&] { return Counts()["alice/before"] >= 1; }));
  ASSERT_TRUE(store_->Create(Session("alice", "after")).ok());
  ASSERT_TRUE(Eventually([&] { return Counts()["alice/after"] >= 1; }));
  int seen = Counts()["alice/after"];
  Object o = **store_->Get("VisiSession", "alice", "after");
  o.spec["spark"]["workers"] = 3;
  ASSERT_TRUE(store_->Update(o).ok());
  ASSERT_TRUE(Eventually([&] { return Counts()["alice/after"] > seen; }));
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "after", {}).ok());
  ASSERT_TRUE(Eventually([&] { return Counts()["alice/after"] > seen + 1; }));
  c.Stop();
  EXPECT_GE(c.GetStats().reconciles, 4u);
  std::string m = c.RenderMetrics();
  EXPECT_NE(m.find("visi_controller_reconciles_total{controller=\"test\"}"), std::string::npos) << m;
  EXPECT_NE(m.find("visi_controller_reconcile_duration_seconds_count{controller=\"test\"}"), std::string::npos) << m;
}

TEST_F(ControllerTest, NeverTwoWorkersOnOneKey) {
  ASSERT_TRUE(store_->Create(Session("alice", "hot")).ok());
  std::atomic<int> inside{0}, max_inside{0}, runs{0};
  Controller c({.name = "exclusive", .workers = 4}, store_.get(), &inf_, [&](const std::string&) {
    int now = ++inside;
    int prev = max_inside.load();
    while (now > prev && !max_inside.compare_exchange_weak(prev, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --inside;
    ++runs;
    return ReconcileResult::Done();
  });
  c.Start();
  // Adds arrive while the key is being reconciled, and in bursts while it waits.
  for (int i = 0; i < 50; ++i) {
    for (int j = 0; j < 4; ++j) c.Enqueue("alice/hot");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(Eventually([&] { return runs.load() >= 2 && c.GetStats().queue_depth == 0 && inside == 0; }));
  c.Stop();
  EXPECT_EQ(max_inside.load(), 1);
  EXPECT_LT(runs.load(), 200) << "adds while waiting are deduplicated";
}

TEST_F(ControllerTest, AThrowingReconcilerIsRetriedWithBackoff) {
  ASSERT_TRUE(store_->Create(Session("alice", "flaky")).ok());
  std::atomic<int> calls{0};
  Controller c({.name = "flaky"}, store_.get(), &inf_, [&](const std::string&) -> ReconcileResult {
    if (++calls <= 3) throw std::runtime_error("boom");
    return ReconcileResult::Done();
  });
  c.Start();
  ASSERT_TRUE(Eventually([&] { return calls.load() >= 4; }));
  c.Stop();
  EXPECT_EQ(c.GetStats().exceptions, 3u);
  EXPECT_EQ(c.GetStats().errors, 3u);
}

TEST_F(ControllerTest, TerminalErrorsBecomeAConditionAndAnEventAndAreNotRetried) {
  ASSERT_TRUE(store_->Create(Session("alice", "bad")).ok());
  std::atomic<int> calls{0};
  std::atomic<bool> fixed{false};
  Controller c({.name = "terminal"}, store_.get(), &inf_, [&](const std::string&) {
    ++calls;
    return fixed ? ReconcileResult::Done()
                 : ReconcileResult::Terminal(InvalidError("spec.frontEnd.image: the image is not allowed"));
  }, &events_);
  c.Start();
  auto condition = [&]() -> std::string {
    auto o = store_->Get("VisiSession", "alice", "bad");
    const Json* cond = o.ok() ? FindCondition((*o)->status, "Reconciled") : nullptr;
    return cond ? cond->value("status", "") + "/" + cond->value("reason", "") : "";
  };
  ASSERT_TRUE(Eventually([&] { return condition() == "False/TerminalError"; }));
  ListOptions lo;
  lo.kind = "Event";
  lo.namespace_ = "alice";
  auto evs = store_->List(lo);
  ASSERT_TRUE(evs.ok());
  ASSERT_EQ(evs->items.size(), 1u);
  EXPECT_EQ(evs->items[0]->spec["reason"], "ReconcileFailed");
  EXPECT_EQ(evs->items[0]->spec["type"], "Warning");
  // The status write itself enqueues the key once more; then nothing.
  ASSERT_TRUE(Eventually([&] { return c.GetStats().queue_depth == 0 && c.GetStats().active_workers == 0; }));
  int settled = calls.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_LE(calls.load(), settled + 1) << "a terminal error is not retried";
  // A change to the object, and a reconcile that succeeds, clear it.
  fixed = true;
  Object o = **store_->Get("VisiSession", "alice", "bad");
  o.spec["spark"]["workers"] = 1;
  ASSERT_TRUE(store_->Update(o).ok());
  ASSERT_TRUE(Eventually([&] { return condition() == "True/Succeeded"; }));
  c.Stop();
}

TEST_F(ControllerTest, ChangesToOwnedObjectsEnqueueTheirOwner) {
  auto owner = store_->Create(Session("alice", "owner"));
  ASSERT_TRUE(owner.ok());
  Informer owned(store_.get(), SystemClock::Default(), {.kind = "Event"});
  Controller c({.name = "owner"}, store_.get(), &inf_, [&](const std::string& key) {
    Count(key);
    return ReconcileResult::Done();
  });
  c.Owns(&owned);
  owned.Start();
  ASSERT_TRUE(owned.WaitForSync(std::chrono::seconds(5)));
  c.Start();
  ASSERT_TRUE(Eventually([&] { return Counts()["alice/owner"] >= 1; }));
  int before = Counts()["alice/owner"];
  ASSERT_TRUE(store_->Create(OwnedEvent(**owner, "child")).ok());
  ASSERT_TRUE(Eventually([&] { return Counts()["alice/owner"] > before; }));
  EXPECT_EQ(Counts().count("alice/child"), 0u);
  c.Stop();
  owned.Stop();
}

TEST_F(ControllerTest, RequeueAfterRunsAgain) {
  ASSERT_TRUE(store_->Create(Session("alice", "periodic")).ok());
  std::atomic<int> calls{0};
  Controller c({.name = "periodic"}, store_.get(), &inf_, [&](const std::string&) {
    return ++calls < 3 ? ReconcileResult::RequeueAfter(std::chrono::milliseconds(20)) : ReconcileResult::Done();
  });
  c.Start();
  ASSERT_TRUE(Eventually([&] { return calls.load() >= 3; }));
  c.Stop();
  EXPECT_EQ(c.GetStats().errors, 0u);
}

TEST(OwnershipHelpersTest, FinalizersAndAdoption) {
  std::unique_ptr<Store> store = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  auto owner = store->Create(Session("alice", "owner"));
  auto other = store->Create(Session("alice", "other"));
  ASSERT_TRUE(owner.ok() && other.ok());
  auto with = AddFinalizer(store.get(), **owner, "visi.dev/teardown");
  ASSERT_TRUE(with.ok());
  EXPECT_TRUE(HasFinalizer(**with, "visi.dev/teardown"));
  auto again = AddFinalizer(store.get(), **with, "visi.dev/teardown");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->metadata.finalizers.size(), 1u) << "adding twice is a no-op";
  // Deleting waits for the finalizer; removing it completes the delete.
  auto deleting = store->Delete("VisiSession", "alice", "owner", {});
  ASSERT_TRUE(deleting.ok());
  EXPECT_TRUE((*deleting)->metadata.deletion_timestamp.has_value());
  (void)RemoveFinalizer(store.get(), **deleting, "visi.dev/teardown");
  EXPECT_EQ(store->Get("VisiSession", "alice", "owner").status().code(), Code::kNotFound);

  Object child = OwnedEvent(**other, "child");
  EXPECT_TRUE(IsControlledBy(child, **other));
  Object stranger = **owner;
  stranger.metadata.uid = "another-uid";
  Status refused = SetControllerReference(stranger, &child);
  EXPECT_EQ(refused.code(), Code::kConflict);
  EXPECT_NE(refused.message().find("already controlled by VisiSession \"other\""), std::string::npos)
      << refused.message();
  EXPECT_TRUE(SetControllerReference(**other, &child).ok()) << "the same owner may adopt again";
  EXPECT_EQ(child.metadata.owner_references.size(), 1u);
}

}  // namespace
}  // namespace visi::testing
