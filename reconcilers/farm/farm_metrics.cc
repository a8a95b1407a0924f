#include "reconcilers/farm/farm_metrics.h"

#include "controller/base/prometheus.h"
#include "controller/runtime/informer.h"
#include "reconcilers/farm/farm_objects.h"

namespace visi {
namespace {

std::string Label(const char* name, const std::string& value) {
  return std::string(name) + "=\"" + EscapeLabelValue(value) + "\"";
}

int64_t IntField(const Json& j, const char* key) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int64_t>() : 0;
}

}  // namespace

void FarmMetrics::CountExec(const std::string& pool, const std::string& program, bool ok) {
  const std::string labels = Label("pool", pool) + "," + Label("program", program) + "," +
                             Label("result", ok ? "ok" : "error");
  std::lock_guard lock(mu_);
  ++exec_runs_[labels];
}

std::string FarmMetrics::Render(const Informer& pools, const Informer& machines) const {
  std::string m = PromHeader("visi_farmpool_machines", "gauge",
                             "Machines of a FarmPool by state (as its status last said).");
  std::string sessions =
      PromHeader("visi_farmpool_sessions", "gauge", "Sessions placed on a FarmPool's machines.");
  for (const ObjectPtr& p : pools.List()) {
    const std::string pool = Label("pool", p->metadata.name);
    for (const auto& [state, field] : {std::pair{"all", "machines"},
                                       {"ready", "readyMachines"},
                                       {"idle", "idleMachines"},
                                       {"in_use", "inUseMachines"},
                                       {"provisioning", "provisioningMachines"},
                                       {"draining", "drainingMachines"}}) {
      m += "visi_farmpool_machines{" + pool + "," + Label("state", state) + "} " +
           std::to_string(IntField(p->status, field)) + "\n";
    }
    sessions += "visi_farmpool_sessions{" + pool + "} " + std::to_string(IntField(p->status, "sessions")) + "\n";
  }
  m += sessions;
  std::string ready = PromHeader("visi_farmmachine_ready", "gauge",
                                 "1 when a FarmMachine is Ready (its Docker endpoint answers), else 0.");
  std::string held = PromHeader("visi_farmmachine_sessions", "gauge", "Sessions placed on a FarmMachine.");
  for (const ObjectPtr& mach : machines.List()) {
    const std::string labels = Label("machine", mach->metadata.name) + "," +
                               Label("pool", StringField(mach->spec, "pool")) + "," +
                               Label("phase", MachinePhase(*mach));
    ready += "visi_farmmachine_ready{" + labels + "} " + (MachinePhase(*mach) == "Ready" ? "1" : "0") + "\n";
    held += "visi_farmmachine_sessions{" + labels + "} " + std::to_string(MachineSessionCount(*mach)) + "\n";
  }
  m += ready + held;
  m += PromHeader("visi_farm_exec_runs_total", "counter",
                  "Runs of the exec provider's create and delete programs, by result.");
  std::lock_guard lock(mu_);
  for (const auto& [labels, count] : exec_runs_) {
    m += "visi_farm_exec_runs_total{" + labels + "} " + std::to_string(count) + "\n";
  }
  return m;
}

}  // namespace visi
