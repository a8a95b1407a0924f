#pragma once

#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/clock.h"

namespace visi {

// One container of the session as observed and probed.
struct ComponentState {
  std::string name;       // frontend | master | worker-N
  std::string container;  // its Docker name
  std::string state;      // Docker's state, or "missing"
  bool ready = false;
  std::string address;    // IP on the session network
  std::string message;    // why it is not ready
};

// Everything one reconcile learned about a live (not deleting) session.
struct SessionObservation {
  std::string machine;
  std::string subnet;
  std::string network;
  bool network_ready = false;
  std::vector<ComponentState> components;  // master, workers, frontend
  int frontend_port = 0, master_port = 0;
  // Set when the reconcile could not go on: the reason (CamelCase) and a
  // message a user can act on, e.g. ImageMissing / "image visi/spark:latest
  // is not on machine local: build it with hack/images.sh".
  std::string blocked_reason, blocked_message;
  // Which condition the block belongs to: NetworkReady or ContainersReady.
  std::string blocked_condition = "ContainersReady";
  // spec.suspend is true: the containers go, the network and subnet stay.
  // `containers_left` is how many of the session's containers still exist.
  bool suspend = false;
  int containers_left = 0;
  // What the suspend is doing while containers are left ("stopping
  // containers", "capturing snapshot NAME", "removing containers").
  std::string suspend_step;
  // status.lastSnapshot to record (null: keep what is there).
  Json last_snapshot;
  // Resume: the Snapshot being restored (status.restoring; "" clears it),
  // and the Restored condition to set (empty reason: leave it).
  std::string restoring;
  std::string restored_status, restored_reason, restored_message;
};

// The new status from the old one and an observation: phase, conditions
// (Scheduled, NetworkReady, ContainersReady, Ready), components, endpoints,
// startedTime and the start deadline (`start_timeout_seconds` after
// startedTime the Ready condition says StartDeadlineExceeded and the phase is
// Failed, while the reconciler keeps trying). Pure.
//
// Suspend (obs.suspend): phase Suspending while containers are left, then
// Suspended with the Suspended condition True and suspendedTime; no
// components, no endpoints, no start deadline; subnet and network go once
// the subnet is released. The first status without suspend after that is a
// resume: Suspended False (Resumed) and startedTime now, so the start
// deadline counts from the resume; the phase is Resuming until the session
// is Ready for the first time since.
//
// Everything else in the old status (other controllers' conditions and
// fields: Routed, Idle, url, route ...) is kept as it is.
Json BuildSessionStatus(const Object& session, const SessionObservation& obs, TimePoint now,
                        int start_timeout_seconds);

// status[key] when it is a string, else "" (status may be null).
std::string StatusString(const Json& status, const char* key);

// True when the status says Ready=True.
bool StatusIsReady(const Json& status);

// True when the status says Suspended=True.
bool StatusIsSuspended(const Json& status);

// True when the status is of a suspend, done or on its way (Suspended True,
// or False with reason Suspending): the next start is a resume.
bool StatusWasSuspending(const Json& status);

// True when `a` and `b` differ at most in what other controllers write (the
// router's url, route, connectedClients, lastActivityTime and its Routed and
// Idle conditions): the session reconciler's own part is the same.
bool SameSessionPart(const Json& a, const Json& b);

}  // namespace visi
