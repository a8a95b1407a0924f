// The FarmPool and FarmMachine reconcilers with the session reconciler's
// placement, on a real manager over the in-memory store, with one in-memory
// Docker twin per machine endpoint: the pool grows and shrinks, sessions
// are placed and wait for room, machines drain, go NotReady and come back.
// (The same against real, separate dockerds: test/e2e/farm_e2e_test.cc.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "controller/api/scheme.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/garbage_collector.h"
#include "controller/runtime/ownership.h"
#include "controller/store/memory/memory_store.h"
#include "reconcilers/farm/machine_reconciler.h"
#include "reconcilers/farm/pool_reconciler.h"
#include "reconcilers/session/session_reconciler.h"
#include "reconcilers/session/session_status.h"
#include "test/fakes/fake_container_runtime.h"
#include "test/fakes/memory_snapshot_store.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

constexpr char kLocal[] = "unix:///fake/local.sock";

class ReadyProber : public Prober {
 public:
  Status Tcp(const std::string&, int, std::chrono::milliseconds) override { return OkStatus(); }
  Status Http(const std::string&, int, const std::string&, std::chrono::milliseconds) override { return OkStatus(); }
};

class FarmReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Twin(kLocal);
    StartVisid();
  }
  // A (re)started visid: a new manager and reconcilers over the same store
  // and twins. REQUIRES: any earlier manager stopped.
  void StartVisid() {
    gc_.reset();
    machine_reconciler_.reset();
    pools_.reset();
    sessions_.reset();
    ManagerOptions mo;
    mo.leader_election = false;
    manager_ = std::make_unique<Manager>(store_.get(), mo);
    machines_ = manager_->InformerFor("FarmMachine");
    // A machine's Docker host: the twin of its endpoint.
    RuntimeForMachine runtime = [this](const std::string& machine) -> ContainerRuntime* {
      ObjectPtr m = machines_->Get("", machine);
      const std::string endpoint = m && m->spec.is_object() ? m->spec.value("endpoint", "") : "";
      return twins_.count(endpoint) ? twins_[endpoint].get() : twins_[kLocal].get();
    };
    SessionReconcilerOptions so;
    so.instance = "unit";
    so.resync = std::chrono::milliseconds(100);
    so.probe_interval = std::chrono::milliseconds(20);
    so.docker_retry = std::chrono::milliseconds(50);
    so.stop_grace = std::chrono::seconds(0);
    so.snapshots = &snapshot_store_;
    MachineReconcilerOptions mro;
    mro.heartbeat = std::chrono::milliseconds(50);
    mro.retry_min = std::chrono::milliseconds(20);
    mro.retry_max = std::chrono::milliseconds(200);
    sessions_ = std::make_unique<SessionReconciler>(manager_.get(), runtime, &prober_, so);
    pools_ = std::make_unique<PoolReconciler>(manager_.get(), PoolReconcilerOptions{kLocal});
    machine_reconciler_ = std::make_unique<MachineReconciler>(manager_.get(), runtime, mro);
    gc_ = std::make_unique<GarbageCollector>(manager_.get(), Scheme::Builtin());
    manager_->Start();
  }
  void TearDown() override { manager_->Stop(); }

  FakeContainerRuntime* Twin(const std::string& endpoint) {
    auto& t = twins_[endpoint];
    if (!t) {
      t = std::make_unique<FakeContainerRuntime>();
      t->AddImage("visi/frontend:latest");
      t->AddImage("visi/spark:latest");
    }
    return t.get();
  }

  // A local pool: `sessions` per machine, the idle pool's bounds.
  ObjectPtr ApplyPool(const std::string& name, int sessions, int min_idle, int max_idle, int max_machines,
                      int delay_seconds = 0) {
    Object p = Pool(name);
    p.spec = {{"provider", {{"type", "local"}}},
              {"machineCapacity", {{"sessions", sessions}}},
              {"idlePool", {{"minIdle", min_idle}, {"maxIdle", max_idle}}},
              {"maxMachines", max_machines},
              {"scaleDownDelaySeconds", delay_seconds},
              {"network", {{"subnetPool", "10.201.0.0/20"}}}};
    auto r = store_->Create(p);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }
  ObjectPtr ApplySession(const std::string& name, const std::string& pool) {
    Object s = Session("alice", name);
    s.spec["pool"] = pool;
    s.spec["spark"]["workers"] = 0;
    auto r = store_->Create(s);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }
  ObjectPtr Get(const std::string& kind, const std::string& ns, const std::string& name) {
    auto o = store_->Get(kind, ns, name);
    return o.ok() ? *o : nullptr;
  }
  ObjectPtr GetSession(const std::string& name) { return Get("VisiSession", "alice", name); }
  std::string SessionPhase(const std::string& name) {
    auto s = GetSession(name);
    return s ? StatusString(s->status, "phase") : "";
  }
  std::string MachineOf(const std::string& name) {
    auto s = GetSession(name);
    return s ? StatusString(s->status, "machine") : "";
  }
  std::vector<ObjectPtr> Machines() {
    ListOptions lo;
    lo.kind = "FarmMachine";
    auto l = store_->List(lo);
    return l.ok() ? l->items : std::vector<ObjectPtr>{};
  }
  // Machines in `phase` (any phase: "").
  int CountMachines(const std::string& phase = "") {
    int n = 0;
    for (const auto& m : Machines()) n += phase.empty() || StatusString(m->status, "phase") == phase;
    return n;
  }
  int PoolStatusInt(const std::string& pool, const char* field) {
    auto p = Get("FarmPool", "", pool);
    return p && p->status.is_object() ? p->status.value(field, -1) : -1;
  }
  std::string Reason(const ObjectPtr& o, const std::string& type) {
    const Json* c = o && o->status.is_object() ? FindCondition(o->status, type) : nullptr;
    return c ? c->value("reason", "") : "";
  }
  Status DeleteSession(const std::string& name) { return store_->Delete("VisiSession", "alice", name).status(); }
  std::string Dump() {
    std::string out;
    for (const auto& m : Machines()) out += m->metadata.name + ": " + m->status.dump() + "\n";
    return out;
  }

  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  std::map<std::string, std::unique_ptr<FakeContainerRuntime>> twins_;
  MemorySnapshotStore snapshot_store_;
  ReadyProber prober_;
  std::unique_ptr<Manager> manager_;
  Informer* machines_ = nullptr;
  std::unique_ptr<SessionReconciler> sessions_;
  std::unique_ptr<PoolReconciler> pools_;
  std::unique_ptr<MachineReconciler> machine_reconciler_;
  std::unique_ptr<GarbageCollector> gc_;
};

