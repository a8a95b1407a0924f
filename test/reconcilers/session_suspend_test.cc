// Suspend and resume (docs/snapshots.md) over the in-memory twins of Docker
// and the snapshot store, with the session and snapshot reconcilers and the
// garbage collector on one manager (session_suspend_fixture.h): suspend
// stops, captures, and only then removes the containers and the network and
// releases the subnet; resume restores the newest snapshot into the created
// containers before they start; idle suspension, an interrupted resume, a
// daemon outage, a session created suspended, a lagging cache.
// Snapshot files and their lifecycle: session_snapshot_test.cc.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "reconcilers/session/subnet_allocator.h"
#include "test/reconcilers/session_suspend_fixture.h"

namespace visi::testing {
namespace {

// Suspend: stop, capture, then containers and network go and the claim is
// released; resume gets a new claim and network, is Resuming until Ready,
// and says what it restored.
TEST_F(SessionSuspendTest, SuspendSnapshotsThenRemovesEverythingAndResumeRestores) {
  const std::string uid = StartSession(Session("alice", "nb"));
  const std::string subnet = Get("nb")->status["subnet"];
  ASSERT_EQ(Networks(uid).size(), 1u);
  const std::string network_id = Networks(uid)[0].id;
  docker_.ResetCalls();

  SuspendAndWait("nb");
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_TRUE(Networks(uid).empty()) << "the network is removed";
  EXPECT_EQ(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).status().code(), Code::kNotFound);
  EXPECT_EQ(Claims(), 0u) << "the claim is released";
  EXPECT_EQ(docker_.calls().stop_container, 4) << "each container is stopped once";
  EXPECT_GE(docker_.calls().get_archive, 1) << "the front end's /data is captured";
  EXPECT_EQ(docker_.calls().remove_container, 4);
  EXPECT_EQ(docker_.calls().remove_network, 1);
  EXPECT_EQ(docker_.calls().create_network, 0);
  ObjectPtr got = Get("nb");
  const Json st = got->status;
  EXPECT_EQ(Reason("nb", "Suspended"), "SuspendRequested");
  EXPECT_TRUE(StatusIsSuspended(st));
  EXPECT_FALSE(StatusIsReady(st));
  EXPECT_EQ(Reason("nb", "Ready"), "Suspended");
  EXPECT_EQ(Reason("nb", "ContainersReady"), "Suspended");
  EXPECT_EQ(Reason("nb", "NetworkReady"), "Suspended");
  EXPECT_TRUE(st.contains("suspendedTime"));
  EXPECT_EQ(st["components"], Json::array());
  EXPECT_FALSE(st.contains("frontEndAddress"));
  EXPECT_FALSE(st.contains("sparkMasterAddress"));
  EXPECT_FALSE(st.contains("subnet"));
  EXPECT_FALSE(st.contains("network"));
  EXPECT_EQ(st["observedGeneration"], got->metadata.generation);
  // status.lastSnapshot names the Ready Snapshot, whose file is in the store.
  ASSERT_TRUE(st.contains("lastSnapshot")) << st.dump(2);
  const Json& last = st["lastSnapshot"];
  const std::string snap_name = last.value("name", "");
  const std::string sha = last.value("sha256", "");
  EXPECT_EQ(sha.size(), 64u);
  EXPECT_GT(last.value("sizeBytes", 0), 0);
  EXPECT_FALSE(last.value("capturedTime", "").empty());
  ObjectPtr snap = Snapshot(snap_name);
  ASSERT_NE(snap, nullptr) << snap_name;
  EXPECT_EQ(snap_name.rfind("nb-", 0), 0u);
  EXPECT_EQ(snap_name.size(), 13u) << "<session>-<10 hex>";
  EXPECT_EQ(SnapshotPhase(*snap), "Ready");
  EXPECT_EQ(snap->status.value("sha256", ""), sha);
  EXPECT_EQ(Label(*snap, kSnapshotSessionUidLabel), uid);
  EXPECT_EQ(Label(*snap, kSnapshotSessionNameLabel), "nb");
  EXPECT_EQ(snap->spec.value("session", ""), "nb");
  EXPECT_EQ(snap->spec.value("sessionUID", ""), uid);
  EXPECT_TRUE(snapshot_store_.Verify("sha256:" + sha).ok());
  ASSERT_EQ(snap->status["contents"].size(), 1u) << snap->status.dump(2);
  EXPECT_EQ(snap->status["contents"][0].value("container", ""), "frontend");
  EXPECT_EQ(snap->status["contents"][0].value("path", ""), "/data");
  // It stays suspended: later passes (every resync, 50 ms here) start nothing.
  const int creates = docker_.calls().create_container;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(docker_.calls().create_container, creates);
  EXPECT_EQ(Phase("nb"), "Suspended");
  EXPECT_EQ(Get("nb")->status["suspendedTime"], st["suspendedTime"]);
  EXPECT_EQ(Snapshots(uid).size(), 1u);

