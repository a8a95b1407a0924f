#include "reconcilers/farm/idle_pool.h"

#include <algorithm>

namespace visi {

IdlePoolDecision PlanIdlePool(const IdlePoolPolicy& policy, const std::vector<PoolMachine>& machines, TimePoint now,
                              int pending) {
  IdlePoolDecision d;
  int counted = 0;  // toward max_machines
  std::vector<const PoolMachine*> idle;
  for (const PoolMachine& m : machines) {
    ++d.machines;
    if (m.phase != "Terminating") ++counted;
    if (m.phase == "Provisioning") {
      ++d.provisioning;
    } else if (m.phase == "Draining" || m.phase == "Terminating") {
      ++d.draining;
    } else if (m.phase == "Ready" && m.sessions == 0) {
      idle.push_back(&m);
    } else if (m.phase == "Ready") {
      ++d.in_use;
    }
  }
  d.idle = static_cast<int>(idle.size());
  const std::string counts = std::to_string(d.idle) + " idle, " + std::to_string(d.in_use) + " in use, " +
                             std::to_string(d.provisioning) + " provisioning";

  // Scale up: machines on their way count as idle to be. Sessions waiting
  // for room want machines of their own, on top of the idle ones.
  const int per_machine = std::max(1, policy.sessions_per_machine);
  const int for_pending = (pending + per_machine - 1) / per_machine;
  const std::string wants = "minIdle " + std::to_string(policy.min_idle) +
                            (pending > 0 ? " + " + std::to_string(for_pending) + " for " + std::to_string(pending) +
                                               " waiting sessions"
                                         : "");
  const int missing = policy.min_idle + for_pending - d.idle - d.provisioning;
  if (missing > 0) {
    const int room = std::max(0, policy.max_machines - counted);
    d.provision = std::min(missing, room);
    if (d.provision > 0) {
      d.reason = "ScaledUp";
      d.message = "provisioning " + std::to_string(d.provision) + " machines: " + counts + ", " + wants;
      if (d.provision < missing) d.message += " (maxMachines " + std::to_string(policy.max_machines) + " reached)";
    } else {
      d.reason = "AtMaxMachines";
      d.message = wants + " wants " + std::to_string(missing) +
                  " more machines but the pool has maxMachines " + std::to_string(policy.max_machines) + " (" +
                  counts + ")";
    }
    return d;
  }

  // Scale down: only a surplus over max_idle, only machines idle long
  // enough, longest idle first, and never below min_idle.
  const int max_idle = std::max(policy.max_idle, policy.min_idle);
  if (d.idle > max_idle && pending == 0) {
    std::sort(idle.begin(), idle.end(), [](const PoolMachine* a, const PoolMachine* b) {
      const TimePoint ta = a->idle_since.value_or(TimePoint::max()), tb = b->idle_since.value_or(TimePoint::max());
      return ta != tb ? ta < tb : a->name < b->name;
    });
    const int surplus = d.idle - policy.min_idle;
    for (const PoolMachine* m : idle) {
      if (static_cast<int>(d.drain.size()) >= surplus) break;
      if (!m->idle_since) continue;  // not known how long: wait for the next look
      const TimePoint due = *m->idle_since + policy.scale_down_delay;
      if (now >= due) {
        d.drain.push_back(m->name);
      } else if (!d.recheck_at || due < *d.recheck_at) {
        d.recheck_at = due;
      }
    }
    if (!d.drain.empty()) {
      d.reason = "ScaledDown";
      d.message = "draining " + std::to_string(d.drain.size()) + " machines idle for at least " +
                  std::to_string(policy.scale_down_delay.count()) + "s: " + counts + ", maxIdle " +
                  std::to_string(policy.max_idle) + ", down to minIdle " + std::to_string(policy.min_idle);
      return d;
    }
    d.reason = "WaitingForScaleDownDelay";
    d.message = std::to_string(d.idle) + " idle > maxIdle " + std::to_string(policy.max_idle) +
                ": the surplus goes once idle for " + std::to_string(policy.scale_down_delay.count()) + "s";
    return d;
  }
  d.reason = "Steady";
  d.message = counts + " (minIdle " + std::to_string(policy.min_idle) + ", maxIdle " +
              std::to_string(policy.max_idle) + ", maxMachines " + std::to_string(policy.max_machines) + ")";
  return d;
}

}  // namespace visi
