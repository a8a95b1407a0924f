#include "reconcilers/route/wakeup_handler.h"

#include <algorithm>
#include <thread>

#include "controller/base/utf8.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "reconcilers/route/login.h"
#include "reconcilers/route/route_desired.h"
#include "reconcilers/route/route_reconciler.h"

namespace visi {
namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return out;
    start = end + 1;
  }
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

HttpResponse Page(int code, const std::string& title, const std::string& body_html,
                  const std::string& extra_head = "") {
  HttpResponse r;
  r.code = code;
  r.content_type = "text/html; charset=utf-8";
  r.body = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + HtmlEscape(title) + "</title>" +
           extra_head +
           "<style>body{font-family:sans-serif;margin:3em;max-width:50em}td,th{padding:.2em .8em;text-align:left}"
           "</style></head>\n<body><h1>" +
           HtmlEscape(title) + "</h1>\n" + body_html + "\n</body></html>\n";
  r.headers.push_back({"Cache-Control", "no-store"});
  r.headers.push_back({"X-Content-Type-Options", "nosniff"});
  r.headers.push_back({"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"});
  return r;
}

HttpResponse ErrorPage(const Status& s) {
  int code = CodeHttpStatus(s.code());
  std::string title = code == 410 ? "Login link used up" : code == 403 ? "Not logged in" : "Cannot open the session";
  return Page(code, title, "<p>" + HtmlEscape(s.message()) + "</p>");
}

bool WantsJson(const HttpRequest& req) {
  const std::string accept = req.Header("accept");
  return accept.find("application/json") != std::string::npos && accept.find("text/html") == std::string::npos;
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  for (char c : CleanUtf8(text, 8192)) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string JsessionIdFromCookieHeader(const std::string& header) {
  std::string value;
  for (const std::string& part : Split(header, ';')) {
    const std::string p = Trim(part);
    if (p.rfind("JSESSIONID=", 0) == 0) value = p.substr(11);
  }
  return value;
}

WakeupHandler::WakeupHandler(Store* store, const Clock* clock, RouteReconciler* routes, EventRecorder* events,
                             std::chrono::milliseconds login_route_wait)
    : store_(store), clock_(clock), routes_(routes), events_(events), login_route_wait_(login_route_wait) {}

HttpResponse WakeupHandler::Handle(const HttpRequest& req) {
  if (req.path == "/_visi/healthz") {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ok\n";
    return r;
  }
  if (req.path.rfind(kLoginPathPrefix, 0) == 0) return Login(req);
  // /s/NS/NAME/...
  std::vector<std::string> parts = Split(req.path, '/');
  if (parts.size() >= 5 && parts[0].empty() && parts[1] == "s" && !parts[2].empty() && !parts[3].empty()) {
    return WakeUp(req, parts[2], parts[3]);
  }
  return Page(404, "Not found", "<p>Nothing is served at this path.</p>");
}

HttpResponse WakeupHandler::Login(const HttpRequest& req) {
  // Only GET redeems: a HEAD (a link checker) must not use the ticket up.
  if (req.method != "GET") {
    HttpResponse r = Page(405, "Method not allowed", "<p>Open the login link with GET.</p>");
    r.headers.push_back({"Allow", "GET"});
    return r;
  }
  std::vector<std::string> parts = Split(req.path.substr(std::string(kLoginPathPrefix).size()), '/');
  auto ticket = req.query.find("ticket");
  if (parts.size() != 2 || ticket == req.query.end()) {
    return ErrorPage(BadRequestError("the login link is malformed: it must be " + std::string(kLoginPathPrefix) +
                                     "NAMESPACE/SESSION?ticket=TICKET"));
  }
  auto redeemed = RedeemLogin(store_, parts[0], parts[1], ticket->second, clock_->Now());
  if (!redeemed.ok()) return ErrorPage(redeemed.status());
  bool routed = false;
  if (routes_) {
    routes_->controller()->Enqueue(redeemed->session_key);
    routed = routes_->WaitForLogin(redeemed->session_key, redeemed->cookie_hash, login_route_wait_);
  }
  const std::string prefix = SessionPathPrefix(parts[0], parts[1]);
  HttpResponse r = Page(303, "Logged in",
                        "<p>Logged in to " + HtmlEscape(redeemed->session_key) + ". <a href=\"" + HtmlEscape(prefix) +
                            "\">Open the session</a>.</p>" +
                            (routed ? "" : "<p>The route is still being set up; reload in a moment.</p>"));
  r.headers.push_back({"Location", prefix});
  r.headers.push_back({"Set-Cookie", "JSESSIONID=" + redeemed->cookie + "; Path=" + prefix + "; HttpOnly; SameSite=Lax" +
                                         (secure_cookies_ ? "; Secure" : "")});
  r.headers.push_back({"Referrer-Policy", "no-referrer"});
  return r;
}

Status WakeupHandler::Resume(const std::string& ns, const std::string& name) {
  // As client-go's RetryOnConflict: the reconcilers write this session's
  // status right around a login, so a few attempts may meet a newer version.
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10 * attempt));
    VISI_ASSIGN_OR_RETURN(ObjectPtr s, store_->Get("VisiSession", ns, name));
    if (!s->spec.is_object() || s->spec.value("suspend", false) != true) return OkStatus();
    Object o = *s;
    o.spec["suspend"] = false;
    auto w = store_->Update(std::move(o));
    if (w.ok()) {
      if (events_) {
        (void)events_->Record(**w, EventSeverity::kNormal, "WakeUp",
                              "a logged-in browser asked for the session: spec.suspend set to false");
      }
      return OkStatus();
    }
    if (w.status().code() != Code::kConflict) return w.status();
  }
  return ConflictError("the session kept changing; try again");
}