  // Resume, with the front end not answering yet: Resuming until it does.
  prober_.frontend_up = false;
  SetSuspend("nb", false);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Resuming" && Running(uid) == 4; })) << Dump("nb");
  EXPECT_EQ(Claims(), 1u) << "a new claim";
  ASSERT_EQ(Networks(uid).size(), 1u);
  EXPECT_NE(Networks(uid)[0].id, network_id) << "a new network";
  prober_.frontend_up = true;
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Dump("nb");
  const Json resumed = Get("nb")->status;
  EXPECT_EQ(Reason("nb", "Suspended"), "Resumed");
  EXPECT_EQ(Condition("nb", "Restored").value("status", ""), "True") << resumed.dump(2);
  EXPECT_EQ(Reason("nb", "Restored"), "Restored");
  EXPECT_NE(Condition("nb", "Restored").value("message", "").find(snap_name), std::string::npos);
  EXPECT_FALSE(resumed.contains("restoring"));
  EXPECT_EQ(resumed["subnet"], Networks(uid)[0].subnet);
  EXPECT_TRUE(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(resumed["subnet"])).ok());
  EXPECT_GE(resumed["startedTime"].get<std::string>(), st["suspendedTime"].get<std::string>());
  EXPECT_TRUE(resumed.contains("frontEndAddress"));
  std::map<std::string, int> events;
  EXPECT_TRUE(Eventually([&] {
    events = EventReasons("nb");
    return events["Resumed"] >= 1 && events["Ready"] >= 2;
  }));
  EXPECT_EQ(events["Suspended"], 1);
  EXPECT_EQ(events["Resumed"], 1);
  EXPECT_EQ(events["Ready"], 2) << "Ready at the start and again after the resume";
}

// One suspend, one capture: the state is read once and the store holds one
// file, the one the Snapshot names.
TEST_F(SessionSuspendTest, ASuspendCapturesOnceAndStoresOneFile) {
  const std::string uid = StartSession(Session("alice", "nb"));
  ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "once"));
  docker_.ResetCalls();
  SuspendAndWait("nb");
  EXPECT_EQ(docker_.calls().get_archive, 1) << "the front end's /data is read once\n" << Describe(uid);
  const std::string digest = "sha256:" + Get("nb")->status["lastSnapshot"].value("sha256", "");
  EXPECT_EQ(StoreDigests(), std::set<std::string>{digest}) << "no file but the Snapshot's\n" << Describe(uid);
}

// Files written into the front end's /data come back byte for byte.
TEST_F(SessionSuspendTest, FilesInDataComeBackAfterSuspendAndResume) {
  const std::string uid = StartSession(Session("alice", "nb"));
  std::string notebook;
  for (int i = 0; i < 70000; ++i) notebook.push_back(static_cast<char>((i * 7919) % 256));  // NULs included
  const std::string front = FrontEnd(uid);
  ASSERT_NO_FATAL_FAILURE(WriteData(front, "notebook.ipynb", notebook));
  TarEntry dir, deep;
  dir.name = "sub";
  dir.type = TarEntry::Type::kDirectory;
  dir.mode = 0755;
  deep.name = "sub/deep.txt";
  deep.content = "deep\n";
  ASSERT_TRUE(docker_.PutArchive(front, "/data", *WriteTar({dir, deep})).ok());

  SuspendAndWait("nb");
  EXPECT_TRUE(Containers(uid).empty());
  ResumeAndWait("nb");
  const std::string front2 = FrontEnd(uid);
  ASSERT_FALSE(front2.empty());
  EXPECT_EQ(ReadFile(front2, "/data/notebook.ipynb"), notebook);
  EXPECT_EQ(ReadFile(front2, "/data/sub/deep.txt"), "deep\n");
  EXPECT_EQ(Reason("nb", "Restored"), "Restored");
}

