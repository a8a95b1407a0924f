#include "controller/server/k8s_json.h"

namespace visi {

Json StatusJson(const Status& s, const std::string& kind, const std::string& name) {
  Json j = {{"kind", "Status"}, {"apiVersion", "v1"}, {"metadata", Json::object()}};
  if (s.ok()) {
    j["status"] = "Success";
    j["code"] = 200;
    return j;
  }
  j["status"] = "Failure";
  j["message"] = s.message();
  j["reason"] = CodeReason(s.code());
  j["code"] = CodeHttpStatus(s.code());
  Json details = Json::object();
  if (!name.empty()) details["name"] = name;
  if (!kind.empty()) {
    details["group"] = kGroup;
    details["kind"] = kind;
  }
  if (!s.causes().empty()) {
    Json causes = Json::array();
    for (const auto& c : s.causes()) {
      causes.push_back({{"reason", "FieldValueInvalid"}, {"message", c.message}, {"field", c.field}});
    }
    details["causes"] = std::move(causes);
  }
  if (!details.empty()) j["details"] = std::move(details);
  return j;
}

Json ListJson(const KindInfo& kind, const ListResult& list) {
  Json meta = {{"resourceVersion", std::to_string(list.resource_version)}};
  if (!list.continue_token.empty()) meta["continue"] = list.continue_token;
  Json items = Json::array();
  for (const auto& o : list.items) items.push_back(ObjectToJson(*o));
  return {{"apiVersion", kind.ApiVersion()}, {"kind", kind.list_kind}, {"metadata", meta},
          {"items", std::move(items)}};
}

std::string WatchEventLine(const KindInfo& kind, const WatchEvent& e) {
  if (e.text && (e.type == EventType::kAdded || e.type == EventType::kModified ||
                 e.type == EventType::kDeleted)) {
    // The store's text of the object, serialized once for every watcher.
    return std::string("{\"type\":\"") + EventTypeName(e.type) + "\",\"object\":" + *e.text + "}";
  }
  Json j = {{"type", EventTypeName(e.type)}};
  switch (e.type) {
    case EventType::kBookmark:
      j["object"] = {{"apiVersion", kind.ApiVersion()}, {"kind", kind.kind},
                     {"metadata", {{"resourceVersion", std::to_string(e.resource_version)}}}};
      break;
    case EventType::kError:
      j["object"] = StatusJson(e.error);
      break;
    default:
      j["object"] = ObjectToJson(*e.object);
  }
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Json ApiGroupJson(const Scheme& scheme) {
  Json version = {{"groupVersion", std::string(kApiVersion)}, {"version", kVersion}};
  return {{"kind", "APIGroup"}, {"apiVersion", "v1"}, {"name", kGroup},
          {"versions", Json::array({version})}, {"preferredVersion", version}};
}

Json ApiGroupListJson(const Scheme& scheme) {
  Json group = ApiGroupJson(scheme);
  group.erase("kind");
  group.erase("apiVersion");
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", Json::array({group})}};
}

Json ApiResourceListJson(const Scheme& scheme) {
  Json resources = Json::array();
  for (const auto& k : scheme.kinds()) {
    Json r = {{"name", k.plural},
              {"singularName", k.singular},
              {"namespaced", k.namespaced},
              {"kind", k.kind},
              {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}},
              {"categories", {"visi"}}};
    if (!k.short_names.empty()) r["shortNames"] = k.short_names;
    resources.push_back(r);
    if (k.has_status) {
      resources.push_back({{"name", k.plural + "/status"}, {"singularName", ""},
                           {"namespaced", k.namespaced}, {"kind", k.kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  return {{"kind", "APIResourceList"}, {"apiVersion", "v1"}, {"groupVersion", kApiVersion},
          {"resources", std::move(resources)}};
}

Json OpenApiV3RootJson() {
  std::string group = std::string("apis/") + kApiVersion;
  return {{"paths", {{group, {{"serverRelativeURL", "/openapi/v3/" + group}}}}}};
}

Json OpenApiV3GroupJson(const Scheme& scheme) {
  Json paths = Json::object(), schemas = Json::object();
  for (const auto& k : scheme.kinds()) {
    std::string ref = "dev.visi." + k.version + "." + k.kind;
    Json schema = k.crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    Json gvk = {{"group", k.group}, {"version", k.version}, {"kind", k.kind}};
    schema["x-kubernetes-group-version-kind"] = Json::array({gvk});
    schemas[ref] = std::move(schema);
    Json body = {{"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/" + ref}}}}}}}};
    Json field_validation = {{"name", "fieldValidation"}, {"in", "query"},
                             {"schema", {{"type", "string"}}}, {"uniqueItems", true}};
    auto op = [&](const char* verb) {
      return Json{{"operationId", std::string(verb) + k.kind},
                  {"x-kubernetes-group-version-kind", gvk},
                  {"x-kubernetes-action", verb},
                  {"parameters", Json::array({field_validation})},
                  {"responses", {{"200", body}}}};
    };
    std::string base = "/apis/" + k.ApiVersion() + (k.namespaced ? "/namespaces/{namespace}/" : "/") + k.plural;
    paths[base] = {{"post", op("post")}, {"get", op("list")}};
    paths[base + "/{name}"] = {{"get", op("get")}, {"put", op("put")}, {"patch", op("patch")},
                               {"delete", op("delete")}};
  }
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Visi"}, {"version", kVersion}}},
          {"paths", std::move(paths)},
          {"components", {{"schemas", std::move(schemas)}}}};
}

std::string OpenApiV2Protobuf() {
  // gnostic openapi_v2.Document {swagger: "2.0", info: {title, version}, paths: {}} in protobuf
  // wire format: field 1 (string), field 2 (message Info: fields 1 and 2), field 8 (message).
  auto field = [](int number, const std::string& bytes) {
    return std::string(1, static_cast<char>(number << 3 | 2)) + static_cast<char>(bytes.size()) + bytes;
  };
  return field(1, "2.0") + field(2, field(1, "Visi") + field(2, kVersion)) + field(8, "");
}

Json OpenApiV2Json() {
  return {{"swagger", "2.0"}, {"info", {{"title", "Visi"}, {"version", kVersion}}}, {"paths", Json::object()}};
}

Json ApiVersionsJson() {
  return {{"kind", "APIVersions"}, {"versions", Json::array()},
          {"serverAddressByClientCIDRs", Json::array()}};
}

Json VersionJson() {
  return {{"major", "1"}, {"minor", "28"}, {"gitVersion", "v1.28.0-visi.0.1.0"},
          {"platform", "linux/amd64"}, {"goVersion", "n/a (C++)"}, {"compiler", "g++"}};
}

}  // namespace visi
