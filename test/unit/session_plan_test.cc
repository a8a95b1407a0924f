// The session planner, desired state and status as pure functions: tables of
// (desired, observed) -> actions, no fakes.
#include <gtest/gtest.h>

#include "controller/api/quantity.h"
#include "controller/runtime/conditions.h"
#include "reconcilers/session/cidr.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_plan.h"
#include "reconcilers/session/session_spec.h"
#include "reconcilers/session/session_status.h"
#include "test/unit/session_test_objects.h"

namespace visi {
namespace {

using Type = SessionAction::Type;
namespace L = session_labels;
using namespace session_testing;  // NOLINT: the shared test objects

DesiredSession Desired(int workers = 2, const std::string& subnet = "10.200.7.0/24") {
  SessionIdentity id{"alice", "nb", "0123456789abcdef", "test"};
  return BuildDesiredSession(id, *ParseSessionSpec(SessionObject(workers)), subnet);
}

// What Docker would show for the desired containers, all running.
ObservedSession Converged(const DesiredSession& d) {
  ObservedSession o;
  o.networks.push_back({"net-id", d.network.name, d.network.subnet, d.network.labels, {}});
  for (const auto& c : d.containers) {
    ContainerInfo i;
    i.id = "id-" + c.name;
    i.name = c.name;
    i.image = c.image;
    i.state = "running";
    i.labels = c.labels;
    i.ips[d.network.name] = "10.200.7.9";
    o.containers.push_back(i);
  }
  return o;
}

std::vector<std::pair<Type, std::string>> Steps(const std::vector<SessionAction>& plan) {
  std::vector<std::pair<Type, std::string>> out;
  for (const auto& a : plan) out.emplace_back(a.type, a.target);
  return out;
}

TEST(SessionDesiredTest, NamesLabelsLimitsAndEnvironment) {
  DesiredSession d = Desired();
  EXPECT_EQ(d.network.name, "visi-alice-nb-01234567");
  EXPECT_EQ(d.network.subnet, "10.200.7.0/24");
  ASSERT_EQ(d.containers.size(), 4u);
  EXPECT_EQ(d.containers[0].name, "visi-alice-nb-01234567-master");
  EXPECT_EQ(d.containers[1].name, "visi-alice-nb-01234567-worker-0");
  EXPECT_EQ(d.containers[3].name, "visi-alice-nb-01234567-frontend");
  const auto& m = d.containers[0];
  EXPECT_EQ(m.labels.at(L::kSessionUid), "0123456789abcdef");
  EXPECT_EQ(m.labels.at(L::kInstance), "test");
  EXPECT_EQ(m.labels.at(L::kComponent), "master");
  EXPECT_EQ(m.aliases, std::vector<std::string>{"spark-master"});
  EXPECT_EQ(m.command, std::vector<std::string>{"master"});
  EXPECT_EQ(m.nano_cpus, 500000000);
  EXPECT_EQ(m.memory_bytes, int64_t{1} << 30);
  EXPECT_EQ(m.pids_limit, 256);
  EXPECT_EQ(m.user, "65534:65534");
  EXPECT_NE(std::find(m.env.begin(), m.env.end(), "MODE=demo"), m.env.end());
  EXPECT_NE(std::find(m.env.begin(), m.env.end(), "SPARK_MASTER_URL=spark://spark-master:7077"), m.env.end());
  const auto& f = d.containers[3];
  EXPECT_NE(std::find(f.env.begin(), f.env.end(), "PORT=8888"), f.env.end());
  EXPECT_EQ(f.exposed_ports, std::vector<int>{8888});
  // The hash is of the spec: stable, and different when the spec differs.
  EXPECT_EQ(d.containers[1].labels.at(L::kSpecHash), Desired().containers[1].labels.at(L::kSpecHash));
  EXPECT_EQ(d.containers[1].labels.at(L::kSpecHash), ContainerSpecHash(d.containers[1]));
  Object other = SessionObject();
  other.spec["spark"]["workerImage"] = "visi/spark:2";
  SessionIdentity id{"alice", "nb", "0123456789abcdef", "test"};
  auto d2 = BuildDesiredSession(id, *ParseSessionSpec(other), "10.200.7.0/24");
  EXPECT_NE(d.containers[1].labels.at(L::kSpecHash), d2.containers[1].labels.at(L::kSpecHash));
  EXPECT_EQ(d.containers[0].labels.at(L::kSpecHash), d2.containers[0].labels.at(L::kSpecHash));
}

TEST(SessionPlanTest, Table) {
  const DesiredSession d = Desired();
  const std::string n = d.network.name;
  struct Case {
    std::string name;
    std::function<ObservedSession()> observed;
    std::vector<std::pair<Type, std::string>> want;
  };
  std::vector<Case> cases = {
      {"empty world: network, then master, workers, front end",
       [] { return ObservedSession{}; },
       {{Type::kCreateNetwork, n},
        {Type::kCreateContainer, n + "-master"},
        {Type::kStartContainer, n + "-master"},
        {Type::kCreateContainer, n + "-worker-0"},
        {Type::kStartContainer, n + "-worker-0"},
        {Type::kCreateContainer, n + "-worker-1"},
        {Type::kStartContainer, n + "-worker-1"},
        {Type::kCreateContainer, n + "-frontend"},
        {Type::kStartContainer, n + "-frontend"}}},
      {"converged: nothing", [&] { return Converged(d); }, {}},
      {"a container removed by hand is created again",
       [&] {
         auto o = Converged(d);
         o.containers.erase(o.containers.begin() + 2);
         return o;
       },
       {{Type::kCreateContainer, n + "-worker-1"}, {Type::kStartContainer, n + "-worker-1"}}},
      {"a container killed by hand is started again",
       [&] {
         auto o = Converged(d);
         o.containers[3].state = "exited";
         return o;
       },
       {{Type::kStartContainer, n + "-frontend"}}},
      {"a changed spec hash replaces the container",
       [&] {
         auto o = Converged(d);
         o.containers[1].labels[L::kSpecHash] = "old";
         return o;
       },
       {{Type::kRemoveContainer, n + "-worker-0"},
        {Type::kCreateContainer, n + "-worker-0"},
        {Type::kStartContainer, n + "-worker-0"}}},
      {"extra workers are removed (scale down)",
       [&] {
         auto o = Converged(Desired(4));
         return o;
       },
       {{Type::kRemoveContainer, n + "-worker-2"}, {Type::kRemoveContainer, n + "-worker-3"}}},
      {"a network on another subnet is replaced with every container",
       [&] {
         auto o = Converged(Desired(2, "10.200.9.0/24"));
         return o;
       },
       {{Type::kRemoveContainer, n + "-master"},
        {Type::kRemoveContainer, n + "-worker-0"},
        {Type::kRemoveContainer, n + "-worker-1"},
        {Type::kRemoveContainer, n + "-frontend"},
        {Type::kRemoveNetwork, n},
        {Type::kCreateNetwork, n},
        {Type::kCreateContainer, n + "-master"},
        {Type::kStartContainer, n + "-master"},
        {Type::kCreateContainer, n + "-worker-0"},
        {Type::kStartContainer, n + "-worker-0"},
        {Type::kCreateContainer, n + "-worker-1"},
        {Type::kStartContainer, n + "-worker-1"},
        {Type::kCreateContainer, n + "-frontend"},
        {Type::kStartContainer, n + "-frontend"}}},
      {"a dead container is replaced; a restarting one is left alone",
       [&] {
         auto o = Converged(d);
         o.containers[0].state = "dead";
         o.containers[1].state = "restarting";
         return o;
       },
       {{Type::kRemoveContainer, n + "-master"},
        {Type::kCreateContainer, n + "-master"},
        {Type::kStartContainer, n + "-master"}}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Steps(PlanSession(d, c.observed())), c.want) << c.name;
  }
  // Created containers carry the desired spec.
  auto plan = PlanSession(d, {});
  EXPECT_EQ(plan[1].container.name, d.containers[0].name);
  EXPECT_EQ(plan[0].network.subnet, "10.200.7.0/24");
}

TEST(SessionPlanTest, TeardownRemovesContainersThenNetworks) {
  auto o = Converged(Desired(1));
  auto plan = PlanTeardown(o);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan.back().type, Type::kRemoveNetwork);
  for (size_t i = 0; i + 1 < plan.size(); ++i) EXPECT_EQ(plan[i].type, Type::kRemoveContainer);
}

TEST(SessionPlanTest, SuspendRemovesEveryContainerAndKeepsTheNetwork) {
  const DesiredSession d = Desired();
  const std::string n = d.network.name;
  struct Case {
    std::string name;
    ObservedSession observed;
    std::vector<std::pair<Type, std::string>> want;
  };
  ObservedSession stopped = Converged(d);
  stopped.containers[0].state = "exited";
  stopped.containers[2].state = "created";
  ObservedSession network_only = Converged(d);
  network_only.containers.clear();
  ObservedSession no_network = Converged(d);
  no_network.networks.clear();
  const std::vector<std::pair<Type, std::string>> all = {{Type::kRemoveContainer, n + "-master"},
                                                         {Type::kRemoveContainer, n + "-worker-0"},
                                                         {Type::kRemoveContainer, n + "-worker-1"},
                                                         {Type::kRemoveContainer, n + "-frontend"}};
  std::vector<Case> cases = {
      {"running: every container goes, the network stays", Converged(d), all},
      {"stopped or never started: they go too", stopped, all},
      {"already suspended: nothing", network_only, {}},
      {"nothing at all: nothing (no network is created)", ObservedSession{}, {}},
      {"containers without their network: they go", no_network, all},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(Steps(PlanSuspend(c.observed)), c.want) << c.name;
  }
  for (const auto& a : PlanSuspend(Converged(d))) EXPECT_EQ(a.reason, "session suspended");
}

TEST(SessionSpecTest, BadInputIsNamed) {
  Object o = SessionObject();
  o.spec["spark"]["resources"]["memory"] = "12Qi";
  auto s = ParseSessionSpec(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("spec.spark.resources.memory"), std::string::npos) << s.status().message();
  o = SessionObject();
  o.spec["env"] = {{{"name", "A"}, {"value", "1"}}, {{"name", "A"}, {"value", "2"}}};
  s = ParseSessionSpec(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("spec.env[1].name"), std::string::npos);
  o.spec["env"] = {{{"name", "VISI_SESSION"}}};
  EXPECT_FALSE(ParseSessionSpec(o).ok());
  o = SessionObject();
  o.spec["spark"]["workers"] = -1;
  EXPECT_FALSE(ParseSessionSpec(o).ok());
  o.spec = "not an object";
  EXPECT_FALSE(ParseSessionSpec(o).ok());
}

TEST(SessionSpecTest, SuspendIsParsed) {
  Object o = SessionObject();
  EXPECT_FALSE(ParseSessionSpec(o)->suspend);
  o.spec["suspend"] = true;
  EXPECT_TRUE(ParseSessionSpec(o)->suspend);
}

TEST(QuantityTest, KubernetesQuantities) {
  EXPECT_EQ(*ParseNanoCpus("500m", "f"), 500000000);
  EXPECT_EQ(*ParseNanoCpus("2", "f"), 2000000000);
  EXPECT_EQ(*ParseNanoCpus("0.25", "f"), 250000000);
  EXPECT_EQ(*ParseNanoCpus("1m", "f"), 1000000);
  EXPECT_EQ(*ParseMemoryBytes("512Mi", "f"), 512 * 1024 * 1024);
  EXPECT_EQ(*ParseMemoryBytes("2G", "f"), 2000000000);
  EXPECT_EQ(*ParseMemoryBytes("1e3", "f"), 1000);
  EXPECT_EQ(*ParseMemoryBytes("100", "f"), 100);
  for (const char* bad : {"", "abc", "1.2.3", "5Qi", "-1", "1e99", "99999999999Ei", "."}) {
    auto q = ParseMemoryBytes(bad, "spec.x");
    EXPECT_FALSE(q.ok()) << bad;
    if (!q.ok()) {
      EXPECT_NE(q.status().message().find("spec.x"), std::string::npos);
    }
  }
}

TEST(CidrTest, ParseFormatOverlap) {
  auto c = ParseCidr("10.200.0.0/16", "f");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->ToString(), "10.200.0.0/16");
  EXPECT_EQ(c->size(), 65536u);
  EXPECT_TRUE(c->Overlaps(*ParseCidr("10.200.5.0/24", "f")));
  EXPECT_FALSE(c->Overlaps(*ParseCidr("10.201.0.0/24", "f")));
  EXPECT_TRUE(ParseCidr("0.0.0.0/0", "f")->Overlaps(*c));
  for (const char* bad : {"10.200.0.1/16", "10.200.0.0", "300.1.1.1/8", "10.0.0.0/33", "a.b.c.d/8", "10.0.0.0/8x"}) {
    EXPECT_FALSE(ParseCidr(bad, "spec.network.subnetPool").ok()) << bad;
  }
}

