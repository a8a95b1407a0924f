#pragma once

#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "reconcilers/session/session_desired.h"

namespace visi {

// One step toward the desired session.
struct SessionAction {
  enum class Type { kRemoveContainer, kRemoveNetwork, kCreateNetwork, kCreateContainer, kStartContainer };
  Type type;
  std::string target;       // container or network name (or id, for removals)
  std::string reason;       // why, for logs and events ("missing", "spec changed", "exited" ...)
  ContainerSpec container;  // kCreateContainer
  NetworkSpec network;      // kCreateNetwork
  bool operator==(const SessionAction& o) const {
    return type == o.type && target == o.target && reason == o.reason;
  }
};

// What the world holds for one session (everything carrying its uid label).
struct ObservedSession {
  std::vector<ContainerInfo> containers;
  std::vector<NetworkInfo> networks;
};

// Observe → plan: the actions, in execution order, that turn `observed`
// into `desired`. Removals come first (stale or extra containers, then stale
// networks), then the network, then each container in start order (master,
// workers, front end): created and started when missing, replaced when its
// spec hash differs, started again when it stopped. Pure; table-tested.
std::vector<SessionAction> PlanSession(const DesiredSession& desired, const ObservedSession& observed);

// Everything goes: containers, then networks.
std::vector<SessionAction> PlanTeardown(const ObservedSession& observed);

// spec.suspend: every container goes (stopped with the grace, then removed),
// the networks stay, so a resume is quick and keeps its subnet. There is no
// snapshot yet: what the containers held is lost.
std::vector<SessionAction> PlanSuspend(const ObservedSession& observed);

const char* ActionName(SessionAction::Type t);

}  // namespace visi
