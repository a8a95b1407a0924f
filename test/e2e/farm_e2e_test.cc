// The farm end to end: a real visid whose FarmPool's exec provider is
// hack/farm-machine.sh, which starts a real, separate dockerd on this host
// per machine (its own socket, data root and exec root). Sessions land on
// different daemons, the pool grows as they arrive and shrinks after they
// are deleted, and deleting the pool stops every daemon it started.
// TearDown stops whatever a failed test left (farm-machine.sh delete-all).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "controller/drivers/docker/docker_client.h"
#include "test/e2e/main_docker.h"
#include "test/e2e/suspend_e2e_util.h"
#include "test/e2e/visid_process.h"

namespace visi::testing {
namespace {

const std::string kScript = std::string(VISI_SOURCE_DIR) + "/hack/farm-machine.sh";
constexpr auto kFarmWithin = std::chrono::seconds(180);

class FarmE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(::geteuid(), 0u) << "the farm end-to-end test starts Docker daemons: it must run as root";
    const unsigned r = std::random_device()();
    instance_ = "e2e-farm-" + std::to_string(r % 1000000);
    pool_name_ = "farm-" + std::to_string(r % 1000000);
    subnets_ = "10." + std::to_string(208 + r % 8) + "." + std::to_string((r / 8 % 16) * 16) + ".0/20";
    farm_dir_ = visid_.dir() + "/farm";
    ConnectMainDocker(&main_docker_);
    if (HasFatalFailure()) return;
    visid_.SetEnv("VISI_FARM_DIR", farm_dir_);
    ASSERT_TRUE(StartVisid()) << Log();
  }
  void TearDown() override {
    visid_.Stop();
    auto [rc, out] = RunCommand("VISI_FARM_DIR=" + ShellQuote(farm_dir_) + " " + ShellQuote(kScript) +
                                " delete-all 2>&1");
    EXPECT_EQ(rc, 0) << out;
    if (auto cs = main_docker_->ListContainers({{"visi.dev/instance", instance_}}); cs.ok()) {
      for (const auto& c : *cs) (void)main_docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
  }
  // visid with the session and farm controllers, a fast heartbeat, this run's instance.
  bool StartVisid() {
    if (!visid_.Start({"--controllers", "*,-visiroute", "--instance", instance_, "--session-resync", "500ms",
                       "--machine-heartbeat", "500ms", "--docker-host", "unix:///var/run/docker.sock"})) {
      return false;
    }
    admin_ = std::make_unique<ApiClient>(visid_.AdminConfig());
    return true;
  }
  // An exec pool of hack/farm-machine.sh machines; `spec` adds to (or overrides) its spec.
  Json ExecPool(const Json& spec) {
    Json pool = {{"apiVersion", "visi.dev/v1alpha1"},
                 {"kind", "FarmPool"},
                 {"metadata", {{"name", pool_name_}}},
                 {"spec",
                  {{"provider",
                    {{"type", "exec"}, {"exec", {{"create", {kScript, "create"}}, {"delete", {kScript, "delete"}}}}}},
                   {"network", {{"subnetPool", subnets_}}}}}};
    pool["spec"].merge_patch(spec);
    return pool;
  }
  std::string Log() {
    std::ifstream in(visid_.log_path());
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  Json GetJson(const std::string& path) {
    auto r = admin_->Request("GET", path);
    auto j = r.code == 200 ? ParseJson(r.body) : StatusOr<Json>(Json::object());
    return j.ok() && j->is_object() ? *j : Json::object();
  }
  Json Pool() { return GetJson(kApi + "/farmpools/" + pool_name_); }
  int PoolCount(const char* field) { return Field(Pool(), "status").value(field, -1); }
  std::vector<Json> Machines() {
    std::vector<Json> out;
    for (const auto& m : GetJson(kApi + "/farmmachines").value("items", Json::array())) {
      if (Field(m, "spec").value("pool", "") == pool_name_) out.push_back(m);
    }
    return out;
  }
  Json Session(const std::string& name) { return GetJson(kSessions + "/" + name); }
  void CreateSession(const std::string& name) {
    Json j = {{"apiVersion", "visi.dev/v1alpha1"},
              {"kind", "VisiSession"},
              {"metadata", {{"name", name}, {"namespace", "alice"}}},
              {"spec", {{"user", "alice"}, {"pool", pool_name_}, {"spark", {{"workers", 1}}}}}};
    auto r = admin_->Request("POST", kSessions, j.dump());
    ASSERT_EQ(r.code, 201) << r.body;
  }
  // Watches the pool while `done` is polled: the most machines it ever had.
  bool PollCountingMachines(const std::function<bool()>& done, int* most) {
    return Poll(
        [&] {
          *most = std::max(*most, static_cast<int>(Machines().size()));
          return done();
        },
        kFarmWithin);
  }
  std::string Dump() {
    std::string out = "pool: " + Field(Pool(), "status").dump() + "\n";
    for (const auto& m : Machines()) {
      out += Field(m, "metadata").value("name", "") + ": " + Field(m, "spec").dump() + " " + Field(m, "status").dump() +
             "\n";
    }
    return out + "visid log tail: " + Log().substr(Log().size() > 3000 ? Log().size() - 3000 : 0);
  }

  VisidProcess visid_;
  std::unique_ptr<ApiClient> admin_;
  std::unique_ptr<ContainerRuntime> main_docker_;
  std::string instance_, pool_name_, subnets_, farm_dir_;
};

TEST_F(FarmE2eTest, SessionsSpreadOverRealDaemonsAndThePoolGrowsAndShrinks) {
  // One session per machine, one machine kept idle, at most four.
  const Json pool = ExecPool({{"machineCapacity", {{"sessions", 1}}},
                              {"idlePool", {{"minIdle", 1}, {"maxIdle", 1}}},
                              {"maxMachines", 4},
                              {"scaleDownDelaySeconds", 0}});
  auto r = admin_->Request("POST", kApi + "/farmpools", pool.dump());
  ASSERT_EQ(r.code, 201) << r.body;
  ASSERT_TRUE(Poll([&] { return PoolCount("idleMachines") == 1; }, kFarmWithin)) << Dump();

  int most = 0;
  for (const char* name : {"s1", "s2", "s3"}) CreateSession(name);
  ASSERT_TRUE(PollCountingMachines(
      [&] {
        for (const char* name : {"s1", "s2", "s3"}) {
          if (Field(Session(name), "status").value("phase", "") != "Running") return false;
        }
        return PoolCount("idleMachines") == 1 && PoolCount("inUseMachines") == 3;
      },
      &most))
      << Dump();
  EXPECT_LE(most, 4) << "never more than maxMachines";
  EXPECT_EQ(PoolCount("machines"), 4) << Dump();
  // And in visid's /metrics.
  const std::string metrics = admin_->Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("visi_farmpool_machines{pool=\"" + pool_name_ + "\",state=\"in_use\"} 3\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("visi_farm_exec_runs_total{pool=\"" + pool_name_ + "\",program=\"create\",result=\"ok\"} 4\n"),
            std::string::npos)
      << metrics;

  // Three machines, three daemons: each session's containers are on the
  // daemon of its machine, and none on the main one.
  std::set<std::string> machines, endpoints;
  for (const char* name : {"s1", "s2", "s3"}) {
    const Json s = Session(name);
    const std::string machine = Field(s, "status").value("machine", "");
    const std::string uid = Field(s, "metadata").value("uid", "");
    machines.insert(machine);
    const Json m = GetJson(kApi + "/farmmachines/" + machine);
    const std::string endpoint = Field(m, "spec").value("endpoint", "");
    endpoints.insert(endpoint);
    DockerClientOptions o;
    o.endpoint = endpoint;
    auto docker = DockerClient::Create(o);
    ASSERT_TRUE(docker.ok()) << endpoint << ": " << docker.status().ToString();
    auto there = (*docker)->ListContainers({{"visi.dev/session-uid", uid}});
    ASSERT_TRUE(there.ok()) << there.status().ToString();
    EXPECT_EQ(there->size(), 3u) << name << " on " << endpoint;  // front end, master, one worker
    auto here = main_docker_->ListContainers({{"visi.dev/session-uid", uid}});
    ASSERT_TRUE(here.ok());
    EXPECT_TRUE(here->empty()) << name << " has containers on the main daemon";
  }
  EXPECT_EQ(machines.size(), 3u);
  EXPECT_EQ(endpoints.size(), 3u);
  EXPECT_EQ(endpoints.count("unix:///var/run/docker.sock"), 0u);

  // The sessions go: the pool shrinks back to its one idle machine, and the
  // daemons of the machines it removed are stopped.
  for (const char* name : {"s1", "s2", "s3"}) {
    EXPECT_EQ(admin_->Request("DELETE", kSessions + "/" + name).code, 200);
  }
  ASSERT_TRUE(Poll([&] { return Machines().size() == 1 && PoolCount("machines") == 1; }, kFarmWithin)) << Dump();
  for (const std::string& endpoint : endpoints) {
    const bool kept = Field(Machines().front(), "spec").value("endpoint", "") == endpoint;
    DockerClientOptions o;
    o.endpoint = endpoint;
    o.request_timeout = std::chrono::seconds(2);
    auto docker = DockerClient::Create(o);
    ASSERT_TRUE(docker.ok());
    EXPECT_EQ((*docker)->Ping().ok(), kept) << endpoint;
  }

  // The pool goes: so does its last machine and its daemon.
  EXPECT_EQ(admin_->Request("DELETE", kApi + "/farmpools/" + pool_name_).code, 200);
  ASSERT_TRUE(Poll([&] { return GetJson(kApi + "/farmpools/" + pool_name_).empty(); }, kFarmWithin)) << Dump();
  EXPECT_TRUE(Machines().empty());
  auto [rc, listed] = RunCommand("VISI_FARM_DIR=" + ShellQuote(farm_dir_) + " " + ShellQuote(kScript) + " list 2>&1");
  EXPECT_EQ(rc, 0) << listed;
  EXPECT_EQ(listed.find("answers"), std::string::npos) << "a daemon is still running:\n" << listed;
}

TEST_F(FarmE2eTest, AStaticPoolOfTlsEndpointsRunsSessionsAndAMachineThatStopsAnsweringIsNotReady) {
  // Two daemons listening on tcp://127.0.0.1 with TLS client certificates,
  // made by the script by hand, as an operator would list their hosts.
  Json listed = Json::array();
  std::map<std::string, Json> made;
  for (const std::string name : {"tls-a", "tls-b"}) {
    auto [rc, out] = RunCommand("VISI_FARM_TLS=1 VISI_MACHINE=" + name + " VISI_FARM_DIR=" + ShellQuote(farm_dir_) +
                                " " + ShellQuote(kScript) + " create 2>/dev/null");
    ASSERT_EQ(rc, 0) << out;
    auto j = ParseJson(out);
    ASSERT_TRUE(j.ok() && j->is_object()) << out;
    ASSERT_EQ(j->value("endpoint", "").rfind("tcp://127.0.0.1:", 0), 0u) << out;
    made[name] = *j;
    listed.push_back({{"name", name}, {"endpoint", (*j)["endpoint"]}, {"tlsSecretPath", (*j)["tlsSecretPath"]}});
  }
  Json pool = {{"apiVersion", "visi.dev/v1alpha1"},
               {"kind", "FarmPool"},
               {"metadata", {{"name", pool_name_}}},
               {"spec",
                {{"provider", {{"type", "static"}, {"static", {{"machines", listed}}}}},
                 {"machineCapacity", {{"sessions", 1}}},
                 {"network", {{"subnetPool", subnets_}}}}}};
  auto r = admin_->Request("POST", kApi + "/farmpools", pool.dump());
  ASSERT_EQ(r.code, 201) << r.body;
  ASSERT_TRUE(Poll([&] { return PoolCount("readyMachines") == 2; }, kFarmWithin)) << Dump();
  for (const char* name : {"s1", "s2"}) CreateSession(name);
  ASSERT_TRUE(Poll(
      [&] {
        return Field(Session("s1"), "status").value("phase", "") == "Running" &&
               Field(Session("s2"), "status").value("phase", "") == "Running";
      },
      kFarmWithin))
      << Dump();
  const std::string on_a = Field(Session("s1"), "status").value("machine", "") == "tls-a" ? "s1" : "s2";
  EXPECT_NE(Field(Session("s1"), "status").value("machine", ""), Field(Session("s2"), "status").value("machine", ""));
  // Over TLS, the containers are on the daemon of tls-a.
  DockerClientOptions o;
  o.endpoint = made["tls-a"]["endpoint"];
  const std::string tls = made["tls-a"]["tlsSecretPath"];
  o.tls_ca_file = tls + "/ca.pem";
  o.tls_cert_file = tls + "/cert.pem";
  o.tls_key_file = tls + "/key.pem";
  auto a = DockerClient::Create(o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  const std::string uid = Field(Session(on_a), "metadata").value("uid", "");
  auto there = (*a)->ListContainers({{"visi.dev/session-uid", uid}});
  ASSERT_TRUE(there.ok()) << there.status().ToString();
  EXPECT_EQ(there->size(), 3u) << on_a << " " << uid;

  // tls-a's daemon stops: the machine is NotReady and its session says so.
  auto [rc, out] = RunCommand("kill $(cat " + ShellQuote(farm_dir_ + "/tls-a/docker.pid") + ") 2>&1");
  ASSERT_EQ(rc, 0) << out;
  ASSERT_TRUE(Poll([&] { return Field(GetJson(kApi + "/farmmachines/tls-a"), "status").value("phase", "") == "NotReady"; },
                   kFarmWithin))
      << Dump();
  ASSERT_TRUE(Poll([&] { return ConditionOf(Session(on_a), "ContainersReady") == "MachineNotReady"; }, kFarmWithin))
      << Session(on_a).dump(2);
  EXPECT_EQ(ConditionOf(Session(on_a), "Ready", "status"), "False");
  EXPECT_EQ(Field(Pool(), "status").value("phase", ""), "Degraded");
  // It comes back (the same data root): Ready again, and so is the session.
  auto [rc2, out2] = RunCommand("VISI_FARM_TLS=1 VISI_MACHINE=tls-a VISI_FARM_DIR=" + ShellQuote(farm_dir_) + " " +
                                ShellQuote(kScript) + " create 2>&1");
  ASSERT_EQ(rc2, 0) << out2;
  ASSERT_TRUE(Poll([&] { return Field(GetJson(kApi + "/farmmachines/tls-a"), "status").value("phase", "") == "Ready"; },
                   kFarmWithin))
      << Dump();
  ASSERT_TRUE(Poll([&] { return ConditionOf(Session(on_a), "Ready", "status") == "True"; }, kFarmWithin))
      << Session(on_a).dump(2);
  for (const char* name : {"s1", "s2"}) EXPECT_EQ(admin_->Request("DELETE", kSessions + "/" + name).code, 200);
  EXPECT_EQ(admin_->Request("DELETE", kApi + "/farmpools/" + pool_name_).code, 200);
  ASSERT_TRUE(Poll([&] { return GetJson(kApi + "/farmpools/" + pool_name_).empty(); }, kFarmWithin)) << Dump();
}

TEST_F(FarmE2eTest, VisidKilledWhileAMachineIsCreatedMakesOneMachineAndLeaksNothing) {
  // The create program takes 3 s before it starts the daemon; visid is
  // killed meanwhile. The orphaned create goes on; the next visid runs
  // create again for the same machine: one daemon between them.
  visid_.Stop();
  visid_.SetEnv("VISI_FARM_CREATE_DELAY", "3");
  ASSERT_TRUE(StartVisid()) << Log();
  const Json pool = ExecPool({{"idlePool", {{"minIdle", 1}, {"maxIdle", 1}}}, {"maxMachines", 2}});
  ASSERT_EQ(admin_->Request("POST", kApi + "/farmpools", pool.dump()).code, 201);
  ASSERT_TRUE(Poll([&] {
    auto ms = Machines();
    return ms.size() == 1 && Field(ms.front(), "status").value("message", "").find("running the create program") == 0;
  }, kFarmWithin)) << Dump();
  visid_.Kill();
  ASSERT_TRUE(StartVisid()) << Log();
  ASSERT_TRUE(Poll([&] { return PoolCount("readyMachines") == 1; }, kFarmWithin)) << Dump();
  EXPECT_EQ(Machines().size(), 1u) << Dump();
  const std::string machine = Field(Field(Machines().front(), "metadata"), "name").dump();
  // One daemon on this host for the pool, not two ("[d]": not pgrep's own shell).
  auto [rc, listed] = RunCommand("VISI_FARM_DIR=" + ShellQuote(farm_dir_) + " " + ShellQuote(kScript) + " list 2>&1");
  ASSERT_EQ(rc, 0) << listed;
  EXPECT_EQ(std::count(listed.begin(), listed.end(), '\n'), 1) << listed;
  auto [prc, daemons] = RunCommand("pgrep -fc " + ShellQuote("[d]ockerd .*--data-root " + farm_dir_ + "/"));
  EXPECT_EQ(daemons, "1\n") << machine;
  // And the pool's deletion stops it.
  EXPECT_EQ(admin_->Request("DELETE", kApi + "/farmpools/" + pool_name_).code, 200);
  ASSERT_TRUE(Poll([&] { return GetJson(kApi + "/farmpools/" + pool_name_).empty(); }, kFarmWithin)) << Dump();
  auto [prc2, after] = RunCommand("pgrep -fc " + ShellQuote("[d]ockerd .*--data-root " + farm_dir_ + "/"));
  EXPECT_EQ(after, "0\n");
}

}  // namespace
}  // namespace visi::testing
