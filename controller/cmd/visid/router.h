#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "controller/base/statusor.h"
#include "controller/runtime/manager.h"

namespace visi {

class HaproxyRouter;
class HttpServer;
class ManagedHaproxy;
class RouteReconciler;
class WakeupHandler;

struct VisidRouterOptions {
  std::string listen = "127.0.0.1:8080";  // where browsers connect (IPv4:PORT; port 0 picks one)
  std::string runtime_dir;                // the managed HAProxy's config, maps and socket
  // Attach to an HAProxy the operator runs with a config from
  // `visid --print-haproxy-config` whose runtime dir is this: not started,
  // not stopped, not restarted by visid.
  std::string attach_dir;
  std::string url;                           // what browsers open; default http://LISTEN
  std::string wakeup_listen = "127.0.0.1:0"; // visid's wake-up endpoint (loopback, plain HTTP)
  std::chrono::milliseconds sync_period{1000};      // HAProxy's routes read back and repaired
  std::chrono::milliseconds activity_period{5000};  // HAProxy's counters read for activity and Idle
};

// The router side of visid: the HAProxy (managed or attached), the route
// reconciler under the manager, and the wake-up endpoint HAProxy sends
// logins and sleeping sessions to.
class VisidRouter {
 public:
  // Starts HAProxy (unless attached) and the wake-up endpoint, and adds the
  // route controller to `manager`. Errors name the bad option.
  static StatusOr<std::unique_ptr<VisidRouter>> Create(Manager* manager, VisidRouterOptions opts);
  ~VisidRouter();  // stops the endpoint and a managed HAProxy

  const std::string& url() const { return url_; }
  int haproxy_pid() const;  // 0 when attached or not running
  RouteReconciler* routes() { return routes_.get(); }

 private:
  VisidRouter() = default;

  std::string url_;
  std::unique_ptr<ManagedHaproxy> haproxy_;
  std::unique_ptr<HaproxyRouter> router_;
  std::unique_ptr<RouteReconciler> routes_;
  std::unique_ptr<WakeupHandler> wakeup_;
  std::unique_ptr<HttpServer> server_;
};

// The haproxy.cfg an operator runs to let visid attach (--router-attach).
StatusOr<std::string> RenderAttachableConfig(const VisidRouterOptions& opts);

}  // namespace visi
