// The session reconciler over the in-memory twin of Docker and a real
// manager on the in-memory store (session_fixture.h): lifecycle, drift,
// scaling, a daemon outage, bad specs, teardown, subnet uniqueness. Suspend
// and resume: session_suspend_test.cc. (The same flows against a real
// dockerd: test/e2e/session_docker_test.cc.)
#include "reconcilers/session/session_reconciler.h"

#include <gtest/gtest.h>

#include <set>

#include "reconcilers/session/subnet_allocator.h"
#include "test/reconcilers/session_fixture.h"

namespace visi::testing {
namespace {

namespace L = session_labels;

class SessionReconcilerTest : public SessionFixture {};

TEST_F(SessionReconcilerTest, LifecycleFromApplyToReadyToDeleted) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Get("nb")->status.dump(2);
  ObjectPtr got = Get("nb");
  EXPECT_TRUE(HasFinalizer(*got, SessionReconciler::kFinalizer));
  const Json& st = got->status;
  EXPECT_EQ(st["machine"], "local");
  EXPECT_EQ(st["readyWorkers"], 2);
  EXPECT_EQ(st["components"].size(), 4u);
  EXPECT_EQ(Reason("nb", "Ready"), "Ready");
  EXPECT_EQ(Reason("nb", "NetworkReady"), "NetworkCreated");
  EXPECT_EQ(st["observedGeneration"], got->metadata.generation);
  const std::string subnet = st["subnet"];
  EXPECT_EQ(subnet.rfind("10.200.", 0), 0u) << subnet;
  EXPECT_TRUE(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).ok());
  EXPECT_EQ(Running(s->metadata.uid), 4u);
  auto nets = *docker_.ListNetworks({{L::kSessionUid, s->metadata.uid}});
  ASSERT_EQ(nets.size(), 1u);
  EXPECT_EQ(nets[0].subnet, subnet);
  // Containers are unprivileged and limited.
  for (const auto& c : Containers(s->metadata.uid)) {
    auto spec = docker_.SpecOf(c.id);
    ASSERT_TRUE(spec.ok());
    EXPECT_EQ(spec->user, "65534:65534");
    EXPECT_GT(spec->memory_bytes, 0);
    EXPECT_GT(spec->nano_cpus, 0);
    EXPECT_GT(spec->pids_limit, 0);
  }

  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  ASSERT_TRUE(Eventually([&] { return Get("nb") == nullptr; }));
  EXPECT_TRUE(Containers(s->metadata.uid).empty());
  EXPECT_TRUE(docker_.ListNetworks({{L::kSessionUid, s->metadata.uid}})->empty());
  EXPECT_EQ(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).status().code(), Code::kNotFound);
}

TEST_F(SessionReconcilerTest, LeftoversOfASessionDeletedBehindItsBackAreRemoved) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
  const std::string subnet = Get("nb")->status["subnet"];
  // Someone strips the finalizer and deletes: the reconciler never sees a
  // deletion timestamp, only a claim whose session is gone.
  manager_->Stop();
  ASSERT_TRUE(MutateWithRetry(store_.get(), "VisiSession", "alice", "nb", [](Object* o) {
                o->metadata.finalizers.clear();
                return true;
              }).ok());
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  ASSERT_EQ(Get("nb"), nullptr);
  // A fresh manager (a restarted visid) cleans up.
  StartVisid();
  ASSERT_TRUE(Eventually([&] { return Containers(s->metadata.uid).empty(); }));
  ASSERT_TRUE(Eventually([&] {
    return store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).status().code() == Code::kNotFound;
  }));
  EXPECT_TRUE(docker_.ListNetworks({{L::kSessionUid, s->metadata.uid}})->empty());
}

TEST_F(SessionReconcilerTest, DriftIsRepairedAndWorkersScale) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
  const std::string uid = s->metadata.uid;
  auto cs = Containers(uid);
  std::string worker, frontend;
  for (const auto& c : cs) {
    if (c.labels.at(L::kComponent) == "worker") worker = c.name;
    if (c.labels.at(L::kComponent) == "frontend") frontend = c.name;
  }
  ASSERT_TRUE(docker_.ExitContainer(worker, 137).ok());           // killed by hand
  ASSERT_TRUE(docker_.RemoveContainer(frontend, std::chrono::seconds(0)).ok());  // removed by hand
  ASSERT_TRUE(Eventually([&] { return Running(uid) == 4; }));

  for (int workers : {3, 1}) {
    ASSERT_TRUE(MutateWithRetry(store_.get(), "VisiSession", "alice", "nb", [&](Object* o) {
                  o->spec["spark"]["workers"] = workers;
                  return true;
                }).ok());
    ASSERT_TRUE(Eventually([&] {
      auto o = Get("nb");
      return Running(uid) == size_t(workers) + 2 && Containers(uid).size() == size_t(workers) + 2 && Ready("nb") &&
             o->status["observedGeneration"] == o->metadata.generation;
    })) << workers;
  }
  // A new image is rolled out: every worker is replaced.
  ASSERT_TRUE(MutateWithRetry(store_.get(), "VisiSession", "alice", "nb", [&](Object* o) {
                o->spec["spark"]["workerImage"] = "visi/spark:2";
                return true;
              }).ok());
  ASSERT_TRUE(Eventually([&] { return Reason("nb", "ContainersReady") == "ImageMissing"; }));
  EXPECT_NE(Get("nb")->status["message"].get<std::string>().find("visi/spark:2"), std::string::npos);
  docker_.AddImage("visi/spark:2");
  ASSERT_TRUE(Eventually([&] {
    for (const auto& c : Containers(uid)) {
      if (c.labels.at(L::kComponent) == "worker" && c.image != "visi/spark:2") return false;
    }
    return Ready("nb");
  }));
}

