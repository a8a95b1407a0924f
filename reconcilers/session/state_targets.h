#pragma once

#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "reconcilers/session/session_spec.h"
#include "reconcilers/snapshot/session_bundle.h"

namespace visi {

// The state paths of a session's containers, as capture and restore take
// them: the front end's spec.statePaths, and spec.spark.statePaths for the
// master and each worker. Components are named as in status.components
// (frontend, master, worker-N) from each container's labels; containers
// without a known component, and components without paths, are left out.
std::vector<StateTarget> SessionStateTargets(const SessionSpec& spec, const std::vector<ContainerInfo>& containers);

// The component name of a session container from its labels ("" if none).
std::string ComponentOf(const ContainerInfo& c);

}  // namespace visi
