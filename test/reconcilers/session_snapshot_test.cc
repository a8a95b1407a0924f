// Snapshots of suspended sessions and their files (docs/snapshots.md), on
// the same visid as session_suspend_test.cc: a corrupt or missing newest
// snapshot, a failed capture, retention, the sweep of unnamed files, a
// user's Snapshot of a running session, and deletion with the session.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "reconcilers/session/subnet_allocator.h"
#include "test/reconcilers/session_suspend_fixture.h"

namespace visi::testing {
namespace {

TEST_F(SessionSuspendTest, ACorruptNewestSnapshotFallsBackToThePreviousGoodOne) {
  const std::string uid = StartSession(Session("alice", "nb"));
  ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "version 1"));
  SuspendAndWait("nb");
  const std::string good = LastSnapshot("nb");
  ResumeAndWait("nb");
  ASSERT_EQ(ReadFile(FrontEnd(uid), "/data/f.txt"), "version 1");
  ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "version 2"));
  SuspendAndWait("nb");
  const std::string bad = LastSnapshot("nb");
  ASSERT_NE(bad, good);
  const std::string bad_digest = SnapshotDigest(*Snapshot(bad));
  snapshot_store_.Corrupt(bad_digest, "not the bundle that was stored");

  ResumeAndWait("nb");
  EXPECT_EQ(ReadFile(FrontEnd(uid), "/data/f.txt"), "version 1") << "the previous good snapshot";
  EXPECT_EQ(Condition("nb", "Restored").value("status", ""), "False") << Dump("nb");
  EXPECT_EQ(Reason("nb", "Restored"), "SnapshotCorrupt");
  const std::string message = Condition("nb", "Restored").value("message", "");
  EXPECT_NE(message.find(bad), std::string::npos) << message;
  EXPECT_NE(message.find(good), std::string::npos) << message;
  ObjectPtr b = Snapshot(bad);
  ASSERT_NE(b, nullptr) << "kept for diagnosis";
  EXPECT_EQ(SnapshotPhase(*b), "Failed") << b->status.dump(2);
  EXPECT_EQ(SnapshotReason(bad, "Restorable"), "DigestMismatch/False");
  EXPECT_EQ(SnapshotPhase(*Snapshot(good)), "Ready");
  EXPECT_TRUE(Eventually([&] { return EventReasons("nb")["SnapshotCorrupt"] >= 1; }));
}

TEST_F(SessionSuspendTest, AMissingSnapshotFileLeavesNoGoodSnapshotAndTheSessionStartsEmpty) {
  const std::string uid = StartSession(Session("alice", "nb"));
  ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "lost"));
  SuspendAndWait("nb");
  const std::string only = LastSnapshot("nb");
  ASSERT_TRUE(snapshot_store_.Delete(SnapshotDigest(*Snapshot(only))).ok());

  ResumeAndWait("nb");
  EXPECT_EQ(Running(uid), 4u);
  EXPECT_EQ(Condition("nb", "Restored").value("status", ""), "False") << Dump("nb");
  EXPECT_EQ(Reason("nb", "Restored"), "NoGoodSnapshot");
  EXPECT_EQ(ReadFile(FrontEnd(uid), "/data/f.txt"), std::nullopt) << "it starts empty";
  ObjectPtr s = Snapshot(only);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(SnapshotPhase(*s), "Failed") << s->status.dump(2);
  EXPECT_EQ(SnapshotReason(only, "Restorable"), "FileMissing/False");
}

