#include "reconcilers/session/session_status.h"

#include "controller/base/utf8.h"
#include "controller/runtime/conditions.h"

namespace visi {

std::string StatusString(const Json& status, const char* key) {
  if (!status.is_object()) return "";
  auto it = status.find(key);
  return it != status.end() && it->is_string() ? it->get<std::string>() : "";
}

namespace {

bool ConditionIsTrue(const Json& status, const char* type) {
  if (!status.is_object()) return false;
  const Json* c = FindCondition(status, type);
  return c && c->value("status", "") == "True";
}

// The status of a session whose spec says suspend: nothing runs, so there
// are no components and no addresses to route to, and no start deadline.
void SetSuspendStatus(Json* status, const SessionObservation& obs, TimePoint now, int64_t gen) {
  auto cond = [&](const std::string& type, bool ok, const std::string& reason, const std::string& message) {
    SetCondition(status, {type, ok ? "True" : "False", reason, message, gen}, now);
  };
  const bool was_suspended = StatusIsSuspended(*status);
  (*status)["components"] = Json::array();
  (*status)["readyWorkers"] = 0;
  status->erase("frontEndAddress");
  status->erase("sparkMasterAddress");
  std::string phase, message;
  if (!obs.blocked_reason.empty()) {
    // Docker cannot be asked, a removal was refused, or the snapshot
    // failed. A session already suspended stays so: nothing starts its
    // containers. One on its way stays Suspending and says what stops it.
    const bool snapshot = obs.blocked_condition == "Suspended";
    if (!snapshot) cond("ContainersReady", false, obs.blocked_reason, obs.blocked_message);
    if (!was_suspended) {
      cond("Suspended", false, snapshot ? obs.blocked_reason : "Suspending", obs.blocked_message);
      cond("Ready", false, "Suspending", obs.blocked_message);
    }
    phase = was_suspended ? "Suspended" : "Suspending";
    message = obs.blocked_message;
  } else if (obs.containers_left > 0) {
    message = "suspending: " + (obs.suspend_step.empty() ? "removing " + std::to_string(obs.containers_left) + " containers"
                                                         : obs.suspend_step);
    cond("ContainersReady", false, "Suspending", message);
    cond("Suspended", false, "Suspending", message);
    cond("Ready", false, "Suspending", message);
    phase = "Suspending";
  } else {
    message = "suspended: spec.suspend is true; a request through the router or spec.suspend=false resumes it";
    cond("ContainersReady", false, "Suspended", "no containers while suspended");
    const std::string snap = obs.last_snapshot.is_object() ? obs.last_snapshot.value("name", "")
                             : status->contains("lastSnapshot") && (*status)["lastSnapshot"].is_object()
                                 ? (*status)["lastSnapshot"].value("name", "")
                                 : "";
    cond("Suspended", true, "SuspendRequested",
         "containers and network removed, subnet released" +
             (snap.empty() ? std::string("; no state captured") : "; state in snapshot " + snap));
    cond("Ready", false, "Suspended", message);
    if (!was_suspended || !status->contains("suspendedTime")) (*status)["suspendedTime"] = FormatRfc3339(now);
    phase = "Suspended";
  }
  if (obs.subnet.empty()) status->erase("subnet");
  if (obs.network.empty()) status->erase("network");
  (*status)["phase"] = phase;
  (*status)["message"] = CleanUtf8(message, 4096);
}

}  // namespace

bool StatusIsReady(const Json& status) { return ConditionIsTrue(status, "Ready"); }

bool StatusIsSuspended(const Json& status) { return ConditionIsTrue(status, "Suspended"); }

bool SameSessionPart(const Json& a, const Json& b) {
  auto own = [](const Json& st) {
    if (!st.is_object()) return Json::object();
    Json out = st;
    for (const char* key : {"url", "route", "connectedClients", "lastActivityTime"}) out.erase(key);
    if (out.contains("conditions") && out["conditions"].is_array()) {
      Json kept = Json::array();
      for (const Json& c : out["conditions"]) {
        const std::string type = c.is_object() ? c.value("type", "") : "";
        if (type != "Routed" && type != "Idle") kept.push_back(c);
      }
      out["conditions"] = std::move(kept);
    }
    return out;
  };
  return own(a) == own(b);
}

bool StatusWasSuspending(const Json& status) {
  if (!status.is_object()) return false;
  const Json* c = FindCondition(status, "Suspended");
  return c && (c->value("status", "") == "True" || c->value("reason", "") != "Resumed");
}

Json BuildSessionStatus(const Object& session, const SessionObservation& obs, TimePoint now,
                        int start_timeout_seconds) {
  Json status = session.status.is_object() ? session.status : Json::object();
  const int64_t gen = session.metadata.generation;
  auto cond = [&](const std::string& type, bool ok, const std::string& reason, const std::string& message) {
    SetCondition(&status, {type, ok ? "True" : "False", reason, message, gen}, now);
  };

  status["observedGeneration"] = gen;
  status["machine"] = obs.machine;
  if (obs.machine.empty() && obs.blocked_condition == "Scheduled") {
    cond("Scheduled", false, obs.blocked_reason, obs.blocked_message);
  } else {
    cond("Scheduled", !obs.machine.empty(), obs.machine.empty() ? "Unscheduled" : "Placed",
         obs.machine.empty() ? "no machine" : "placed on machine " + obs.machine);
  }
  if (!obs.subnet.empty()) status["subnet"] = obs.subnet;
  if (!obs.network.empty()) status["network"] = obs.network;

  const bool net_blocked = !obs.blocked_reason.empty() && obs.blocked_condition == "NetworkReady";
  if (net_blocked) {
    cond("NetworkReady", false, obs.blocked_reason, obs.blocked_message);
  } else if (obs.suspend && !obs.network_ready) {
    cond("NetworkReady", false, "Suspended", "no network while suspended: it is created on resume");
  } else {
    cond("NetworkReady", obs.network_ready, obs.network_ready ? "NetworkCreated" : "NetworkPending",
         obs.network_ready ? "network " + obs.network + " on " + obs.subnet : "creating the session network");
  }
  if (obs.last_snapshot.is_object()) status["lastSnapshot"] = obs.last_snapshot;
  if (!obs.restoring.empty()) {
    status["restoring"] = obs.restoring;
  } else {
    status.erase("restoring");
  }
  if (!obs.restored_reason.empty()) {
    SetCondition(&status, {"Restored", obs.restored_status, obs.restored_reason, CleanUtf8(obs.restored_message, 4096), gen},
                 now);
  }
  if (obs.suspend) {
    SetSuspendStatus(&status, obs, now, gen);
    return status;
  }
  // The first pass without suspend after a suspend (done or on its way) is
  // a resume: the session starts again, and the start deadline counts from now.
  if (StatusWasSuspending(status)) {
    cond("Suspended", false, "Resumed", "spec.suspend is false: starting again");
    status["startedTime"] = FormatRfc3339(now);
  }

  Json components = Json::array();
  int ready_workers = 0, not_ready = 0;
  std::string first_stuck;
  for (const auto& c : obs.components) {
    Json j = {{"name", c.name}, {"container", c.container}, {"state", c.state}, {"ready", c.ready}};
    if (!c.address.empty()) j["address"] = c.address;
    if (!c.message.empty()) j["message"] = CleanUtf8(c.message, 1024);
    components.push_back(std::move(j));
    if (c.ready && c.name.rfind("worker-", 0) == 0) ++ready_workers;
    if (!c.ready) {
      ++not_ready;
      if (first_stuck.empty()) first_stuck = c.name + ": " + (c.message.empty() ? c.state : c.message);
    }
    if (c.name == "frontend" && !c.address.empty()) {
      status["frontEndAddress"] = c.address + ":" + std::to_string(obs.frontend_port);
    }
    if (c.name == "master" && !c.address.empty()) {
      status["sparkMasterAddress"] = "spark://" + c.address + ":" + std::to_string(obs.master_port);
    }
  }
  status["components"] = std::move(components);
  status["readyWorkers"] = ready_workers;

  const bool blocked = !obs.blocked_reason.empty();
  const bool containers_ready = !blocked && obs.network_ready && !obs.components.empty() && not_ready == 0;
  if (blocked && !net_blocked) {
    cond("ContainersReady", false, obs.blocked_reason, obs.blocked_message);
  } else if (containers_ready) {
    cond("ContainersReady", true, "AllReady", std::to_string(obs.components.size()) + " containers ready");
  } else {
    cond("ContainersReady", false, "Starting",
         first_stuck.empty() ? "waiting for the network" : std::to_string(not_ready) + " not ready; " + first_stuck);
  }

  if (!status.contains("startedTime")) status["startedTime"] = FormatRfc3339(now);
  const bool was_ready = StatusIsReady(status);
  std::string ready_reason = "Starting", ready_message;
  // Resuming until Ready for the first time since the resume.
  std::string phase = "Starting";
  if (const Json* sc = FindCondition(status, "Suspended"); sc && sc->value("reason", "") == "Resumed") {
    const Json* rc = FindCondition(status, "Ready");
    if (!rc || rc->value("status", "") != "True" ||
        rc->value("lastTransitionTime", "") <= sc->value("lastTransitionTime", "")) {
      phase = "Resuming";
    }
  }
  if (containers_ready) {
    ready_reason = "Ready";
    ready_message = "front end answers and the Spark master accepts connections";
    phase = "Running";
  } else {
    ready_message = blocked ? obs.blocked_message : (first_stuck.empty() ? "waiting for the network" : first_stuck);
    if (blocked) ready_reason = obs.blocked_reason;
    // The deadline runs from the start, or from when the session last stopped
    // being Ready (drift, a roll-out): not from the first start of a session
    // that has been running for hours. A daemon outage is not the session's.
    auto since = ParseRfc3339(status["startedTime"].get<std::string>());
    if (const Json* r = FindCondition(status, "Ready"); r && r->value("status", "") == "False") {
      auto t = ParseRfc3339(r->value("lastTransitionTime", ""));
      if (t && (!since || *t > *since)) since = t;
    }
    // Nor does the wait for a machine count: the deadline runs from the placement.
    if (const Json* sc = FindCondition(status, "Scheduled"); sc && sc->value("status", "") == "True") {
      auto t = ParseRfc3339(sc->value("lastTransitionTime", ""));
      if (t && (!since || *t > *since)) since = t;
    }
    const bool not_the_sessions = obs.blocked_reason == "DockerUnavailable" ||
                                  obs.blocked_reason == "MachineNotReady" || obs.blocked_condition == "Scheduled";
    const bool deadline = !was_ready && since.has_value() && !not_the_sessions &&
                          now - *since > std::chrono::seconds(start_timeout_seconds);
    if (deadline) {
      ready_reason = "StartDeadlineExceeded";
      ready_message = "not ready " + std::to_string(start_timeout_seconds) + "s after start; " + ready_message;
      phase = "Failed";
    } else if (blocked && obs.blocked_reason != "DockerUnavailable" && phase != "Resuming") {
      phase = "Pending";
    }
  }
  cond("Ready", containers_ready, ready_reason, ready_message);
  status["phase"] = phase;
  if (containers_ready) {
    status.erase("message");
  } else {
    status["message"] = CleanUtf8(ready_message, 4096);
  }
  return status;
}

}  // namespace visi
