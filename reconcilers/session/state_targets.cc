#include "reconcilers/session/state_targets.h"

#include "reconcilers/session/session_labels.h"

namespace visi {

namespace L = session_labels;

std::string ComponentOf(const ContainerInfo& c) {
  auto label = [&](const char* key) {
    auto it = c.labels.find(key);
    return it == c.labels.end() ? std::string() : it->second;
  };
  const std::string component = label(L::kComponent);
  if (component == "frontend" || component == "master") return component;
  if (component == "worker" && !label(L::kIndex).empty()) return "worker-" + label(L::kIndex);
  return "";
}

std::vector<StateTarget> SessionStateTargets(const SessionSpec& spec, const std::vector<ContainerInfo>& containers) {
  std::vector<StateTarget> out;
  for (const ContainerInfo& c : containers) {
    const std::string component = ComponentOf(c);
    if (component.empty()) continue;
    const auto& paths = component == "frontend" ? spec.state_paths : spec.spark_state_paths;
    if (paths.empty()) continue;
    out.push_back({component, c.name.empty() ? c.id : c.name, paths});
  }
  return out;
}

}  // namespace visi
