#include "controller/runtime/conditions.h"

#include "controller/base/utf8.h"

namespace visi {
namespace {

// c[key] when it is a string, else "" (conditions written by hand may hold anything).
std::string Text(const Json& c, const char* key) {
  return c.is_object() && c.contains(key) && c[key].is_string() ? c[key].get<std::string>() : "";
}

}  // namespace

const Json* FindCondition(const Json& status, const std::string& type) {
  if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
  for (const auto& c : status["conditions"]) {
    if (Text(c, "type") == type) return &c;
  }
  return nullptr;
}

bool SetCondition(Json* status, const Condition& c, TimePoint now) {
  if (!status->is_object()) *status = Json::object();
  Json& list = (*status)["conditions"];
  if (!list.is_array()) list = Json::array();
  Json next = {{"type", c.type}, {"status", c.status}};
  if (!c.reason.empty()) next["reason"] = c.reason;
  if (!c.message.empty()) next["message"] = CleanUtf8(c.message, 4096);
  if (c.observed_generation > 0) next["observedGeneration"] = c.observed_generation;
  for (auto& cur : list) {
    if (Text(cur, "type") != c.type) continue;
    bool transition = Text(cur, "status") != c.status;
    next["lastTransitionTime"] = transition || !cur.contains("lastTransitionTime")
                                     ? Json(FormatRfc3339(now))
                                     : cur["lastTransitionTime"];
    if (cur == next) return false;
    cur = std::move(next);
    return true;
  }
  next["lastTransitionTime"] = FormatRfc3339(now);
  list.push_back(std::move(next));
  return true;
}

}  // namespace visi
