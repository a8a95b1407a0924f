// The Store contract: every implementation runs these unchanged.
#include <set>

#include "test/fakes/objects.h"
#include "test/integration/store_factories.h"

namespace visi::testing {
namespace {

TYPED_TEST_SUITE(StoreContractTest, StoreImplementations, ImplName);

TYPED_TEST(StoreContractTest, CreateAssignsServerFieldsAndDefaults) {
  auto store = this->factory_.Make();
  Object in = Session("alice", "nb");
  in.status = {{"phase", "Running"}};  // dropped: status belongs to controllers
  in.metadata.uid = "client-chosen";
  auto created = store->Create(in);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  const Object& o = **created;
  EXPECT_EQ(o.metadata.generation, 1);
  EXPECT_GT(o.metadata.resource_version, 0u);
  EXPECT_EQ(o.metadata.uid.size(), 36u);
  EXPECT_NE(o.metadata.uid, "client-chosen");
  EXPECT_EQ(o.metadata.creation_timestamp, "2026-11-23T22:00:00Z");
  EXPECT_TRUE(o.status.is_null());
  EXPECT_EQ(o.spec["pool"], "default");  // defaulted from the CRD
  auto got = store->Get("VisiSession", "alice", "nb");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(**got, o);
  EXPECT_EQ(store->CurrentRevision(), o.metadata.resource_version);
}

TYPED_TEST(StoreContractTest, CreateOfAnExistingNameIsAlreadyExists) {
  auto store = this->factory_.Make();
  ASSERT_TRUE(store->Create(Session("alice", "nb")).ok());
  uint64_t rv = store->CurrentRevision();
  auto again = store->Create(Session("alice", "nb", "mallory"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "visisessions.visi.dev \"nb\" already exists");
  EXPECT_EQ(store->CurrentRevision(), rv);
  EXPECT_EQ((*store->Get("VisiSession", "alice", "nb"))->spec["user"], "alice");
  // The same name in another namespace is another object.
  EXPECT_TRUE(store->Create(Session("bob", "nb", "bob")).ok());
}

TYPED_TEST(StoreContractTest, GenerateNameMakesUniqueNames) {
  auto store = this->factory_.Make();
  std::set<std::string> names;
  for (int i = 0; i < 20; ++i) {
    Object o = Session("alice", "");
    o.metadata.generate_name = "nb-";
    auto c = store->Create(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    EXPECT_EQ((*c)->metadata.name.rfind("nb-", 0), 0u);
    EXPECT_EQ((*c)->metadata.name.size(), 8u);
    names.insert((*c)->metadata.name);
  }
  EXPECT_EQ(names.size(), 20u);
}

TYPED_TEST(StoreContractTest, GetOfAMissingObjectIsNotFound) {
  auto store = this->factory_.Make();
  auto g = store->Get("VisiSession", "alice", "nope");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kNotFound);
  EXPECT_EQ(g.status().message(), "visisessions.visi.dev \"nope\" not found");
}

TYPED_TEST(StoreContractTest, ListFiltersByNamespaceLabelsAndFields) {
  auto store = this->factory_.Make();
  for (const auto& [ns, name, tier] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"alice", "a1", "gold"}, {"alice", "a2", "silver"}, {"bob", "b1", "gold"},
           {"bob", "b2", ""}}) {
    Object o = Session(ns, name, ns);
    if (!tier.empty()) o.metadata.labels["tier"] = tier;
    ASSERT_TRUE(store->Create(o).ok());
  }
  ASSERT_TRUE(store->Create(Pool("default")).ok());
  auto names = [&](const std::string& ns, const std::string& labels, const std::string& fields) {
    ListOptions opts;
    opts.kind = "VisiSession";
    opts.namespace_ = ns;
    opts.labels = *LabelSelector::Parse(labels);
    opts.fields = *FieldSelector::Parse(fields);
    auto r = store->List(opts);
    EXPECT_TRUE(r.ok());
    std::vector<std::string> out;
    for (const auto& o : r->items) out.push_back(o->metadata.namespace_ + "/" + o->metadata.name);
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names("", "", ""), (V{"alice/a1", "alice/a2", "bob/b1", "bob/b2"}));
  EXPECT_EQ(names("alice", "", ""), (V{"alice/a1", "alice/a2"}));
  EXPECT_EQ(names("", "tier=gold", ""), (V{"alice/a1", "bob/b1"}));
  EXPECT_EQ(names("", "tier!=gold", ""), (V{"alice/a2", "bob/b2"}));
  EXPECT_EQ(names("", "tier in (silver,bronze)", ""), (V{"alice/a2"}));
  EXPECT_EQ(names("", "tier notin (gold)", ""), (V{"alice/a2", "bob/b2"}));
  EXPECT_EQ(names("", "tier", ""), (V{"alice/a1", "alice/a2", "bob/b1"}));
  EXPECT_EQ(names("", "!tier", ""), (V{"bob/b2"}));
  EXPECT_EQ(names("", "", "metadata.name=b1"), (V{"bob/b1"}));
  EXPECT_EQ(names("", "", "metadata.namespace!=alice"), (V{"bob/b1", "bob/b2"}));
  EXPECT_EQ(names("bob", "tier=gold", "metadata.name=b1"), (V{"bob/b1"}));
  Object s = **store->Get("VisiSession", "bob", "b2");
  s.status = {{"phase", "Running"}};
  ASSERT_TRUE(store->UpdateStatus(s).ok());
  EXPECT_EQ(names("", "", "status.phase=Running"), (V{"bob/b2"}));
  EXPECT_EQ(names("", "", "status.phase!=Running").size(), 3u);
}

TYPED_TEST(StoreContractTest, PaginationVisitsEveryItemOnce) {
  auto store = this->factory_.Make();
  for (int i = 0; i < 23; ++i) {
    Object o = Session(i % 2 ? "alice" : "bob", "nb-" + std::to_string(100 + i));
    o.metadata.labels["even"] = i % 2 ? "no" : "yes";
    ASSERT_TRUE(store->Create(o).ok());
  }
  for (const std::string& sel : {"", "even=yes"}) {
    ListOptions opts;
    opts.kind = "VisiSession";
    opts.limit = 5;
    opts.labels = *LabelSelector::Parse(sel);
    std::vector<std::string> seen;
    int pages = 0;
    do {
      auto page = store->List(opts);
      ASSERT_TRUE(page.ok()) << page.status().ToString();
      EXPECT_LE(page->items.size(), 5u);
      for (const auto& o : page->items) seen.push_back(o->metadata.namespace_ + "/" + o->metadata.name);
      opts.continue_token = page->continue_token;
      ASSERT_LT(++pages, 10);
    } while (!opts.continue_token.empty());
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), seen.size());
    EXPECT_EQ(seen.size(), sel.empty() ? 23u : 12u);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  }
  ListOptions bad;
  bad.kind = "VisiSession";
  for (const std::string& token : {"garbage!", "dmlzaQ==", "djE6RmFybVBvb2wvL3g="}) {
    bad.continue_token = token;
    auto r = store->List(bad);
    ASSERT_FALSE(r.ok()) << token;
    EXPECT_EQ(r.status().code(), Code::kBadRequest);
  }
}

