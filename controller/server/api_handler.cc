#include "controller/server/api_handler.h"

#include <algorithm>
#include <set>
#include <thread>

#include "controller/api/yaml_codec.h"
#include "controller/server/k8s_json.h"

namespace visi {

struct ApiHandler::Target {
  const KindInfo* kind = nullptr;
  std::string ns;
  std::string name;
  bool status = false;
  bool login = false;  // POST .../visisessions/{name}/login
};

namespace {

using SteadyClock = std::chrono::steady_clock;

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    if (end > start) parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

HttpResponse JsonResponse(int code, const Json& j) {
  HttpResponse r;
  r.code = code;
  r.body = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

StatusOr<int64_t> QueryInt(const HttpRequest& req, const char* key, int64_t fallback) {
  auto it = req.query.find(key);
  if (it == req.query.end() || it->second.empty()) return fallback;
  const std::string& s = it->second;
  if (s.size() > 18 || !std::all_of(s.begin(), s.end(), ::isdigit)) {
    return BadRequestError(std::string("query parameter ") + key +
                           " must be a non-negative integer, got \"" + s.substr(0, 32) + "\"");
  }
  return std::stoll(s);
}

// labelSelector and fieldSelector, shared by list and watch.
Status ParseSelectors(const HttpRequest& req, LabelSelector* labels, FieldSelector* fields) {
  auto get = [&](const char* key) {
    auto it = req.query.find(key);
    return it == req.query.end() ? std::string() : it->second;
  };
  VISI_ASSIGN_OR_RETURN(*labels, LabelSelector::Parse(get("labelSelector")));
  VISI_ASSIGN_OR_RETURN(*fields, FieldSelector::Parse(get("fieldSelector")));
  return OkStatus();
}

bool QueryBool(const HttpRequest& req, const char* key) {
  auto it = req.query.find(key);
  return it != req.query.end() && (it->second == "true" || it->second == "1");
}

}  // namespace

ApiHandler::ApiHandler(Store* store, std::shared_ptr<const Scheme> scheme, Metrics* metrics,
                       ApiHandlerOptions opts)
    : store_(store), scheme_(std::move(scheme)), metrics_(metrics), opts_(opts) {}

bool ApiHandler::IsPublic(const std::string& path) {
  return path == "/healthz" || path == "/readyz" || path == "/livez" || path == "/version";
}

template <typename F>
auto ApiHandler::Timed(const char* op, F&& f) {
  auto start = SteadyClock::now();
  auto result = f();
  metrics_->ObserveStore(op, std::chrono::duration<double>(SteadyClock::now() - start).count());
  return result;
}

HttpResponse ApiHandler::Error(const Status& s, const Target* t) {
  return JsonResponse(CodeHttpStatus(s.code()),
                      StatusJson(s, t && t->kind ? t->kind->kind : "", t ? t->name : ""));
}

HttpResponse ApiHandler::ObjectResponse(int code, const ObjectPtr& o) {
  HttpResponse r;
  r.code = code;
  r.body = ObjectToJsonText(*o);
  return r;
}

HttpResponse ApiHandler::Handle(const HttpRequest& req) {
  auto start = SteadyClock::now();
  static const std::set<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  if (!kMethods.count(req.method)) {
    // Unknown methods are refused before they reach metrics labels.
    metrics_->CountRequest("OTHER", "", 405);
    HttpResponse r = Error(Status(Code::kBadRequest, "method not allowed"));
    r.code = 405;
    return r;
  }
  std::string verb = req.method, resource = "";
  HttpResponse r = Dispatch(req, &verb, &resource);
  if (!r.stream) {
    metrics_->ObserveRequest(verb, resource, r.code,
                             std::chrono::duration<double>(SteadyClock::now() - start).count());
  } else {
    metrics_->CountRequest(verb, resource, r.code);
  }
  return r;
}

HttpResponse ApiHandler::Dispatch(const HttpRequest& req, std::string* verb, std::string* resource) {
  const std::string& p = req.path;
  if (p == "/healthz" || p == "/livez") {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ok";
    return r;
  }
  if (p == "/readyz") {
    HttpResponse r;
    r.content_type = "text/plain";
    r.body = "ok";
    if (opts_.not_ready) {
      if (std::string why = opts_.not_ready(); !why.empty()) {
        r.code = 503;
        r.body = "not ready: " + why;
      }
    }
    return r;
  }
  if (p == "/version") return JsonResponse(200, VersionJson());
  if (!req.user) return Error(Status(Code::kUnauthorized, "Unauthorized"));
  if (p == "/metrics") {
    metrics_->SetRevision(store_->CurrentRevision());
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4";
    r.body = metrics_->Render();
    return r;
  }
  if (req.method != "GET" && (p == "/api" || p == "/apis" || p.rfind("/apis/visi.dev", 0) != 0)) {
    return Error(Status(Code::kNotFound, "the server could not find the requested resource"));
  }
  if (p == "/api" || p == "/api/") return JsonResponse(200, ApiVersionsJson());
  if (p == "/openapi/v3") return JsonResponse(200, OpenApiV3RootJson());
  if (p == "/openapi/v2") {
    if (req.Header("accept").find("protobuf") == std::string::npos) return JsonResponse(200, OpenApiV2Json());
    HttpResponse r;
    r.content_type = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
    r.body = OpenApiV2Protobuf();
    return r;
  }
  if (p == std::string("/openapi/v3/apis/") + kApiVersion) {
    return JsonResponse(200, OpenApiV3GroupJson(*scheme_));
  }
  if (p == "/apis" || p == "/apis/") return JsonResponse(200, ApiGroupListJson(*scheme_));
  auto parts = SplitPath(p);
  if (parts.size() < 2 || parts[0] != "apis" || parts[1] != kGroup) {
    return Error(NotFoundError("the server could not find the requested resource"));
  }
  if (parts.size() == 2) return JsonResponse(200, ApiGroupJson(*scheme_));
  if (parts[2] != kVersion) {
    return Error(NotFoundError("the server could not find the requested resource (version \"" +
                               parts[2].substr(0, 32) + "\")"));
  }
  if (parts.size() == 3) return JsonResponse(200, ApiResourceListJson(*scheme_));
  // [namespaces/{ns}/]{plural}[/{name}[/status]]
  Target t;
  size_t i = 3;
  if (parts[i] == "namespaces" && parts.size() >= i + 3) {
    t.ns = parts[i + 1];
    i += 2;
  }
  for (const auto& k : scheme_->kinds()) {
    if (k.plural == parts[i]) t.kind = &k;
  }
  if (!t.kind) {
    return Error(NotFoundError("the server could not find the requested resource \"" +
                               parts[i].substr(0, 64) + "\""));
  }
  *resource = t.kind->plural;
  if (parts.size() > i + 1) t.name = parts[i + 1];
  if (parts.size() == i + 3 && parts[i + 2] == "status" && t.kind->has_status) {
    t.status = true;
    *resource += "/status";
  } else if (parts.size() == i + 3 && parts[i + 2] == "login" && t.kind->kind == "VisiSession") {
    t.login = true;
    *resource += "/login";
  } else if (parts.size() > i + 2) {
    return Error(NotFoundError("the server could not find the requested resource"));
  }
  if (t.kind->namespaced == false && !t.ns.empty()) {
    return Error(NotFoundError(t.kind->plural + " are cluster-scoped: no namespace in the path"));
  }
  if (t.kind->namespaced && !t.name.empty() && t.ns.empty()) {
    return Error(NotFoundError(t.kind->plural + " are namespaced: the path needs /namespaces/{namespace}/"));
  }
  // Authorization: admins reach everything; users only their namespaces of
  // namespaced kinds.
  const UserInfo& u = *req.user;
  if (!u.admin) {
    std::string what = "user \"" + u.name + "\" cannot " + req.method + " " + t.kind->plural;
    if (!t.kind->namespaced) {
      return Error(Status(Code::kForbidden, what + " at the cluster scope: cluster-scoped kinds need admin"), &t);
    }
    if (t.ns.empty()) {
      return Error(Status(Code::kForbidden, what + " across all namespaces"), &t);
    }
    if (!u.Reaches(t.ns)) {
      return Error(Status(Code::kForbidden, what + " in the namespace \"" + t.ns + "\""), &t);
    }
    // Status is what the controllers observed: the router trusts it (a
    // session's front-end address), so users read it and never write it.
    if (t.status && req.method != "GET") {
      return Error(Status(Code::kForbidden, what + "/status: status is written by the controllers"), &t);
    }
    // Logins are made by the login subresource (which keeps the ticket);
    // users may read them and delete them (a logout), nothing else.
    const bool login_write = req.method == "POST" || req.method == "PUT" || req.method == "PATCH";
    if (t.kind->kind == "SessionLogin" && login_write) {
      return Error(Status(Code::kForbidden, what + ": logins are made by POST .../visisessions/NAME/login "
                                                   "(visictl open NAME)"),
                   &t);
    }
  }
  return HandleResource(req, t, verb);
}

HttpResponse ApiHandler::HandleResource(const HttpRequest& req, const Target& t, std::string* verb) {
  const std::string& m = req.method;
  if (req.query.count("dryRun")) {
    // Refused rather than ignored: a dry run that wrote would be worse.
    return Error(BadRequestError("dryRun is not supported by this server"), &t);
  }
  if (t.login) {
    if (m == "POST") {
      *verb = "CREATE";
      if (!opts_.login) {
        return Error(NotFoundError("logins are not served here: this visid runs no router (see --router-url)"), &t);
      }
      auto ticket = opts_.login(t.ns, t.name);
      if (!ticket.ok()) return Error(ticket.status(), &t);
      return JsonResponse(201, *ticket);
    }
  } else if (t.name.empty()) {
    if (m == "GET" && QueryBool(req, "watch")) {
      *verb = "WATCH";
      return Watch(req, t);
    }
    if (m == "GET") {
      *verb = "LIST";
      return List(req, t);
    }
    if (m == "POST") {
      *verb = "CREATE";
      return Create(req, t);
    }
  } else {
    if (m == "GET") {
      *verb = "GET";
      return Get(t);
    }
    if (m == "PUT") {
      *verb = "UPDATE";
      return Replace(req, t);
    }
    if (m == "PATCH") {
      *verb = "PATCH";
      return Patch(req, t);
    }
    if (m == "DELETE" && !t.status) {
      *verb = "DELETE";
      return Remove(req, t);
    }
  }
  HttpResponse r = Error(Status(Code::kBadRequest, "method " + m.substr(0, 16) +
                                                       " is not allowed on this path"), &t);
  r.code = 405;
  return r;
}

HttpResponse ApiHandler::Get(const Target& t) {
  auto o = Timed("get", [&] { return store_->Get(t.kind->kind, t.ns, t.name); });
  if (!o.ok()) return Error(o.status(), &t);
  return ObjectResponse(200, *o);
}

HttpResponse ApiHandler::List(const HttpRequest& req, const Target& t) {
  ListOptions opts;
  opts.kind = t.kind->kind;
  opts.namespace_ = t.ns;
  if (Status sel = ParseSelectors(req, &opts.labels, &opts.fields); !sel.ok()) return Error(sel, &t);
  auto limit = QueryInt(req, "limit", 0);
  if (!limit.ok()) return Error(limit.status(), &t);
  opts.limit = *limit;
  if (req.query.count("continue")) opts.continue_token = req.query.at("continue");
  auto list = Timed("list", [&] { return store_->List(opts); });
  if (!list.ok()) return Error(list.status(), &t);
  return JsonResponse(200, ListJson(*t.kind, *list));
}

HttpResponse ApiHandler::Watch(const HttpRequest& req, const Target& t) {
  WatchOptions opts;
  opts.kind = t.kind->kind;
  opts.namespace_ = t.ns;
  if (Status sel = ParseSelectors(req, &opts.labels, &opts.fields); !sel.ok()) return Error(sel, &t);
  auto rv = QueryInt(req, "resourceVersion", 0);
  if (!rv.ok()) return Error(rv.status(), &t);
  auto timeout = QueryInt(req, "timeoutSeconds", opts_.max_watch_timeout.count());
  if (!timeout.ok()) return Error(timeout.status(), &t);
  if (*rv > 0) opts.resource_version = *rv;
  opts.bookmarks = QueryBool(req, "allowWatchBookmarks");
  opts.bookmark_interval = opts_.bookmark_interval;
  // The slot is taken here, where the limit is checked, not when the
  // stream starts (on another thread, later): watches opened at once on
  // several request threads cannot overshoot it. It is given back when the
  // stream ends, or with the response if the stream never starts.
  if (!metrics_->TryOpenWatch(static_cast<int64_t>(opts_.max_watches))) {
    return Error(UnavailableError("too many open watches (" + std::to_string(opts_.max_watches) +
                                  "); try again later"), &t);
  }
  struct WatchSlot {
    Metrics* metrics;
    ~WatchSlot() { metrics->WatchClosed(); }
  };
  std::shared_ptr<WatchSlot> slot(new WatchSlot{metrics_});
  auto watcher = Timed("watch", [&] { return store_->Watch(opts); });
  if (!watcher.ok()) return Error(watcher.status(), &t);
  auto deadline = SteadyClock::now() +
                  std::min(std::chrono::seconds(*timeout), opts_.max_watch_timeout);
  HttpResponse r;
  r.content_type = "application/json";
  std::shared_ptr<Watcher> w = std::move(*watcher);
  const KindInfo* kind = t.kind;
  r.stream = [w, kind, deadline, slot](const ChunkWriter& write) {
    auto last_write = SteadyClock::now();
    while (SteadyClock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
      auto e = w->Next(std::min(left, std::chrono::milliseconds(1000)));
      if (!e) {
        // While idle, a blank line every few seconds: JSON stream readers skip
        // it, and sending it is how a vanished client is noticed.
        bool heartbeat = SteadyClock::now() - last_write >= std::chrono::seconds(3);
        if (!write(heartbeat ? "\n" : "")) break;
        if (heartbeat) last_write = SteadyClock::now();
        continue;
      }
      last_write = SteadyClock::now();
      // Everything already waiting goes out in one write.
      std::string chunk;
      bool end = false;
      for (int n = 1;; ++n) {
        chunk += WatchEventLine(*kind, *e) + "\n";
        if (e->type == EventType::kError) {
          end = true;
          break;
        }
        // Bounded, so the transport's per-watch buffer check stays close.
        if (n == 256 || chunk.size() >= 256 * 1024) break;
        e = w->Next(std::chrono::milliseconds(0));
        if (!e) break;
      }
      if (!write(chunk) || end) break;
    }
    w->Stop();
  };
  return r;
}

StatusOr<Object> ApiHandler::DecodeBody(const HttpRequest& req, const Target& t) {
  if (req.body.size() > opts_.max_body_bytes) {
    return TooLargeError("request body is " + std::to_string(req.body.size()) +
                         " bytes; the limit is " + std::to_string(opts_.max_body_bytes));
  }
  std::string type = req.Header("content-type");
  Json j;
  if (type.find("yaml") != std::string::npos) {
    VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(req.body, "body"));
    if (docs.size() != 1) return BadRequestError("the body must hold exactly one object");
    j = std::move(docs[0].value);
  } else {
    VISI_ASSIGN_OR_RETURN(j, ParseJson(req.body));
  }
  VISI_ASSIGN_OR_RETURN(Object o, ObjectFromJson(j));
  if (o.kind.empty()) o.kind = t.kind->kind;
  if (o.api_version.empty()) o.api_version = t.kind->ApiVersion();
  if (o.kind != t.kind->kind) {
    return BadRequestError("the kind of the object (" + o.kind.substr(0, 64) +
                           ") does not match the path (" + t.kind->kind + ")");
  }
  if (o.metadata.namespace_.empty()) o.metadata.namespace_ = t.ns;
  if (o.metadata.namespace_ != t.ns) {
    return BadRequestError("the namespace of the provided object does not match the namespace "
                           "sent on the request");
  }
  if (!t.name.empty() && o.metadata.name != t.name) {
    return BadRequestError("the name of the object (" + o.metadata.name.substr(0, 253) +
                           ") does not match the name on the URL (" + t.name + ")");
  }
  return o;
}

HttpResponse ApiHandler::Create(const HttpRequest& req, const Target& t) {
  auto o = DecodeBody(req, t);
  if (!o.ok()) return Error(o.status(), &t);
  Target named = t;  // errors name the object being created, as Kubernetes does
  named.name = o->metadata.name;
  auto created = Timed("create", [&] { return store_->Create(std::move(*o)); });
  if (!created.ok()) return Error(created.status(), &named);
  return ObjectResponse(201, *created);
}

HttpResponse ApiHandler::Replace(const HttpRequest& req, const Target& t) {
  auto o = DecodeBody(req, t);
  if (!o.ok()) return Error(o.status(), &t);
  if (o->metadata.resource_version == 0) {
    // As for Kubernetes custom resources: a replace names the version it
    // replaces, so concurrent updates are never silently lost.
    return Error(InvalidError(t.kind->kind + " \"" + t.name + "\" is invalid",
                              {{"metadata.resourceVersion", "must be specified for an update"}}), &t);
  }
  auto updated = Timed("update", [&] {
    return t.status ? store_->UpdateStatus(std::move(*o)) : store_->Update(std::move(*o));
  });
  if (!updated.ok()) return Error(updated.status(), &t);
  return ObjectResponse(200, *updated);
}

HttpResponse ApiHandler::Patch(const HttpRequest& req, const Target& t) {
  std::string type = req.Header("content-type");
  bool merge = type.find("application/merge-patch+json") == 0;
  bool json_patch = type.find("application/json-patch+json") == 0;
  if (!merge && !json_patch) {
    HttpResponse r = Error(Status(Code::kBadRequest,
                                  "unsupported patch type \"" + type.substr(0, 64) +
                                      "\": use application/merge-patch+json or "
                                      "application/json-patch+json"), &t);
    r.code = 415;
    return r;
  }
  if (req.body.size() > opts_.max_body_bytes) {
    return Error(TooLargeError("request body is too large"), &t);
  }
  auto patch = ParseJson(req.body);
  if (!patch.ok()) return Error(patch.status(), &t);
  // Patches apply to the current object; a concurrent writer makes us retry,
  // with a growing pause so that a write still being made durable lands.
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(attempt, 6)));
    auto cur = Timed("get", [&] { return store_->Get(t.kind->kind, t.ns, t.name); });
    if (!cur.ok()) return Error(cur.status(), &t);
    Json doc = ObjectToJson(**cur);
    try {
      if (merge) {
        if (!patch->is_object()) return Error(BadRequestError("a merge patch must be a JSON object"), &t);
        doc.merge_patch(*patch);
      } else {
        // One operation at a time, with the document's size checked after
        // each: "copy" can double it, so a small patch could grow it without
        // bound.
        if (!patch->is_array()) return Error(BadRequestError("a JSON patch must be a JSON array"), &t);
        if (patch->size() > 1000) {
          return Error(BadRequestError("a JSON patch may hold at most 1000 operations"), &t);
        }
        for (const auto& op : *patch) {
          doc = doc.patch(Json::array({op}));
          if (doc.dump().size() > kMaxObjectBytes) {
            return Error(TooLargeError("the patched object would exceed " +
                                       std::to_string(kMaxObjectBytes) + " bytes"), &t);
          }
        }
      }
    } catch (const std::exception& e) {
      return Error(Status(Code::kInvalid, std::string("the patch does not apply: ") + e.what()), &t);
    }
    auto o = ObjectFromJson(doc);
    if (!o.ok()) return Error(o.status(), &t);
    if (o->metadata.name != t.name || o->metadata.namespace_ != t.ns || o->kind != t.kind->kind) {
      return Error(BadRequestError("a patch must not change kind, name or namespace"), &t);
    }
    bool pinned = patch->is_object() && patch->contains("metadata") &&
                  (*patch)["metadata"].is_object() && (*patch)["metadata"].contains("resourceVersion");
    if (!pinned) o->metadata.resource_version = (*cur)->metadata.resource_version;
    auto updated = Timed("update", [&] {
      return t.status ? store_->UpdateStatus(std::move(*o)) : store_->Update(std::move(*o));
    });
    if (updated.ok()) return ObjectResponse(200, *updated);
    if (updated.status().code() != Code::kConflict || pinned) return Error(updated.status(), &t);
  }
  return Error(ConflictError("the object kept changing while the patch was applied; try again"), &t);
}

