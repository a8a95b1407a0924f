#include "reconcilers/farm/placement.h"

#include <algorithm>
#include <limits>

namespace visi {
namespace {

bool Fits(int64_t used, int64_t need, int64_t capacity) { return capacity <= 0 || used + need <= capacity; }

int64_t FreeMemory(const MachineView& m) {
  return m.capacity.memory_bytes <= 0 ? std::numeric_limits<int64_t>::max() : m.capacity.memory_bytes - m.used.memory_bytes;
}

}  // namespace

Placement PlaceSession(const Resources& need, const std::vector<MachineView>& machines) {
  if (machines.empty()) return {"", "NoMachines", "the pool has no machines yet"};
  const MachineView* best = nullptr;
  int not_ready = 0, unschedulable = 0, full = 0, no_cpu = 0, no_memory = 0;
  for (const MachineView& m : machines) {
    if (m.phase != "Ready") {
      ++not_ready;
      continue;
    }
    if (m.unschedulable) {
      ++unschedulable;
      continue;
    }
    if (m.sessions >= m.max_sessions) {
      ++full;
      continue;
    }
    if (!Fits(m.used.nano_cpus, need.nano_cpus, m.capacity.nano_cpus)) {
      ++no_cpu;
      continue;
    }
    if (!Fits(m.used.memory_bytes, need.memory_bytes, m.capacity.memory_bytes)) {
      ++no_memory;
      continue;
    }
    auto better = [](const MachineView& a, const MachineView& b) {
      if (a.sessions != b.sessions) return a.sessions > b.sessions;  // pack busy machines first
      if (FreeMemory(a) != FreeMemory(b)) return FreeMemory(a) < FreeMemory(b);
      return a.name < b.name;
    };
    if (!best || better(m, *best)) best = &m;
  }
  if (best) return {best->name, "Placed", "placed on machine " + best->name};
  std::string why;
  auto add = [&](int n, const std::string& what) {
    if (n > 0) why += (why.empty() ? "" : ", ") + std::to_string(n) + " " + what;
  };
  add(not_ready, "not Ready");
  add(unschedulable, "unschedulable");
  add(full, "full (sessions)");
  add(no_cpu, "without the CPU");
  add(no_memory, "without the memory");
  const std::string message =
      "no machine has room: 0 of " + std::to_string(machines.size()) + " fit (" + why + "); it starts when one does";
  return {"", not_ready + unschedulable == static_cast<int>(machines.size()) ? "NoReadyMachine" : "NoRoom", message};
}

}  // namespace visi