TEST_F(FarmReconcilerTest, ThePoolKeepsOneIdleMachineAsSessionsArriveWithoutOvershoot) {
  ApplyPool("farm", /*sessions=*/1, /*min_idle=*/1, /*max_idle=*/1, /*max_machines=*/5, /*delay=*/3600);
  ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == 1; })) << Dump();
  for (int i = 0; i < 3; ++i) {
    const std::string name = "nb" + std::to_string(i);
    ApplySession(name, "farm");
    ASSERT_TRUE(Eventually([&] { return SessionPhase(name) == "Running"; })) << GetSession(name)->status.dump(2);
    // One more machine each time, so one stays idle.
    ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == i + 2 && PoolStatusInt("farm", "idleMachines") == 1; }))
        << Dump();
  }
  // One session per machine: three machines in use, each named by one session.
  std::set<std::string> used = {MachineOf("nb0"), MachineOf("nb1"), MachineOf("nb2")};
  EXPECT_EQ(used.size(), 3u);
  EXPECT_EQ(used.count(""), 0u);
  // Settled: exactly 4 machines (3 in use + 1 idle), never more.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(CountMachines(), 4) << Dump();
  EXPECT_EQ(PoolStatusInt("farm", "inUseMachines"), 3);
  EXPECT_EQ(PoolStatusInt("farm", "machines"), 4);
  EXPECT_EQ(PoolStatusInt("farm", "sessions"), 3);
  EXPECT_EQ(Reason(Get("FarmPool", "", "farm"), "ScalingDecision"), "Steady");
  // The same in the metrics.
  ASSERT_TRUE(Eventually([&] {
    const std::string m = machine_reconciler_->RenderMetrics();
    return m.find("visi_farmpool_machines{pool=\"farm\",state=\"in_use\"} 3\n") != std::string::npos &&
           m.find("visi_farmpool_machines{pool=\"farm\",state=\"idle\"} 1\n") != std::string::npos;
  })) << machine_reconciler_->RenderMetrics();
  EXPECT_NE(machine_reconciler_->RenderMetrics().find("visi_farmpool_sessions{pool=\"farm\"} 3\n"), std::string::npos);
  // Each machine lists its session.
  for (const auto& m : Machines()) {
    const int count = m->status.value("sessionCount", -1);
    EXPECT_TRUE(count == 0 || count == 1) << m->status.dump();
  }
}

