#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/object.h"
#include "controller/client/api_client.h"
#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/docker/docker_http.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_spec.h"
#include "test/bench/docker_actions.h"
#include "test/bench/watch_stream.h"

// The Visi half of suspend_bench.cc: one VisiSession (namespace "bench", 2
// workers, the default statePaths [/data]) created, suspended and resumed
// through the API of a running visid, each step timed from just before its
// PATCH to the watch event that shows it done.
namespace visi::bench {

using Steady = std::chrono::steady_clock;

// One timed suspend or resume.
struct Timed {
  Status status;
  double seconds = 0;
  std::string phases;                 // "Suspending +0.010 s, Suspended +2.345 s"
  std::string docker;                 // Docker's record: "stop +0.35 s, ..." (docker_actions.h)
  int64_t bundle_bytes = 0;           // suspend: status.lastSnapshot.sizeBytes
  std::vector<std::string> findings;  // where the session differs from the contract
};

// A session as created: its uid and its spec as the API server defaulted it.
struct CreatedSession {
  std::string uid;
  SessionSpec spec;
};

class VisiSide {
 public:
  static constexpr char kNamespace[] = "bench";

  VisiSide(ClientConfig config, ContainerRuntime* rt, std::string instance, std::function<bool()> interrupted)
      : api_(std::move(config)), rt_(rt), instance_(std::move(instance)), interrupted_(std::move(interrupted)) {
    DockerHttpOptions options;
    options.endpoint = *ParseDockerEndpoint("unix:///var/run/docker.sock");
    if (auto http = DockerHttp::Create(options); http.ok()) events_ = std::move(*http);
  }

