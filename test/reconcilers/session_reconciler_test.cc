// The session reconciler over the in-memory twin of Docker and a real
// manager on the in-memory store: lifecycle, drift, scaling, a daemon
// outage, bad specs, teardown, subnet uniqueness, suspend and resume. (The same flows against
// a real dockerd: test/e2e/session_docker_test.cc.)
#include "reconcilers/session/session_reconciler.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "controller/api/scheme.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/ownership.h"
#include "controller/store/memory/memory_store.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_status.h"
#include "reconcilers/session/subnet_allocator.h"
#include "test/fakes/fake_container_runtime.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

namespace L = session_labels;

// Every running container with an address answers.
class AlwaysReadyProber : public Prober {
 public:
  Status Tcp(const std::string&, int, std::chrono::milliseconds) override { return OkStatus(); }
  Status Http(const std::string&, int, const std::string&, std::chrono::milliseconds) override {
    return frontend_up ? OkStatus() : UnavailableError("connection refused");
  }
  std::atomic<bool> frontend_up{true};
};

class SessionReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    docker_.AddImage("visi/frontend:latest");
    docker_.AddImage("visi/spark:latest");
    SessionReconcilerOptions o;
    o.instance = "unit";
    o.resync = std::chrono::milliseconds(50);
    o.probe_interval = std::chrono::milliseconds(20);
    o.docker_retry = std::chrono::milliseconds(50);
    o.stop_grace = std::chrono::seconds(0);
    o.subnet_pool = "10.200.0.0/20";  // 16 subnets of /24
    ManagerOptions mo;
    mo.leader_election = false;
    manager_ = std::make_unique<Manager>(store_.get(), mo);
    reconciler_ = std::make_unique<SessionReconciler>(
        manager_.get(), [this](const std::string&) { return &docker_; }, &prober_, o);
    manager_->Start();
  }
  void TearDown() override { manager_->Stop(); }

  ObjectPtr Get(const std::string& name) {
    auto o = store_->Get("VisiSession", "alice", name);
    return o.ok() ? *o : nullptr;
  }
  bool Ready(const std::string& name) {
    auto o = Get(name);
    return o && StatusString(o->status, "phase") == "Running";
  }
  std::string Reason(const std::string& name, const std::string& type) {
    auto o = Get(name);
    const Json* c = o && o->status.is_object() ? FindCondition(o->status, type) : nullptr;
    return c ? c->value("reason", "") : "";
  }
  std::vector<ContainerInfo> Containers(const std::string& uid) {
    return *docker_.ListContainers({{L::kSessionUid, uid}});
  }
  size_t Running(const std::string& uid) {
    size_t n = 0;
    for (const auto& c : Containers(uid)) n += c.running();
    return n;
  }
  std::string Phase(const std::string& name) {
    auto o = Get(name);
    return o ? StatusString(o->status, "phase") : "";
  }
  void SetSuspend(const std::string& name, bool suspend) {
    ASSERT_TRUE(MutateWithRetry(store_.get(), "VisiSession", "alice", name, [&](Object* o) {
                  o->spec["suspend"] = suspend;
                  return true;
                }).ok());
  }
  std::vector<NetworkInfo> Networks(const std::string& uid) {
    return *docker_.ListNetworks({{L::kSessionUid, uid}});
  }
  // How often each reason was recorded in Events about session `name`
  // (repeats aggregate into one Event with a count).
  std::map<std::string, int> EventReasons(const std::string& name) {
    std::map<std::string, int> out;
    ListOptions lo;
    lo.kind = "Event";
    lo.namespace_ = "alice";
    auto events = store_->List(lo);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    if (!events.ok()) return out;
    for (const auto& e : events->items) {
      if (e->spec.is_object() && e->spec.value("involvedObject", Json::object()).value("name", "") == name) {
        out[e->spec.value("reason", "")] += e->spec.value("count", 1);
      }
    }
    return out;
  }
  ObjectPtr Apply(const Object& o) {
    auto r = store_->Create(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }

  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  FakeContainerRuntime docker_;
  AlwaysReadyProber prober_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<SessionReconciler> reconciler_;
};

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
  manager_ = std::make_unique<Manager>(store_.get(), ManagerOptions{.leader_election = false});
  SessionReconcilerOptions o;
  o.instance = "unit";
  o.stop_grace = std::chrono::seconds(0);
  reconciler_ = std::make_unique<SessionReconciler>(
      manager_.get(), [this](const std::string&) { return &docker_; }, &prober_, o);
  manager_->Start();
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

