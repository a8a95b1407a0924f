#include "reconcilers/session/session_spec.h"

#include <algorithm>
#include <set>

#include "controller/api/quantity.h"

namespace visi {
namespace {

// Reads spec.<path>.resources into limits; missing fields mean no limit
// (the schema defaults them, so that happens only for old objects).
Status ParseLimits(const Json& parent, const std::string& path, ContainerLimits* out) {
  if (!parent.is_object() || !parent.contains("resources")) return OkStatus();
  const Json& r = parent["resources"];
  auto text = [](const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
  if (r.contains("memory")) {
    VISI_ASSIGN_OR_RETURN(out->memory_bytes, ParseMemoryBytes(text(r["memory"]), path + ".resources.memory"));
  }
  if (r.contains("cpu")) {
    VISI_ASSIGN_OR_RETURN(out->nano_cpus, ParseNanoCpus(text(r["cpu"]), path + ".resources.cpu"));
  }
  if (r.contains("pids") && r["pids"].is_number_integer()) out->pids = r["pids"].get<int64_t>();
  return OkStatus();
}

std::string Str(const Json& j, const char* key, const std::string& def) {
  return j.is_object() && j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : def;
}
int Int(const Json& j, const char* key, int def) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<int>() : def;
}

// An absolute, normalized path other than "/": what the archive API gets.
bool IsStatePath(const std::string& p) {
  if (p.size() < 2 || p[0] != '/' || p.back() == '/') return false;
  size_t start = 1;
  while (start <= p.size()) {
    const size_t end = std::min(p.find('/', start), p.size());
    const std::string part = p.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return p.find('\0') == std::string::npos;
}

// A list of state paths under `j`["statePaths"] (`def` when absent); each
// one checked, no repeats. Errors name the field: spec.statePaths[1].
StatusOr<std::vector<std::string>> StatePaths(const Json& j, const std::string& field, std::vector<std::string> def) {
  if (!j.is_object() || !j.contains("statePaths")) return def;
  if (!j["statePaths"].is_array()) return InvalidError(field + ": must be a list", {{field, "must be a list"}});
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (size_t i = 0; i < j["statePaths"].size(); ++i) {
    const Json& p = j["statePaths"][i];
    const std::string where = field + "[" + std::to_string(i) + "]";
    if (!p.is_string() || !IsStatePath(p.get<std::string>())) {
      return InvalidError(where + ": must be an absolute path without \".\", \"..\", \"//\" or a trailing \"/\", not \"/\"",
                          {{where, "must be an absolute, normalized path other than /"}});
    }
    if (!seen.insert(p.get<std::string>()).second) {
      return InvalidError(where + ": " + p.get<std::string>() + " is listed twice", {{where, "listed twice"}});
    }
    out.push_back(p.get<std::string>());
  }
  return out;
}

}  // namespace

StatusOr<SessionSpec> ParseSessionSpec(const Object& session) {
  const Json& s = session.spec;
  if (!s.is_object()) return InvalidError("spec: must be an object", {{"spec", "must be an object"}});
  SessionSpec out;
  out.user = Str(s, "user", "");
  out.pool = Str(s, "pool", "default");
  const Json fe = s.value("frontEnd", Json::object());
  out.frontend_image = Str(fe, "image", "visi/frontend:latest");
  out.frontend_port = Int(fe, "port", 8080);
  if (fe.contains("command") && fe["command"].is_array()) {
    for (const auto& c : fe["command"]) {
      if (c.is_string()) out.frontend_command.push_back(c.get<std::string>());
    }
  }
  out.readiness_path = Str(fe, "readinessPath", "/healthz");
  VISI_RETURN_IF_ERROR(ParseLimits(fe, "spec.frontEnd", &out.frontend_limits));
  const Json sp = s.value("spark", Json::object());
  out.master_image = Str(sp, "masterImage", "visi/spark:latest");
  out.worker_image = Str(sp, "workerImage", "visi/spark:latest");
  auto strings = [](const Json& j, const char* key, std::vector<std::string> def) {
    if (!j.contains(key) || !j[key].is_array()) return def;
    std::vector<std::string> v;
    for (const auto& x : j[key]) {
      if (x.is_string()) v.push_back(x.get<std::string>());
    }
    return v;
  };
  out.master_command = strings(sp, "masterCommand", {"master"});
  out.worker_command = strings(sp, "workerCommand", {"worker"});
  out.workers = Int(sp, "workers", 2);
  out.master_port = Int(sp, "masterPort", 7077);
  VISI_RETURN_IF_ERROR(ParseLimits(sp, "spec.spark", &out.spark_limits));
  if (out.workers < 0) {
    return InvalidError("spec.spark.workers: must be >= 0", {{"spec.spark.workers", "must be >= 0"}});
  }
  VISI_ASSIGN_OR_RETURN(out.state_paths, StatePaths(s, "spec.statePaths", {"/data"}));
  VISI_ASSIGN_OR_RETURN(out.spark_state_paths, StatePaths(sp, "spec.spark.statePaths", {}));
  const Json snaps = s.value("snapshots", Json::object());
  out.snapshot_retain = Int(snaps, "retain", 3);
  if (out.snapshot_retain < 1 || out.snapshot_retain > 100) {
    return InvalidError("spec.snapshots.retain: must be between 1 and 100",
                        {{"spec.snapshots.retain", "must be between 1 and 100"}});
  }
  out.keep_on_delete = snaps.is_object() && snaps.value("keepOnDelete", false);
  out.restore_from = Str(snaps, "restoreFrom", "");
  out.idle_timeout_seconds = Int(s, "idleTimeoutSeconds", 1800);
  std::set<std::string> names;
  if (s.contains("env") && s["env"].is_array()) {
    for (size_t i = 0; i < s["env"].size(); ++i) {
      const Json& e = s["env"][i];
      std::string name = Str(e, "name", "");
      const std::string field = "spec.env[" + std::to_string(i) + "].name";
      if (name.empty()) return InvalidError(field + ": required", {{field, "required"}});
      if (name.rfind("VISI_", 0) == 0 || name.rfind("SPARK_MASTER", 0) == 0) {
        return InvalidError(field + ": " + name + " is set by Visi",
                            {{field, "must not start with VISI_ or SPARK_MASTER (set by Visi)"}});
      }
      if (!names.insert(name).second) {
        return InvalidError(field + ": duplicate name " + name, {{field, "duplicate name " + name}});
      }
      out.env.push_back(name + "=" + Str(e, "value", ""));
    }
  }
  out.suspend = s.value("suspend", false);
  out.start_timeout_seconds = Int(s, "startTimeoutSeconds", 300);
  return out;
}

}  // namespace visi
