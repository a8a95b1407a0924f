// The snapshot parts of a session's spec, the state targets of its
// containers, and the names and objects of its Snapshots. Pure.
#include <gtest/gtest.h>

#include "reconcilers/session/session_labels.h"
#include "reconcilers/session/session_spec.h"
#include "reconcilers/session/state_targets.h"
#include "reconcilers/snapshot/snapshot_objects.h"

namespace visi {
namespace {

namespace L = session_labels;

Object Session(Json spec_extra = Json::object()) {
  Object o;
  o.api_version = "visi.dev/v1alpha1";
  o.kind = "VisiSession";
  o.metadata.namespace_ = "alice";
  o.metadata.name = "nb";
  o.metadata.uid = "0123456789abcdef";
  o.metadata.generation = 4;
  o.spec = {{"user", "alice"}};
  for (auto& [k, v] : spec_extra.items()) o.spec[k] = v;
  return o;
}

TEST(SnapshotSpecTest, DefaultsAndFields) {
  auto s = ParseSessionSpec(Session());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->state_paths, std::vector<std::string>{"/data"});
  EXPECT_TRUE(s->spark_state_paths.empty());
  EXPECT_EQ(s->snapshot_retain, 3);
  EXPECT_FALSE(s->keep_on_delete);
  EXPECT_EQ(s->restore_from, "");
  EXPECT_EQ(s->idle_timeout_seconds, 1800);

  auto t = ParseSessionSpec(Session({{"statePaths", {"/data", "/home/user/work"}},
                                     {"spark", {{"statePaths", {"/opt/spark/work"}}}},
                                     {"snapshots", {{"retain", 7}, {"keepOnDelete", true}, {"restoreFrom", "nb-1"}}},
                                     {"idleTimeoutSeconds", 0}}));
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->state_paths, (std::vector<std::string>{"/data", "/home/user/work"}));
  EXPECT_EQ(t->spark_state_paths, std::vector<std::string>{"/opt/spark/work"});
  EXPECT_EQ(t->snapshot_retain, 7);
  EXPECT_TRUE(t->keep_on_delete);
  EXPECT_EQ(t->restore_from, "nb-1");
  EXPECT_EQ(t->idle_timeout_seconds, 0);
  EXPECT_TRUE(ParseSessionSpec(Session({{"statePaths", Json::array()}}))->state_paths.empty());
}

// Hostile state paths never reach the archive API: each error names the field.
TEST(SnapshotSpecTest, BadStatePathsAreRefusedByField) {
  struct Case {
    Json spec;
    std::string field;
  };
  const std::vector<Case> cases = {
      {{{"statePaths", {"/"}}}, "spec.statePaths[0]"},
      {{{"statePaths", {"/data", "data"}}}, "spec.statePaths[1]"},
      {{{"statePaths", {"/data/../etc"}}}, "spec.statePaths[0]"},
      {{{"statePaths", {"/data/./x"}}}, "spec.statePaths[0]"},
      {{{"statePaths", {"//data"}}}, "spec.statePaths[0]"},
      {{{"statePaths", {"/data/"}}}, "spec.statePaths[0]"},
      {{{"statePaths", {"/data", "/data"}}}, "spec.statePaths[1]"},
      {{{"statePaths", {std::string("/da\0ta", 6)}}}, "spec.statePaths[0]"},
      {{{"statePaths", {7}}}, "spec.statePaths[0]"},
      {{{"statePaths", "/data"}}, "spec.statePaths"},
      {{{"spark", {{"statePaths", {".."}}}}}, "spec.spark.statePaths[0]"},
      {{{"snapshots", {{"retain", 0}}}}, "spec.snapshots.retain"},
      {{{"snapshots", {{"retain", 101}}}}, "spec.snapshots.retain"},
  };
  for (const Case& c : cases) {
    auto s = ParseSessionSpec(Session(c.spec));
    ASSERT_FALSE(s.ok()) << c.spec.dump();
    EXPECT_EQ(s.status().code(), Code::kInvalid) << c.spec.dump();
    EXPECT_EQ(s.status().message().rfind(c.field + ":", 0), 0u) << s.status().message();
  }
}

