#include "reconcilers/session/session_plan.h"

#include <map>
#include <set>

#include "reconcilers/session/session_labels.h"

namespace visi {
namespace {

using Type = SessionAction::Type;

SessionAction Act(Type t, std::string target, std::string reason) {
  SessionAction a;
  a.type = t;
  a.target = std::move(target);
  a.reason = std::move(reason);
  return a;
}

std::string LabelOf(const Labels& l, const char* key) {
  auto it = l.find(key);
  return it == l.end() ? "" : it->second;
}

}  // namespace

const char* ActionName(Type t) {
  switch (t) {
    case Type::kRemoveContainer: return "RemoveContainer";
    case Type::kRemoveNetwork: return "RemoveNetwork";
    case Type::kCreateNetwork: return "CreateNetwork";
    case Type::kCreateContainer: return "CreateContainer";
    case Type::kStartContainer: return "StartContainer";
  }
  return "?";
}

std::vector<SessionAction> PlanSession(const DesiredSession& desired, const ObservedSession& observed) {
  std::vector<SessionAction> removals, creates;
  std::map<std::string, const ContainerSpec*> wanted;
  for (const auto& c : desired.containers) wanted[c.name] = &c;

  // The network: one of the desired name on the desired subnet. Any other
  // network of the session goes, and with it every container (they are
  // attached to it and would not reach the new one).
  bool network_ok = false;
  bool network_replaced = false;
  for (const auto& n : observed.networks) {
    if (n.name == desired.network.name && n.subnet == desired.network.subnet) {
      network_ok = true;
    } else {
      network_replaced = network_replaced || n.name == desired.network.name;
    }
  }

  std::set<std::string> keep;  // containers that stay as they are (or are only started)
  for (const auto& c : observed.containers) {
    auto it = wanted.find(c.name);
    std::string why;
    if (it == wanted.end()) {
      why = "not in the spec";
    } else if (network_replaced || !network_ok) {
      why = "its network is replaced";
    } else if (LabelOf(c.labels, session_labels::kSpecHash) != LabelOf(it->second->labels, session_labels::kSpecHash)) {
      why = "spec changed";
    } else if (c.state == "dead" || c.state == "removing") {
      why = "container is " + c.state;
    }
    if (why.empty()) {
      keep.insert(c.name);
    } else {
      removals.push_back(Act(Type::kRemoveContainer, c.name, why));
    }
  }
  for (const auto& n : observed.networks) {
    if (!(n.name == desired.network.name && n.subnet == desired.network.subnet)) {
      removals.push_back(Act(Type::kRemoveNetwork, n.name.empty() ? n.id : n.name,
                             n.name == desired.network.name ? "subnet changed" : "not the session's network"));
    }
  }
  if (!network_ok) {
    SessionAction a = Act(Type::kCreateNetwork, desired.network.name, "missing");
    a.network = desired.network;
    creates.push_back(std::move(a));
  }
  for (const auto& spec : desired.containers) {
    const ContainerInfo* seen = nullptr;
    for (const auto& c : observed.containers) {
      if (c.name == spec.name && keep.count(c.name)) seen = &c;
    }
    if (!seen) {
      SessionAction a = Act(Type::kCreateContainer, spec.name, "missing");
      a.container = spec;
      creates.push_back(std::move(a));
      creates.push_back(Act(Type::kStartContainer, spec.name, "created"));
    } else if (!seen->running() && seen->state != "restarting") {
      creates.push_back(Act(Type::kStartContainer, spec.name, "container is " + seen->state));
    }
  }
  removals.insert(removals.end(), creates.begin(), creates.end());
  return removals;
}

std::vector<SessionAction> PlanTeardown(const ObservedSession& observed) {
  std::vector<SessionAction> out;
  for (const auto& c : observed.containers) out.push_back(Act(Type::kRemoveContainer, c.name, "session deleted"));
  for (const auto& n : observed.networks) {
    out.push_back(Act(Type::kRemoveNetwork, n.name.empty() ? n.id : n.name, "session deleted"));
  }
  return out;
}

std::vector<SessionAction> PlanSuspend(const ObservedSession& observed) {
  std::vector<SessionAction> out;
  for (const auto& c : observed.containers) out.push_back(Act(Type::kRemoveContainer, c.name, "session suspended"));
  return out;
}

}  // namespace visi