TYPED_TEST(StoreContractTest, UpdateUsesOptimisticConcurrency) {
  auto store = this->factory_.Make();
  auto v1 = *store->Create(Session("alice", "nb"));
  Object a = *v1;
  a.spec["spark"]["workers"] = 3;
  auto v2 = store->Update(a);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_GT((*v2)->metadata.resource_version, v1->metadata.resource_version);
  EXPECT_EQ((*v2)->metadata.generation, 2);
  Object stale = *v1;
  stale.spec["spark"]["workers"] = 4;
  auto conflict = store->Update(stale);
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.status().code(), Code::kConflict);
  EXPECT_NE(conflict.status().message().find("the object has been modified"), std::string::npos);
  EXPECT_EQ((*store->Get("VisiSession", "alice", "nb"))->spec["spark"]["workers"], 3);
  // resourceVersion 0 means unconditional.
  Object force = *v1;
  force.metadata.resource_version = 0;
  force.spec["spark"]["workers"] = 5;
  ASSERT_TRUE(store->Update(force).ok());
  EXPECT_EQ((*store->Get("VisiSession", "alice", "nb"))->spec["spark"]["workers"], 5);
  auto missing = store->Update(Session("alice", "ghost"));
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
}

TYPED_TEST(StoreContractTest, GenerationCountsSpecChangesOnly) {
  auto store = this->factory_.Make();
  auto v1 = *store->Create(Session("alice", "nb"));
  Object labels = *v1;
  labels.metadata.labels["x"] = "y";
  auto v2 = *store->Update(labels);
  EXPECT_EQ(v2->metadata.generation, 1);
  EXPECT_GT(v2->metadata.resource_version, v1->metadata.resource_version);
  // A no-op update writes nothing.
  auto v3 = *store->Update(*v2);
  EXPECT_EQ(v3->metadata.resource_version, v2->metadata.resource_version);
  // Update cannot touch status or server-managed fields.
  Object sneaky = *v3;
  sneaky.status = {{"phase", "Running"}};
  sneaky.metadata.creation_timestamp = "2000-01-01T00:00:00Z";
  sneaky.metadata.generation = 99;
  auto v4 = *store->Update(sneaky);
  EXPECT_TRUE(v4->status.is_null());
  EXPECT_EQ(v4->metadata.creation_timestamp, v1->metadata.creation_timestamp);
  EXPECT_EQ(v4->metadata.generation, 1);
  EXPECT_EQ(v4->metadata.resource_version, v3->metadata.resource_version);
}

