#include "controller/client/remote_store.h"

#include <condition_variable>
#include <deque>
#include <thread>

namespace visi {
namespace {

std::string SelectorQuery(const LabelSelector& l, const FieldSelector& f) {
  std::string q;
  auto join = [](const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
    return out;
  };
  std::vector<std::string> ls, fs;
  for (const auto& r : l.requirements()) {
    std::string vals = join(r.values);
    switch (r.op) {
      case LabelSelector::Op::kEquals: ls.push_back(r.key + "=" + vals); break;
      case LabelSelector::Op::kNotEquals: ls.push_back(r.key + "!=" + vals); break;
      case LabelSelector::Op::kIn: ls.push_back(r.key + " in (" + vals + ")"); break;
      case LabelSelector::Op::kNotIn: ls.push_back(r.key + " notin (" + vals + ")"); break;
      case LabelSelector::Op::kExists: ls.push_back(r.key); break;
      case LabelSelector::Op::kNotExists: ls.push_back("!" + r.key); break;
    }
  }
  for (const auto& r : f.requirements()) fs.push_back(r.field + (r.equals ? "=" : "!=") + r.value);
  if (!ls.empty()) q += "&labelSelector=" + UrlEncode(join(ls));
  if (!fs.empty()) q += "&fieldSelector=" + UrlEncode(join(fs));
  return q;
}

StatusOr<ObjectPtr> DecodeObject(const ApiResponse& r) {
  if (!r.ok()) return r.ToStatus();
  VISI_ASSIGN_OR_RETURN(Json j, ParseJson(r.body));
  VISI_ASSIGN_OR_RETURN(Object o, ObjectFromJson(j));
  return ObjectPtr(std::make_shared<Object>(std::move(o)));
}

// A watch stream read by a thread of its own into a queue.
class RemoteWatcher final : public Watcher {
 public:
  RemoteWatcher(std::shared_ptr<ApiClient> client, std::string target)
      : state_(std::make_shared<State>()) {
    auto state = state_;
    reader_ = std::thread([state, client, target] {
      Status s = client->Watch(target, [&](const Json& e) {
        WatchEvent ev;
        std::string type = e.value("type", "");
        if (type == "ADDED") ev.type = EventType::kAdded;
        else if (type == "MODIFIED") ev.type = EventType::kModified;
        else if (type == "DELETED") ev.type = EventType::kDeleted;
        else if (type == "BOOKMARK") ev.type = EventType::kBookmark;
        else ev.type = EventType::kError;
        if (ev.type == EventType::kError) {
          ApiResponse r{static_cast<int>(e["object"].value("code", 500)), e["object"].dump()};
          ev.error = r.ToStatus();
        } else {
          auto o = ObjectFromJson(e.value("object", Json::object()));
          if (o.ok()) {
            ev.resource_version = o->metadata.resource_version;
            ev.object = std::make_shared<Object>(std::move(*o));
          }
        }
        std::lock_guard lock(state->mu);
        state->queue.push_back(std::move(ev));
        state->cv.notify_all();
        return !state->stopped;
      }, std::chrono::seconds(3600));
      std::lock_guard lock(state->mu);
      WatchEvent end;
      end.type = EventType::kError;
      end.error = s.ok() ? Status(Code::kGone, "the watch ended") : s;
      state->queue.push_back(std::move(end));
      state->cv.notify_all();
    });
  }
  ~RemoteWatcher() override {
    Stop();
    reader_.detach();  // ends at the next event or when the server closes the stream
  }

  std::optional<WatchEvent> Next(std::chrono::milliseconds timeout) override {
    std::unique_lock lock(state_->mu);
    if (!state_->cv.wait_for(lock, timeout, [&] { return !state_->queue.empty(); })) return std::nullopt;
    WatchEvent e = state_->queue.front();
    if (e.type != EventType::kError) state_->queue.pop_front();
    return e;
  }
  void Stop() override {
    std::lock_guard lock(state_->mu);
    state_->stopped = true;
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<WatchEvent> queue;
    bool stopped = false;
  };
  std::shared_ptr<State> state_;
  std::thread reader_;
};

class RemoteStore final : public Store {
 public:
  RemoteStore(std::shared_ptr<ApiClient> client, std::shared_ptr<const Scheme> scheme)
      : client_(std::move(client)), scheme_(std::move(scheme)) {}

