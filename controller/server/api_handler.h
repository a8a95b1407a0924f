#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "controller/api/scheme.h"
#include "controller/server/metrics.h"
#include "controller/server/request.h"
#include "controller/store/store.h"

namespace visi {

struct ApiHandlerOptions {
  size_t max_body_bytes = 3 * 1024 * 1024;
  std::chrono::seconds max_watch_timeout{1800};
  std::chrono::milliseconds bookmark_interval{5000};
  size_t max_watches = 10000;  // open at once, server-wide; more get 503
  // Extra readiness: "" when ready, else why not (e.g. the controllers'
  // caches have not synced). /readyz answers 503 with the reason.
  std::function<std::string()> not_ready;
  // POST .../namespaces/{ns}/visisessions/{name}/login: a one-time login URL
  // for the session's route (the JSON answer; reconcilers/route/login.h).
  // Unset: 404.
  std::function<StatusOr<Json>(const std::string& ns, const std::string& name)> login;
};

// The Kubernetes-style REST API over a Store, independent of the HTTP
// library: discovery, get/list/watch/create/update/patch/delete on
// /apis/visi.dev/v1alpha1/[namespaces/{ns}/]{plural}[/{name}[/status]],
// POST .../visisessions/{name}/login,
// Status objects for errors, and authorization by namespace.
class ApiHandler final : public RequestHandler {
 public:
  ApiHandler(Store* store, std::shared_ptr<const Scheme> scheme, Metrics* metrics,
             ApiHandlerOptions opts = {});

  // REQUIRES: req.user is set for everything but /healthz, /readyz, /version
  // (the transport authenticates first).
  HttpResponse Handle(const HttpRequest& req) override;
  bool IsPublicPath(const std::string& path) const override { return IsPublic(path); }

  // Paths anyone may read without a token.
  static bool IsPublic(const std::string& path);

 private:
  struct Target;  // a parsed resource path
  HttpResponse Dispatch(const HttpRequest& req, std::string* verb, std::string* resource);
  HttpResponse HandleResource(const HttpRequest& req, const Target& t, std::string* verb);
  HttpResponse Get(const Target& t);
  HttpResponse List(const HttpRequest& req, const Target& t);
  HttpResponse Watch(const HttpRequest& req, const Target& t);
  HttpResponse Create(const HttpRequest& req, const Target& t);
  HttpResponse Replace(const HttpRequest& req, const Target& t);
  HttpResponse Patch(const HttpRequest& req, const Target& t);
  HttpResponse Remove(const HttpRequest& req, const Target& t);
  StatusOr<Object> DecodeBody(const HttpRequest& req, const Target& t);
  HttpResponse Error(const Status& s, const Target* t = nullptr);
  HttpResponse ObjectResponse(int code, const ObjectPtr& o);
  template <typename F>
  auto Timed(const char* op, F&& f);

  Store* const store_;
  const std::shared_ptr<const Scheme> scheme_;
  Metrics* const metrics_;
  const ApiHandlerOptions opts_;
};

}  // namespace visi
