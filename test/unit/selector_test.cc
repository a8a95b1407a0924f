#include "controller/api/selector.h"

#include <gtest/gtest.h>

namespace visi {
namespace {

using Labels = std::map<std::string, std::string>;

bool Match(const std::string& sel, const Labels& labels) {
  auto s = LabelSelector::Parse(sel);
  EXPECT_TRUE(s.ok()) << sel << ": " << s.status().ToString();
  return s.ok() && s->Matches(labels);
}

TEST(LabelSelectorTest, Operators) {
  Labels l = {{"app", "visi"}, {"tier", "front"}};
  EXPECT_TRUE(Match("", l));
  EXPECT_TRUE(Match("app=visi", l));
  EXPECT_TRUE(Match("app==visi", l));
  EXPECT_FALSE(Match("app=other", l));
  EXPECT_TRUE(Match("app!=other", l));
  EXPECT_TRUE(Match("missing!=x", l));  // != matches absent keys, as in Kubernetes
  EXPECT_TRUE(Match("tier in (front, back)", l));
  EXPECT_FALSE(Match("tier notin (front)", l));
  EXPECT_TRUE(Match("tier notin (back)", l));
  EXPECT_TRUE(Match("missing notin (back)", l));
  EXPECT_FALSE(Match("missing in (back)", l));
  EXPECT_TRUE(Match("app", l));
  EXPECT_FALSE(Match("!app", l));
  EXPECT_TRUE(Match("!missing", l));
  EXPECT_TRUE(Match("app=visi,tier in (front),!missing", l));
  EXPECT_FALSE(Match("app=visi,tier=back", l));
}

TEST(LabelSelectorTest, MalformedSelectorsNameTheProblem) {
  for (const char* bad : {"app=(", "tier in (a", "tier in a)", "tier within (a)", "a,,b",
                          "-bad=x", "app=in valid", "tier in ()", "k=" "\x01"}) {
    auto s = LabelSelector::Parse(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.status().code(), Code::kBadRequest) << bad;
    EXPECT_NE(s.status().message().find("label selector"), std::string::npos) << bad;
  }
  EXPECT_FALSE(LabelSelector::Parse(std::string(5000, 'a')).ok());
}

TEST(FieldSelectorTest, SupportedFields) {
  Object o;
  o.kind = "VisiSession";
  o.metadata.name = "nb";
  o.metadata.namespace_ = "alice";
  o.status = {{"phase", "Running"}};
  auto check = [&](const char* text) {
    auto s = FieldSelector::Parse(text);
    EXPECT_TRUE(s.ok()) << text;
    return s.ok() && s->Matches(o);
  };
  EXPECT_TRUE(check("metadata.name=nb"));
  EXPECT_TRUE(check("metadata.namespace==alice,status.phase=Running"));
  EXPECT_FALSE(check("status.phase!=Running"));
  EXPECT_TRUE(check("status.phase!=Suspended"));
  auto bad = FieldSelector::Parse("spec.user=alice");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("spec.user"), std::string::npos);
  EXPECT_FALSE(FieldSelector::Parse("metadata.name").ok());
}

}  // namespace
}  // namespace visi
