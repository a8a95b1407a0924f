// Placement of sessions on machines and the idle pool's decisions: table
// tests, time injected. Pure.
#include <gtest/gtest.h>

#include "reconcilers/farm/idle_pool.h"
#include "reconcilers/farm/placement.h"

namespace visi {
namespace {

constexpr int64_t kGi = int64_t{1} << 30;
constexpr int64_t kCpu = 1000000000;

MachineView M(const std::string& name, int sessions, const std::string& phase = "Ready") {
  MachineView m;
  m.name = name;
  m.phase = phase;
  m.sessions = sessions;
  m.max_sessions = 4;
  m.capacity = {8 * kCpu, 32 * kGi};
  m.used = {sessions * 2 * kCpu, sessions * 4 * kGi};
  return m;
}

TEST(PlacementTest, Table) {
  const Resources small{2 * kCpu, 4 * kGi};
  struct Case {
    std::string name;
    std::vector<MachineView> machines;
    Resources need;
    std::string machine, reason;
  };
  MachineView unlimited = M("u", 0);
  unlimited.capacity = {};
  MachineView cordoned = M("c", 1);
  cordoned.unschedulable = true;
  MachineView tight = M("t", 1);
  tight.capacity.memory_bytes = 6 * kGi;  // 4 Gi used, 2 Gi free
  const std::vector<Case> cases = {
      {"the busiest machine with room", {M("a", 0), M("b", 2), M("c", 1)}, small, "b", "Placed"},
      {"a full machine is skipped", {M("a", 0), M("b", 4), M("c", 1)}, small, "c", "Placed"},
      {"idle machines only when nothing busy fits", {M("a", 0), M("b", 4)}, small, "a", "Placed"},
      {"equal load: least free memory, then name", {M("b", 1), M("a", 1)}, small, "a", "Placed"},
      {"not Ready machines never", {M("a", 1, "NotReady"), M("b", 1, "Provisioning"), M("c", 0)}, small, "c", "Placed"},
      {"draining machines never", {M("a", 1, "Draining"), M("b", 0)}, small, "b", "Placed"},
      {"unschedulable never", {cordoned, M("d", 0)}, small, "d", "Placed"},
      {"memory decides", {tight, M("z", 0)}, small, "z", "Placed"},
      {"CPU decides", {M("a", 3)}, {3 * kCpu, kGi}, "", "NoRoom"},
      {"no limits but the count", {unlimited}, {100 * kCpu, 100 * kGi}, "u", "Placed"},
      {"no machines", {}, small, "", "NoMachines"},
      {"none Ready", {M("a", 0, "Provisioning"), M("b", 0, "NotReady")}, small, "", "NoReadyMachine"},
      {"all full", {M("a", 4), M("b", 4)}, small, "", "NoRoom"},
  };
  for (const Case& c : cases) {
    const Placement p = PlaceSession(c.need, c.machines);
    EXPECT_EQ(p.machine, c.machine) << c.name << ": " << p.message;
    EXPECT_EQ(p.reason, c.reason) << c.name << ": " << p.message;
  }
}

TEST(PlacementTest, TheWaitingMessageSaysWhyEachMachineDidNotFit) {
  MachineView cordoned = M("c", 0);
  cordoned.unschedulable = true;
  const Placement p = PlaceSession({2 * kCpu, 40 * kGi}, {M("a", 4), M("b", 0, "NotReady"), cordoned, M("d", 1)});
  EXPECT_EQ(p.reason, "NoRoom");
  EXPECT_NE(p.message.find("0 of 4 fit"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("1 full (sessions)"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("1 not Ready"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("1 unschedulable"), std::string::npos) << p.message;
  EXPECT_NE(p.message.find("1 without the memory"), std::string::npos) << p.message;
}

const TimePoint kT0 = TimePoint() + std::chrono::hours(500000);

PoolMachine P(const std::string& name, const std::string& phase, int sessions = 0,
              std::optional<TimePoint> idle_since = std::nullopt) {
  return {name, phase, sessions, idle_since};
}

TEST(IdlePoolTest, ScalesUpToMinIdleCountingMachinesOnTheirWay) {
  const IdlePoolPolicy policy{.min_idle = 2, .max_idle = 3, .max_machines = 10};
  auto d = PlanIdlePool(policy, {}, kT0);
  EXPECT_EQ(d.provision, 2);
  EXPECT_EQ(d.reason, "ScaledUp");
  // The next look, with those two provisioning: no overshoot.
  d = PlanIdlePool(policy, {P("a", "Provisioning"), P("b", "Provisioning")}, kT0);
  EXPECT_EQ(d.provision, 0);
  EXPECT_EQ(d.provisioning, 2);
  EXPECT_EQ(d.reason, "Steady");
  // One became Ready and got a session: one more is needed.
  d = PlanIdlePool(policy, {P("a", "Ready", 1), P("b", "Provisioning")}, kT0);
  EXPECT_EQ(d.provision, 1);
  EXPECT_EQ(d.in_use, 1);
  // Busy machines do not count as idle.
  d = PlanIdlePool(policy, {P("a", "Ready", 2), P("b", "Ready", 1), P("c", "Ready", 0, kT0)}, kT0);
  EXPECT_EQ(d.provision, 1);
  EXPECT_EQ(d.idle, 1);
}

TEST(IdlePoolTest, NeverBeyondMaxMachines) {
  const IdlePoolPolicy policy{.min_idle = 2, .max_idle = 2, .max_machines = 3};
  auto d = PlanIdlePool(policy, {P("a", "Ready", 4), P("b", "Ready", 4)}, kT0);
  EXPECT_EQ(d.provision, 1) << "only one fits under maxMachines";
  EXPECT_EQ(d.reason, "ScaledUp");
  EXPECT_NE(d.message.find("maxMachines 3 reached"), std::string::npos) << d.message;
  d = PlanIdlePool(policy, {P("a", "Ready", 4), P("b", "Ready", 4), P("c", "Failed")}, kT0);
  EXPECT_EQ(d.provision, 0) << "a Failed machine still takes its place until it is deleted";
  EXPECT_EQ(d.reason, "AtMaxMachines");
  d = PlanIdlePool(policy, {P("a", "Ready", 4), P("b", "Ready", 4), P("c", "Terminating")}, kT0);
  EXPECT_EQ(d.provision, 1) << "a machine on its way out does not";
}

TEST(IdlePoolTest, ScaleDownWaitsOutTheDelayThenDrainsLongestIdleDownToMinIdle) {
  const IdlePoolPolicy policy{.min_idle = 1, .max_idle = 2, .max_machines = 10,
                              .scale_down_delay = std::chrono::seconds(300)};
  const std::vector<PoolMachine> machines = {
      P("busy", "Ready", 3),
      P("a", "Ready", 0, kT0),
      P("b", "Ready", 0, kT0 - std::chrono::seconds(100)),
      P("c", "Ready", 0, kT0 + std::chrono::seconds(50)),
      P("d", "Ready", 0, kT0 + std::chrono::seconds(10)),
  };
  // 4 idle > maxIdle 2, but none idle for 300 s yet.
  auto d = PlanIdlePool(policy, machines, kT0 + std::chrono::seconds(60));
  EXPECT_TRUE(d.drain.empty());
  EXPECT_EQ(d.reason, "WaitingForScaleDownDelay");
  ASSERT_TRUE(d.recheck_at.has_value());
  EXPECT_EQ(*d.recheck_at, kT0 + std::chrono::seconds(200)) << "when b's delay is over";
  // b's delay is over: b goes, alone.
  d = PlanIdlePool(policy, machines, kT0 + std::chrono::seconds(200));
  EXPECT_EQ(d.drain, std::vector<std::string>{"b"});
  EXPECT_EQ(d.reason, "ScaledDown");
  // Everyone waited: down to minIdle 1, the longest idle first; never the busy one.
  d = PlanIdlePool(policy, machines, kT0 + std::chrono::hours(1));
  EXPECT_EQ(d.drain, (std::vector<std::string>{"b", "a", "d"}));
  EXPECT_EQ(d.idle, 4);
  EXPECT_EQ(d.in_use, 1);
}

TEST(IdlePoolTest, WithinBoundsNothingChanges) {
  const IdlePoolPolicy policy{.min_idle = 1, .max_idle = 3, .max_machines = 10};
  const auto d = PlanIdlePool(
      policy, {P("a", "Ready", 0, kT0 - std::chrono::hours(5)), P("b", "Ready", 0, kT0 - std::chrono::hours(5)),
               P("c", "Ready", 1), P("x", "Draining"), P("y", "NotReady")},
      kT0);
  EXPECT_EQ(d.provision, 0);
  EXPECT_TRUE(d.drain.empty()) << "2 idle <= maxIdle 3: long idle is fine";
  EXPECT_EQ(d.reason, "Steady");
  EXPECT_EQ(d.machines, 5);
  EXPECT_EQ(d.draining, 1);
  // maxIdle below minIdle is read as minIdle: never scale below the minimum.
  const auto e = PlanIdlePool({.min_idle = 2, .max_idle = 0, .max_machines = 10},
                              {P("a", "Ready", 0, kT0 - std::chrono::hours(5)),
                               P("b", "Ready", 0, kT0 - std::chrono::hours(5))},
                              kT0);
  EXPECT_TRUE(e.drain.empty());
  EXPECT_EQ(e.reason, "Steady");
}

TEST(IdlePoolTest, SessionsWaitingForRoomGrowThePoolAndHoldOffScaleDown) {
  // minIdle 0: only demand provisions. 3 waiting sessions, 2 per machine: 2 machines.
  IdlePoolPolicy policy{.min_idle = 0, .max_idle = 0, .max_machines = 10, .sessions_per_machine = 2};
  auto d = PlanIdlePool(policy, {}, kT0, /*pending=*/3);
  EXPECT_EQ(d.provision, 2);
  EXPECT_EQ(d.reason, "ScaledUp");
  EXPECT_NE(d.message.find("3 waiting sessions"), std::string::npos) << d.message;
  // Those on their way count: no overshoot while they come up.
  d = PlanIdlePool(policy, {P("a", "Provisioning"), P("b", "Provisioning")}, kT0, 3);
  EXPECT_EQ(d.provision, 0);
  // An idle machine the waiting sessions are about to take is not drained.
  d = PlanIdlePool(policy, {P("a", "Ready", 0, kT0 - std::chrono::hours(1))}, kT0, 1);
  EXPECT_TRUE(d.drain.empty());
  EXPECT_EQ(d.provision, 0);
  // Within maxMachines still.
  policy.max_machines = 1;
  d = PlanIdlePool(policy, {P("a", "Ready", 2)}, kT0, 5);
  EXPECT_EQ(d.provision, 0);
  EXPECT_EQ(d.reason, "AtMaxMachines");
}

}  // namespace
}  // namespace visi
