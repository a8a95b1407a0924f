#include "controller/api/names.h"

#include <gtest/gtest.h>

namespace visi {
namespace {

TEST(NamesTest, Dns1123Subdomain) {
  EXPECT_EQ(CheckDns1123Subdomain("notebook"), "");
  EXPECT_EQ(CheckDns1123Subdomain("a.b-c.d9"), "");
  EXPECT_NE(CheckDns1123Subdomain(""), "");
  EXPECT_NE(CheckDns1123Subdomain("Notebook"), "");
  EXPECT_NE(CheckDns1123Subdomain("-a"), "");
  EXPECT_NE(CheckDns1123Subdomain("a_b"), "");
  EXPECT_NE(CheckDns1123Subdomain("a/b"), "");
  EXPECT_NE(CheckDns1123Subdomain(std::string(254, 'a')), "");
  EXPECT_EQ(CheckDns1123Subdomain(std::string(253, 'a')), "");
  EXPECT_NE(CheckDns1123Subdomain(std::string("a\0b", 3)), "");
}

TEST(NamesTest, Dns1123Label) {
  EXPECT_EQ(CheckDns1123Label("alice"), "");
  EXPECT_NE(CheckDns1123Label("a.b"), "");
  EXPECT_NE(CheckDns1123Label(std::string(64, 'a')), "");
  EXPECT_EQ(CheckDns1123Label(std::string(63, 'a')), "");
}

TEST(NamesTest, QualifiedNamesAndLabelValues) {
  EXPECT_EQ(CheckQualifiedName("app"), "");
  EXPECT_EQ(CheckQualifiedName("visi.dev/session-uid"), "");
  EXPECT_EQ(CheckQualifiedName("A_b.C"), "");
  EXPECT_NE(CheckQualifiedName("/app"), "");
  EXPECT_NE(CheckQualifiedName("visi.dev/"), "");
  EXPECT_NE(CheckQualifiedName("Visi.dev/x"), "");
  EXPECT_NE(CheckQualifiedName("a b"), "");
  EXPECT_NE(CheckQualifiedName(std::string(64, 'a')), "");
  EXPECT_EQ(CheckLabelValue(""), "");
  EXPECT_EQ(CheckLabelValue("v1.2_x-y"), "");
  EXPECT_NE(CheckLabelValue("-x"), "");
  EXPECT_NE(CheckLabelValue(std::string(64, 'v')), "");
  EXPECT_NE(CheckLabelValue("a,b"), "");
}

}  // namespace
}  // namespace visi
