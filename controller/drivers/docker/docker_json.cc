#include "controller/drivers/docker/docker_json.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "controller/drivers/docker/ipv4.h"

namespace visi {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxMessage = 1024;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string Clip(std::string_view text) {
  std::string out(text.substr(0, kMaxMessage));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  if (text.size() > kMaxMessage) out += "...";
  return out;
}

StatusOr<Json> Parse(std::string_view body, std::string_view what) {
  try {
    return Json::parse(body.begin(), body.end());
  } catch (const Json::exception& e) {
    return InternalError("docker daemon answered malformed JSON for " + std::string(what) + ": " + Clip(e.what()));
  }
}

// Reads the members of a daemon answer, remembering the first one whose type
// is not what the API documents. Absent and null members read as empty.
class FieldReader {
 public:
  explicit FieldReader(std::string what) : what_(std::move(what)) {}

  const Json* Find(const Json& obj, const char* key) const {
    if (!obj.is_object()) return nullptr;
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }
  const Json* Object(const Json& obj, const char* key, std::string_view path) {
    const Json* v = Find(obj, key);
    if (!v || v->is_object()) return v;
    Fail(path, "is not an object");
    return nullptr;
  }
  const Json* Array(const Json& obj, const char* key, std::string_view path) {
    const Json* v = Find(obj, key);
    if (!v || v->is_array()) return v;
    Fail(path, "is not an array");
    return nullptr;
  }
  std::string String(const Json& obj, const char* key, std::string_view path, bool required = false) {
    const Json* v = Find(obj, key);
    if (!v) {
      if (required) Fail(path, "is missing");
      return {};
    }
    if (v->is_string()) return v->get<std::string>();
    Fail(path, "is not a string");
    return {};
  }
  int Int(const Json& obj, const char* key, std::string_view path) {
    const Json* v = Find(obj, key);
    if (!v) return 0;
    const bool fits = v->is_number_integer() && v->get<int64_t>() >= std::numeric_limits<int>::min() &&
                      v->get<int64_t>() <= std::numeric_limits<int>::max();
    if (fits) return static_cast<int>(v->get<int64_t>());
    Fail(path, "is not an int");
    return 0;
  }
  Labels LabelMap(const Json& obj, const char* key, std::string_view path) {
    Labels out;
    const Json* v = Object(obj, key, path);
    if (!v) return out;
    for (const auto& [k, value] : v->items()) {
      if (!value.is_string()) {
        Fail(path, "has a non-string value");
        return {};
      }
      out[k] = value.get<std::string>();
    }
    return out;
  }
  // network name -> IPv4 address, from NetworkSettings.Networks; networks
  // without an address (container not running) are left out.
  std::map<std::string, std::string> Ips(const Json& obj) {
    std::map<std::string, std::string> out;
    const Json* settings = Object(obj, "NetworkSettings", "NetworkSettings");
    const Json* networks = settings ? Object(*settings, "Networks", "NetworkSettings.Networks") : nullptr;
    if (!networks) return out;
    for (const auto& [name, endpoint] : networks->items()) {
      if (!endpoint.is_object()) {
        Fail("NetworkSettings.Networks." + name, "is not an object");
        return {};
      }
      std::string ip = String(endpoint, "IPAddress", "IPAddress");
      if (!ip.empty()) out[name] = ip;
    }
    return out;
  }
  void Fail(std::string_view path, std::string_view why) {
    if (status_.ok()) {
      status_ = InternalError("docker daemon answered a " + what_ + " that does not match API 1.41: " + Clip(path) +
                              " " + std::string(why));
    }
  }
  const Status& status() const { return status_; }