TEST_F(FarmReconcilerTest, ASessionWaitsPendingUntilRoomAppearsThenStarts) {
  ApplyPool("small", /*sessions=*/1, /*min_idle=*/0, /*max_idle=*/0, /*max_machines=*/1, /*delay=*/3600);
  ApplySession("a", "small");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("a") == "Running"; }));
  ApplySession("b", "small");
  ASSERT_TRUE(Eventually([&] { return Reason(GetSession("b"), "Scheduled") == "NoRoom"; }))
      << GetSession("b")->status.dump(2);
  EXPECT_EQ(SessionPhase("b"), "Pending");
  EXPECT_EQ(MachineOf("b"), "");
  const Json* c = FindCondition(GetSession("b")->status, "Scheduled");
  ASSERT_NE(c, nullptr);
  EXPECT_NE(c->value("message", "").find("full (sessions)"), std::string::npos) << c->dump();
  // The pool says it cannot grow.
  ASSERT_TRUE(Eventually([&] { return Reason(Get("FarmPool", "", "small"), "ScalingDecision") == "AtMaxMachines" ||
                                      PoolStatusInt("small", "machines") == 1; }));
  EXPECT_EQ(CountMachines(), 1);
  // Room appears: b starts on the machine a left.
  ASSERT_TRUE(DeleteSession("a").ok());
  ASSERT_TRUE(Eventually([&] { return SessionPhase("b") == "Running"; })) << GetSession("b")->status.dump(2);
  EXPECT_EQ(MachineOf("b"), "small-0");
}

TEST_F(FarmReconcilerTest, IdleMachinesAreRemovedAfterSessionsGoButBusyOnesNever) {
  ApplyPool("shrink", /*sessions=*/1, /*min_idle=*/2, /*max_idle=*/2, /*max_machines=*/3, /*delay=*/0);
  ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == 2; })) << Dump();
  ApplySession("busy", "shrink");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("busy") == "Running"; }));
  const std::string busy_machine = MachineOf("busy");
  // Back to no idle machine wanted: the idle ones go, the busy one stays.
  auto lower = MutateWithRetry(store_.get(), "FarmPool", "", "shrink", [](Object* o) {
    o->spec["idlePool"]["minIdle"] = 0;
    o->spec["idlePool"]["maxIdle"] = 0;
    return true;
  });
  ASSERT_TRUE(lower.ok());
  ASSERT_TRUE(Eventually([&] { return CountMachines() == 1; })) << Dump();
  EXPECT_EQ(Machines().front()->metadata.name, busy_machine);
  EXPECT_EQ(SessionPhase("busy"), "Running");
  ASSERT_TRUE(Eventually([&] { return Reason(Get("FarmPool", "", "shrink"), "ScalingDecision") == "Steady"; }));
  // The session goes: its machine is idle, then removed.
  ASSERT_TRUE(DeleteSession("busy").ok());
  ASSERT_TRUE(Eventually([&] { return CountMachines() == 0; })) << Dump();
  EXPECT_TRUE(Eventually([&] { return PoolStatusInt("shrink", "machines") == 0; }));
}

