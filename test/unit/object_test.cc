#include "controller/api/object.h"

#include <gtest/gtest.h>

namespace visi {
namespace {

TEST(ObjectTest, JsonRoundTripIsStable) {
  const char* text = R"({"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{
    "name":"nb","namespace":"alice","uid":"u-1","resourceVersion":"42","generation":3,
    "labels":{"a":"b"},"annotations":{"x/y":"z"},"finalizers":["visi.dev/cleanup"],
    "ownerReferences":[{"apiVersion":"visi.dev/v1alpha1","kind":"FarmPool","name":"p","uid":"u-2","controller":true}],
    "creationTimestamp":"2026-11-23T22:10:00Z","deletionTimestamp":"2026-11-23T22:11:00Z"},
    "spec":{"user":"alice","b":[1,2.5,"x",null,true]},"status":{"phase":"Running"}})";
  auto j = ParseJson(text);
  ASSERT_TRUE(j.ok());
  auto o = ObjectFromJson(*j);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->metadata.resource_version, 42u);
  EXPECT_EQ(o->metadata.owner_references[0].controller, true);
  std::string once = ObjectToJsonText(*o);
  auto again = ObjectFromJson(*ParseJson(once));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *o);
  EXPECT_EQ(ObjectToJsonText(*again), once);
  EXPECT_EQ(ObjectToJson(*o), *j);
}

TEST(ObjectTest, WrongTypesAreNamedByPath) {
  auto j = Json::parse(R"({"apiVersion":"visi.dev/v1alpha1","kind":5,"metadata":{
      "name":["x"],"labels":{"a":1},"resourceVersion":"12x","finalizers":"f",
      "ownerReferences":[7],"bogus":1},"extra":{}})");
  auto o = ObjectFromJson(j);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), Code::kInvalid);
  std::set<std::string> fields;
  for (const auto& c : o.status().causes()) fields.insert(c.field);
  for (const char* f : {"kind", "metadata.name", "metadata.labels[a]", "metadata.resourceVersion",
                        "metadata.finalizers", "metadata.ownerReferences[0]", "metadata.bogus",
                        "extra"}) {
    EXPECT_TRUE(fields.count(f)) << f << "\n" << o.status().ToString();
  }
  EXPECT_FALSE(ObjectFromJson(Json::array()).ok());
  EXPECT_FALSE(ObjectFromJson(Json("text")).ok());
}

TEST(ObjectTest, ParseJsonRefusesMalformedDeepAndHugeInput) {
  for (const char* bad : {"", "{", "{\"a\":}", "[1,2", "nul", "{\"a\":1}}", "\xff\xfe"}) {
    auto j = ParseJson(bad);
    ASSERT_FALSE(j.ok()) << bad;
    EXPECT_EQ(j.status().code(), Code::kBadRequest);
  }
  std::string deep(100000, '[');
  auto j = ParseJson(deep + std::string(100000, ']'));
  ASSERT_FALSE(j.ok());
  EXPECT_NE(j.status().message().find("nests deeper"), std::string::npos);
  auto big = ParseJson(std::string(100, ' '), 10);
  EXPECT_EQ(big.status().code(), Code::kTooLarge);
}

}  // namespace
}  // namespace visi