// A capture that fails holds the suspend: nothing is removed, and a resume
// runs the same containers with their files.
TEST_F(SessionSuspendTest, AFailedSnapshotHoldsTheSuspendWithTheContainersKept) {
  Object o = Session("alice", "nb");
  o.spec["statePaths"] = {"/data", "/nowhere"};  // the front end has no /nowhere
  const std::string uid = StartSession(o);
  const std::string subnet = Get("nb")->status["subnet"];
  const std::string front = FrontEnd(uid);
  const std::string front_id = docker_.InspectContainer(front)->id;
  ASSERT_NO_FATAL_FAILURE(WriteData(front, "f.txt", "kept"));
  docker_.ResetCalls();

  SetSuspend("nb", true);
  ASSERT_TRUE(Eventually([&] { return Reason("nb", "Suspended") == "SnapshotFailed"; })) << Dump("nb");
  EXPECT_EQ(Phase("nb"), "Suspending");
  EXPECT_NE(Get("nb")->status.value("message", "").find("/nowhere"), std::string::npos) << Dump("nb");
  auto snaps = Snapshots(uid);
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(SnapshotPhase(*snaps[0]), "Failed");
  EXPECT_EQ(SnapshotReason(snaps[0]->metadata.name, "Ready"), "StatePathNotFound/False");
  // Held: the containers are stopped and kept, the network and claim stay.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several passes
  EXPECT_EQ(Reason("nb", "Suspended"), "SnapshotFailed");
  auto cs = Containers(uid);
  EXPECT_EQ(cs.size(), 4u);
  for (const auto& c : cs) EXPECT_NE(c.state, "running") << c.name;
  EXPECT_EQ(docker_.calls().remove_container, 0);
  EXPECT_EQ(Networks(uid).size(), 1u);
  EXPECT_EQ(docker_.calls().remove_network, 0);
  EXPECT_TRUE(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).ok());
  EXPECT_EQ(Get("nb")->status.value("subnet", ""), subnet);
  EXPECT_FALSE(Get("nb")->status.contains("lastSnapshot"));

  ResumeAndWait("nb");
  EXPECT_EQ(Running(uid), 4u);
  EXPECT_EQ(docker_.InspectContainer(front)->id, front_id) << "the same containers run again";
  EXPECT_EQ(ReadFile(front, "/data/f.txt"), "kept");
  EXPECT_EQ(docker_.calls().create_container, 0);
}

TEST_F(SessionSuspendTest, RetentionKeepsTheNewestSnapshotsAndDeletesTheOthersFiles) {
  Object o = Session("alice", "nb");
  o.spec["snapshots"] = {{"retain", 2}};
  const std::string uid = StartSession(o);
  std::vector<std::string> names, digests;
  for (int i = 1; i <= 3; ++i) {
    ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "cycle " + std::to_string(i)));
    SuspendAndWait("nb");
    names.push_back(LastSnapshot("nb"));
    digests.push_back("sha256:" + Get("nb")->status["lastSnapshot"].value("sha256", ""));
    ResumeAndWait("nb");
    EXPECT_EQ(ReadFile(FrontEnd(uid), "/data/f.txt"), "cycle " + std::to_string(i));
  }
  ASSERT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 3u);
  const std::string taken = "taken: " + names[0] + " " + digests[0] + ", " + names[1] + " " + digests[1] + ", " +
                            names[2] + " " + digests[2];
  ASSERT_TRUE(Eventually([&] { return Snapshots(uid).size() == 2 && !snapshot_store_.Contains(digests[0]); }))
      << Describe(uid) << "\n" << taken;
  EXPECT_EQ(Snapshot(names[0]), nullptr) << "the oldest goes";
  EXPECT_NE(Snapshot(names[1]), nullptr);
  EXPECT_NE(Snapshot(names[2]), nullptr);
  EXPECT_EQ(StoreDigests(), (std::set<std::string>{digests[1], digests[2]}))
      << "the store holds the two kept Snapshots' files, nothing else\n" << Describe(uid) << "\n" << taken;
  EXPECT_GE(EventReasons("nb")["SnapshotPruned"], 1);
}

class SnapshotGarbageTest : public SessionSuspendTest {
 protected:
  SnapshotGarbageTest() { snapshot_opts_.gc_period = std::chrono::seconds(2); }
};

// A file no Snapshot names goes once it has been seen unnamed for a gc
// period; files Snapshots name stay.
TEST_F(SnapshotGarbageTest, AnUnnamedFileGoesOnlyAfterAGcPeriod) {
  StartSession(Session("alice", "nb"));
  SuspendAndWait("nb");
  const std::string named = SnapshotDigest(*Snapshot(LastSnapshot("nb")));
  const std::string leftover = "a capture killed before its Snapshot was Ready";
  size_t offset = 0;
  auto put = snapshot_store_.Put([&](char* buf, size_t cap) -> StatusOr<size_t> {
    size_t n = std::min(cap, leftover.size() - offset);
    std::copy_n(leftover.data() + offset, n, buf);
    offset += n;
    return n;
  });
  ASSERT_TRUE(put.ok());
  const std::string unnamed = put->digest;

  ASSERT_TRUE(snapshots_->CollectGarbage().ok());
  EXPECT_TRUE(snapshot_store_.Contains(unnamed)) << "first seen unnamed just now";
  EXPECT_TRUE(snapshot_store_.Contains(named));
  std::this_thread::sleep_for(snapshot_opts_.gc_period + std::chrono::milliseconds(100));
  ASSERT_TRUE(snapshots_->CollectGarbage().ok());
  EXPECT_FALSE(snapshot_store_.Contains(unnamed)) << "unnamed for a gc period";
  EXPECT_TRUE(snapshot_store_.Contains(named)) << "a Snapshot names it";
  EXPECT_EQ(SnapshotPhase(*Snapshot(LastSnapshot("nb"))), "Ready");
}

