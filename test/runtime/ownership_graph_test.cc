#include "controller/runtime/ownership_graph.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace visi {

// Lets GoogleTest print actions and plans when a comparison fails.
void PrintTo(const GcAction& a, std::ostream* os);
void PrintTo(const GcPlan& p, std::ostream* os);

namespace {

bool ClusterScoped(const std::string& kind) { return kind == "FarmPool" || kind == "FarmMachine"; }

// Builds one object: Obj("b").OwnedBy("a", /*blocking=*/true).Deleting().
class Obj {
 public:
  explicit Obj(const std::string& uid, const std::string& kind = "VisiSession",
               const std::string& ns = "default") {
    o_.kind = kind;
    o_.metadata.namespace_ = ns;
    o_.metadata.name = uid;
    o_.metadata.uid = uid;
  }
  Obj& OwnedBy(const std::string& uid, bool blocking = false,
               const std::string& kind = "VisiSession") {
    o_.metadata.owner_references.push_back({.api_version = kApiVersion,
                                            .kind = kind,
                                            .name = uid,
                                            .uid = uid,
                                            .controller = false,
                                            .block_owner_deletion = blocking});
    return *this;
  }
  Obj& Finalizer(const std::string& f) {
    o_.metadata.finalizers.push_back(f);
    return *this;
  }
  Obj& Deleting() {
    o_.metadata.deletion_timestamp = "2024-01-01T00:00:00Z";
    return *this;
  }
  operator ObjectPtr() const { return std::make_shared<const Object>(o_); }

 private:
  Object o_;
};

// "delete b", "delete b foreground", "drop-refs b a,x", "drop-finalizer a orphan".
std::string Describe(const GcAction& a) {
  switch (a.type) {
    case GcAction::Type::kDelete:
      return "delete " + a.uid + (a.foreground ? " foreground" : "");
    case GcAction::Type::kRemoveOwnerRefs: {
      std::string uids;
      for (const auto& u : a.owner_uids) uids += (uids.empty() ? "" : ",") + u;
      return "drop-refs " + a.uid + " " + uids;
    }
    case GcAction::Type::kRemoveFinalizer:
      return "drop-finalizer " + a.uid + " " + a.finalizer;
  }
  return "?";
}

std::vector<std::string> Describe(const GcPlan& plan) {
  std::vector<std::string> out;
  for (const auto& a : plan.actions) out.push_back(Describe(a));
  return out;
}

GcPlan PlanOf(const std::vector<ObjectPtr>& objects) {
  return OwnershipGraph(objects, ClusterScoped).Plan();
}

struct PlanCase {
  std::string name;
  std::vector<ObjectPtr> objects;
  std::vector<std::string> want;
};

void RunTable(const std::vector<PlanCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Describe(PlanOf(c.objects)), c.want);
  }
}

const std::string kFg = kFinalizerForeground;
const std::string kOrphan = kFinalizerOrphan;