TYPED_TEST(StoreContractTest, StatusIsWrittenOnlyThroughUpdateStatus) {
  auto store = this->factory_.Make();
  auto v1 = *store->Create(Session("alice", "nb"));
  Object s = *v1;
  s.status = {{"phase", "Starting"}, {"observedGeneration", 1}};
  s.spec["spark"]["workers"] = 9;  // ignored by a status write
  auto v2 = store->UpdateStatus(s);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ((*v2)->status["phase"], "Starting");
  EXPECT_EQ((*v2)->spec["spark"]["workers"], 2);
  EXPECT_EQ((*v2)->metadata.generation, 1);
  auto stale = store->UpdateStatus(s);  // s carries v1's resourceVersion
  EXPECT_EQ(stale.status().code(), Code::kConflict);
  Object bad = **v2;
  bad.status = {{"phase", "Dancing"}, {"bogus", 1}};
  auto invalid = store->UpdateStatus(bad);
  ASSERT_EQ(invalid.status().code(), Code::kInvalid);
  EXPECT_EQ(invalid.status().causes().size(), 2u);
  EXPECT_EQ((*store->Get("VisiSession", "alice", "nb"))->status["phase"], "Starting");
  // A following spec update keeps the status.
  Object spec = **store->Get("VisiSession", "alice", "nb");
  spec.spec["spark"]["workers"] = 4;
  EXPECT_EQ((*store->Update(spec))->status["phase"], "Starting");
  Object lease;
  lease.kind = "Lease";
  lease.metadata = {.name = "l", .namespace_ = "visi-system"};
  ASSERT_TRUE(store->Create(lease).ok());
  lease.status = {{"x", 1}};
  EXPECT_EQ(store->UpdateStatus(lease).status().code(), Code::kInvalid);
}

TYPED_TEST(StoreContractTest, DeleteHonoursFinalizers) {
  auto store = this->factory_.Make();
  Object o = Session("alice", "nb");
  o.metadata.finalizers = {"visi.dev/teardown", "visi.dev/snapshot"};
  auto v1 = *store->Create(o);
  auto d = store->Delete("VisiSession", "alice", "nb");
  ASSERT_TRUE(d.ok());
  ASSERT_TRUE((*d)->metadata.deletion_timestamp.has_value());
  EXPECT_EQ((*d)->metadata.generation, 2);
  // Deleting again changes nothing.
  auto d2 = *store->Delete("VisiSession", "alice", "nb");
  EXPECT_EQ(d2->metadata.resource_version, (*d)->metadata.resource_version);
  // No new finalizers while deleting.
  Object add = **d;
  add.metadata.finalizers.push_back("visi.dev/late");
  EXPECT_EQ(store->Update(add).status().code(), Code::kInvalid);
  Object one = **d;
  one.metadata.finalizers = {"visi.dev/snapshot"};
  auto v3 = store->Update(one);
  ASSERT_TRUE(v3.ok());
  EXPECT_TRUE(store->Get("VisiSession", "alice", "nb").ok());
  Object none = **v3;
  none.metadata.finalizers.clear();
  ASSERT_TRUE(store->Update(none).ok());
  EXPECT_EQ(store->Get("VisiSession", "alice", "nb").status().code(), Code::kNotFound);
  EXPECT_EQ(store->Delete("VisiSession", "alice", "nb").status().code(), Code::kNotFound);
  (void)v1;
}

TYPED_TEST(StoreContractTest, DeletePreconditions) {
  auto store = this->factory_.Make();
  auto v1 = *store->Create(Session("alice", "nb"));
  Preconditions wrong_uid{.uid = std::string("other")};
  EXPECT_EQ(store->Delete("VisiSession", "alice", "nb", wrong_uid).status().code(), Code::kConflict);
  Preconditions stale{.resource_version = v1->metadata.resource_version + 100};
  EXPECT_EQ(store->Delete("VisiSession", "alice", "nb", stale).status().code(), Code::kConflict);
  Preconditions right{.uid = v1->metadata.uid, .resource_version = v1->metadata.resource_version};
  auto d = store->Delete("VisiSession", "alice", "nb", right);
  ASSERT_TRUE(d.ok());
  EXPECT_GT((*d)->metadata.resource_version, v1->metadata.resource_version);
  EXPECT_EQ(store->Get("VisiSession", "alice", "nb").status().code(), Code::kNotFound);
}

