#include "controller/api/scheme.h"

#include <gtest/gtest.h>

#include "test/fakes/objects.h"

namespace visi {
namespace {

TEST(SchemeTest, BuiltinCrdsDescribeEveryKind) {
  auto scheme = Scheme::Builtin();
  for (const char* kind : {"FarmPool", "FarmMachine", "VisiSession", "Snapshot", "Lease", "Event"}) {
    const KindInfo* k = scheme->ByKind(kind);
    ASSERT_NE(k, nullptr) << kind;
    EXPECT_EQ(k->ApiVersion(), "visi.dev/v1alpha1");
    EXPECT_FALSE(k->plural.empty());
  }
  EXPECT_FALSE(scheme->ByKind("FarmPool")->namespaced);
  EXPECT_TRUE(scheme->ByKind("VisiSession")->namespaced);
  EXPECT_TRUE(scheme->ByKind("VisiSession")->has_status);
  EXPECT_FALSE(scheme->ByKind("Lease")->has_status);
  EXPECT_FALSE(scheme->ByKind("VisiSession")->columns.empty());
}

TEST(SchemeTest, ResolvesWhatUsersType) {
  auto scheme = Scheme::Builtin();
  for (const char* name : {"VisiSession", "visisession", "visisessions", "vs",
                           "visisessions.visi.dev", "VISISESSIONS"}) {
    const KindInfo* k = scheme->Resolve(name);
    ASSERT_NE(k, nullptr) << name;
    EXPECT_EQ(k->kind, "VisiSession");
  }
  EXPECT_EQ(scheme->Resolve("pods"), nullptr);
}

TEST(SchemeTest, DefaultsASessionFromItsCrd) {
  Object o = testing::Session("alice", "nb");
  ASSERT_TRUE(Scheme::Builtin()->ValidateAndDefault(&o).ok());
  EXPECT_EQ(o.spec["pool"], "default");
  EXPECT_EQ(o.spec["spark"]["workers"], 2);
  EXPECT_TRUE(o.spec["frontEnd"].contains("image"));
  EXPECT_FALSE(o.spec["suspend"].get<bool>());
}

TEST(SchemeTest, InvalidObjectsListEveryProblem) {
  auto scheme = Scheme::Builtin();
  Object o = testing::Session("Alice_NS", "Bad_Name");
  o.spec["spark"]["workers"] = 1000;
  o.spec["bogus"] = true;
  o.metadata.labels["bad key!"] = "v";
  o.metadata.labels["ok"] = "-bad-value";
  o.metadata.finalizers = {"visi.dev/cleanup", "no spaces allowed"};
  Status s = scheme->ValidateAndDefault(&o);
  ASSERT_EQ(s.code(), Code::kInvalid);
  std::set<std::string> fields;
  for (const auto& c : s.causes()) fields.insert(c.field);
  for (const char* f : {"metadata.name", "metadata.namespace", "spec.spark.workers", "spec.bogus",
                        "metadata.labels[bad key!]", "metadata.labels[ok]",
                        "metadata.finalizers[1]"}) {
    EXPECT_TRUE(fields.count(f)) << "missing cause for " << f << "\n" << s.ToString();
  }
}

TEST(SchemeTest, ScopeKindAndApiVersionAreChecked) {
  auto scheme = Scheme::Builtin();
  Object pool = testing::Pool("default");
  pool.metadata.namespace_ = "alice";
  EXPECT_EQ(scheme->ValidateAndDefault(&pool).code(), Code::kInvalid);
  Object no_ns = testing::Session("", "nb");
  EXPECT_EQ(scheme->ValidateAndDefault(&no_ns).code(), Code::kInvalid);
  Object unknown = testing::Session("a", "nb");
  unknown.kind = "Pod";
  Status s = scheme->ValidateAndDefault(&unknown);
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_NE(s.message().find("unknown kind \"Pod\""), std::string::npos);
  Object wrong_version = testing::Session("a", "nb");
  wrong_version.api_version = "visi.dev/v2";
  s = scheme->ValidateAndDefault(&wrong_version);
  EXPECT_NE(s.message().find("unknown apiVersion"), std::string::npos);
  Object no_spec = testing::Session("a", "nb");
  no_spec.spec = nullptr;
  s = scheme->ValidateAndDefault(&no_spec);
  ASSERT_EQ(s.code(), Code::kInvalid);
  EXPECT_EQ(s.causes()[0].field, "spec");
}

}  // namespace
}  // namespace visi
