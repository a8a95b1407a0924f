// Sessions of a FarmPool through suspend and resume, and waiting for room,
// over the Docker twin (session_fixture.h). The pool's machines are made by
// hand here (no farm reconcilers): placement only reads them. The farm
// reconcilers themselves: farm_reconciler_test.cc.
#include <gtest/gtest.h>

#include "controller/runtime/ownership.h"
#include "test/reconcilers/session_fixture.h"

namespace visi::testing {
namespace {

class SessionFarmTest : public SessionFixture {
 protected:
  // A pool with Ready machines of `sessions` sessions each.
  void MakePool(const std::vector<std::string>& machines, int sessions) {
    Object pool = Pool("farm");
    pool.spec = {{"provider", {{"type", "local"}}}, {"network", {{"subnetPool", "10.205.0.0/20"}}}};
    ObjectPtr p = Apply(pool);
    ASSERT_NE(p, nullptr);
    for (const auto& name : machines) {
      Object m;
      m.kind = "FarmMachine";
      m.metadata.name = name;
      m.metadata.owner_references.push_back(OwnerRefTo(*p, /*controller=*/true));
      m.spec = {{"pool", "farm"}, {"endpoint", "unix:///fake/" + name + ".sock"}, {"capacity", {{"sessions", sessions}}}};
      ObjectPtr made = Apply(m);
      ASSERT_NE(made, nullptr);
      Object ready = *made;
      ready.status = {{"phase", "Ready"}, {"sessions", Json::array()}, {"sessionCount", 0}};
      ASSERT_TRUE(store_->UpdateStatus(ready).ok());
    }
  }
  Object FarmSession(const std::string& name) {
    Object s = Session("alice", name);
    s.spec["pool"] = "farm";
    return s;
  }
  std::string Machine(const std::string& name) {
    auto s = Get(name);
    return s ? StatusString(s->status, "machine") : "";
  }
};

TEST_F(SessionFarmTest, AResumedSessionIsPlacedAgainAndGetsItsStateBack) {
  MakePool({"m1"}, 4);
  ObjectPtr s = Apply(FarmSession("nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Dump("nb");
  EXPECT_EQ(Machine("nb"), "m1");
  WriteData(FrontEnd(s->metadata.uid), "notes.txt", "kept across the suspend");
  SetSuspend("nb", true);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Dump("nb");
  EXPECT_EQ(Machine("nb"), "") << "a suspended session holds no machine";
  SetSuspend("nb", false);
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Dump("nb");
  EXPECT_EQ(Machine("nb"), "m1");
  EXPECT_EQ(Reason("nb", "Restored"), "Restored") << Dump("nb");
  EXPECT_EQ(ReadFile(FrontEnd(s->metadata.uid), "/data/notes.txt"), "kept across the suspend");
}

TEST_F(SessionFarmTest, AResumeThatWaitsForRoomStillRestoresAndDoesNotFail) {
  MakePool({"m1"}, 1);
  ObjectPtr a = Apply(FarmSession("a"));
  ASSERT_TRUE(Eventually([&] { return Ready("a"); })) << Dump("a");
  WriteData(FrontEnd(a->metadata.uid), "notes.txt", "a's notes");
  SetSuspend("a", true);
  ASSERT_TRUE(Eventually([&] { return Phase("a") == "Suspended"; })) << Dump("a");
  // b takes the only room; a's resume waits for it.
  Object b = FarmSession("b");
  b.spec["startTimeoutSeconds"] = 1;
  ASSERT_NE(Apply(b), nullptr);
  ASSERT_TRUE(Eventually([&] { return Ready("b"); })) << Dump("b");
  SetSuspend("a", false);
  ASSERT_TRUE(Eventually([&] { return Reason("a", "Scheduled") == "NoRoom"; })) << Dump("a");
  EXPECT_EQ(Phase("a"), "Resuming") << Dump("a");
  EXPECT_FALSE(StatusString(Get("a")->status, "restoring").empty()) << "the snapshot to restore is decided first";
  // b goes: a is placed, restored, Ready.
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "b").ok());
  ASSERT_TRUE(Eventually([&] { return Ready("a"); })) << Dump("a");
  EXPECT_EQ(Reason("a", "Restored"), "Restored") << Dump("a");
  EXPECT_EQ(ReadFile(FrontEnd(a->metadata.uid), "/data/notes.txt"), "a's notes");
}

TEST_F(SessionFarmTest, WaitingForAMachineIsNotAStartDeadline) {
  MakePool({"m1"}, 1);
  ASSERT_NE(Apply(FarmSession("first")), nullptr);
  ASSERT_TRUE(Eventually([&] { return Ready("first"); })) << Dump("first");
  Object late = FarmSession("late");
  late.spec["startTimeoutSeconds"] = 1;
  ASSERT_NE(Apply(late), nullptr);
  ASSERT_TRUE(Eventually([&] { return Reason("late", "Scheduled") == "NoRoom"; }))
      << Dump("late") << "\nfirst: " << Dump("first");
  // Well past its start deadline while it waits: still Pending, not Failed.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_TRUE(Eventually([&] { return Reason("late", "Scheduled") == "NoRoom"; })) << Dump("late");
  EXPECT_EQ(Phase("late"), "Pending") << Dump("late");
  EXPECT_NE(Reason("late", "Ready"), "StartDeadlineExceeded") << Dump("late");
}

}  // namespace
}  // namespace visi::testing
