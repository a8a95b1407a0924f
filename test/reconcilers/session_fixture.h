#pragma once

// What the session reconciler tests share: a "visid" made of a real manager
// on the in-memory store running the session reconciler, the snapshot
// reconciler and the garbage collector, over the in-memory twins of Docker
// (FakeContainerRuntime) and of the snapshot store (MemorySnapshotStore).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/api/scheme.h"
#include "controller/drivers/docker/tar_archive.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/garbage_collector.h"
#include "controller/runtime/ownership.h"
#include "controller/store/memory/memory_store.h"
#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_reconciler.h"
#include "reconcilers/session/session_status.h"
#include "reconcilers/snapshot/snapshot_reconciler.h"
#include "test/fakes/fake_container_runtime.h"
#include "test/fakes/memory_snapshot_store.h"
#include "test/fakes/objects.h"
#include "test/fakes/slow_watch_store.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {

// Every running container with an address answers (the front end while
// `frontend_up`).
class AlwaysReadyProber : public Prober {
 public:
  Status Tcp(const std::string&, int, std::chrono::milliseconds) override { return OkStatus(); }
  Status Http(const std::string&, int, const std::string&, std::chrono::milliseconds) override {
    return frontend_up ? OkStatus() : UnavailableError("connection refused");
  }
  std::atomic<bool> frontend_up{true};
};

// The front end image's files: /data (the default spec.statePaths) exists,
// owned by the unprivileged user the containers run as.
inline std::vector<TarEntry> FrontEndRootfs() {
  TarEntry data;
  data.name = "data";
  data.type = TarEntry::Type::kDirectory;
  data.mode = 0755;
  data.uid = data.gid = 65534;
  TarEntry etc;
  etc.name = "etc/hostname";
  etc.content = "frontend\n";
  return {data, etc};
}

class SessionFixture : public ::testing::Test {
 protected:
  SessionFixture() {
    session_opts_.instance = "unit";
    session_opts_.resync = std::chrono::milliseconds(50);
    session_opts_.probe_interval = std::chrono::milliseconds(20);
    session_opts_.docker_retry = std::chrono::milliseconds(50);
    session_opts_.stop_grace = std::chrono::seconds(0);
    session_opts_.subnet_pool = "10.200.0.0/20";  // 16 subnets of /24
    session_opts_.snapshots = &snapshot_store_;
    snapshot_opts_.instance = "unit";
    snapshot_opts_.retry = std::chrono::milliseconds(50);
  }

  void SetUp() override {
    docker_.AddImage("visi/frontend:latest", FrontEndRootfs());
    docker_.AddImage("visi/spark:latest");
    StartVisid();
  }
  void TearDown() override { manager_->Stop(); }

  // Starts a new manager with the reconcilers: a (re)started visid. What an
  // earlier one held in memory is gone; the store, Docker and the snapshot
  // store stay. REQUIRES: any earlier manager stopped.
  void StartVisid() {
    gc_.reset();
    snapshots_.reset();
    reconciler_.reset();
    ManagerOptions mo;
    mo.leader_election = false;
    Store* store = store_.get();
    if (session_watch_delay_.count() > 0) {
      slow_store_ = std::make_unique<SlowWatchStore>(store_.get(), "VisiSession", session_watch_delay_);
      store = slow_store_.get();
    }
    manager_ = std::make_unique<Manager>(store, mo);
    auto runtime = [this](const std::string&) -> ContainerRuntime* { return &docker_; };
    reconciler_ = std::make_unique<SessionReconciler>(manager_.get(), runtime, &prober_, session_opts_);
    snapshots_ = std::make_unique<SnapshotReconciler>(manager_.get(), runtime, &snapshot_store_, snapshot_opts_);
    gc_ = std::make_unique<GarbageCollector>(manager_.get(), Scheme::Builtin());
    manager_->Start();
  }