TEST_F(FarmReconcilerTest, ADeletedMachineDrainsUntilItsSessionLeaves) {
  ApplyPool("drain", /*sessions=*/2, /*min_idle=*/1, /*max_idle=*/1, /*max_machines=*/2, /*delay=*/3600);
  ApplySession("s", "drain");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("s") == "Running"; }));
  const std::string m = MachineOf("s");
  const std::string uid = Get("FarmMachine", "", m)->metadata.uid;
  ASSERT_TRUE(store_->Delete("FarmMachine", "", m).ok());
  ASSERT_TRUE(Eventually([&] {
    auto o = Get("FarmMachine", "", m);
    return o && StatusString(o->status, "phase") == "Draining";
  }));
  // It stays while the session is there, and takes no new session.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_NE(Get("FarmMachine", "", m), nullptr);
  ApplySession("t", "drain");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("t") == "Running"; }));
  EXPECT_NE(MachineOf("t"), m);
  ASSERT_TRUE(DeleteSession("s").ok());
  // Gone (the pool may make a new machine of that name for its idle target).
  ASSERT_TRUE(Eventually([&] {
    auto o = Get("FarmMachine", "", m);
    return o == nullptr || o->metadata.uid != uid;
  })) << Dump();
}

TEST_F(FarmReconcilerTest, AMachineThatStopsAnsweringIsNotReadyAndItsSessionsSaySo) {
  Object p = Pool("static");
  p.spec = {{"provider", {{"type", "static"}, {"static", {{"machines", {{{"name", "m1"}, {"endpoint", "unix:///fake/m1.sock"}},
                                                                       {{"name", "m2"}, {"endpoint", "unix:///fake/m2.sock"}}}}}}}},
            {"machineCapacity", {{"sessions", 1}}},
            {"network", {{"subnetPool", "10.202.0.0/20"}}}};
  FakeContainerRuntime* m1 = Twin("unix:///fake/m1.sock");
  FakeContainerRuntime* m2 = Twin("unix:///fake/m2.sock");
  ASSERT_TRUE(store_->Create(p).ok());
  ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == 2; })) << Dump();
  // The pool's status follows its machines' (written by another controller).
  EXPECT_TRUE(Eventually([&] { return Reason(Get("FarmPool", "", "static"), "ScalingDecision") == "StaticMachines"; }))
      << Get("FarmPool", "", "static")->status.dump(2);
  ApplySession("x", "static");
  ApplySession("y", "static");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("x") == "Running" && SessionPhase("y") == "Running"; }));
  // Really on two different Docker hosts.
  EXPECT_EQ(m1->ListContainers({}).value().size(), 2u);
  EXPECT_EQ(m2->ListContainers({}).value().size(), 2u);
  const std::string on_m1 = MachineOf("x") == "m1" ? "x" : "y";
  m1->SetDown(true);
  ASSERT_TRUE(Eventually([&] { return StatusString(Get("FarmMachine", "", "m1")->status, "phase") == "NotReady"; }));
  ASSERT_TRUE(Eventually([&] { return Reason(GetSession(on_m1), "ContainersReady") == "MachineNotReady"; }))
      << GetSession(on_m1)->status.dump(2);
  EXPECT_TRUE(Eventually([&] { return Get("FarmPool", "", "static")->status.value("phase", "") == "Degraded"; }));
  m1->SetDown(false);
  ASSERT_TRUE(Eventually([&] { return StatusString(Get("FarmMachine", "", "m1")->status, "phase") == "Ready"; }));
  ASSERT_TRUE(Eventually([&] { return SessionPhase(on_m1) == "Running"; }));
  // A machine taken off the list goes once its session does.
  auto shorter = MutateWithRetry(store_.get(), "FarmPool", "", "static", [](Object* o) {
    o->spec["provider"]["static"]["machines"].erase(1);
    return true;
  });
  ASSERT_TRUE(shorter.ok());
  const std::string on_m2 = on_m1 == "x" ? "y" : "x";
  ASSERT_TRUE(Eventually([&] { return StatusString(Get("FarmMachine", "", "m2")->status, "phase") == "Draining"; }));
  ASSERT_TRUE(DeleteSession(on_m2).ok());
  ASSERT_TRUE(Eventually([&] { return Get("FarmMachine", "", "m2") == nullptr; })) << Dump();
  EXPECT_NE(Get("FarmMachine", "", "m1"), nullptr);
}

