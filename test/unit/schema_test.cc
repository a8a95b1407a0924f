#include "controller/api/schema.h"

#include <gtest/gtest.h>

namespace visi {
namespace {

std::shared_ptr<const Schema> Compile(const char* json) {
  auto s = Schema::Compile(Json::parse(json));
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? *s : nullptr;
}

std::vector<FieldCause> Check(const Schema& s, Json* v) {
  std::vector<FieldCause> causes;
  s.DefaultAndValidate(v, "spec", &causes);
  return causes;
}

const char* kSpec = R"({
  "type": "object", "required": ["user"],
  "properties": {
    "user": {"type": "string", "maxLength": 10, "pattern": "^[a-z]+$"},
    "workers": {"type": "integer", "minimum": 0, "maximum": 64, "default": 2},
    "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
    "paths": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
    "spark": {"type": "object", "default": {},
              "properties": {"port": {"type": "integer", "default": 7077}}},
    "res": {"type": "object", "properties": {"cpu": {"x-kubernetes-int-or-string": true, "minimum": 0}}},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "when": {"type": "string", "format": "date-time"},
    "note": {"type": "string", "nullable": true}
  }})";

TEST(SchemaTest, DefaultsCascadeIntoDefaultedObjects) {
  auto s = Compile(kSpec);
  Json v = {{"user", "alice"}};
  EXPECT_TRUE(Check(*s, &v).empty());
  EXPECT_EQ(v["workers"], 2);
  EXPECT_EQ(v["mode"], "a");
  EXPECT_EQ(v["spark"]["port"], 7077);
  EXPECT_FALSE(v.contains("res"));  // no default: stays absent
}

TEST(SchemaTest, EveryBadFieldIsReportedWithWhatWasExpected) {
  auto s = Compile(kSpec);
  Json v = {{"workers", 100}, {"mode", "c"}, {"paths", {"a", "b", "c"}}, {"extra", 1},
            {"labels", {{"k", 3}}}, {"when", "soon"}, {"res", {{"cpu", -1}}},
            {"spark", {{"port", "x"}}}};
  auto causes = Check(*s, &v);
  std::map<std::string, std::string> by_field;
  for (auto& c : causes) by_field[c.field] = c.message;
  EXPECT_EQ(by_field["spec.user"], "required field is missing");
  EXPECT_EQ(by_field["spec.workers"], "must be <= 64, got 100");
  EXPECT_NE(by_field["spec.mode"].find("supported values: \"a\", \"b\""), std::string::npos);
  EXPECT_NE(by_field["spec.paths"].find("at most 2 items"), std::string::npos);
  EXPECT_NE(by_field["spec.extra"].find("unknown field"), std::string::npos);
  EXPECT_EQ(by_field["spec.labels[k]"], "expected string, got integer");
  EXPECT_NE(by_field["spec.when"].find("RFC 3339"), std::string::npos);
  EXPECT_NE(by_field["spec.res.cpu"].find(">= 0"), std::string::npos);
  EXPECT_EQ(by_field["spec.spark.port"], "expected integer, got string");
  EXPECT_EQ(causes.size(), 9u);
}

TEST(SchemaTest, PatternsLengthsAndNulls) {
  auto s = Compile(kSpec);
  Json v = {{"user", "Alice"}};
  auto causes = Check(*s, &v);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_NE(causes[0].message.find("must match pattern ^[a-z]+$"), std::string::npos);
  Json long_user = {{"user", std::string(5000, 'a')}};
  causes = Check(*s, &long_user);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_NE(causes[0].message.find("at most 10 characters"), std::string::npos);
  // Nulls of non-nullable fields count as absent (and get the default).
  Json nulls = {{"user", "bob"}, {"workers", nullptr}, {"note", nullptr}};
  EXPECT_TRUE(Check(*s, &nulls).empty());
  EXPECT_EQ(nulls["workers"], 2);
  EXPECT_TRUE(nulls["note"].is_null());
  // An integral float is an integer; a fraction is not.
  Json fl = {{"user", "bob"}, {"workers", 3.0}};
  EXPECT_TRUE(Check(*s, &fl).empty());
  EXPECT_TRUE(fl["workers"].is_number_integer());
  Json frac = {{"user", "bob"}, {"workers", 3.5}};
  EXPECT_EQ(Check(*s, &frac).size(), 1u);
}

TEST(SchemaTest, RejectsUnsupportedOrNonStructuralSchemas) {
  for (const char* bad : {
           R"({"type": "object", "properties": {"a": {"oneOf": []}}})",
           R"({"properties": {"a": {"type": "string"}}})",
           R"({"type": "array"})",
           R"({"type": "strin"})",
           R"({"type": "object", "required": ["x"], "properties": {}})",
           R"({"type": "string", "pattern": "("})",
           R"({"type": "integer", "maximum": 3, "default": 9})",
       }) {
    auto s = Schema::Compile(Json::parse(bad));
    EXPECT_FALSE(s.ok()) << bad;
  }
}

}  // namespace
}  // namespace visi