HttpResponse WakeupHandler::WakeUp(const HttpRequest& req, const std::string& ns, const std::string& name) {
  const std::string cookie = JsessionIdFromCookieHeader(req.Header("cookie"));
  const Status not_logged_in_early(Code::kForbidden, "you are not logged in to this session: open a login link "
                                                     "(visictl open SESSION) first");
  // Not even shaped like a cookie we issue: refused before any store access.
  if (cookie.size() != 64 ||
      !std::all_of(cookie.begin(), cookie.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
    return ErrorPage(not_logged_in_early);
  }
  auto s = store_->Get("VisiSession", ns, name);
  const Status not_logged_in(Code::kForbidden, "you are not logged in to this session: open a login link "
                                               "(visictl open SESSION) first");
  if (!s.ok()) {
    if (s.status().code() == Code::kNotFound) return ErrorPage(not_logged_in);  // no existence oracle
    return ErrorPage(s.status());
  }
  // The cookie is checked here as well: this endpoint trusts no header.
  ListOptions lo;
  lo.kind = "SessionLogin";
  lo.namespace_ = ns;
  auto selector = LabelSelector::Parse("visi.dev/session=" + name);
  if (!selector.ok()) return ErrorPage(not_logged_in);
  lo.labels = *selector;
  auto logins = store_->List(lo);
  if (!logins.ok()) return ErrorPage(logins.status());
  bool accepted = false;
  if (!cookie.empty()) {
    const std::string hash = CookieHash(cookie);
    for (const auto& l : AcceptedLogins(**s, logins->items)) {
      if (l->status.value("cookieSHA256", "") == hash) accepted = true;
    }
  }
  if (!accepted) return ErrorPage(not_logged_in);

  if ((*s)->spec.is_object() && (*s)->spec.value("suspend", false) == true) {
    if (Status r = Resume(ns, name); !r.ok()) return ErrorPage(r);
    if (auto again = store_->Get("VisiSession", ns, name); again.ok()) s = again;
  }
  const Object& session = **s;
  const Json& st = session.status.is_object() ? session.status : Json::object();
  const std::string phase = st.value("phase", "Pending");
  const bool ready = SessionServesRequests(session);
  if (WantsJson(req)) {
    HttpResponse r;
    r.code = 503;
    r.body = Json{{"session", ns + "/" + name},
                  {"phase", phase},
                  {"ready", ready},
                  {"conditions", st.value("conditions", Json::array())}}
                 .dump();
    r.headers.push_back({"Retry-After", "2"});
    r.headers.push_back({"Cache-Control", "no-store"});
    return r;
  }
  std::string rows;
  for (const auto& c : st.value("conditions", Json::array())) {
    if (!c.is_object()) continue;
    rows += "<tr><td>" + HtmlEscape(c.value("type", "")) + "</td><td>" + HtmlEscape(c.value("status", "")) +
            "</td><td>" + HtmlEscape(c.value("reason", "")) + "</td><td>" + HtmlEscape(c.value("message", "")) +
            "</td></tr>";
  }
  std::string body = "<p>Session <b>" + HtmlEscape(ns + "/" + name) + "</b> is <b>" + HtmlEscape(phase) + "</b>. " +
                     (ready ? "It is ready: opening it." : "This page reloads until it is ready.") + "</p>\n" +
                     "<table><tr><th>Condition</th><th>Status</th><th>Reason</th><th>Message</th></tr>" + rows +
                     "</table>";
  HttpResponse r = Page(503, ready ? "Opening your session" : "Starting your session", body,
                        "<meta http-equiv=\"refresh\" content=\"" + std::string(ready ? "1" : "2") + "\">");
  r.headers.push_back({"Retry-After", "2"});
  return r;
}

}  // namespace visi