TEST_F(FarmReconcilerTest, DeletingThePoolDeletesItsMachinesFirst) {
  ApplyPool("gone", /*sessions=*/1, /*min_idle=*/2, /*max_idle=*/2, /*max_machines=*/2);
  ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == 2; }));
  ASSERT_TRUE(store_->Delete("FarmPool", "", "gone").ok());
  ASSERT_TRUE(Eventually([&] { return Get("FarmPool", "", "gone") == nullptr; }));
  EXPECT_EQ(CountMachines(), 0) << Dump();
}

TEST_F(FarmReconcilerTest, WithoutAPoolObjectSessionsRunOnTheLocalHost) {
  ApplySession("solo", "no-such-pool");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("solo") == "Running"; }));
  EXPECT_EQ(MachineOf("solo"), "local");
  EXPECT_EQ(CountMachines(), 0);
}

// An exec pool whose programs are shell one-liners: `create` and `delete`
// are what /bin/sh -c runs.
Object ExecPool(const std::string& name, const std::string& create, const std::string& del) {
  Object p = Pool(name);
  p.spec = {{"provider",
             {{"type", "exec"},
              {"exec", {{"create", {"/bin/sh", "-c", create}}, {"delete", {"/bin/sh", "-c", del}}, {"timeoutSeconds", 5}}}}},
            {"machineCapacity", {{"sessions", 1}}},
            {"idlePool", {{"minIdle", 1}, {"maxIdle", 1}}},
            {"maxMachines", 1},
            {"network", {{"subnetPool", "10.203.0.0/20"}}}};
  return p;
}

TEST_F(FarmReconcilerTest, ExecCreateAndDeleteRunTheOperatorsPrograms) {
  const std::string marker = ::testing::TempDir() + "farm-exec-" + std::to_string(::getpid());
  std::remove(marker.c_str());
  ASSERT_TRUE(store_->Create(ExecPool("ex",
                                      R"(printf '{"endpoint":"unix:///fake/%s.sock","providerID":"id-%s"}' "$VISI_MACHINE" "$VISI_MACHINE")",
                                      "echo \"$VISI_MACHINE $VISI_PROVIDER_ID $VISI_ENDPOINT\" >> " + marker))
                  .ok());
  ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == 1; })) << Dump();
  ObjectPtr m = Get("FarmMachine", "", "ex-0");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->spec.value("endpoint", ""), "unix:///fake/ex-0.sock");
  EXPECT_EQ(m->spec.value("providerID", ""), "id-ex-0");
  ASSERT_TRUE(store_->Delete("FarmPool", "", "ex").ok());
  ASSERT_TRUE(Eventually([&] { return Get("FarmPool", "", "ex") == nullptr; })) << Dump();
  std::ifstream in(marker);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "ex-0 id-ex-0 unix:///fake/ex-0.sock");
  const std::string metrics = machine_reconciler_->RenderMetrics();
  EXPECT_NE(metrics.find("visi_farm_exec_runs_total{pool=\"ex\",program=\"create\",result=\"ok\"} 1\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("visi_farm_exec_runs_total{pool=\"ex\",program=\"delete\",result=\"ok\"} 1\n"),
            std::string::npos)
      << metrics;
  std::remove(marker.c_str());
}

