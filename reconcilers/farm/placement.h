#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace visi {

// CPU and memory, as a session asks for them and a machine offers them.
// 0 in a machine's capacity means "not limited" (only the session count is).
struct Resources {
  int64_t nano_cpus = 0;
  int64_t memory_bytes = 0;
};

// One FarmMachine of the pool, as placement sees it.
struct MachineView {
  std::string name;
  std::string phase;  // Provisioning, Ready, NotReady, Draining, Terminating, Failed
  bool unschedulable = false;
  int max_sessions = 4;  // spec.capacity.sessions
  Resources capacity;    // 0: unlimited
  int sessions = 0;      // placed on it now
  Resources used;        // what those sessions ask for
};

// Where a session goes: a machine, or none with the reason it waits
// (Pending): NoMachines, NoReadyMachine or NoRoom, and a message that says
// how many machines were looked at and why each kind did not fit.
struct Placement {
  std::string machine;
  std::string reason;
  std::string message;
};

// Places a session that asks for `need` on a Ready, schedulable machine of
// the pool with room for one more session and for `need`. Busy machines are
// packed first (most sessions, then least free memory, then name), so that
// idle machines stay idle and the idle pool can give them back. Pure.
Placement PlaceSession(const Resources& need, const std::vector<MachineView>& machines);

}  // namespace visi
