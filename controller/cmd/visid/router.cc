#include "controller/cmd/visid/router.h"

#include "controller/drivers/docker/ipv4.h"
#include "controller/drivers/haproxy/haproxy_router.h"
#include "controller/drivers/haproxy/managed_haproxy.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/server/http_server.h"
#include "reconcilers/route/route_reconciler.h"
#include "reconcilers/route/wakeup_handler.h"

namespace visi {
namespace {

StatusOr<Ipv4Endpoint> ParseListen(const std::string& flag, const std::string& value, bool port_zero_ok) {
  // "IP:0" is not an endpoint ParseIpv4Endpoint takes: check the port apart.
  auto colon = value.rfind(':');
  if (colon != std::string::npos && value.substr(colon + 1) == "0" && port_zero_ok) {
    if (auto ip = ParseIpv4(value.substr(0, colon))) return Ipv4Endpoint{value.substr(0, colon), 0};
  }
  auto e = ParseIpv4Endpoint(value);
  if (!e) {
    return InvalidError(flag + " must be IPv4:PORT such as 127.0.0.1:8080" +
                        std::string(port_zero_ok ? " (port 0 picks one)" : "") + ", got \"" + value + "\"");
  }
  return *e;
}

StatusOr<HaproxyConfigOptions> ConfigFor(const VisidRouterOptions& opts, const std::string& dir,
                                         const Ipv4Endpoint& listen, const Ipv4Endpoint& wakeup) {
  HaproxyConfigOptions c;
  c.bind_address = listen.ip;
  c.bind_port = listen.port;
  c.runtime_dir = dir;
  c.wakeup_address = wakeup.ip + ":" + std::to_string(wakeup.port);
  return c;
}

}  // namespace

StatusOr<std::string> RenderAttachableConfig(const VisidRouterOptions& opts) {
  if (opts.attach_dir.empty()) return InvalidError("--router-attach DIR names where the config and socket live");
  VISI_ASSIGN_OR_RETURN(Ipv4Endpoint listen, ParseListen("--router-listen", opts.listen, false));
  VISI_ASSIGN_OR_RETURN(Ipv4Endpoint wakeup, ParseListen("--wakeup-listen", opts.wakeup_listen, false));
  VISI_ASSIGN_OR_RETURN(HaproxyConfigOptions c, ConfigFor(opts, opts.attach_dir, listen, wakeup));
  return RenderBaseConfig(c);
}

StatusOr<std::unique_ptr<VisidRouter>> VisidRouter::Create(Manager* manager, VisidRouterOptions opts) {
  std::unique_ptr<VisidRouter> r(new VisidRouter());
  const bool attach = !opts.attach_dir.empty();
  VISI_ASSIGN_OR_RETURN(Ipv4Endpoint listen, ParseListen("--router-listen", opts.listen, !attach));
  VISI_ASSIGN_OR_RETURN(Ipv4Endpoint wakeup, ParseListen("--wakeup-listen", opts.wakeup_listen, !attach));
  if (!ParseIpv4(wakeup.ip) || wakeup.ip.rfind("127.", 0) != 0) {
    return InvalidError("--wakeup-listen must be a loopback address (it serves plain HTTP), got \"" +
                        opts.wakeup_listen + "\"");
  }
  if (wakeup.port == 0) wakeup.port = static_cast<uint16_t>(PickFreePort(wakeup.ip));
  if (wakeup.port == 0) return UnavailableError("no free port for the wake-up endpoint on " + wakeup.ip);
  VISI_ASSIGN_OR_RETURN(HaproxyConfigOptions config,
                        ConfigFor(opts, attach ? opts.attach_dir : opts.runtime_dir, listen, wakeup));
  if (!attach) {
    ManagedHaproxyOptions mo;
    mo.config = config;
    r->haproxy_ = std::make_unique<ManagedHaproxy>(mo);
    VISI_RETURN_IF_ERROR(r->haproxy_->Start());
    config = r->haproxy_->config();  // the port, when it was picked
  }
  r->url_ = !opts.url.empty() ? opts.url : "http://" + config.bind_address + ":" + std::to_string(config.bind_port);
  while (!r->url_.empty() && r->url_.back() == '/') r->url_.pop_back();
  VISI_ASSIGN_OR_RETURN(r->router_, HaproxyRouter::Create(config));

  RouteReconcilerOptions ro;
  ro.router_url = r->url_;
  ro.sync_period = opts.sync_period;
  ro.activity_period = opts.activity_period;
  if (r->haproxy_) {
    ManagedHaproxy* h = r->haproxy_.get();
    // Only the sync thread calls this once HAProxy runs: one owner.
    ro.ensure_router = [h]() -> Status {
      if (h->Running()) return UnavailableError("HAProxy runs but does not answer");
      return h->Start();
    };
  }
  r->routes_ = std::make_unique<RouteReconciler>(manager, r->router_.get(), ro);
  r->wakeup_ = std::make_unique<WakeupHandler>(manager->store(), manager->clock(), r->routes_.get(), manager->events());
  r->wakeup_->set_secure_cookies(r->url_.rfind("https://", 0) == 0);
  HttpServerOptions ho;
  ho.host = wakeup.ip;
  ho.port = wakeup.port;
  ho.tls = false;
  ho.write_threads = 8;
  ho.all_on_write_threads = true;  // a login waits for HAProxy: never on the API's threads
  ho.max_body_bytes = 64 * 1024;
  VISI_ASSIGN_OR_RETURN(r->server_, HttpServer::Start(ho, r->wakeup_.get(), nullptr));
  return r;
}

VisidRouter::~VisidRouter() {
  if (server_) server_->Stop();
  routes_.reset();  // its sync thread may touch haproxy_
  if (haproxy_) (void)haproxy_->Stop();
}

int VisidRouter::haproxy_pid() const { return haproxy_ ? haproxy_->pid() : 0; }

}  // namespace visi