// Idle=True (the route reconciler's, written here by hand) newer than the
// last Ready transition suspends the session; an older one does not.
TEST_F(SessionSuspendTest, IdleSuspendsOnlyWhenNewerThanReady) {
  Object o = Session("alice", "nb");
  o.spec["idleTimeoutSeconds"] = 60;
  StartSession(o);
  const auto ready_at = ParseRfc3339(Condition("nb", "Ready").value("lastTransitionTime", ""));
  ASSERT_TRUE(ready_at.has_value());
  auto set_idle = [&](TimePoint when) {
    ASSERT_TRUE(MutateWithRetry(
                    store_.get(), "VisiSession", "alice", "nb",
                    [&](Object* s) {
                      Json others = Json::array();
                      for (const Json& c : s->status["conditions"]) {
                        if (c.value("type", "") != "Idle") others.push_back(c);
                      }
                      s->status["conditions"] = std::move(others);
                      SetCondition(&s->status, {"Idle", "True", "NoTraffic", "no browser", s->metadata.generation},
                                   when);
                      return true;
                    },
                    /*status=*/true)
                    .ok());
  };
  auto suspend_requested = [&] { return Get("nb")->spec.value("suspend", false); };

  // Stale: from before the session became Ready.
  ASSERT_NO_FATAL_FAILURE(set_idle(*ready_at - std::chrono::seconds(60)));
  // A spec change, so that a pass is known to have run after it.
  ASSERT_TRUE(MutateWithRetry(store_.get(), "VisiSession", "alice", "nb", [](Object* s) {
                s->spec["startTimeoutSeconds"] = 301;
                return true;
              }).ok());
  ASSERT_TRUE(Eventually([&] {
    auto s = Get("nb");
    return s->status.value("observedGeneration", 0) == s->metadata.generation;
  }));
  EXPECT_FALSE(suspend_requested());
  EXPECT_EQ(Phase("nb"), "Running");
  EXPECT_EQ(EventReasons("nb")["IdleSuspended"], 0);

  ASSERT_NO_FATAL_FAILURE(set_idle(*ready_at + std::chrono::seconds(1)));
  ASSERT_TRUE(Eventually(suspend_requested)) << Dump("nb");
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Dump("nb");
  EXPECT_EQ(EventReasons("nb")["IdleSuspended"], 1);
  EXPECT_FALSE(LastSnapshot("nb").empty());
}

// A resume that stops after creating the containers and before restoring
// (here: the store cannot be read, then visid restarts) restores into the
// same created containers before they start, even when a start then fails.
TEST_F(SessionSuspendTest, AnInterruptedResumeRestoresBeforeItStarts) {
  const std::string uid = StartSession(Session("alice", "nb"));
  ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", "restored"));
  SuspendAndWait("nb");
  const std::string snap = LastSnapshot("nb");
  snapshot_store_.SetUnreadable(true);
  SetSuspend("nb", false);
  ASSERT_TRUE(Eventually([&] {
    auto cs = Containers(uid);
    return Get("nb")->status.value("restoring", "") == snap && cs.size() == 4 &&
           Reason("nb", "ContainersReady") == "SnapshotUnreadable";
  })) << Dump("nb");
  const std::string front = FrontEnd(uid);
  const std::string front_id = docker_.InspectContainer(front)->id;
  for (const auto& c : Containers(uid)) EXPECT_EQ(c.state, "created") << c.name;
  EXPECT_EQ(ReadFile(front, "/data/f.txt"), std::nullopt) << "nothing restored yet";
  EXPECT_NE(Phase("nb"), "Running");

  manager_->Stop();  // visid goes away ...
  snapshot_store_.SetUnreadable(false);
  docker_.FailNext("StartContainer", UnavailableError("daemon restarting"));
  StartVisid();  // ... and a new one takes over
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Dump("nb");
  EXPECT_EQ(docker_.InspectContainer(front)->id, front_id) << "restored into the containers it had created";
  EXPECT_EQ(ReadFile(front, "/data/f.txt"), "restored");
  EXPECT_EQ(Reason("nb", "Restored"), "Restored");
  EXPECT_FALSE(Get("nb")->status.contains("restoring"));
}