TEST(OwnershipGraphTest, BackgroundCollection) {
  RunTable({
      {"owner gone: dependent deleted", {Obj("b").OwnedBy("x")}, {"delete b"}},
      {"all owners gone", {Obj("b").OwnedBy("x").OwnedBy("y")}, {"delete b"}},
      {"one of two owners gone: ref dropped",
       {Obj("a"), Obj("b").OwnedBy("a").OwnedBy("x")},
       {"drop-refs b x"}},
      {"owners present: nothing", {Obj("a"), Obj("b").OwnedBy("a")}, {}},
      {"no owners: nothing", {Obj("a")}, {}},
      {"owner in another namespace is dangling",
       {Obj("a", "VisiSession", "ns1"), Obj("b", "VisiSession", "ns2").OwnedBy("a")},
       {"delete b"}},
      {"cluster-scoped owner of a namespaced dependent is valid",
       {Obj("p", "FarmPool", ""), Obj("b").OwnedBy("p", false, "FarmPool")},
       {}},
      {"namespaced owner of a cluster-scoped dependent is dangling",
       {Obj("a"), Obj("m", "FarmMachine", "").OwnedBy("a")},
       {"delete m"}},
      {"kind mismatch is dangling",
       {Obj("a"), Obj("b").OwnedBy("a", false, "FarmPool")},
       {"delete b"}},
      {"kind mismatch beside a live owner: ref dropped",
       {Obj("a"), Obj("s"), Obj("b").OwnedBy("a", false, "FarmPool").OwnedBy("s")},
       {"drop-refs b a"}},
      {"chain with the root gone: only the middle this pass",
       {Obj("m").OwnedBy("r"), Obj("l").OwnedBy("m")},
       {"delete m"}},
      {"owner deleting in the background still owns",
       {Obj("a").Deleting().Finalizer("visi.dev/cleanup"), Obj("b").OwnedBy("a")},
       {}},
      {"object already being deleted is left alone",
       {Obj("b").OwnedBy("x").Deleting().Finalizer("visi.dev/cleanup")},
       {}},
      {"existing foreground finalizer is honoured",
       {Obj("b").OwnedBy("x").Finalizer(kFg)},
       {"delete b foreground"}},
  });
}

TEST(OwnershipGraphTest, ForegroundDeletion) {
  RunTable({
      {"dependents deleted in the foreground, finalizer kept",
       {Obj("a").Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true), Obj("c").OwnedBy("a")},
       {"delete b foreground", "delete c foreground"}},
      {"blocking dependent being deleted holds the finalizer",
       {Obj("a").Deleting().Finalizer(kFg),
        Obj("b").OwnedBy("a", true).Deleting().Finalizer("visi.dev/cleanup")},
       {}},
      {"non-blocking dependent being deleted does not hold it",
       {Obj("a").Deleting().Finalizer(kFg),
        Obj("c").OwnedBy("a").Deleting().Finalizer("visi.dev/cleanup")},
       {"drop-finalizer a foregroundDeletion"}},
      {"non-blocking dependent deleted, finalizer removed",
       {Obj("a").Deleting().Finalizer(kFg), Obj("c").OwnedBy("a")},
       {"delete c foreground", "drop-finalizer a foregroundDeletion"}},
      {"no dependents: finalizer removed",
       {Obj("a").Deleting().Finalizer(kFg)},
       {"drop-finalizer a foregroundDeletion"}},
      {"dependent with another live owner only lets go",
       {Obj("a").Deleting().Finalizer(kFg), Obj("s"), Obj("b").OwnedBy("a", true).OwnedBy("s")},
       {"drop-refs b a", "drop-finalizer a foregroundDeletion"}},
      {"dependent whose other owner is gone is deleted",
       {Obj("a").Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true).OwnedBy("x")},
       {"delete b foreground"}},
      {"owner without the finalizer is not foreground",
       {Obj("a").Deleting().Finalizer("visi.dev/cleanup"), Obj("b").OwnedBy("a", true)},
       {}},
  });
}

TEST(OwnershipGraphTest, OrphanDeletion) {
  RunTable({
      {"refs dropped, then the finalizer",
       {Obj("a").Deleting().Finalizer(kOrphan), Obj("b").OwnedBy("a", true), Obj("c").OwnedBy("a")},
       {"drop-refs b a", "drop-refs c a", "drop-finalizer a orphan"}},
      {"no dependents: finalizer removed",
       {Obj("a").Deleting().Finalizer(kOrphan)},
       {"drop-finalizer a orphan"}},
      {"orphaning owner counts as live: dangling ref merged",
       {Obj("a").Deleting().Finalizer(kOrphan), Obj("b").OwnedBy("a").OwnedBy("x")},
       {"drop-refs b a,x", "drop-finalizer a orphan"}},
      {"orphan and foreground owners of one dependent: it survives",
       {Obj("a").Deleting().Finalizer(kOrphan), Obj("f").Deleting().Finalizer(kFg),
        Obj("b").OwnedBy("a").OwnedBy("f", true)},
       {"drop-refs b a,f", "drop-finalizer a orphan", "drop-finalizer f foregroundDeletion"}},
      {"orphan wins over foreground on one owner",
       {Obj("a").Deleting().Finalizer(kFg).Finalizer(kOrphan), Obj("b").OwnedBy("a", true)},
       {"drop-refs b a", "drop-finalizer a orphan"}},
  });
}

