#include "controller/client/config.h"

#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "controller/api/yaml_codec.h"

namespace visi {

StatusOr<ClientConfig> LoadClientConfig(const std::string& path, const std::string& context) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("cannot read config " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(buf.str(), path));
  if (docs.size() != 1 || !docs[0].value.is_object()) {
    return InvalidError(path + ": expected one kubeconfig mapping");
  }
  const Document& d = docs[0];
  const Json& j = d.value;
  auto find_named = [&](const char* list, const std::string& name, const char* inner,
                        Json* out) -> Status {
    const Json& items = j.value(list, Json::array());
    if (!items.is_array()) return InvalidError(d.Where(list) + ": " + list + " must be a list");
    for (const auto& item : items) {
      if (item.is_object() && item.value("name", "") == name && item.contains(inner) &&
          item[inner].is_object()) {
        *out = item[inner];
        return OkStatus();
      }
    }
    return InvalidError(path + ": no " + std::string(list) + " entry named \"" + name + "\"");
  };
  ClientConfig c;
  c.context = context.empty() ? j.value("current-context", "") : context;
  if (c.context.empty()) return InvalidError(path + ": no current-context, and no --context given");
  Json ctx, cluster, user;
  VISI_RETURN_IF_ERROR(find_named("contexts", c.context, "context", &ctx));
  VISI_RETURN_IF_ERROR(find_named("clusters", ctx.value("cluster", ""), "cluster", &cluster));
  if (ctx.contains("user")) {
    VISI_RETURN_IF_ERROR(find_named("users", ctx.value("user", ""), "user", &user));
  }
  c.server = cluster.value("server", "");
  if (c.server.rfind("https://", 0) != 0 && c.server.rfind("http://", 0) != 0) {
    return InvalidError(d.Where("clusters") + ": cluster.server must be an http(s) URL, got \"" +
                        c.server.substr(0, 80) + "\"");
  }
  c.certificate_authority = cluster.value("certificate-authority", "");
  c.token = user.value("token", "");
  c.namespace_ = ctx.value("namespace", "default");
  return c;
}

Status WriteClientConfig(const std::string& path, const ClientConfig& c) {
  Json cluster = {{"server", c.server}};
  if (!c.certificate_authority.empty()) cluster["certificate-authority"] = c.certificate_authority;
  Json j = {{"apiVersion", "v1"},
            {"kind", "Config"},
            {"clusters", {{{"name", "visi"}, {"cluster", cluster}}}},
            {"users", {{{"name", "visi-admin"}, {"user", {{"token", c.token}}}}}},
            {"contexts", {{{"name", "visi"},
                           {"context", {{"cluster", "visi"}, {"user", "visi-admin"},
                                        {"namespace", c.namespace_}}}}}},
            {"current-context", "visi"}};
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    ::chmod(tmp.c_str(), 0600);
    out << "# Written by visid. Use with visictl --config, VISICONFIG, or kubectl --kubeconfig.\n"
        << EmitYaml(j);
    if (!out.flush()) return InternalError("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return InternalError("cannot write " + path);
  return OkStatus();
}

std::string DefaultConfigPath(const std::string& flag) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("VISICONFIG"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.visi/config";
}

}  // namespace visi
