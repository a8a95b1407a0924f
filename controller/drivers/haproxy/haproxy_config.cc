#include "controller/drivers/haproxy/haproxy_config.h"

#include <sys/un.h>

#include <algorithm>
#include <vector>

#include "controller/drivers/docker/ipv4.h"
#include "controller/drivers/haproxy/route_format.h"

namespace visi {
namespace {

bool IsPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '~' || c == '-' || c == '/';
}

std::string Ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

Status ValidateConfigOptions(const HaproxyConfigOptions& options) {
  std::vector<FieldCause> causes;
  if (!ParseIpv4(options.bind_address)) causes.push_back({"bind_address", "must be an IPv4 address"});
  if (options.bind_port < 1 || options.bind_port > 65535) causes.push_back({"bind_port", "must be 1-65535"});
  const std::string& dir = options.runtime_dir;
  if (dir.empty() || dir.front() != '/' || !std::all_of(dir.begin(), dir.end(), IsPathChar) ||
      dir.find("//") != std::string::npos) {
    causes.push_back({"runtime_dir", "must be an absolute path of A-Z a-z 0-9 . _ ~ - /"});
  } else if (options.socket_path().size() >= sizeof(sockaddr_un{}.sun_path)) {
    causes.push_back({"runtime_dir", "too long: the socket path " + options.socket_path() + " exceeds " +
                                         std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes"});
  }
  if (!ParseIpv4Endpoint(options.wakeup_address)) {
    causes.push_back({"wakeup_address", "must be \"a.b.c.d:port\" with port 1-65535"});
  }
  if (options.max_connections < 0) causes.push_back({"max_connections", "must be 0 (automatic) or positive"});
  const std::pair<const char*, std::chrono::milliseconds> timeouts[] = {{"connect_timeout", options.connect_timeout},
                                                                        {"client_timeout", options.client_timeout},
                                                                        {"server_timeout", options.server_timeout},
                                                                        {"tunnel_timeout", options.tunnel_timeout}};
  for (const auto& [name, value] : timeouts) {
    if (value.count() <= 0) causes.push_back({name, "must be positive"});
  }
  if (causes.empty()) return OkStatus();
  return InvalidError("invalid HAProxy options", std::move(causes));
}

StatusOr<std::string> RenderBaseConfig(const HaproxyConfigOptions& options) {
  VISI_RETURN_IF_ERROR(ValidateConfigOptions(options));
  const std::string routes_map = options.routes_map_path();
  std::string c;
  c += "# Rendered by Visi (controller/drivers/haproxy/haproxy_config.cc); see docs/routing.md.\n";
  c += "# Routes are not in this file: they live in HAProxy's memory and change through\n";
  c += "# the Runtime API on the stats socket, without reloads. A restart starts empty.\n";
  c += "global\n";
  c += "  stats socket " + options.socket_path() + " mode 600 level admin\n";
  c += "  stats timeout 30s\n";
  // Each connection needs two descriptors; an explicit maxconn above half
  // the descriptor limit makes HAProxy refuse to start.
  if (options.max_connections > 0) c += "  maxconn " + std::to_string(options.max_connections) + "\n";
  if (options.log_to_stdout) c += "  log stdout format raw local0 info\n";
  c += "\n";
  c += "defaults\n";
  c += "  mode http\n";
  if (options.log_to_stdout) {
    c += "  log global\n";
    c += "  option httplog\n";
  }
  c += "  timeout connect " + Ms(options.connect_timeout) + "\n";
  c += "  timeout client " + Ms(options.client_timeout) + "\n";
  c += "  timeout http-keep-alive " + Ms(options.client_timeout) + "\n";
  c += "  timeout http-request 10s\n";
  c += "  timeout server " + Ms(options.server_timeout) + "\n";
  c += "  timeout tunnel " + Ms(options.tunnel_timeout) + "\n";
  c += "\n";
  c += "frontend visi_routes\n";
  c += "  bind " + options.bind_address + ":" + std::to_string(options.bind_port) + "\n";
  c += "  # The route is found by hash(JSESSIONID) + path, longest prefix first: one\n";
  c += "  # lookup checks the cookie and the path prefix together.\n";
  c += "  http-request set-var(txn.visi_path) path\n";
  c += "  http-request set-var(txn.visi_route) req.cook(JSESSIONID),sha2(256),hex,concat(,txn.visi_path,),map_beg(" +
       routes_map + ")\n";
  c += "  # Login links (/_visi/...) carry their own one-time ticket, checked by visid.\n";
  c += "  acl visi_control path_beg " + std::string(kControlPathPrefix) + "\n";
  c += "  http-request deny deny_status 403 unless { var(txn.visi_route) -m found } || visi_control\n";
  c += "  use_backend " + std::string(kControlBackend) + " if visi_control\n";
  c += "  # Never true: only keeps the prefixes map loaded for the router.\n";
  c += "  http-request set-var(txn.visi_prefix) str(),map(" + options.prefixes_map_path() + ") if FALSE\n";
  c += "  default_backend " + std::string(kSessionsBackend) + "\n";
  c += "\n";
  c += "# One dynamic server per route, named \"namespace:name\", added at run time with\n";
  c += "# weight 0: load balancing never picks one, only use-server by name. A route\n";
  c += "# whose server is missing or in maintenance gets 503, never another session.\n";
  c += "# The server of a sleeping session points at the wake-up endpoint " + options.wakeup_address + ".\n";
  c += "backend " + std::string(kSessionsBackend) + "\n";
  c += "  balance roundrobin\n";
  c += "  http-request set-header " + std::string(kRouteHeader) + " %[var(txn.visi_route),regsub(:,/)]\n";
  c += "  use-server %[var(txn.visi_route)] if { var(txn.visi_route) -m found }\n";
  c += "\n";
  c += "# visid's login endpoint: the only thing reachable without a route.\n";
  c += "backend " + std::string(kControlBackend) + "\n";
  c += "  http-request del-header " + std::string(kRouteHeader) + "\n";
  c += "  server wakeup " + options.wakeup_address + "\n";
  return c;
}

}  // namespace visi