// A session past its start deadline is suspended: no deadline while
// suspended, and after the resume it is Ready once it answers.
TEST_F(SessionSuspendTest, NoStartDeadlineWhileSuspended) {
  prober_.frontend_up = false;
  Object o = Session("alice", "slow");
  o.spec["startTimeoutSeconds"] = 1;
  Apply(o);
  ASSERT_TRUE(Eventually([&] { return Reason("slow", "Ready") == "StartDeadlineExceeded"; }));
  SuspendAndWait("slow");
  EXPECT_FALSE(LastSnapshot("slow").empty()) << "captured although never Ready";
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past the 1 s timeout
  EXPECT_EQ(Phase("slow"), "Suspended");
  EXPECT_EQ(Reason("slow", "Ready"), "Suspended");
  prober_.frontend_up = true;
  ResumeAndWait("slow");
  EXPECT_EQ(Reason("slow", "Restored"), "Restored");
}

// Docker away while suspending: Suspending with the reason, nothing
// released; once it is back the suspend completes.
TEST_F(SessionSuspendTest, SuspendWaitsOutADaemonOutage) {
  const std::string uid = StartSession(Session("alice", "nb"));
  docker_.SetDown(true);
  SetSuspend("nb", true);
  // (A pass that began before the spec change may report the outage first.)
  ASSERT_TRUE(Eventually([&] {
    return Reason("nb", "ContainersReady") == "DockerUnavailable" && Reason("nb", "Suspended") == "Suspending";
  })) << Dump("nb");
  EXPECT_EQ(Phase("nb"), "Suspending");
  EXPECT_EQ(Claims(), 1u);
  EXPECT_TRUE(Snapshots(uid).empty());
  docker_.SetDown(false);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Dump("nb");
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_TRUE(Networks(uid).empty());
  EXPECT_EQ(Claims(), 0u);
  EXPECT_FALSE(LastSnapshot("nb").empty());
}

// Created suspended: nothing is made (no claim, network or snapshot) until
// it resumes, which has nothing to restore.
TEST_F(SessionSuspendTest, ASessionCreatedSuspendedStartsOnlyWhenResumed) {
  Object o = Session("alice", "nb");
  o.spec["suspend"] = true;
  ObjectPtr s = Apply(o);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Dump("nb");
  EXPECT_TRUE(Containers(s->metadata.uid).empty());
  EXPECT_TRUE(Networks(s->metadata.uid).empty());
  EXPECT_EQ(Claims(), 0u);
  EXPECT_EQ(Reason("nb", "NetworkReady"), "Suspended");
  EXPECT_TRUE(Snapshots(s->metadata.uid).empty());
  ResumeAndWait("nb");
  EXPECT_EQ(Running(s->metadata.uid), 4u);
  EXPECT_EQ(Reason("nb", "Suspended"), "Resumed");
  EXPECT_EQ(Reason("nb", "Restored"), "NoSnapshot");
}

// visid's cache of sessions lags the store (a loaded visid): a pass that
// starts from an object older than the controller's own last write must not
// write what it saw over that write. If it did, a resume's "restoring"
// outlived it, and the next suspend took no snapshot (the data written in
// between was lost). Every round's data comes back.
class SessionSuspendLaggingCacheTest : public SessionSuspendTest {
 protected:
  SessionSuspendLaggingCacheTest() { session_watch_delay_ = std::chrono::milliseconds(15); }
};

TEST_F(SessionSuspendLaggingCacheTest, EverySuspendCapturesWhatWasWrittenSinceTheResume) {
  const std::string uid = StartSession(Session("alice", "nb"));
  std::set<std::string> snapshots;
  for (int round = 1; round <= 4; ++round) {
    const std::string version = "version " + std::to_string(round);
    ASSERT_NO_FATAL_FAILURE(WriteData(FrontEnd(uid), "f.txt", version));
    SuspendAndWait("nb");
    const std::string snap = LastSnapshot("nb");
    EXPECT_TRUE(snapshots.insert(snap).second) << "round " << round << ": suspended without a new snapshot ("
                                               << snap << ")\n" << Dump("nb");
    ResumeAndWait("nb");
    EXPECT_EQ(ReadFile(FrontEnd(uid), "/data/f.txt"), version) << "round " << round << "\n" << Dump("nb");
    EXPECT_EQ(StatusString(Get("nb")->status, "restoring"), "") << "round " << round << ": Running yet restoring\n"
                                                                << Dump("nb");
  }
}

}  // namespace
}  // namespace visi::testing