  // POSTs the session and waits (polling, untimed) until it is Ready.
  StatusOr<CreatedSession> Create(const std::string& name, Steady::time_point deadline) {
    const Json body = {{"apiVersion", "visi.dev/v1alpha1"},
                       {"kind", "VisiSession"},
                       {"metadata", {{"name", name}, {"namespace", kNamespace}}},
                       {"spec", {{"user", kNamespace}, {"spark", {{"workers", 2}}}}}};
    auto created = api_.Request("POST", Sessions(), body.dump());
    if (!created.ok()) return created.ToStatus();
    VISI_ASSIGN_OR_RETURN(Json j, ParseJson(created.body));
    VISI_ASSIGN_OR_RETURN(Object o, ObjectFromJson(j));
    VISI_ASSIGN_OR_RETURN(SessionSpec spec, ParseSessionSpec(o));
    uids_[name] = o.metadata.uid;
    while (true) {
      auto got = Get(name);
      if (got && IsRunning(*got)) break;
      if (Steady::now() >= deadline || interrupted_()) {
        return Status(Code::kDeadlineExceeded, name + " not Ready: " + (got ? (*got)["status"].dump() : "not found"));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return CreatedSession{o.metadata.uid, spec};
  }

  // The session's network; its containers are NETWORK-PART.
  std::string Network(const std::string& name) const {
    auto uid = uids_.find(name);
    return SessionNetworkName({kNamespace, name, uid == uids_.end() ? "" : uid->second, instance_});
  }
  // The front end's container (the same name across suspends).
  std::string Frontend(const std::string& name) const { return Network(name) + "-frontend"; }

  Timed Suspend(const std::string& name, Steady::time_point deadline) {
    const auto since = std::chrono::system_clock::now();
    Timed t = Patch(
        name, true, [](const Json& o) { return Phase(o) == "Suspended"; }, SnapshotFailed, deadline);
    if (!t.status.ok()) return t;
    t.docker = Actions(name, since, {"stop", "archive-path", "destroy", "network destroy"});
    // Untimed: what the contract says a suspended session leaves.
    const Labels of_session = {{session_labels::kSessionUid, uids_[name]}};
    auto containers = rt_->ListContainers(of_session);
    auto networks = rt_->ListNetworks(of_session);
    if (containers.ok() && !containers->empty()) {
      std::string states;
      for (const auto& c : *containers) states += (states.empty() ? "" : ", ") + c.state;
      // Said once more a little later: gone by then means Suspended came
      // before the removal, not instead of it.
      std::this_thread::sleep_for(std::chrono::seconds(2));
      auto later = rt_->ListContainers(of_session);
      t.findings.push_back("at phase Suspended, " + std::to_string(containers->size()) +
                           " container(s) of the session remain (" + states + "); 2 s later " +
                           (later.ok() ? std::to_string(later->size()) : "?"));
    }
    if (networks.ok() && !networks->empty()) {
      auto later = rt_->ListNetworks(of_session);
      t.findings.push_back(std::string("at phase Suspended, the session network remains; ") +
                           (later.ok() && later->empty() ? "gone" : "still there") + " a little later");
    }
    auto got = Get(name);
    const Json status = got ? (*got).value("status", Json::object()) : Json::object();
    const Json snap = status.value("lastSnapshot", Json::object());
    const std::string sha = snap.value("sha256", "");
    t.bundle_bytes = snap.value("sizeBytes", int64_t{0});
    if (sha.size() != 64 || t.bundle_bytes <= 0 || snap.value("name", "").empty()) {
      t.findings.push_back("status.lastSnapshot is not {name, sha256 (64 hex), sizeBytes}: " + snap.dump());
    }
    if (ConditionStatus(status, "Suspended") != "True") t.findings.push_back("condition Suspended is not True");
    if (status.contains("subnet")) t.findings.push_back("status.subnet is kept while suspended");
    return t;
  }

  Timed Resume(const std::string& name, Steady::time_point deadline) {
    const auto since = std::chrono::system_clock::now();
    Timed t = Patch(
        name, false, IsRunning, [](const Json&) { return std::string(); }, deadline);
    if (!t.status.ok()) return t;
    t.docker = Actions(name, since, {"network create", "create", "extract-to-dir", "start"});
    auto got = Get(name);
    const Json status = got ? (*got).value("status", Json::object()) : Json::object();
    const Json* restored = FindCondition(status, "Restored");
    if (restored == nullptr || restored->value("status", "") != "True" || restored->value("reason", "") != "Restored") {
      t.findings.push_back("after a resume the Restored condition is " + (restored ? restored->dump() : "missing"));
    }
    return t;
  }

  // DELETE, then waits (polling) until the session is gone.
  Status Delete(const std::string& name, Steady::time_point deadline) {
    auto r = api_.Request("DELETE", Sessions() + "/" + name);
    if (!r.ok() && r.code != 404) return r.ToStatus();
    while (Get(name)) {
      if (Steady::now() >= deadline) return Status(Code::kDeadlineExceeded, name + " not gone within the limit");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return OkStatus();
  }

 private:
  static std::string Sessions() { return ResourcePath("visisessions", kNamespace); }

  static std::string Phase(const Json& o) {
    const Json status = o.value("status", Json::object());
    return status.is_object() ? status.value("phase", "") : "";
  }
  static const Json* FindCondition(const Json& status, const std::string& type) {
    if (!status.is_object() || !status.contains("conditions") || !status["conditions"].is_array()) return nullptr;
    for (const auto& c : status["conditions"]) {
      if (c.value("type", "") == type) return &c;
    }
    return nullptr;
  }
  static std::string ConditionStatus(const Json& status, const std::string& type) {
    const Json* c = FindCondition(status, type);
    return c == nullptr ? "" : c->value("status", "");
  }
  // metadata.resourceVersion, a string or a number; `otherwise` when absent.
  static std::string ResourceVersion(const Json& o, const std::string& otherwise) {
    if (!o.contains("metadata") || !o["metadata"].contains("resourceVersion")) return otherwise;
    const Json& rv = o["metadata"]["resourceVersion"];
    return rv.is_string() ? rv.get<std::string>() : rv.dump();
  }
  // A suspend that will not finish by itself: the session stays Suspending
  // with a condition saying its snapshot failed (the containers are kept
  // stopped until spec.suspend is set again). The message, or "".
  static std::string SnapshotFailed(const Json& o) {
    const Json status = o.value("status", Json::object());
    if (Phase(o) != "Suspending" || !status.is_object() || !status.contains("conditions")) return "";
    for (const auto& c : status["conditions"]) {
      const std::string m = c.value("message", "");
      if (m.rfind("snapshot ", 0) == 0 && m.find(" failed") != std::string::npos) return m;
    }
    return "";
  }
  static bool IsRunning(const Json& o) {
    return Phase(o) == "Running" && ConditionStatus(o.value("status", Json::object()), "Ready") == "True";
  }

  std::string Actions(const std::string& name, std::chrono::system_clock::time_point since,
                      const std::vector<std::string>& actions) const {
    return events_ ? DockerActions(*events_, Network(name), since, actions) : "";
  }

  std::optional<Json> Get(const std::string& name) {
    auto r = api_.Request("GET", Sessions() + "/" + name);
    if (!r.ok()) return std::nullopt;
    auto j = ParseJson(r.body);
    if (!j.ok()) return std::nullopt;
    return *j;
  }

  // PATCHes spec.suspend, then follows the session through a watch from the
  // PATCH's resourceVersion until `done` holds, or `failed` says why it will
  // not. The watch opens a few ms after the PATCH; events in between are
  // replayed (stamped on arrival), so none is missed.
  Timed Patch(const std::string& name, bool suspend, const std::function<bool(const Json&)>& done,
              const std::function<std::string(const Json&)>& failed, Steady::time_point deadline) {
    Timed t;
    const auto t0 = Steady::now();
    auto patched = api_.Request("PATCH", Sessions() + "/" + name, Json{{"spec", {{"suspend", suspend}}}}.dump(),
                                "application/merge-patch+json");
    auto j = patched.ok() ? ParseJson(patched.body) : StatusOr<Json>(patched.ToStatus());
    if (!j.ok()) {
      t.status = j.status();
      return t;
    }
    std::string rv = ResourceVersion(*j, "");
    std::string last_phase = Phase(*j), why;
    bool met = false;
    Steady::time_point at;
    auto observe = [&](const Json& o, Steady::time_point now) {
      const std::string phase = Phase(o);
      if (phase != last_phase) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%s%s +%.3f s", t.phases.empty() ? "" : ", ", phase.c_str(),
                      std::chrono::duration<double>(now - t0).count());
        t.phases += buf;
        last_phase = phase;
      }
      if (done(o)) {
        at = now;
        met = true;
      } else {
        why = failed(o);
      }
      return !met && why.empty();
    };
    auto keep_going = [&] { return Steady::now() < deadline && !interrupted_(); };
    while (!met && why.empty() && keep_going()) {
      WatchEnd end = WatchStream(
          api_.config(), Sessions() + "?watch=true&resourceVersion=" + rv,
          [&](const Json& e, Steady::time_point now) {
            const Json o = e.value("object", Json::object());
            if (e.value("type", "") == "ERROR" || !o.is_object()) return false;  // e.g. 410: re-watch from a GET
            rv = ResourceVersion(o, rv);
            if (o.value("metadata", Json::object()).value("name", "") != name) return true;
            return observe(o, now);
          },
          keep_going);
      if (end == WatchEnd::kStopped && (met || !why.empty())) break;
      if (end == WatchEnd::kFailed) std::this_thread::sleep_for(std::chrono::milliseconds(50));
      // The stream ended or failed: look once (a 410 loses the events
      // between), then watch again from there.
      if (auto got = Get(name)) {
        rv = ResourceVersion(*got, rv);
        observe(*got, Steady::now());
      }
    }
    if (!met) {
      auto got = Get(name);
      t.status = Status(why.empty() ? Code::kDeadlineExceeded : Code::kInternal,
                        name + (suspend ? " not Suspended" : " not Running") +
                            (!why.empty()     ? ": " + why
                             : interrupted_() ? " (interrupted)"
                                              : " within the limit") +
                            "; status " + (got ? (*got)["status"].dump() : "unreadable"));
      return t;
    }
    t.seconds = std::chrono::duration<double>(at - t0).count();
    return t;
  }

  ApiClient api_;
  ContainerRuntime* const rt_;
  const std::string instance_;
  const std::function<bool()> interrupted_;
  std::map<std::string, std::string> uids_;  // session name -> uid
  std::unique_ptr<DockerHttp> events_;       // Docker's event log, for Timed::docker
};

}  // namespace visi::bench