TEST(OwnershipGraphTest, Cycles) {
  struct Case {
    std::string name;
    std::vector<ObjectPtr> objects;
    std::vector<std::vector<std::string>> want;
  };
  std::vector<Case> cases = {
      {"self", {Obj("a").OwnedBy("a")}, {{"a"}}},
      {"two", {Obj("a").OwnedBy("b"), Obj("b").OwnedBy("a")}, {{"a", "b"}}},
      {"three",
       {Obj("a").OwnedBy("c"), Obj("b").OwnedBy("a"), Obj("c").OwnedBy("b")},
       {{"a", "b", "c"}}},
      {"two cycles and a tail",
       {Obj("a").OwnedBy("b"), Obj("b").OwnedBy("a"), Obj("c").OwnedBy("b"), Obj("d").OwnedBy("d")},
       {{"a", "b"}, {"d"}}},
      {"no cycle", {Obj("a"), Obj("b").OwnedBy("a"), Obj("c").OwnedBy("a").OwnedBy("b")}, {}},
      {"dangling refs make no cycle",
       {Obj("a").OwnedBy("b", false, "FarmPool"), Obj("b").OwnedBy("a")},
       {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    OwnershipGraph graph(c.objects, ClusterScoped);
    EXPECT_EQ(graph.Cycles(), c.want);
    GcPlan plan = graph.Plan();
    EXPECT_EQ(plan.cycles, c.want);
    if (c.want.empty()) continue;
    EXPECT_EQ(Describe(plan), std::vector<std::string>{});  // cycle members are kept
  }
}

TEST(OwnershipGraphTest, CyclesKeepTheirMembersButLoseDanglingRefs) {
  EXPECT_EQ(Describe(PlanOf({Obj("a").OwnedBy("b").OwnedBy("x"), Obj("b").OwnedBy("a")})),
            std::vector<std::string>{"drop-refs a x"});
}

TEST(OwnershipGraphTest, ForegroundOverACycle) {
  RunTable({
      {"dependent in the owner's cycle is deleted in the background",
       {Obj("a").OwnedBy("b").Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true)},
       {"delete b"}},
      {"both deleting in the foreground: neither waits",
       {Obj("a").OwnedBy("b", true).Deleting().Finalizer(kFg),
        Obj("b").OwnedBy("a", true).Deleting().Finalizer(kFg)},
       {"drop-finalizer a foregroundDeletion", "drop-finalizer b foregroundDeletion"}},
      {"self-owned foreground owner does not wait on itself",
       {Obj("a").OwnedBy("a", true).Deleting().Finalizer(kFg)},
       {"drop-finalizer a foregroundDeletion"}},
      {"dependent outside the cycle still deleted in the foreground",
       {Obj("a").OwnedBy("b").Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true),
        Obj("c").OwnedBy("a", true)},
       {"delete b", "delete c foreground"}},
  });
}

