#pragma once

#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "reconcilers/session/session_spec.h"

namespace visi {

// Which session, as Docker objects name and label it.
struct SessionIdentity {
  std::string namespace_, name, uid;
  std::string instance = "default";  // visid --instance: several installations share a host
};

// What the world should hold for one session: its network and its
// containers in start order (master, workers, front end).
struct DesiredSession {
  NetworkSpec network;
  std::vector<ContainerSpec> containers;
  std::string master_alias;  // the master's DNS name on the session network
};

// The network and container names: deterministic, so a create after a crash
// finds what the crashed run made (visi-<ns>-<name>-<uid prefix>[-part]).
std::string SessionNetworkName(const SessionIdentity& id);

// "/s/NAMESPACE/NAME/": where the session lives under the router's URL. The
// front end gets it as VISI_BASE_URL (JupyterHub's service prefix).
std::string SessionPathPrefix(const std::string& ns, const std::string& name);

// The labels every Docker object of the session carries (no component).
Labels SessionLabels(const SessionIdentity& id);

// A pure function of the session and its subnet. Each container carries
// kSpecHash: the hash of everything else in its spec, so an unchanged hash
// means nothing to roll out.
DesiredSession BuildDesiredSession(const SessionIdentity& id, const SessionSpec& spec, const std::string& subnet);

// The value of kSessionKey for a session "namespace/name".
std::string SessionKeyHash(const std::string& ns, const std::string& name);

// The spec hash of a container spec (ignoring its kSpecHash label).
std::string ContainerSpecHash(const ContainerSpec& c);

}  // namespace visi