TEST(SessionStatusTest, PhasesConditionsAndTheStartDeadline) {
  Object s = SessionObject();
  SessionObservation obs;
  obs.machine = "local";
  obs.subnet = "10.200.7.0/24";
  obs.network = "visi-alice-nb-01234567";
  obs.network_ready = true;
  obs.frontend_port = 8888;
  obs.master_port = 7077;
  obs.components = {{"master", "m", "running", true, "10.200.7.2", ""},
                    {"worker-0", "w", "running", true, "10.200.7.3", ""},
                    {"frontend", "f", "running", false, "10.200.7.4", "readiness probe: connection refused"}};
  TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  Json st = BuildSessionStatus(s, obs, t0, 300);
  EXPECT_EQ(st["phase"], "Starting");
  EXPECT_FALSE(StatusIsReady(st));
  EXPECT_EQ(st["frontEndAddress"], "10.200.7.4:8888");
  EXPECT_EQ(st["sparkMasterAddress"], "spark://10.200.7.2:7077");
  EXPECT_NE(st["message"].get<std::string>().find("frontend: readiness probe"), std::string::npos);

  s.status = st;
  auto late = BuildSessionStatus(s, obs, t0 + std::chrono::seconds(301), 300);
  EXPECT_EQ(late["phase"], "Failed");
  EXPECT_EQ((*FindCondition(late, "Ready"))["reason"], "StartDeadlineExceeded");

  obs.components[2].ready = true;
  obs.components[2].message.clear();
  s.status = late;
  auto ready = BuildSessionStatus(s, obs, t0 + std::chrono::seconds(302), 300);
  EXPECT_EQ(ready["phase"], "Running");
  EXPECT_TRUE(StatusIsReady(ready));
  EXPECT_EQ(ready["readyWorkers"], 1);
  EXPECT_FALSE(ready.contains("message"));

  SessionObservation down = obs;
  down.blocked_reason = "DockerUnavailable";
  down.blocked_message = "the Docker daemon of machine local is unavailable";
  down.components.clear();
  s.status = ready;
  auto d = BuildSessionStatus(s, down, t0 + std::chrono::seconds(400), 300);
  EXPECT_EQ((*FindCondition(d, "ContainersReady"))["reason"], "DockerUnavailable");
  EXPECT_EQ((*FindCondition(d, "Ready"))["reason"], "DockerUnavailable");
  EXPECT_EQ(d["phase"], "Starting") << "a daemon outage is not the session's failure";
}