 private:
  std::string what_;
  Status status_;
};

std::string StripSlash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

// "Exited (137) 2 minutes ago" -> 137.
int ExitCodeFromStatusText(std::string_view text) {
  constexpr std::string_view kPrefix = "Exited (";
  if (!text.starts_with(kPrefix)) return 0;
  text.remove_prefix(kPrefix.size());
  bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  int64_t value = 0;
  size_t n = 0;
  for (; n < text.size() && n < 10 && text[n] >= '0' && text[n] <= '9'; ++n) value = value * 10 + (text[n] - '0');
  if (n == 0 || n >= text.size() || text[n] != ')' || value > std::numeric_limits<int>::max()) return 0;
  return static_cast<int>(negative ? -value : value);
}

Status Field(std::string_view field, std::string why) {
  return InvalidError(std::string(field) + ": " + why, {{std::string(field), why}});
}

}  // namespace

bool IsDockerObjectName(std::string_view name) {
  if (name.size() < 2 || name.size() > 255 || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

bool IsImageReference(std::string_view image) {
  if (image.empty() || image.size() > 512 || !std::isalnum(static_cast<unsigned char>(image[0]))) return false;
  if (image.find("..") != std::string_view::npos || image.find("//") != std::string_view::npos) return false;
  for (char c : image) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && std::string_view("_.:/@-").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

StatusOr<std::string> ContainerCreateBody(const ContainerSpec& spec) {
  if (!IsDockerObjectName(spec.name))
    return Field("name", "must match [A-Za-z0-9][A-Za-z0-9_.-]+, got \"" + Clip(spec.name) + "\"");
  if (!IsImageReference(spec.image)) return Field("image", "is not an image reference: \"" + Clip(spec.image) + "\"");
  if (!spec.network.empty() && !IsDockerObjectName(spec.network)) return Field("network", "is not a network name");
  if (spec.network.empty() && !spec.aliases.empty()) return Field("aliases", "need a network");
  if (spec.memory_bytes < 0) return Field("memory_bytes", "must be >= 0");
  if (spec.nano_cpus < 0) return Field("nano_cpus", "must be >= 0");
  if (spec.pids_limit < 0) return Field("pids_limit", "must be >= 0");
  for (const std::string& e : spec.env) {
    if (e.find('=') == std::string::npos || e.front() == '=')
      return Field("env", "entries must be NAME=value, got \"" + Clip(e) + "\"");
  }
  for (const auto& [key, value] : spec.labels) {
    if (key.empty()) return Field("labels", "keys must not be empty");
  }

  Json body = {{"Image", spec.image}, {"Labels", Json::object()}, {"User", spec.user}};
  for (const auto& [key, value] : spec.labels) body["Labels"][key] = value;
  if (!spec.command.empty()) body["Cmd"] = spec.command;
  if (!spec.env.empty()) body["Env"] = spec.env;
  if (!spec.hostname.empty()) body["Hostname"] = spec.hostname;
  if (!spec.exposed_ports.empty()) {
    Json ports = Json::object();
    for (int port : spec.exposed_ports) {
      if (port < 1 || port > 65535) return Field("exposed_ports", "must be 1-65535, got " + std::to_string(port));
      ports[std::to_string(port) + "/tcp"] = Json::object();
    }
    body["ExposedPorts"] = ports;
  }
  Json host = {{"CapDrop", {"ALL"}},
               {"SecurityOpt", {"no-new-privileges"}},
               {"Privileged", false},
               {"RestartPolicy", {{"Name", "no"}}}};
  if (spec.memory_bytes > 0) host["Memory"] = spec.memory_bytes;
  if (spec.nano_cpus > 0) host["NanoCpus"] = spec.nano_cpus;
  if (spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
  if (!spec.network.empty()) {
    host["NetworkMode"] = spec.network;
    Json endpoint = Json::object();
    if (!spec.aliases.empty()) endpoint["Aliases"] = spec.aliases;
    body["NetworkingConfig"] = {{"EndpointsConfig", {{spec.network, endpoint}}}};
  }
  body["HostConfig"] = host;
  return Dump(body);
}

StatusOr<std::string> NetworkCreateBody(const NetworkSpec& spec) {
  if (!IsDockerObjectName(spec.name))
    return Field("name", "must match [A-Za-z0-9][A-Za-z0-9_.-]+, got \"" + Clip(spec.name) + "\"");
  if (!IsDockerObjectName(spec.driver)) return Field("driver", "is not a driver name: \"" + Clip(spec.driver) + "\"");
  Json config = Json::object();
  if (!spec.subnet.empty()) {
    auto cidr = ParseIpv4Cidr(spec.subnet);
    if (!cidr) return Field("subnet", "must be an IPv4 CIDR like 10.213.4.0/24, got \"" + Clip(spec.subnet) + "\"");
    config["Subnet"] = spec.subnet;
    if (!spec.gateway.empty()) {
      auto gateway = ParseIpv4(spec.gateway);
      if (!gateway || !cidr->Contains(*gateway))
        return Field("gateway", "must be an IPv4 address inside " + spec.subnet);
      config["Gateway"] = spec.gateway;
    }
  } else if (!spec.gateway.empty()) {
    return Field("gateway", "needs a subnet");
  }
  Json ipam = {{"Driver", "default"}, {"Config", Json::array()}};
  if (!config.empty()) ipam["Config"].push_back(config);
  Json body = {{"Name", spec.name},
               {"Driver", spec.driver},
               {"CheckDuplicate", true},
               {"Labels", Json::object()},
               {"IPAM", ipam}};
  for (const auto& [key, value] : spec.labels) {
    if (key.empty()) return Field("labels", "keys must not be empty");
    body["Labels"][key] = value;
  }
  return Dump(body);
}

std::string LabelFilters(const Labels& labels) {
  if (labels.empty()) return "";
  Json filter = Json::array();
  for (const auto& [key, value] : labels) filter.push_back(key + "=" + value);
  return Dump(Json{{"label", filter}});
}

StatusOr<std::string> ParseCreatedId(std::string_view body) {
  VISI_ASSIGN_OR_RETURN(Json j, Parse(body, "a create call"));
  FieldReader r("create answer");
  std::string id = r.String(j, "Id", "Id", true);
  VISI_RETURN_IF_ERROR(r.status());
  if (!IsDockerObjectName(id)) return InternalError("docker daemon answered an unusable id \"" + Clip(id) + "\"");
  return id;
}

StatusOr<ContainerInfo> ParseContainerInspect(std::string_view body) {
  VISI_ASSIGN_OR_RETURN(Json j, Parse(body, "a container"));
  FieldReader r("container");
  if (!j.is_object()) return InternalError("docker daemon answered a container that is not a JSON object");
  ContainerInfo info;
  info.id = r.String(j, "Id", "Id", true);
  info.name = StripSlash(r.String(j, "Name", "Name", true));
  const Json* state = r.Object(j, "State", "State");
  if (!state) r.Fail("State", "is missing");
  if (state) {
    info.state = r.String(*state, "Status", "State.Status", true);
    info.exit_code = r.Int(*state, "ExitCode", "State.ExitCode");
  }
  if (const Json* config = r.Object(j, "Config", "Config")) {
    info.image = r.String(*config, "Image", "Config.Image");
    info.labels = r.LabelMap(*config, "Labels", "Config.Labels");
  }
  info.ips = r.Ips(j);
  VISI_RETURN_IF_ERROR(r.status());
  return info;
}

StatusOr<std::vector<ContainerInfo>> ParseContainerList(std::string_view body) {
  VISI_ASSIGN_OR_RETURN(Json j, Parse(body, "the container list"));
  if (!j.is_array()) return InternalError("docker daemon answered a container list that is not a JSON array");
  FieldReader r("container list");
  std::vector<ContainerInfo> out;
  for (const Json& c : j) {
    if (!c.is_object()) return InternalError("docker daemon answered a container list with a non-object entry");
    ContainerInfo info;
    info.id = r.String(c, "Id", "Id", true);
    if (const Json* names = r.Array(c, "Names", "Names"); names && !names->empty()) {
      if (!(*names)[0].is_string())
        r.Fail("Names", "is not a list of strings");
      else
        info.name = StripSlash((*names)[0].get<std::string>());
    }
    info.image = r.String(c, "Image", "Image");
    info.state = r.String(c, "State", "State", true);
    info.exit_code = ExitCodeFromStatusText(r.String(c, "Status", "Status"));
    info.labels = r.LabelMap(c, "Labels", "Labels");
    info.ips = r.Ips(c);
    VISI_RETURN_IF_ERROR(r.status());
    out.push_back(std::move(info));
  }
  return out;
}

namespace {

NetworkInfo ReadNetwork(FieldReader& r, const Json& n) {
  NetworkInfo info;
  info.id = r.String(n, "Id", "Id", true);
  info.name = r.String(n, "Name", "Name", true);
  info.labels = r.LabelMap(n, "Labels", "Labels");
  const Json* ipam = r.Object(n, "IPAM", "IPAM");
  const Json* configs = ipam ? r.Array(*ipam, "Config", "IPAM.Config") : nullptr;
  for (size_t i = 0; configs && i < configs->size() && info.subnet.empty(); ++i) {
    const std::string subnet = r.String((*configs)[i], "Subnet", "IPAM.Config[].Subnet");
    if (ParseIpv4Cidr(subnet)) info.subnet = subnet;
  }
  if (const Json* containers = r.Object(n, "Containers", "Containers")) {
    for (const auto& [id, endpoint] : containers->items()) info.container_ids.push_back(id);
  }
  return info;
}

}  // namespace

StatusOr<NetworkInfo> ParseNetworkInspect(std::string_view body) {
  VISI_ASSIGN_OR_RETURN(Json j, Parse(body, "a network"));
  if (!j.is_object()) return InternalError("docker daemon answered a network that is not a JSON object");
  FieldReader r("network");
  NetworkInfo info = ReadNetwork(r, j);
  VISI_RETURN_IF_ERROR(r.status());
  return info;
}

StatusOr<std::vector<NetworkInfo>> ParseNetworkList(std::string_view body) {
  VISI_ASSIGN_OR_RETURN(Json j, Parse(body, "the network list"));
  if (!j.is_array()) return InternalError("docker daemon answered a network list that is not a JSON array");
  FieldReader r("network list");
  std::vector<NetworkInfo> out;
  for (const Json& n : j) {
    if (!n.is_object()) return InternalError("docker daemon answered a network list with a non-object entry");
    out.push_back(ReadNetwork(r, n));
    VISI_RETURN_IF_ERROR(r.status());
  }
  return out;
}

Status ParseImportProgress(std::string_view body) {
  while (!body.empty()) {
    size_t end = body.find('\n');
    std::string_view line = body.substr(0, end);
    body.remove_prefix(end == std::string_view::npos ? body.size() : end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) continue;
    VISI_ASSIGN_OR_RETURN(Json j, Parse(line, "the image import progress"));
    if (!j.is_object()) return InternalError("docker daemon answered an import progress line that is not an object");
    if (auto it = j.find("error"); it != j.end() && !it->is_null()) {
      return InternalError("image import failed: " + Clip(it->is_string() ? it->get<std::string>() : Dump(*it)));
    }
  }
  return OkStatus();
}

std::string DaemonMessage(std::string_view body) {
  if (body.size() <= (size_t{1} << 20)) {
    try {
      Json j = Json::parse(body.begin(), body.end());
      if (j.is_object()) {
        auto it = j.find("message");
        if (it != j.end() && it->is_string()) return Clip(it->get<std::string>());
      }
    } catch (const Json::exception&) {
      // Not JSON: fall through to the raw text.
    }
  }
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  if (body.empty()) return "(empty answer)";
  return Clip(body);
}

}  // namespace visi
