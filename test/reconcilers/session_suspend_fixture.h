#pragma once

// What the suspend and snapshot tests share (session_suspend_test.cc,
// session_snapshot_test.cc): SessionFixture's visid plus helpers to start,
// suspend and resume a session and to read its Snapshots and the snapshot
// store's files.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "reconcilers/snapshot/snapshot_objects.h"
#include "test/reconcilers/session_fixture.h"

namespace visi::testing {

class SessionSuspendTest : public SessionFixture {
 protected:
  // A session applied and Running; its uid.
  std::string StartSession(Object o) {
    ObjectPtr s = Apply(o);
    if (!s) return "";
    EXPECT_TRUE(Eventually([&] { return Ready(o.metadata.name); })) << Dump(o.metadata.name);
    return s->metadata.uid;
  }
  void SuspendAndWait(const std::string& name) {
    SetSuspend(name, true);
    ASSERT_TRUE(Eventually([&] { return Phase(name) == "Suspended"; })) << Dump(name);
  }
  void ResumeAndWait(const std::string& name) {
    SetSuspend(name, false);
    ASSERT_TRUE(Eventually([&] { return Ready(name); })) << Dump(name);
  }
  // A user's Snapshot `name` of session `session` in namespace alice.
  static Object UserSnapshot(const std::string& name, const std::string& session) {
    Object snap;
    snap.kind = "Snapshot";
    snap.metadata.namespace_ = "alice";
    snap.metadata.name = name;
    snap.spec = {{"session", session}};
    return snap;
  }
  ObjectPtr Snapshot(const std::string& name) {
    auto o = store_->Get("Snapshot", "alice", name);
    return o.ok() ? *o : nullptr;
  }
  // The session's Snapshots, as stored.
  std::vector<ObjectPtr> Snapshots(const std::string& uid) {
    ListOptions lo;
    lo.kind = "Snapshot";
    lo.namespace_ = "alice";
    std::vector<ObjectPtr> out;
    auto all = store_->List(lo);
    if (!all.ok()) return out;
    for (const auto& s : all->items) {
      auto it = s->metadata.labels.find(kSnapshotSessionUidLabel);
      if (it != s->metadata.labels.end() && it->second == uid) out.push_back(s);
    }
    return out;
  }
  std::string SnapshotReason(const std::string& name, const std::string& type) {
    ObjectPtr s = Snapshot(name);
    const Json* c = s && s->status.is_object() ? FindCondition(s->status, type) : nullptr;
    return c ? c->value("reason", "") + "/" + c->value("status", "") : "";
  }
  // The session's Snapshots, the Events and the store's files, for failure messages.
  std::string Describe(const std::string& uid) {
    std::string out = "snapshots:";
    for (const auto& s : Snapshots(uid)) {
      out += "\n  " + s->metadata.name + " " + SnapshotPhase(*s) + " " + SnapshotDigest(*s) + " captured " +
             s->status.value("capturedTime", "") + (s->metadata.deletion_timestamp ? " (deleting)" : "");
    }
    ListOptions lo;
    lo.kind = "Event";
    lo.namespace_ = "alice";
    auto events = store_->List(lo);
    for (const auto& e : events.ok() ? (*events).items : std::vector<ObjectPtr>{}) {
      out += "\n  event " + e->spec.value("involvedObject", Json::object()).value("name", "") + " " +
             e->spec.value("reason", "") + ": " + e->spec.value("message", "");
    }
    out += "\nfiles:";
    for (const auto& d : StoreDigests()) out += "\n  " + d;
    return out;
  }
  std::set<std::string> StoreDigests() {
    std::set<std::string> out;
    auto blobs = snapshot_store_.List();
    EXPECT_TRUE(blobs.ok());
    if (blobs.ok()) {
      for (const auto& b : *blobs) out.insert(b.digest);
    }
    return out;
  }
  std::string LastSnapshot(const std::string& name) {
    auto o = Get(name);
    return o && o->status.contains("lastSnapshot") ? o->status["lastSnapshot"].value("name", "") : "";
  }
  static std::string Label(const Object& o, const std::string& key) {
    auto it = o.metadata.labels.find(key);
    return it == o.metadata.labels.end() ? "" : it->second;
  }
};

}  // namespace visi::testing
