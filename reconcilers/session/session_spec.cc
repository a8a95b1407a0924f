#include "reconcilers/session/session_spec.h"

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
  if (s.contains("statePaths") && s["statePaths"].is_array()) {
    for (const auto& p : s["statePaths"]) {
      if (p.is_string()) out.state_paths.push_back(p.get<std::string>());
    }
  }
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