// A user's Snapshot of a running session: captured live, labelled and
// owned like a suspend's; the session keeps running.
TEST_F(SessionSuspendTest, AUserSnapshotOfARunningSessionIsCapturedLive) {
  const std::string uid = StartSession(Session("alice", "nb"));
  ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "live"));
  docker_.ResetCalls();
  Apply(UserSnapshot("nb-by-hand", "nb"));
  ASSERT_TRUE(Eventually([&] { return Snapshot("nb-by-hand") && SnapshotPhase(*Snapshot("nb-by-hand")) == "Ready"; }))
      << (Snapshot("nb-by-hand") ? Snapshot("nb-by-hand")->status.dump(2) : "gone");
  ObjectPtr s = Snapshot("nb-by-hand");
  EXPECT_EQ(Label(*s, kSnapshotSessionUidLabel), uid);
  ASSERT_EQ(s->metadata.owner_references.size(), 1u);
  EXPECT_EQ(s->metadata.owner_references[0].kind, "VisiSession");
  EXPECT_EQ(s->metadata.owner_references[0].name, "nb");
  EXPECT_EQ(s->metadata.owner_references[0].uid, uid);
  EXPECT_TRUE(HasFinalizer(*s, SnapshotReconciler::kFinalizer));
  EXPECT_TRUE(snapshot_store_.Verify(SnapshotDigest(*s)).ok());
  EXPECT_EQ(s->status["contents"][0].value("path", ""), "/data");
  EXPECT_EQ(docker_.calls().stop_container, 0) << "captured live";
  EXPECT_EQ(Phase("nb"), "Running");
  EXPECT_EQ(Running(uid), 4u);
  EXPECT_FALSE(Get("nb")->spec.value("suspend", false));
}

// Deleting a session takes its Snapshots (the garbage collector, through
// their owner reference) and, through their finalizer, their files.
TEST_F(SessionSuspendTest, ASuspendedSessionIsTornDownOnDeleteWithItsSnapshots) {
  const std::string uid = StartSession(Session("alice", "nb"));
  SuspendAndWait("nb");
  ASSERT_EQ(Snapshots(uid).size(), 1u);
  const std::string digest = SnapshotDigest(*Snapshots(uid)[0]);
  ASSERT_TRUE(snapshot_store_.Contains(digest));
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  ASSERT_TRUE(Eventually([&] { return Get("nb") == nullptr; }));
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_TRUE(Networks(uid).empty());
  EXPECT_EQ(Claims(), 0u);
  EXPECT_TRUE(Eventually([&] { return Snapshots(uid).empty() && !snapshot_store_.Contains(digest); }))
      << Describe(uid);
}

TEST_F(SessionSuspendTest, DeletingARunningSessionDeletesItsSnapshotsAndTheirFiles) {
  const std::string uid = StartSession(Session("alice", "nb"));
  SuspendAndWait("nb");
  ResumeAndWait("nb");
  Apply(UserSnapshot("nb-by-hand", "nb"));
  std::set<std::string> digests;
  ASSERT_TRUE(Eventually([&] {
    digests.clear();
    for (const auto& s : Snapshots(uid)) {
      if (SnapshotPhase(*s) == "Ready") digests.insert(SnapshotDigest(*s));
    }
    return digests.size() == 2;
  })) << Describe(uid);
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  ASSERT_TRUE(Eventually([&] { return Get("nb") == nullptr; }));
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_TRUE(Eventually([&] {
    return Snapshots(uid).empty() && !snapshot_store_.Contains(*digests.begin()) &&
           !snapshot_store_.Contains(*digests.rbegin());
  })) << Describe(uid);
}

}  // namespace
}  // namespace visi::testing