HttpResponse ApiHandler::Remove(const HttpRequest& req, const Target& t) {
  Preconditions pre;
  auto policy = [&](const std::string& value) -> Status {
    auto p = ParsePropagation(value);
    if (!p) {
      return InvalidError("propagationPolicy: Unsupported value: \"" + value.substr(0, 32) +
                              "\": supported values: \"Background\", \"Foreground\", \"Orphan\"",
                          {{"propagationPolicy", "Unsupported value"}});
    }
    pre.propagation = *p;
    return OkStatus();
  };
  if (auto it = req.query.find("propagationPolicy"); it != req.query.end()) {
    if (Status s = policy(it->second); !s.ok()) return Error(s, &t);
  }
  if (!req.body.empty()) {
    auto j = ParseJson(req.body, opts_.max_body_bytes);
    if (!j.ok()) return Error(j.status(), &t);
    if (j->is_object() && j->contains("propagationPolicy") && !(*j)["propagationPolicy"].is_null()) {
      const Json& v = (*j)["propagationPolicy"];
      if (Status s = policy(v.is_string() ? v.get<std::string>() : v.dump()); !s.ok()) return Error(s, &t);
    }
    if (j->is_object() && j->contains("orphanDependents") && (*j)["orphanDependents"] == true) {
      pre.propagation = Propagation::kOrphan;
    }
    if (j->is_object() && j->contains("preconditions") && (*j)["preconditions"].is_object()) {
      const Json& p = (*j)["preconditions"];
      if (p.contains("uid") && p["uid"].is_string()) pre.uid = p["uid"].get<std::string>();
      if (p.contains("resourceVersion") && p["resourceVersion"].is_string()) {
        try {
          pre.resource_version = std::stoull(p["resourceVersion"].get<std::string>());
        } catch (const std::exception&) {
          return Error(BadRequestError("preconditions.resourceVersion must be a decimal string"), &t);
        }
      }
    }
  }
  auto d = Timed("delete", [&] { return store_->Delete(t.kind->kind, t.ns, t.name, pre); });
  if (!d.ok()) return Error(d.status(), &t);
  return ObjectResponse(200, *d);
}

}  // namespace visi