  StatusOr<ObjectPtr> Create(Object o) override {
    VISI_ASSIGN_OR_RETURN(const KindInfo* k, Kind(o.kind));
    return DecodeObject(client_->Request("POST", ResourcePath(k->plural, o.metadata.namespace_),
                                         ObjectToJsonText(o)));
  }
  StatusOr<ObjectPtr> Get(std::string_view kind, std::string_view ns, std::string_view name) override {
    VISI_ASSIGN_OR_RETURN(const KindInfo* k, Kind(kind));
    return DecodeObject(client_->Request("GET", ResourcePath(k->plural, std::string(ns), std::string(name))));
  }
  StatusOr<ListResult> List(const ListOptions& opts) override {
    VISI_ASSIGN_OR_RETURN(const KindInfo* k, Kind(opts.kind));
    std::string q = "?limit=" + std::to_string(opts.limit) + SelectorQuery(opts.labels, opts.fields);
    if (!opts.continue_token.empty()) q += "&continue=" + UrlEncode(opts.continue_token);
    auto r = client_->Request("GET", ResourcePath(k->plural, opts.namespace_) + q);
    if (!r.ok()) return r.ToStatus();
    // A list holds many objects: bounded by what the client already read,
    // not by the size limit of one object.
    VISI_ASSIGN_OR_RETURN(Json j, ParseJson(r.body, r.body.size() + 1));
    ListResult out;
    const Json& meta = j.value("metadata", Json::object());
    out.resource_version = std::stoull(meta.value("resourceVersion", "0"));
    out.continue_token = meta.value("continue", "");
    for (const auto& item : j.value("items", Json::array())) {
      VISI_ASSIGN_OR_RETURN(Object o, ObjectFromJson(item));
      out.items.push_back(std::make_shared<Object>(std::move(o)));
    }
    return out;
  }
  StatusOr<ObjectPtr> Update(Object o) override { return Put(std::move(o), ""); }
  StatusOr<ObjectPtr> UpdateStatus(Object o) override { return Put(std::move(o), "/status"); }
  StatusOr<ObjectPtr> Delete(std::string_view kind, std::string_view ns, std::string_view name,
                             const Preconditions& pre) override {
    VISI_ASSIGN_OR_RETURN(const KindInfo* k, Kind(kind));
    Json body = {{"kind", "DeleteOptions"}, {"apiVersion", "v1"}};
    if (pre.uid) body["preconditions"]["uid"] = *pre.uid;
    if (pre.resource_version) body["preconditions"]["resourceVersion"] = std::to_string(*pre.resource_version);
    if (pre.propagation == Propagation::kForeground) body["propagationPolicy"] = "Foreground";
    if (pre.propagation == Propagation::kOrphan) body["propagationPolicy"] = "Orphan";
    return DecodeObject(client_->Request("DELETE", ResourcePath(k->plural, std::string(ns), std::string(name)),
                                         body.dump()));
  }
  StatusOr<std::unique_ptr<Watcher>> Watch(const WatchOptions& opts) override {
    VISI_ASSIGN_OR_RETURN(const KindInfo* k, Kind(opts.kind));
    std::string target = ResourcePath(k->plural, opts.namespace_) + "?watch=true" +
                         SelectorQuery(opts.labels, opts.fields);
    if (opts.resource_version) target += "&resourceVersion=" + std::to_string(*opts.resource_version);
    if (opts.bookmarks) target += "&allowWatchBookmarks=true";
    return std::unique_ptr<Watcher>(std::make_unique<RemoteWatcher>(client_, target));
  }
  uint64_t CurrentRevision() override {
    ListOptions opts;
    opts.kind = "Lease";
    opts.namespace_ = "default";
    opts.limit = 1;
    auto r = List(opts);
    return r.ok() ? r->resource_version : 0;
  }

 private:
  StatusOr<const KindInfo*> Kind(std::string_view kind) {
    const KindInfo* k = scheme_->ByKind(kind);
    if (!k) return InvalidError("unknown kind \"" + std::string(kind) + "\"");
    return k;
  }
  StatusOr<ObjectPtr> Put(Object o, const std::string& sub) {
    VISI_ASSIGN_OR_RETURN(const KindInfo* k, Kind(o.kind));
    return DecodeObject(client_->Request(
        "PUT", ResourcePath(k->plural, o.metadata.namespace_, o.metadata.name) + sub, ObjectToJsonText(o)));
  }

  std::shared_ptr<ApiClient> client_;
  std::shared_ptr<const Scheme> scheme_;
};

}  // namespace

std::unique_ptr<Store> NewRemoteStore(std::shared_ptr<ApiClient> client,
                                      std::shared_ptr<const Scheme> scheme) {
  return std::make_unique<RemoteStore>(std::move(client), std::move(scheme));
}

}  // namespace visi