// Applies a plan as the API server would: a delete sets the deletion timestamp
// (and the foreground finalizer) and the object goes once no finalizer is left.
void Apply(const GcPlan& plan, std::map<std::string, Object>* world) {
  auto settle = [&](const std::string& uid) {
    const Object& o = world->at(uid);
    if (o.metadata.deletion_timestamp && o.metadata.finalizers.empty()) world->erase(uid);
  };
  for (const GcAction& a : plan.actions) {
    ASSERT_TRUE(world->count(a.uid)) << Describe(a);
    ObjectMeta& m = world->at(a.uid).metadata;
    switch (a.type) {
      case GcAction::Type::kDelete:
        ASSERT_FALSE(m.deletion_timestamp) << Describe(a);
        m.deletion_timestamp = "2024-01-01T00:00:00Z";
        if (a.foreground) m.finalizers.push_back(kFg);
        break;
      case GcAction::Type::kRemoveOwnerRefs:
        std::erase_if(m.owner_references, [&](const OwnerReference& r) {
          return std::count(a.owner_uids.begin(), a.owner_uids.end(), r.uid) > 0;
        });
        break;
      case GcAction::Type::kRemoveFinalizer:
        std::erase(m.finalizers, a.finalizer);
        break;
    }
    settle(a.uid);
  }
}

// Plans and applies until the plan is empty; returns the pass in which each
// object disappeared (0 for survivors) and the number of passes that acted.
std::map<std::string, int> Converge(const std::vector<ObjectPtr>& objects, int* passes) {
  std::map<std::string, Object> world;
  std::map<std::string, int> gone;
  for (const ObjectPtr& o : objects) {
    world[o->metadata.uid] = *o;
    gone[o->metadata.uid] = 0;
  }
  for (*passes = 0; *passes < 20; ++*passes) {
    std::vector<ObjectPtr> snapshot;
    for (const auto& [uid, o] : world) snapshot.push_back(std::make_shared<const Object>(o));
    GcPlan plan = PlanOf(snapshot);
    if (plan.actions.empty()) break;
    Apply(plan, &world);
    for (auto& [uid, pass] : gone) {
      if (pass == 0 && !world.count(uid)) pass = *passes + 1;
    }
  }
  return gone;
}

TEST(OwnershipGraphTest, ChainWithRootGoneCollectsOneLevelPerPass) {
  int passes = 0;
  auto gone =
      Converge({Obj("m").OwnedBy("r"), Obj("l").OwnedBy("m"), Obj("k").OwnedBy("l")}, &passes);
  EXPECT_EQ(passes, 3);
  EXPECT_EQ(gone, (std::map<std::string, int>{{"m", 1}, {"l", 2}, {"k", 3}}));
}

TEST(OwnershipGraphTest, ForegroundCascadeRemovesOwnersAfterBlockingDependents) {
  int passes = 0;
  auto gone = Converge({Obj("a").Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true),
                        Obj("c").OwnedBy("b", true), Obj("d").OwnedBy("b")},
                       &passes);
  for (const auto& [uid, pass] : gone) EXPECT_GT(pass, 0) << uid;
  EXPECT_GT(gone["a"], gone["b"]);
  EXPECT_GT(gone["b"], gone["c"]);
}

TEST(OwnershipGraphTest, ForegroundOverCyclesConverges) {
  std::vector<std::vector<ObjectPtr>> cases = {
      {Obj("a").OwnedBy("b", true).Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true)},
      {Obj("a").OwnedBy("c", true).Deleting().Finalizer(kFg), Obj("b").OwnedBy("a", true),
       Obj("c").OwnedBy("b", true)},
      {Obj("a").OwnedBy("c", true).Deleting().Finalizer(kFg),
       Obj("b").OwnedBy("a", true).Deleting().Finalizer(kFg),
       Obj("c").OwnedBy("b", true).Deleting().Finalizer(kFg), Obj("d").OwnedBy("b", true)},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(i);
    int passes = 0;
    auto gone = Converge(cases[i], &passes);
    EXPECT_LT(passes, 20);
    for (const auto& [uid, pass] : gone) EXPECT_GT(pass, 0) << uid;
  }
}

TEST(OwnershipGraphTest, OrphanLeavesDependentsBehind) {
  int passes = 0;
  auto gone =
      Converge({Obj("a").Deleting().Finalizer(kOrphan), Obj("b").OwnedBy("a", true)}, &passes);
  EXPECT_EQ(passes, 1);
  EXPECT_EQ(gone, (std::map<std::string, int>{{"a", 1}, {"b", 0}}));
}

