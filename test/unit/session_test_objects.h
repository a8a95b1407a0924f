#pragma once

// Test objects shared by the session planner and status tests: a session,
// and observations of it placed, running and suspending. Pure data.
#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/runtime/conditions.h"
#include "reconcilers/session/session_status.h"

namespace visi::session_testing {

inline Object SessionObject(int workers = 2) {
  Object o;
  o.api_version = "visi.dev/v1alpha1";
  o.kind = "VisiSession";
  o.metadata.namespace_ = "alice";
  o.metadata.name = "nb";
  o.metadata.uid = "0123456789abcdef";
  o.metadata.generation = 1;
  o.spec = {{"user", "alice"},
            {"spark", {{"workers", workers}, {"resources", {{"cpu", "500m"}, {"memory", "1Gi"}, {"pids", 256}}}}},
            {"frontEnd", {{"port", 8888}}},
            {"env", {{{"name", "MODE"}, {"value", "demo"}}}}};
  return o;
}

// An observation of a placed session whose network is up.
inline SessionObservation PlacedWith(std::vector<ComponentState> components) {
  SessionObservation obs;
  obs.machine = "local";
  obs.network_ready = true;
  obs.components = std::move(components);
  return obs;
}

// A Running session's observation: master, a worker and the front end, all ready.
inline SessionObservation RunningObservation() {
  SessionObservation obs = PlacedWith({{"master", "m", "running", true, "10.200.7.2", ""},
                                       {"worker-0", "w", "running", true, "10.200.7.3", ""},
                                       {"frontend", "f", "running", true, "10.200.7.4", ""}});
  obs.subnet = "10.200.7.0/24";
  obs.network = "visi-alice-nb-01234567";
  obs.frontend_port = 8888;
  obs.master_port = 7077;
  return obs;
}

// The same session asked to suspend, with `left` containers still there.
inline SessionObservation SuspendObservation(int left) {
  SessionObservation obs = RunningObservation();
  obs.components.clear();
  obs.suspend = true;
  obs.containers_left = left;
  return obs;
}

inline std::string ReasonOf(const Json& status, const std::string& type) {
  const Json* c = FindCondition(status, type);
  return c ? c->value("reason", "") + "/" + c->value("status", "") : "";
}

}  // namespace visi::session_testing