TEST_F(SessionReconcilerTest, ACrashingContainerIsRestartedWithBackoff) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
  std::string worker;
  for (const auto& c : Containers(s->metadata.uid)) {
    if (c.labels.at(L::kComponent) == "worker") worker = c.name;
  }
  docker_.ResetCalls();
  // The worker dies as soon as it is started, for 2.5 s of real time.
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(2500);
  while (std::chrono::steady_clock::now() < end) {
    auto c = docker_.InspectContainer(worker);
    if (c.ok() && c->running()) (void)docker_.ExitContainer(worker, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // 1 s, then 2 s of backoff: at most 3 starts (not one per reconcile).
  EXPECT_GE(docker_.calls().start_container, 1);
  EXPECT_LE(docker_.calls().start_container, 3);
  EXPECT_FALSE(Ready("nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << "once it stays up, the session is Ready again";
}

TEST_F(SessionReconcilerTest, ASubnetTakenOnTheHostAfterTheClaimIsGivenBack) {
  // Someone else's network appears on the claimed subnet between the claim
  // and the network's creation: simulated by failing the first create.
  docker_.FailNext("CreateNetwork", Status(Code::kConflict, "Pool overlaps with other one on this address space"));
  Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Get("nb")->status.dump();
  ListOptions lo;
  lo.kind = "SubnetClaim";
  EXPECT_EQ(store_->List(lo)->items.size(), 1u) << "the first claim was given back";
}

TEST_F(SessionReconcilerTest, DaemonOutageIsReportedAndRecovers) {
  docker_.SetDown(true);
  Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Reason("nb", "ContainersReady") == "DockerUnavailable"; }));
  EXPECT_NE(Get("nb")->status["message"].get<std::string>().find("unavailable"), std::string::npos);
  docker_.SetDown(false);
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
}

TEST_F(SessionReconcilerTest, BadSpecsEndInClearConditions) {
  Object bad_mem = Session("alice", "mem");
  bad_mem.spec["spark"]["resources"] = {{"memory", "lots"}};
  // The schema refuses it before the reconciler sees it.
  EXPECT_EQ(store_->Create(bad_mem).status().code(), Code::kInvalid);

  Object dup = Session("alice", "dup");
  dup.spec["env"] = {{{"name", "A"}}, {{"name", "A"}}};
  Apply(dup);
  ASSERT_TRUE(Eventually([&] { return Reason("dup", "Ready") == "InvalidSpec"; }));
  EXPECT_NE(Get("dup")->status["message"].get<std::string>().find("spec.env[1].name"), std::string::npos);

  Object no_image = Session("alice", "noimg");
  no_image.spec["frontEnd"] = {{"image", "example.com/nowhere:1"}};
  Apply(no_image);
  ASSERT_TRUE(Eventually([&] { return Reason("noimg", "Ready") == "ImageMissing"; }));
  EXPECT_EQ(Get("noimg")->status["phase"], "Pending");

  prober_.frontend_up = false;
  Object slow = Session("alice", "slow");
  slow.spec["startTimeoutSeconds"] = 1;
  Apply(slow);
  ASSERT_TRUE(Eventually([&] { return Reason("slow", "Ready") == "StartDeadlineExceeded"; }));
  EXPECT_EQ(Get("slow")->status["phase"], "Failed");
  EXPECT_NE(Get("slow")->status["message"].get<std::string>().find("frontend"), std::string::npos);
  prober_.frontend_up = true;
  ASSERT_TRUE(Eventually([&] { return Ready("slow"); })) << "it keeps trying past the deadline";
}

TEST_F(SessionReconcilerTest, SubnetsAreUniqueAndRunOut) {
  // 16 subnets in the pool; 18 sessions applied at once.
  for (int i = 0; i < 18; ++i) {
    Object o = Session("alice", "s" + std::to_string(i));
    o.spec["spark"]["workers"] = 0;
    Apply(o);
  }
  ASSERT_TRUE(Eventually([&] {
    int ready = 0, exhausted = 0;
    for (int i = 0; i < 18; ++i) {
      ready += Ready("s" + std::to_string(i));
      exhausted += Reason("s" + std::to_string(i), "NetworkReady") == "SubnetsExhausted";
    }
    return ready == 16 && exhausted == 2;
  }, std::chrono::seconds(20)));
  std::set<std::string> subnets;
  for (int i = 0; i < 18; ++i) {
    auto o = Get("s" + std::to_string(i));
    if (o->status.contains("subnet")) {
      EXPECT_TRUE(subnets.insert(o->status["subnet"]).second);
    }
  }
  EXPECT_EQ(subnets.size(), 16u);
  // Deleting a running one frees its subnet for one of the two waiting.
  std::string victim;
  for (int i = 0; i < 18 && victim.empty(); ++i) {
    if (Ready("s" + std::to_string(i))) victim = "s" + std::to_string(i);
  }
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", victim, {}).ok());
  ASSERT_TRUE(Eventually([&] {
    int ready = 0, exhausted = 0;
    for (int i = 0; i < 18; ++i) {
      const std::string n = "s" + std::to_string(i);
      if (n == victim) continue;
      ready += Ready(n);
      exhausted += Reason(n, "NetworkReady") == "SubnetsExhausted";
    }
    return ready == 16 && exhausted == 1 && Get(victim) == nullptr;
  }, std::chrono::seconds(20)));
}

}  // namespace
}  // namespace visi::testing