TYPED_TEST(StoreContractTest, OneGlobalMonotonicRevision) {
  auto store = this->factory_.Make();
  uint64_t last = store->CurrentRevision();
  for (int i = 0; i < 5; ++i) {
    auto a = *store->Create(Session("alice", "s" + std::to_string(i)));
    auto b = *store->Create(Pool("p" + std::to_string(i)));
    EXPECT_GT(a->metadata.resource_version, last);
    EXPECT_GT(b->metadata.resource_version, a->metadata.resource_version);
    last = b->metadata.resource_version;
  }
  EXPECT_EQ(store->CurrentRevision(), last);
}

TYPED_TEST(StoreContractTest, BadInputChangesNothing) {
  auto store = this->factory_.Make();
  ASSERT_TRUE(store->Create(Session("alice", "nb")).ok());
  uint64_t rv = store->CurrentRevision();
  std::vector<Object> bad;
  Object workers = Session("alice", "x1");
  workers.spec["spark"]["workers"] = "many";
  bad.push_back(workers);
  Object name = Session("alice", "Bad Name!");
  bad.push_back(name);
  Object label = Session("alice", "x2");
  label.metadata.labels["k"] = std::string(64, 'v');
  bad.push_back(label);
  Object kind = Session("alice", "x3");
  kind.kind = "Pod";
  bad.push_back(kind);
  Object version = Session("alice", "x4");
  version.api_version = "v1";
  bad.push_back(version);
  Object unknown = Session("alice", "x5");
  unknown.spec["sideload"] = "x";
  bad.push_back(unknown);
  for (const auto& o : bad) {
    auto r = store->Create(o);
    ASSERT_FALSE(r.ok()) << o.metadata.name;
    EXPECT_EQ(r.status().code(), Code::kInvalid) << r.status().ToString();
    EXPECT_FALSE(r.status().causes().empty());
  }
  // Over the object size limit (each field within its schema bound).
  Object big_spec = Session("alice", "bigspec");
  big_spec.spec["env"] = Json::array();
  for (int i = 0; i < 60; ++i) {
    big_spec.spec["env"].push_back({{"name", "V" + std::to_string(i)}, {"value", std::string(32000, 'x')}});
  }
  auto r = store->Create(big_spec);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kTooLarge) << r.status().ToString();
  EXPECT_NE(r.status().message().find("the limit is 1572864"), std::string::npos);
  // A bad update leaves the stored object as it was.
  Object upd = **store->Get("VisiSession", "alice", "nb");
  upd.spec["spark"]["workers"] = -1;
  EXPECT_EQ(store->Update(upd).status().code(), Code::kInvalid);
  EXPECT_EQ(store->CurrentRevision(), rv);
  ListOptions all;
  all.kind = "VisiSession";
  EXPECT_EQ(store->List(all)->items.size(), 1u);
  EXPECT_EQ((*store->Get("VisiSession", "alice", "nb"))->spec["spark"]["workers"], 2);
  all.kind = "Pod";
  EXPECT_EQ(store->List(all).status().code(), Code::kNotFound);
}

TYPED_TEST(StoreContractTest, ObjectsNearTheSizeLimitAreStored) {
  auto store = this->factory_.Make();
  Object o = Session("alice", "big");
  for (int i = 0; i < 5; ++i) o.metadata.annotations["visi.dev/b" + std::to_string(i)] = std::string(50 * 1024, 'x');
  auto c = store->Create(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ((*store->Get("VisiSession", "alice", "big"))->metadata.annotations.size(), 5u);
  Object too_big = Session("alice", "too-big");
  for (int i = 0; i < 7; ++i) too_big.metadata.annotations["visi.dev/b" + std::to_string(i)] = std::string(250 * 1024, 'x');
  // Annotations are capped at 256 KiB: Invalid before the size check.
  EXPECT_EQ(store->Create(too_big).status().code(), Code::kInvalid);
  Object big_event;
  big_event.kind = "Event";
  big_event.metadata = {.name = "e", .namespace_ = "alice"};
  big_event.spec = {{"involvedObject", {{"kind", "VisiSession"}, {"name", "nb"}}}, {"reason", "Big"},
                    {"message", std::string(4000, 'm')}};
  EXPECT_TRUE(store->Create(big_event).ok());
}

}  // namespace
}  // namespace visi::testing