// A session Ready for hours that loses a worker is Starting again, not
// Failed: the start deadline runs from when it stopped being Ready.
TEST(SessionStatusTest, TheDeadlineRunsFromTheLastTimeItWasReady) {
  Object s;
  s.metadata.generation = 1;
  SessionObservation obs = PlacedWith(
      {{"master", "m", "running", true, "10.0.0.2", ""}, {"frontend", "f", "running", true, "10.0.0.3", ""}});
  TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, obs, t0, 300);
  ASSERT_TRUE(StatusIsReady(s.status));
  obs.components[0] = {"master", "m", "exited", false, "", "container is exited"};
  const TimePoint later = t0 + std::chrono::hours(3);
  s.status = BuildSessionStatus(s, obs, later, 300);
  s.status = BuildSessionStatus(s, obs, later + std::chrono::seconds(1), 300);
  EXPECT_EQ(s.status["phase"], "Starting") << s.status.dump();
  s.status = BuildSessionStatus(s, obs, later + std::chrono::seconds(301), 300);
  EXPECT_EQ(s.status["phase"], "Failed");
  // An outage never turns into the session's failure.
  SessionObservation down = obs;
  down.blocked_reason = "DockerUnavailable";
  down.blocked_message = "down";
  s.status = BuildSessionStatus(s, down, later + std::chrono::hours(1), 300);
  EXPECT_EQ(s.status["phase"], "Starting");
}

// Messages are cut on character boundaries and stay valid UTF-8, so a status
// holding them can always be stored (the JSON encoder refuses bad UTF-8).
TEST(SessionStatusTest, LongMultiByteMessagesStayValidUtf8) {
  Object s;
  s.metadata.generation = 1;
  std::string path = "/";
  for (int i = 0; i < 2000; ++i) path += "\xC3\xA9";  // é
  path += "\xFF";                                       // and one invalid byte
  SessionObservation obs =
      PlacedWith({{"frontend", "f", "running", false, "10.0.0.3", "readiness probe: GET " + path + " answered 404"}});
  Json st = BuildSessionStatus(s, obs, TimePoint() + std::chrono::hours(1), 300);
  EXPECT_NO_THROW((void)st.dump()) << "every string in the status is valid UTF-8";
  EXPECT_LE(st["components"][0]["message"].get<std::string>().size(), 1024u);
  EXPECT_LE(st["message"].get<std::string>().size(), 4096u);
}

}  // namespace
}  // namespace visi