TEST(OwnershipGraphTest, WithoutAPredicateKindsWithoutANamespaceAreClusterScoped) {
  std::vector<ObjectPtr> objects = {Obj("p", "FarmPool", ""), Obj("b", "VisiSession", "ns1"),
                                    Obj("c", "VisiSession", "ns2").OwnedBy("p", false, "FarmPool"),
                                    Obj("d", "VisiSession", "ns2").OwnedBy("b")};
  EXPECT_EQ(Describe(OwnershipGraph(objects, nullptr).Plan()),
            std::vector<std::string>{"delete d"});
}

TEST(OwnershipGraphTest, ActionsNameTheObject) {
  GcPlan plan = PlanOf({Obj("u1", "FarmMachine", "").OwnedBy("gone", false, "FarmPool")});
  ASSERT_EQ(plan.actions.size(), 1u);
  const GcAction& a = plan.actions[0];
  EXPECT_EQ(a.type, GcAction::Type::kDelete);
  EXPECT_EQ(a.kind, "FarmMachine");
  EXPECT_EQ(a.namespace_, "");
  EXPECT_EQ(a.name, "u1");
  EXPECT_EQ(a.uid, "u1");
  EXPECT_FALSE(a.foreground);
}

TEST(OwnershipGraphTest, DependentsAreDirectValidAndSorted) {
  OwnershipGraph graph({Obj("a"), Obj("c").OwnedBy("a").OwnedBy("a"), Obj("b").OwnedBy("a"),
                        Obj("d").OwnedBy("a", false, "FarmPool"), Obj("e").OwnedBy("c")},
                       ClusterScoped);
  EXPECT_EQ(graph.Dependents("a"), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(graph.Dependents("e"), std::vector<std::string>{});
  EXPECT_EQ(graph.Dependents("nope"), std::vector<std::string>{});
}

TEST(OwnershipGraphTest, TeardownOrderIsDeepestFirst) {
  struct Case {
    std::string name;
    std::vector<ObjectPtr> objects;
    std::string root;
    std::vector<std::string> want;
  };
  std::vector<Case> cases = {
      {"tree with a shared leaf",
       {Obj("r"), Obj("a").OwnedBy("r"), Obj("b").OwnedBy("r"), Obj("c").OwnedBy("a"),
        Obj("d").OwnedBy("c").OwnedBy("b"), Obj("z")},
       "r",
       {"d", "c", "a", "b", "r"}},
      {"cycle below the root",
       {Obj("r"), Obj("a").OwnedBy("r").OwnedBy("b"), Obj("b").OwnedBy("a"), Obj("c").OwnedBy("b")},
       "r",
       {"c", "a", "b", "r"}},
      {"root in a cycle",
       {Obj("r").OwnedBy("a"), Obj("a").OwnedBy("r"), Obj("c").OwnedBy("a")},
       "r",
       {"c", "a", "r"}},
      {"leaf", {Obj("r"), Obj("a").OwnedBy("r")}, "a", {"a"}},
      {"unknown root", {Obj("r")}, "nope", {}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(OwnershipGraph(c.objects, ClusterScoped).TeardownOrder(c.root), c.want);
  }
}

// Every scenario above at once, with distinct uids.
std::vector<ObjectPtr> Mixed() {
  return {Obj("b1").OwnedBy("x1"),
          Obj("a2"),
          Obj("b2").OwnedBy("a2").OwnedBy("x2"),
          Obj("a3", "VisiSession", "ns1"),
          Obj("b3", "VisiSession", "ns2").OwnedBy("a3"),
          Obj("p4", "FarmPool", ""),
          Obj("b4").OwnedBy("p4", false, "FarmPool"),
          Obj("m5").OwnedBy("r5"),
          Obj("l5").OwnedBy("m5"),
          Obj("a6").Deleting().Finalizer(kFg),
          Obj("b6").OwnedBy("a6", true),
          Obj("c6").OwnedBy("a6"),
          Obj("a7").Deleting().Finalizer(kOrphan),
          Obj("b7").OwnedBy("a7"),
          Obj("c7").OwnedBy("a7"),
          Obj("a8").OwnedBy("c8"),
          Obj("b8").OwnedBy("a8"),
          Obj("c8").OwnedBy("b8"),
          Obj("a9").OwnedBy("b9").Deleting().Finalizer(kFg),
          Obj("b9").OwnedBy("a9", true),
          Obj("s10").OwnedBy("s10")};
}

TEST(OwnershipGraphTest, SameInputInAnyOrderGivesTheSamePlan) {
  std::vector<ObjectPtr> objects = Mixed();
  OwnershipGraph reference(objects, ClusterScoped);
  GcPlan want = reference.Plan();
  ASSERT_FALSE(want.actions.empty());
  std::mt19937 rng(42);
  for (int i = 0; i < 20; ++i) {
    std::shuffle(objects.begin(), objects.end(), rng);
    OwnershipGraph graph(objects, ClusterScoped);
    EXPECT_EQ(graph.Plan(), want) << "shuffle " << i;
    EXPECT_EQ(graph.TeardownOrder("a6"), reference.TeardownOrder("a6"));
    EXPECT_EQ(graph.Cycles(), reference.Cycles());
  }
}

std::string ChainUid(int chain, int link) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "c%04d-%02d", chain, link);
  return buf;
}

