#pragma once

#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/statusor.h"
#include "reconcilers/farm/idle_pool.h"
#include "reconcilers/farm/placement.h"

namespace visi {

// The label every FarmMachine of a pool carries: the pool's name.
inline constexpr char kMachinePoolLabel[] = "visi.dev/pool";
// On an exec machine: the delete program and its timeout as the pool had
// them when the machine was made, {"argv": [...], "timeoutSeconds": N}, so
// the machine can be deleted when its pool is gone or has changed.
inline constexpr char kExecDeleteAnnotation[] = "visi.dev/exec-delete";
// On a machine the idle pool is giving back: cordoned (unschedulable) first,
// deleted on a later pass once the store shows no session on it.
inline constexpr char kScaleDownAnnotation[] = "visi.dev/scale-down";

// The delete program an exec machine records (empty argv: none).
struct RecordedDelete {
  std::vector<std::string> argv;
  int timeout_seconds = 300;
};
RecordedDelete RecordedDeleteOf(const Object& machine);

// One machine of a static pool (spec.provider.static.machines[]).
struct StaticMachine {
  std::string name, endpoint, tls_secret_path;
};

// A FarmPool's spec as typed values. The schema has defaulted and
// range-checked it; this adds what it cannot say (quantities).
struct PoolSpec {
  std::string provider = "local";  // local | static | exec
  std::vector<StaticMachine> static_machines;
  std::vector<std::string> exec_create, exec_delete;
  int exec_timeout_seconds = 300;
  Json capacity = Json::object();  // spec.machineCapacity, copied to each machine
  IdlePoolPolicy policy;
};

// Errors are kInvalid naming the field (spec.machineCapacity.memory).
StatusOr<PoolSpec> ParsePoolSpec(const Object& pool);

// j[key] when j is an object and that is a string, else "".
std::string StringField(const Json& j, const char* key);

// status.phase of a FarmMachine ("" before its first status).
std::string MachinePhase(const Object& machine);

// The sessions a machine holds, as its status lists them.
int MachineSessionCount(const Object& machine);

// How placement sees a machine: one being deleted takes no session.
// Capacity quantities that do not parse count as unlimited (the schema
// checks their form).
MachineView MachineViewOf(const Object& machine);

// How the idle pool sees a machine. A machine being deleted is Draining or
// Terminating whatever its status says so far.
PoolMachine PoolMachineOf(const Object& machine);

// A new FarmMachine of `pool`, owned by it, with the pool's capacity.
Object NewMachine(const Object& pool, const PoolSpec& spec, const std::string& name);

// The name of the pool's machine number `index`: POOL-INDEX, the pool's
// name shortened when needed to keep it within 253 characters.
std::string MachineName(const std::string& pool, int index);

}  // namespace visi