// spec.suspend: the containers go (with the stop grace), the network and
// the subnet claim stay; false again starts the same session on the same
// network and subnet.
TEST_F(SessionReconcilerTest, SuspendRemovesTheContainersAndResumeStartsThemOnTheSameSubnet) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  const std::string uid = s->metadata.uid;
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
  const std::string subnet = Get("nb")->status["subnet"];
  const std::string started = Get("nb")->status["startedTime"];
  ASSERT_EQ(Networks(uid).size(), 1u);
  const std::string network_id = Networks(uid)[0].id;
  docker_.ResetCalls();

  SetSuspend("nb", true);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Get("nb")->status.dump(2);
  EXPECT_TRUE(Containers(uid).empty());
  ASSERT_EQ(Networks(uid).size(), 1u) << "the network is kept";
  EXPECT_EQ(Networks(uid)[0].id, network_id);
  EXPECT_TRUE(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).ok()) << "the claim is kept";
  EXPECT_EQ(docker_.calls().remove_container, 4);
  EXPECT_EQ(docker_.calls().remove_network, 0);
  EXPECT_EQ(docker_.calls().create_network, 0);
  ObjectPtr got = Get("nb");
  const Json& st = got->status;
  EXPECT_EQ(Reason("nb", "Suspended"), "SuspendRequested");
  EXPECT_TRUE(StatusIsSuspended(st));
  EXPECT_EQ(Reason("nb", "Ready"), "Suspended");
  EXPECT_EQ(Reason("nb", "ContainersReady"), "Suspended");
  EXPECT_FALSE(StatusIsReady(st));
  EXPECT_TRUE(st.contains("suspendedTime"));
  EXPECT_EQ(st["components"], Json::array());
  EXPECT_FALSE(st.contains("frontEndAddress"));
  EXPECT_FALSE(st.contains("sparkMasterAddress"));
  EXPECT_EQ(st["subnet"], subnet);
  EXPECT_EQ(st["observedGeneration"], got->metadata.generation);
  // It stays suspended: later passes (every resync, 50 ms here) start nothing.
  const int creates = docker_.calls().create_container;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(docker_.calls().create_container, creates);
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_EQ(Phase("nb"), "Suspended");
  EXPECT_EQ(Get("nb")->status["suspendedTime"], st["suspendedTime"]);

  SetSuspend("nb", false);
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Get("nb")->status.dump(2);
  EXPECT_EQ(Running(uid), 4u);
  ASSERT_EQ(Networks(uid).size(), 1u);
  EXPECT_EQ(Networks(uid)[0].id, network_id) << "the same network";
  EXPECT_EQ(Get("nb")->status["subnet"], subnet);
  EXPECT_EQ(Reason("nb", "Suspended"), "Resumed");
  const Json& resumed = Get("nb")->status;
  EXPECT_GE(resumed["startedTime"].get<std::string>(), st["suspendedTime"].get<std::string>())
      << "startedTime is the resume";
  EXPECT_GE(resumed["startedTime"].get<std::string>(), started);
  EXPECT_EQ(resumed["suspendedTime"], st["suspendedTime"]);
  EXPECT_TRUE(resumed.contains("frontEndAddress"));
  ListOptions lo;
  lo.kind = "SubnetClaim";
  EXPECT_EQ(store_->List(lo)->items.size(), 1u);
  // Events are recorded right after the status that shows the transition.
  std::map<std::string, int> events;
  EXPECT_TRUE(Eventually([&] {
    events = EventReasons("nb");
    return events["Resumed"] >= 1 && events["Ready"] >= 2;
  }));
  EXPECT_EQ(events["Suspended"], 1);
  EXPECT_EQ(events["Resumed"], 1);
  EXPECT_EQ(events["Ready"], 2) << "Ready at the start and again after the resume";
}