TEST(OwnershipGraphTest, LargeInputPlans) {
  // 1,000 chains of 20: even chains lost their root, odd ones are deleting in
  // the foreground.
  std::vector<ObjectPtr> objects;
  for (int chain = 0; chain < 1000; ++chain) {
    for (int link = 0; link < 20; ++link) {
      Obj o(ChainUid(chain, link));
      if (link > 0) o.OwnedBy(ChainUid(chain, link - 1), true);
      if (link == 0 && chain % 2 == 0) continue;
      if (link == 0) o.Deleting().Finalizer(kFg);
      objects.push_back(o);
    }
  }
  OwnershipGraph graph(objects, ClusterScoped);
  GcPlan plan = graph.Plan();
  EXPECT_EQ(plan.actions.size(), 1000u);  // each chain's first dependent
  EXPECT_TRUE(plan.cycles.empty());
  EXPECT_EQ(graph.TeardownOrder(ChainUid(1, 0)).size(), 20u);

  // One chain 20,000 deep and one ring of 20,000: nothing recurses that deep.
  std::vector<ObjectPtr> chain;
  std::vector<ObjectPtr> ring;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string uid = "x" + std::to_string(100000 + i);
    Obj link(uid);
    if (i > 0) link.OwnedBy("x" + std::to_string(100000 + i - 1));
    chain.push_back(link);
    ring.push_back(Obj(uid).OwnedBy("x" + std::to_string(100000 + (i + n - 1) % n)));
  }
  std::vector<std::string> order = OwnershipGraph(chain, ClusterScoped).TeardownOrder("x100000");
  ASSERT_EQ(order.size(), static_cast<size_t>(n));
  EXPECT_EQ(order.front(), "x" + std::to_string(100000 + n - 1));
  EXPECT_EQ(order.back(), "x100000");
  OwnershipGraph ring_graph(ring, ClusterScoped);
  ASSERT_EQ(ring_graph.Cycles().size(), 1u);
  EXPECT_EQ(ring_graph.Cycles()[0].size(), static_cast<size_t>(n));
  EXPECT_TRUE(ring_graph.Plan().actions.empty());
}

}  // namespace

void PrintTo(const GcAction& a, std::ostream* os) { *os << Describe(a); }
void PrintTo(const GcPlan& p, std::ostream* os) {
  for (const auto& a : p.actions) *os << "[" << Describe(a) << "] ";
}

}  // namespace visi
