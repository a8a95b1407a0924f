#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/clock.h"

namespace visi {

// A FarmPool's idle-pool settings (spec.idlePool, spec.maxMachines,
// spec.scaleDownDelaySeconds).
struct IdlePoolPolicy {
  int min_idle = 1;
  int max_idle = 2;
  int max_machines = 10;
  std::chrono::seconds scale_down_delay{300};
  int sessions_per_machine = 1;  // spec.machineCapacity.sessions: how many waiting sessions one new machine takes
};

// One FarmMachine of the pool, as the idle pool sees it.
struct PoolMachine {
  std::string name;
  std::string phase;  // Provisioning, Ready, NotReady, Draining, Terminating, Failed
  int sessions = 0;   // placed on it
  std::optional<TimePoint> idle_since;  // Ready with no session since then
};

// What the pool reconciler does next, and why.
struct IdlePoolDecision {
  int provision = 0;               // new machines to ask the provider for
  std::vector<std::string> drain;  // idle machines to drain and delete, longest idle first
  // The counts the status shows. Idle: Ready without a session; in use:
  // Ready with sessions; provisioning and draining (Draining, Terminating).
  int machines = 0, idle = 0, in_use = 0, provisioning = 0, draining = 0;
  // The ScalingDecision condition: ScaledUp, AtMaxMachines, ScaledDown,
  // WaitingForScaleDownDelay or Steady, with a message giving the numbers.
  std::string reason, message;
  // When to look again with nothing else changing (a surplus waiting out
  // the scale-down delay).
  std::optional<TimePoint> recheck_at;
};

// The idle-pool decision (docs/farm.md):
//  - scale up: while idle + provisioning < min_idle + the machines the
//    `pending` sessions (waiting for room) need, provision the difference,
//    within max_machines (every machine but Terminating ones counts, so
//    machines being provisioned prevent an overshoot);
//  - scale down: while more than max_idle machines are idle, those idle for
//    at least scale_down_delay are drained, longest idle first, down to
//    min_idle; a machine holding a session is never chosen.
// Pure; time comes in as `now`.
IdlePoolDecision PlanIdlePool(const IdlePoolPolicy& policy, const std::vector<PoolMachine>& machines, TimePoint now,
                              int pending = 0);

}  // namespace visi