ContainerInfo Container(const std::string& name, const std::string& component, const std::string& index = "") {
  ContainerInfo c;
  c.id = "id-" + name;
  c.name = name;
  c.labels[L::kComponent] = component;
  if (!index.empty()) c.labels[L::kIndex] = index;
  return c;
}

TEST(SnapshotSpecTest, StateTargetsFollowTheComponents) {
  auto spec = ParseSessionSpec(Session({{"spark", {{"statePaths", {"/work"}}}}}));
  ASSERT_TRUE(spec.ok());
  ContainerInfo stray;
  stray.name = "stray";  // no component label: never captured
  const auto targets = SessionStateTargets(
      *spec, {Container("m", "master"), Container("w1", "worker", "1"), Container("f", "frontend"), stray,
              Container("w", "worker")});  // a worker without an index: unknown
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].component, "master");
  EXPECT_EQ(targets[0].paths, std::vector<std::string>{"/work"});
  EXPECT_EQ(targets[1].component, "worker-1");
  EXPECT_EQ(targets[1].container, "w1");
  EXPECT_EQ(targets[2].component, "frontend");
  EXPECT_EQ(targets[2].paths, std::vector<std::string>{"/data"});

  auto front_only = ParseSessionSpec(Session());
  EXPECT_EQ(SessionStateTargets(*front_only, {Container("m", "master"), Container("f", "frontend")}).size(), 1u)
      << "Spark containers without spark.statePaths have nothing to capture";
}

// The suspend's Snapshot name: the same for a retried suspend, another for
// the next run or a spec change, always a valid name.
TEST(SnapshotSpecTest, SuspendSnapshotNames) {
  Object s = Session();
  s.status = {{"startedTime", "2026-11-24T06:00:00Z"}};
  const std::string name = SuspendSnapshotName(s);
  EXPECT_EQ(name.rfind("nb-", 0), 0u);
  EXPECT_EQ(name.size(), 3u + 10u);
  EXPECT_EQ(SuspendSnapshotName(s), name);
  Object next_run = s;
  next_run.status["startedTime"] = "2026-11-24T07:00:00Z";
  EXPECT_NE(SuspendSnapshotName(next_run), name);
  Object edited = s;
  edited.metadata.generation = 5;
  EXPECT_NE(SuspendSnapshotName(edited), name);
  Object other = s;
  other.metadata.uid = "fedcba9876543210";
  EXPECT_NE(SuspendSnapshotName(other), name) << "a later session of the same name";

  Object long_name = s;
  long_name.metadata.name = std::string(241, 'a') + "-b";
  EXPECT_LE(SuspendSnapshotName(long_name).size(), 253u);
  EXPECT_EQ(SuspendSnapshotName(long_name).find("--"), std::string::npos) << "no '-' left dangling";
}

TEST(SnapshotSpecTest, NewSnapshotIsOwnedAndLabelled) {
  const Object s = Session();
  const Object snap = NewSnapshot(s, "nb-0123456789", "Idle");
  EXPECT_EQ(snap.kind, "Snapshot");
  EXPECT_EQ(snap.metadata.namespace_, "alice");
  EXPECT_EQ(snap.metadata.labels.at(kSnapshotSessionUidLabel), s.metadata.uid);
  EXPECT_EQ(snap.metadata.labels.at(kSnapshotSessionNameLabel), "nb");
  ASSERT_EQ(snap.metadata.owner_references.size(), 1u);
  EXPECT_EQ(snap.metadata.owner_references[0].uid, s.metadata.uid);
  EXPECT_EQ(snap.spec["reason"], "Idle");
  EXPECT_EQ(snap.spec["sessionUID"], s.metadata.uid);

  Object ready = snap;
  EXPECT_EQ(SnapshotDigest(ready), "");
  ready.status = {{"phase", "Ready"}, {"sha256", std::string(64, 'a')}};
  EXPECT_EQ(SnapshotDigest(ready), "sha256:" + std::string(64, 'a'));
  EXPECT_EQ(SnapshotPhase(ready), "Ready");
  ready.status["sha256"] = "short";
  EXPECT_EQ(SnapshotDigest(ready), "") << "a malformed digest is no digest";
}

}  // namespace
}  // namespace visi
