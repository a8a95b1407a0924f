#pragma once

#include <chrono>
#include <string>

#include "controller/base/clock.h"
#include "controller/server/request.h"
#include "controller/store/store.h"

namespace visi {

class EventRecorder;
class RouteReconciler;

// visid's HTTP endpoint behind the router (plain HTTP on loopback; HAProxy
// is its only intended client, but it trusts nothing HAProxy adds):
//
//   GET /_visi/login/NS/NAME?ticket=T   redeems a one-time login ticket, sets
//       the JSESSIONID cookie (Path=/s/NS/NAME/, HttpOnly, SameSite=Lax) and
//       redirects (303) to the session once its route accepts the cookie.
//   ANY /s/NS/NAME/...                  a request whose route leads here (the
//       session is not Ready, or is suspended): checks the cookie against the
//       session's logins itself, sets spec.suspend=false when it is set (the
//       wake-up), and answers 503 + Retry-After with a progress page that
//       lists the session's conditions and reloads itself until the route
//       leads to the front end. JSON for clients that ask for it.
//   GET /_visi/healthz                  "ok".
class WakeupHandler final : public RequestHandler {
 public:
  // `routes` may be null (no waiting for the route after a login).
  WakeupHandler(Store* store, const Clock* clock, RouteReconciler* routes, EventRecorder* events,
                std::chrono::milliseconds login_route_wait = std::chrono::seconds(5));
  // Browsers reach the router over HTTPS (--router-url https://...): the
  // cookie gets the Secure flag, so it never travels over plain HTTP.
  void set_secure_cookies(bool secure) { secure_cookies_ = secure; }

  HttpResponse Handle(const HttpRequest& req) override;
  bool IsPublicPath(const std::string&) const override { return true; }

 private:
  HttpResponse Login(const HttpRequest& req);
  HttpResponse WakeUp(const HttpRequest& req, const std::string& ns, const std::string& name);
  // Sets spec.suspend=false (optimistic concurrency, bounded retries).
  Status Resume(const std::string& ns, const std::string& name);

  Store* const store_;
  const Clock* const clock_;
  RouteReconciler* const routes_;
  EventRecorder* const events_;
  const std::chrono::milliseconds login_route_wait_;
  bool secure_cookies_ = false;
};

// The value of the last JSESSIONID cookie in a Cookie header, as HAProxy's
// req.cook reads it; "" when there is none.
std::string JsessionIdFromCookieHeader(const std::string& header);

// Text made safe to put inside HTML element content or a quoted attribute.
std::string HtmlEscape(const std::string& text);

}  // namespace visi
