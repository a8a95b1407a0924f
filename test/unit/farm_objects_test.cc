// FarmPool and FarmMachine objects as the reconcilers read them: a pool's
// spec (providers, capacity, idle pool) with malformed and hostile input,
// machines as placement and the idle pool see them, machine names.
#include "reconcilers/farm/farm_objects.h"

#include <gtest/gtest.h>

#include "controller/base/clock.h"

namespace visi {
namespace {

Object PoolWith(const Json& spec) {
  Object o;
  o.kind = "FarmPool";
  o.metadata.name = "p";
  o.metadata.uid = "uid-p";
  o.spec = spec;
  return o;
}

TEST(FarmObjectsTest, ParsesEachProvider) {
  auto local = ParsePoolSpec(PoolWith({{"machineCapacity", {{"sessions", 3}, {"memory", "8Gi"}}},
                                       {"idlePool", {{"minIdle", 2}, {"maxIdle", 5}}},
                                       {"maxMachines", 7},
                                       {"scaleDownDelaySeconds", 30}}));
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ(local->provider, "local");
  EXPECT_EQ(local->policy.min_idle, 2);
  EXPECT_EQ(local->policy.max_idle, 5);
  EXPECT_EQ(local->policy.max_machines, 7);
  EXPECT_EQ(local->policy.scale_down_delay, std::chrono::seconds(30));
  EXPECT_EQ(local->policy.sessions_per_machine, 3);

  auto stat = ParsePoolSpec(PoolWith(
      {{"provider", {{"type", "static"}, {"static", {{"machines", {{{"name", "a"}, {"endpoint", "tcp://h:2376"}, {"tlsSecretPath", "/etc/a"}}}}}}}}}));
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  ASSERT_EQ(stat->static_machines.size(), 1u);
  EXPECT_EQ(stat->static_machines[0].tls_secret_path, "/etc/a");

  auto exec = ParsePoolSpec(PoolWith(
      {{"provider", {{"type", "exec"}, {"exec", {{"create", {"/bin/mk", "--x"}}, {"delete", {"/bin/rm-machine"}}, {"timeoutSeconds", 9}}}}}}));
  ASSERT_TRUE(exec.ok()) << exec.status().ToString();
  EXPECT_EQ(exec->exec_create, (std::vector<std::string>{"/bin/mk", "--x"}));
  EXPECT_EQ(exec->exec_timeout_seconds, 9);
}

TEST(FarmObjectsTest, MalformedPoolsAreRefusedNamingTheField) {
  struct Case {
    Json spec;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"provider", {{"type", "cloud"}}}}, "spec.provider.type"},
      {{{"provider", {{"type", "static"}}}}, "spec.provider.static.machines"},
      {{{"provider", {{"type", "static"}, {"static", {{"machines", {{{"name", "a"}}}}}}}}}, "spec.provider.static.machines[0]"},
      {{{"provider", {{"type", "static"}, {"static", {{"machines", {{{"name", "a"}, {"endpoint", "unix:///x"}}, {{"name", "a"}, {"endpoint", "unix:///y"}}}}}}}}},
       "spec.provider.static.machines[1].name"},
      {{{"provider", {{"type", "exec"}, {"exec", {{"create", {"/bin/mk"}}}}}}}, "spec.provider.exec"},
      {{{"provider", {{"type", "exec"}, {"exec", {{"create", Json::array()}, {"delete", {"/bin/rm"}}}}}}}, "spec.provider.exec"},
      {{{"machineCapacity", {{"memory", "lots"}}}}, "spec.machineCapacity.memory"},
      {{{"machineCapacity", {{"cpu", "1e999999"}}}}, "spec.machineCapacity.cpu"},
      {{{"machineCapacity", {{"cpu", "-3"}}}}, "spec.machineCapacity.cpu"},
  };
  for (const auto& c : cases) {
    auto r = ParsePoolSpec(PoolWith(c.spec));
    ASSERT_FALSE(r.ok()) << c.spec.dump();
    EXPECT_EQ(r.status().code(), Code::kInvalid) << c.spec.dump();
    EXPECT_NE(r.status().message().find(c.field), std::string::npos) << r.status().message();
  }
  // Not an object at all: the defaults, nothing thrown.
  for (const Json& spec : {Json(), Json(42), Json("x"), Json::array()}) {
    auto r = ParsePoolSpec(PoolWith(spec));
    ASSERT_TRUE(r.ok()) << spec.dump();
    EXPECT_EQ(r->provider, "local");
  }
}

TEST(FarmObjectsTest, MachinesAsPlacementAndTheIdlePoolSeeThem) {
  Object m;
  m.kind = "FarmMachine";
  m.metadata.name = "p-0";
  m.spec = {{"pool", "p"}, {"capacity", {{"sessions", 2}, {"cpu", "1500m"}, {"memory", 1024}}}};
  m.status = {{"phase", "Ready"}, {"sessionCount", 0}, {"idleSince", "2026-11-24T08:00:00Z"}};
  MachineView v = MachineViewOf(m);
  EXPECT_EQ(v.max_sessions, 2);
  EXPECT_EQ(v.capacity.nano_cpus, 1500000000);
  EXPECT_EQ(v.capacity.memory_bytes, 1024);
  EXPECT_FALSE(v.unschedulable);
  PoolMachine p = PoolMachineOf(m);
  EXPECT_EQ(p.phase, "Ready");
  ASSERT_TRUE(p.idle_since.has_value());
  EXPECT_EQ(*p.idle_since, *ParseRfc3339("2026-11-24T08:00:00Z"));
  // Being deleted: no new session, and Draining to the idle pool.
  m.metadata.deletion_timestamp = "2026-11-24T09:00:00Z";
  EXPECT_TRUE(MachineViewOf(m).unschedulable);
  EXPECT_EQ(PoolMachineOf(m).phase, "Draining");
  // Hostile status: wrong types are ignored, not thrown on.
  Object h;
  h.spec = {{"capacity", {{"sessions", "many"}, {"cpu", Json::array()}}}, {"unschedulable", "yes"}};
  h.status = {{"phase", 7}, {"sessionCount", "x"}, {"idleSince", "yesterday"}};
  PoolMachine hp = PoolMachineOf(h);
  EXPECT_EQ(hp.phase, "Provisioning");
  EXPECT_FALSE(hp.idle_since.has_value());
  EXPECT_EQ(MachineViewOf(h).max_sessions, 4);
}

TEST(FarmObjectsTest, MachineNamesStayWithinLimits) {
  EXPECT_EQ(MachineName("farm", 3), "farm-3");
  const std::string long_pool(253, 'a');
  const std::string n = MachineName(long_pool, 12);
  EXPECT_LE(n.size(), 253u);
  EXPECT_EQ(n.substr(n.size() - 3), "-12");
  EXPECT_NE(MachineName(long_pool, 1), MachineName(std::string(252, 'a') + "b", 1));
}

}  // namespace
}  // namespace visi