  ObjectPtr Get(const std::string& name) {
    auto o = store_->Get("VisiSession", "alice", name);
    return o.ok() ? *o : nullptr;
  }
  bool Ready(const std::string& name) {
    auto o = Get(name);
    return o && StatusString(o->status, "phase") == "Running";
  }
  std::string Phase(const std::string& name) {
    auto o = Get(name);
    return o ? StatusString(o->status, "phase") : "";
  }
  // The condition `type` of session `name` (null when there is none).
  Json Condition(const std::string& name, const std::string& type) {
    auto o = Get(name);
    const Json* c = o && o->status.is_object() ? FindCondition(o->status, type) : nullptr;
    return c ? *c : Json();
  }
  std::string Reason(const std::string& name, const std::string& type) {
    Json c = Condition(name, type);
    return c.is_object() ? c.value("reason", "") : "";
  }
  // Status JSON for failure messages.
  std::string Dump(const std::string& name) {
    auto o = Get(name);
    return o ? o->status.dump(2) : "(no session " + name + ")";
  }
  std::vector<ContainerInfo> Containers(const std::string& uid) {
    return *docker_.ListContainers({{session_labels::kSessionUid, uid}});
  }
  size_t Running(const std::string& uid) {
    size_t n = 0;
    for (const auto& c : Containers(uid)) n += c.running();
    return n;
  }
  std::vector<NetworkInfo> Networks(const std::string& uid) {
    return *docker_.ListNetworks({{session_labels::kSessionUid, uid}});
  }
  size_t Claims() {
    ListOptions lo;
    lo.kind = "SubnetClaim";
    auto claims = store_->List(lo);
    return claims.ok() ? claims->items.size() : 0;
  }
  void SetSuspend(const std::string& name, bool suspend) {
    ASSERT_TRUE(MutateWithRetry(store_.get(), "VisiSession", "alice", name, [&](Object* o) {
                  o->spec["suspend"] = suspend;
                  return true;
                }).ok());
  }
  // How often each reason was recorded in Events about the object `name`
  // (repeats aggregate into one Event with a count).
  std::map<std::string, int> EventReasons(const std::string& name) {
    std::map<std::string, int> out;
    ListOptions lo;
    lo.kind = "Event";
    lo.namespace_ = "alice";
    auto events = store_->List(lo);
    EXPECT_TRUE(events.ok()) << events.status().ToString();
    if (!events.ok()) return out;
    for (const auto& e : events->items) {
      if (e->spec.is_object() && e->spec.value("involvedObject", Json::object()).value("name", "") == name) {
        out[e->spec.value("reason", "")] += e->spec.value("count", 1);
      }
    }
    return out;
  }
  std::string FrontEnd(const std::string& uid) {
    for (const auto& c : Containers(uid)) {
      if (c.labels.at(session_labels::kComponent) == "frontend") return c.name;
    }
    return "";
  }
  // Writes /data/<file> into `container` through the archive API.
  void WriteData(const std::string& container, const std::string& file, const std::string& content) {
    TarEntry e;
    e.name = file;
    e.content = content;
    auto tar = WriteTar({e});
    ASSERT_TRUE(tar.ok()) << tar.status().ToString();
    ASSERT_TRUE(docker_.PutArchive(container, "/data", *tar).ok());
  }
  // The content of the file `path` of `container`; nullopt when it is not there.
  std::optional<std::string> ReadFile(const std::string& container, const std::string& path) {
    auto tar = docker_.GetArchive(container, path);
    if (!tar.ok()) return std::nullopt;
    auto entries = ReadTar(*tar);
    if (!entries.ok() || entries->empty() || (*entries)[0].type != TarEntry::Type::kFile) return std::nullopt;
    return (*entries)[0].content;
  }
  ObjectPtr Apply(const Object& o) {
    auto r = store_->Create(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }

  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  FakeContainerRuntime docker_;
  MemorySnapshotStore snapshot_store_;
  AlwaysReadyProber prober_;
  // Read by StartVisid: a test fixture may change them in its constructor.
  SessionReconcilerOptions session_opts_;
  SnapshotReconcilerOptions snapshot_opts_;
  // Read by StartVisid: when set, visid's cache of sessions lags the store
  // by this much per event (the other kinds' caches do not).
  std::chrono::milliseconds session_watch_delay_{0};
  std::unique_ptr<Store> slow_store_;
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<SessionReconciler> reconciler_;
  std::unique_ptr<SnapshotReconciler> snapshots_;
  std::unique_ptr<GarbageCollector> gc_;
};

}  // namespace visi::testing
