#include "reconcilers/farm/farm_objects.h"

#include <algorithm>

#include "controller/api/quantity.h"
#include "controller/base/clock.h"
#include "controller/base/sha256.h"
#include "controller/runtime/ownership.h"

namespace visi {
namespace {

std::string Str(const Json& j, const char* key, const std::string& def = "") {
  const std::string s = StringField(j, key);
  return s.empty() ? def : s;
}
int Int(const Json& j, const char* key, int def) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int>() : def;
}
const Json& Field(const Json& j, const char* key) {
  static const Json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}
std::vector<std::string> Strings(const Json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}
// A quantity given as a number or a string; absent: 0 (unlimited).
StatusOr<int64_t> Quantity(const Json& j, const char* key, double scale, const std::string& field) {
  const Json& v = Field(j, key);
  if (v.is_null()) return int64_t{0};
  return ParseQuantity(v.is_string() ? v.get<std::string>() : v.dump(), scale, field);
}

}  // namespace

std::string StringField(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

StatusOr<PoolSpec> ParsePoolSpec(const Object& pool) {
  PoolSpec out;
  const Json& spec = pool.spec;
  const Json& provider = Field(spec, "provider");
  out.provider = Str(provider, "type", "local");
  if (out.provider == "static") {
    const Json& machines = Field(Field(provider, "static"), "machines");
    if (!machines.is_array()) {
      return InvalidError("spec.provider.static.machines: required for provider type static",
                          {{"spec.provider.static.machines", "required"}});
    }
    for (size_t i = 0; i < machines.size(); ++i) {
      StaticMachine m{Str(machines[i], "name"), Str(machines[i], "endpoint"), Str(machines[i], "tlsSecretPath")};
      const std::string at = "spec.provider.static.machines[" + std::to_string(i) + "]";
      if (m.name.empty() || m.endpoint.empty()) {
        return InvalidError(at + ": name and endpoint are required", {{at, "name and endpoint"}});
      }
      for (const auto& earlier : out.static_machines) {
        if (earlier.name == m.name) {
          return InvalidError(at + ".name: " + m.name + " is listed twice", {{at + ".name", "unique"}});
        }
      }
      out.static_machines.push_back(std::move(m));
    }
  } else if (out.provider == "exec") {
    const Json& exec = Field(provider, "exec");
    out.exec_create = Strings(Field(exec, "create"));
    out.exec_delete = Strings(Field(exec, "delete"));
    out.exec_timeout_seconds = Int(exec, "timeoutSeconds", 300);
    if (out.exec_create.empty() || out.exec_delete.empty()) {
      return InvalidError("spec.provider.exec: create and delete are required for provider type exec",
                          {{"spec.provider.exec", "create and delete"}});
    }
  } else if (out.provider != "local") {
    return InvalidError("spec.provider.type: must be local, static or exec, got \"" + out.provider + "\"",
                        {{"spec.provider.type", "local, static or exec"}});
  }
  const Json& cap = Field(spec, "machineCapacity");
  if (cap.is_object()) out.capacity = cap;
  VISI_RETURN_IF_ERROR(Quantity(cap, "cpu", 1e9, "spec.machineCapacity.cpu").status());
  VISI_RETURN_IF_ERROR(Quantity(cap, "memory", 1, "spec.machineCapacity.memory").status());
  const Json& idle = Field(spec, "idlePool");
  out.policy.min_idle = Int(idle, "minIdle", 1);
  out.policy.max_idle = Int(idle, "maxIdle", 2);
  out.policy.max_machines = Int(spec, "maxMachines", 10);
  out.policy.scale_down_delay = std::chrono::seconds(Int(spec, "scaleDownDelaySeconds", 300));
  out.policy.sessions_per_machine = Int(cap, "sessions", 4);
  return out;
}

std::string MachinePhase(const Object& machine) { return Str(machine.status, "phase"); }

int MachineSessionCount(const Object& machine) { return Int(machine.status, "sessionCount", 0); }

MachineView MachineViewOf(const Object& m) {
  MachineView v;
  v.name = m.metadata.name;
  v.phase = MachinePhase(m);
  const Json& spec = m.spec;
  v.unschedulable = m.metadata.deletion_timestamp.has_value() ||
                    (Field(spec, "unschedulable").is_boolean() && Field(spec, "unschedulable").get<bool>());
  const Json& cap = Field(spec, "capacity");
  v.max_sessions = Int(cap, "sessions", 4);
  auto cpu = Quantity(cap, "cpu", 1e9, "cpu");
  auto memory = Quantity(cap, "memory", 1, "memory");
  v.capacity.nano_cpus = cpu.ok() ? *cpu : 0;
  v.capacity.memory_bytes = memory.ok() ? *memory : 0;
  v.sessions = MachineSessionCount(m);
  return v;
}

PoolMachine PoolMachineOf(const Object& m) {
  PoolMachine p;
  p.name = m.metadata.name;
  p.phase = MachinePhase(m);
  const bool scaling_down = m.metadata.annotations.count(kScaleDownAnnotation) > 0;
  if ((m.metadata.deletion_timestamp || scaling_down) && p.phase != "Terminating") p.phase = "Draining";
  if (p.phase.empty()) p.phase = "Provisioning";
  // Cordoned by hand: no session can be placed there, so it is no idle machine.
  if (p.phase == "Ready" && MachineViewOf(m).unschedulable) p.phase = "Unschedulable";
  p.sessions = MachineSessionCount(m);
  if (auto since = ParseRfc3339(Str(m.status, "idleSince")); since && p.sessions == 0) p.idle_since = since;
  return p;
}

std::string MachineName(const std::string& pool, int index) {
  const std::string suffix = "-" + std::to_string(index);
  if (pool.size() + suffix.size() <= 253) return pool + suffix;
  // Shortened, with a hash of the whole name so two long pools stay apart.
  std::string base = pool.substr(0, 253 - suffix.size() - 9);
  return base + "-" + Sha256Hex(pool).substr(0, 8) + suffix;
}

Object NewMachine(const Object& pool, const PoolSpec& spec, const std::string& name) {
  Object o;
  o.kind = "FarmMachine";
  o.metadata.name = name;
  if (pool.metadata.name.size() <= 63) o.metadata.labels[kMachinePoolLabel] = pool.metadata.name;
  o.metadata.owner_references.push_back(OwnerRefTo(pool, /*controller=*/true));
  o.spec = {{"pool", pool.metadata.name}, {"capacity", spec.capacity}};
  if (spec.provider == "exec") {
    o.metadata.annotations[kExecDeleteAnnotation] =
        Json{{"argv", spec.exec_delete}, {"timeoutSeconds", spec.exec_timeout_seconds}}.dump();
  }
  return o;
}

RecordedDelete RecordedDeleteOf(const Object& machine) {
  RecordedDelete out;
  auto it = machine.metadata.annotations.find(kExecDeleteAnnotation);
  if (it == machine.metadata.annotations.end()) return out;
  const Json j = Json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  out.argv = Strings(Field(j, "argv"));
  out.timeout_seconds = std::max(1, Int(j, "timeoutSeconds", 300));
  return out;
}

}  // namespace visi