TEST_F(SessionReconcilerTest, ASuspendedSessionIsTornDownOnDelete) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  const std::string uid = s->metadata.uid;
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
  const std::string subnet = Get("nb")->status["subnet"];
  SetSuspend("nb", true);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; }));
  ASSERT_EQ(Networks(uid).size(), 1u);
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  ASSERT_TRUE(Eventually([&] { return Get("nb") == nullptr; }));
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_TRUE(Networks(uid).empty());
  EXPECT_EQ(store_->Get("SubnetClaim", "", SubnetAllocator::ClaimName(subnet)).status().code(), Code::kNotFound);
}

// Created suspended: nothing is made (no claim, no network) until it resumes.
TEST_F(SessionReconcilerTest, ASessionCreatedSuspendedStartsOnlyWhenResumed) {
  Object o = Session("alice", "nb");
  o.spec["suspend"] = true;
  ObjectPtr s = Apply(o);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Get("nb")->status.dump(2);
  EXPECT_TRUE(Containers(s->metadata.uid).empty());
  EXPECT_TRUE(Networks(s->metadata.uid).empty());
  ListOptions lo;
  lo.kind = "SubnetClaim";
  EXPECT_TRUE(store_->List(lo)->items.empty());
  EXPECT_EQ(Reason("nb", "NetworkReady"), "Suspended");
  SetSuspend("nb", false);
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); })) << Get("nb")->status.dump(2);
  EXPECT_EQ(Running(s->metadata.uid), 4u);
  EXPECT_EQ(Reason("nb", "Suspended"), "Resumed");
}

// A session past its start deadline is suspended: no deadline while
// suspended, and after the resume it is Ready once it answers.
TEST_F(SessionReconcilerTest, NoStartDeadlineWhileSuspended) {
  prober_.frontend_up = false;
  Object o = Session("alice", "slow");
  o.spec["startTimeoutSeconds"] = 1;
  Apply(o);
  ASSERT_TRUE(Eventually([&] { return Reason("slow", "Ready") == "StartDeadlineExceeded"; }));
  SetSuspend("slow", true);
  ASSERT_TRUE(Eventually([&] { return Phase("slow") == "Suspended"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // past the 1 s timeout
  EXPECT_EQ(Phase("slow"), "Suspended");
  EXPECT_EQ(Reason("slow", "Ready"), "Suspended");
  prober_.frontend_up = true;
  SetSuspend("slow", false);
  ASSERT_TRUE(Eventually([&] { return Ready("slow"); })) << Get("slow")->status.dump(2);
}

// Docker away while suspending: Suspending with the reason; once it is back
// the containers go and the session is Suspended.
TEST_F(SessionReconcilerTest, SuspendWaitsOutADaemonOutage) {
  ObjectPtr s = Apply(Session("alice", "nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }));
  docker_.SetDown(true);
  SetSuspend("nb", true);
  ASSERT_TRUE(Eventually([&] { return Reason("nb", "ContainersReady") == "DockerUnavailable"; }))
      << Get("nb")->status.dump(2);
  EXPECT_EQ(Phase("nb"), "Suspending");
  EXPECT_EQ(Reason("nb", "Suspended"), "Suspending");
  docker_.SetDown(false);
  ASSERT_TRUE(Eventually([&] { return Phase("nb") == "Suspended"; })) << Get("nb")->status.dump(2);
  EXPECT_TRUE(Containers(s->metadata.uid).empty());
  EXPECT_EQ(Networks(s->metadata.uid).size(), 1u);
}

}  // namespace
}  // namespace visi::testing
