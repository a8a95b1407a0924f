#include "controller/cli/open_command.h"

#include <ostream>

#include "controller/api/names.h"
#include "controller/api/yaml_codec.h"

namespace visi {

int RunOpen(ApiClient& client, const std::string& ns, const std::string& name, const std::string& output,
            std::ostream& out, std::ostream& err) {
  if (output != "" && output != "url" && output != "json" && output != "yaml") {
    err << "error: -o must be url, json or yaml, got \"" << output << "\"\n";
    return 2;
  }
  if (std::string why = CheckDns1123Subdomain(name); !why.empty()) {
    err << "error: session name \"" << name << "\": " << why << "\n";
    return 2;
  }
  ApiResponse r = client.Request("POST", ResourcePath("visisessions", ns, name) + "/login", "{}");
  if (!r.ok()) {
    Status s = r.ToStatus();
    err << "Error from server (" << CodeReason(s.code()) << "): " << s.message() << "\n";
    return 1;
  }
  auto j = ParseJson(r.body);
  if (!j.ok() || !j->is_object() || !(*j)["url"].is_string()) {
    err << "error: the server's answer has no login URL\n";
    return 1;
  }
  if (output == "json") {
    out << j->dump(2) << "\n";
  } else if (output == "yaml") {
    out << EmitYaml(*j);
  } else {
    out << (*j)["url"].get<std::string>() << "\n";
    err << "One-time login URL for " << ns << "/" << name << ", valid once until "
        << j->value("expiresTime", "?") << ". It sets the session's cookie and opens " << j->value("sessionURL", "")
        << "\n";
  }
  return 0;
}

}  // namespace visi