TEST_F(FarmReconcilerTest, AFailingCreateIsRetriedWithBackoffAndBadOutputFailsTheMachine) {
  const std::string count = ::testing::TempDir() + "farm-count-" + std::to_string(::getpid());
  std::remove(count.c_str());
  // Fails twice (exit 3, a message on stderr), then works.
  ASSERT_TRUE(store_->Create(ExecPool("retry",
                                      "echo x >> " + count + "; [ $(wc -l < " + count +
                                          ") -gt 2 ] || { echo 'no capacity in zone' >&2; exit 3; }; "
                                          "echo '{\"endpoint\":\"unix:///fake/r.sock\"}'",
                                      "true"))
                  .ok());
  ASSERT_TRUE(Eventually([&] {
    auto o = Get("FarmMachine", "", "retry-0");
    return o && StatusString(o->status, "message").find("no capacity in zone") != std::string::npos;
  })) << Dump();
  EXPECT_EQ(StatusString(Get("FarmMachine", "", "retry-0")->status, "phase"), "Provisioning");
  ASSERT_TRUE(Eventually([&] { return CountMachines("Ready") == 1; })) << Dump();
  std::ifstream in(count);
  int runs = 0;
  for (std::string l; std::getline(in, l);) ++runs;
  EXPECT_EQ(runs, 3);
  EXPECT_NE(machine_reconciler_->RenderMetrics().find(
                "visi_farm_exec_runs_total{pool=\"retry\",program=\"create\",result=\"error\"} 2\n"),
            std::string::npos)
      << machine_reconciler_->RenderMetrics();
  std::remove(count.c_str());

  // Output that is not the contract's JSON: Failed, not retried (not even
  // by a pass whose cache does not show the Failed yet).
  const std::string bad_count = count + "-bad";
  std::remove(bad_count.c_str());
  ASSERT_TRUE(store_->Create(ExecPool("bad", "echo x >> " + bad_count + "; echo 'machine is ready!'", "true")).ok());
  ASSERT_TRUE(Eventually([&] {
    auto o = Get("FarmMachine", "", "bad-0");
    return o && StatusString(o->status, "phase") == "Failed";
  })) << Dump();
  ObjectPtr bad = Get("FarmMachine", "", "bad-0");
  EXPECT_EQ(Reason(bad, "Ready"), "CreateFailed");
  EXPECT_NE(StatusString(bad->status, "message").find("JSON"), std::string::npos) << bad->status.dump();
  ASSERT_TRUE(Eventually([&] { return Get("FarmPool", "", "bad")->status.value("phase", "") == "Degraded"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::ifstream bad_runs_in(bad_count);
  int bad_runs = 0;
  for (std::string l; std::getline(bad_runs_in, l);) ++bad_runs;
  EXPECT_EQ(bad_runs, 1) << "the create program of a machine that failed for good ran again";
  std::remove(bad_count.c_str());
}

TEST_F(FarmReconcilerTest, LeftoversOfASessionDeletedBehindVisidsBackAreRemovedFromItsMachine) {
  Object p = Pool("st");
  Json machine = {{"name", "far"}, {"endpoint", "unix:///fake/far.sock"}};
  Json provider = {{"type", "static"}, {"static", {{"machines", Json::array({machine})}}}};
  p.spec = {{"provider", provider}, {"network", {{"subnetPool", "10.204.0.0/20"}}}};
  FakeContainerRuntime* far = Twin("unix:///fake/far.sock");
  ASSERT_TRUE(store_->Create(p).ok());
  ApplySession("gone", "st");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("gone") == "Running"; }));
  ASSERT_EQ(MachineOf("gone"), "far");
  ASSERT_EQ(far->ListContainers({}).value().size(), 2u);
  // visid is down; the session is deleted with its finalizer stripped by hand.
  manager_->Stop();
  auto stripped = MutateWithRetry(store_.get(), "VisiSession", "alice", "gone", [](Object* o) {
    o->metadata.finalizers.clear();
    return true;
  });
  ASSERT_TRUE(stripped.ok());
  ASSERT_TRUE(DeleteSession("gone").ok());
  ASSERT_EQ(GetSession("gone"), nullptr);
  // A new session of the same name brings the leftovers to light: they go
  // from the machine the claim names.
  StartVisid();
  ApplySession("gone", "st");
  ASSERT_TRUE(Eventually([&] { return SessionPhase("gone") == "Running"; }));
  const std::string uid = GetSession("gone")->metadata.uid;
  // Only the new session's two containers are on the machine.
  EXPECT_TRUE(Eventually([&] { return far->ListContainers({}).value().size() == 2u; }));
  EXPECT_EQ(far->ListContainers({{"visi.dev/session-uid", uid}}).value().size(), 2u);
}

}  // namespace
}  // namespace visi::testing
