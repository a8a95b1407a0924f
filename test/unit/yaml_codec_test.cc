#include "controller/api/yaml_codec.h"

#include <gtest/gtest.h>

namespace visi {
namespace {

TEST(YamlCodecTest, MultiDocumentManifestsWithLines) {
  const char* text =
      "# a comment\n"
      "apiVersion: visi.dev/v1alpha1\n"
      "kind: FarmPool\n"
      "metadata:\n"
      "  name: default\n"
      "spec: {}\n"
      "---\n"
      "---\n"
      "apiVersion: visi.dev/v1alpha1\n"
      "kind: VisiSession\n"
      "metadata: {name: nb, namespace: alice}\n"
      "spec:\n"
      "  user: alice\n"
      "  spark:\n"
      "    workers: 3\n";
  auto docs = ParseYamlDocuments(text, "m.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 2u);  // the empty document is skipped
  EXPECT_EQ((*docs)[1].value["spec"]["spark"]["workers"], 3);
  EXPECT_EQ((*docs)[1].Where("spec.spark.workers"), "m.yaml:15");
  EXPECT_EQ((*docs)[1].Where("spec.spark.missing"), "m.yaml:14");
  auto objs = DecodeManifest(text, "m.yaml");
  ASSERT_TRUE(objs.ok());
  EXPECT_EQ((*objs)[1].object.metadata.namespace_, "alice");
}

TEST(YamlCodecTest, CoreSchemaScalars) {
  auto docs = ParseYamlDocuments(
      "a: 12\nb: '12'\nc: true\nd: \"true\"\ne: ~\nf: 1.5\ng: 0x1f\nh: hello\ni: 99999999999999999999\n"
      "j: -3\nk: yes\n",
      "s.yaml");
  ASSERT_TRUE(docs.ok());
  const Json& v = (*docs)[0].value;
  EXPECT_EQ(v["a"], 12);
  EXPECT_EQ(v["b"], "12");
  EXPECT_EQ(v["c"], true);
  EXPECT_EQ(v["d"], "true");
  EXPECT_TRUE(v["e"].is_null());
  EXPECT_EQ(v["f"], 1.5);
  EXPECT_EQ(v["g"], 31);
  EXPECT_EQ(v["h"], "hello");
  EXPECT_EQ(v["i"], "99999999999999999999");
  EXPECT_EQ(v["j"], -3);
  EXPECT_EQ(v["k"], "yes");  // YAML 1.2: not a boolean
}

TEST(YamlCodecTest, EmitRoundTripsExactly) {
  Json v = {{"s", "true"}, {"n", "12"}, {"e", ""}, {"x", "plain"}, {"i", 7}, {"f", 2.25},
            {"b", false}, {"z", nullptr}, {"list", {1, "2", Json::object()}}, {"m", Json::object()},
            {"multi", "line one\nline two"}, {"colon", "a: b"}, {"hash", "# not a comment"}};
  auto docs = ParseYamlDocuments(EmitYaml(v), "out.yaml");
  ASSERT_TRUE(docs.ok()) << EmitYaml(v);
  EXPECT_EQ((*docs)[0].value, v) << EmitYaml(v);
}

TEST(YamlCodecTest, HostileInputIsRefusedWithAClearError) {
  // Billion laughs: aliases expand exponentially.
  std::string bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'k'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + c + " [*" + prev + ", *" + prev + ", *" + prev + ", *" +
            prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev + ", *" + prev +
            ", *" + prev + "]\n";
  }
  auto r = ParseYamlDocuments(bomb, "bomb.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("more than"), std::string::npos) << r.status().message();

  auto deep = ParseYamlDocuments(std::string(5000, '[') + std::string(5000, ']'), "deep.yaml");
  ASSERT_FALSE(deep.ok());
  auto deep_map = ParseYamlDocuments("a: " + std::string(100, '[') + std::string(100, ']'), "deep.yaml");
  ASSERT_FALSE(deep_map.ok());
  EXPECT_NE(deep_map.status().message().find("nesting"), std::string::npos);

  for (const char* bad : {"a: [1, 2", "a: b: c", "- a\nb: c", "a: 'open", "\t- x", "a: 1\na: 2",
                          "{[1]: x}", "a: !!binary ???", "%YAML 9.9\n---\na: 1"}) {
    auto res = ParseYamlDocuments(bad, "bad.yaml");
    if (res.ok()) continue;  // some are valid YAML with odd content; none may crash
    EXPECT_EQ(res.status().message().rfind("bad.yaml:", 0), 0u) << res.status().message();
  }
  auto dup = ParseYamlDocuments("a: 1\na: 2\n", "dup.yaml");
  ASSERT_FALSE(dup.ok());
  EXPECT_NE(dup.status().message().find("dup.yaml:2: duplicate key \"a\""), std::string::npos)
      << dup.status().message();
  auto syntax = ParseYamlDocuments("a: [1, 2\nb: 3\n", "syn.yaml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().code(), Code::kBadRequest);

  // Byte amplification: a large scalar aliased many times, and a long key
  // over a long list (each item's field path repeats the key).
  std::string big_alias = "a: &a " + std::string(100000, 'x') + "\nb: [";
  for (int i = 0; i < 5000; ++i) big_alias += "*a,";
  big_alias += "*a]\n";
  auto amplified = ParseYamlDocuments(big_alias, "alias.yaml");
  ASSERT_FALSE(amplified.ok());
  EXPECT_NE(amplified.status().message().find("bytes"), std::string::npos) << amplified.status().message();
  std::string long_key = "? " + std::string(100000, 'k') + "\n: [" + std::string(10000, '1') + "]\n";
  auto keyed = ParseYamlDocuments(long_key, "key.yaml");
  ASSERT_FALSE(keyed.ok());
  EXPECT_NE(keyed.status().message().find("mapping key longer than 1024 bytes"), std::string::npos)
      << keyed.status().message();
  std::string wide_key = std::string(1000, 'k') + ":\n";
  for (int d = 0; d < 30; ++d) wide_key += std::string(2 * d + 2, ' ') + std::string(1000, 'a' + d % 26) + ":\n";
  wide_key += std::string(62, ' ') + "- x\n";
  for (int i = 0; i < 20000; ++i) wide_key += std::string(62, ' ') + "- x\n";
  auto paths = ParseYamlDocuments(wide_key, "paths.yaml");
  ASSERT_FALSE(paths.ok());
  EXPECT_NE(paths.status().message().find("bytes"), std::string::npos) << paths.status().message();

  YamlLimits small;
  small.max_bytes = 10;
  EXPECT_EQ(ParseYamlDocuments("a: 123456789012", "big.yaml", small).status().code(), Code::kTooLarge);
}

TEST(YamlCodecTest, ManifestErrorsCarryFileAndLine) {
  const char* text =
      "apiVersion: visi.dev/v1alpha1\n"
      "kind: VisiSession\n"
      "metadata:\n"
      "  name: nb\n"
      "  labels:\n"
      "    a: 5\n";
  auto objs = DecodeManifest(text, "s.yaml");
  ASSERT_FALSE(objs.ok());
  ASSERT_EQ(objs.status().causes().size(), 1u);
  EXPECT_EQ(objs.status().causes()[0].field, "s.yaml:6: metadata.labels[a]");
}

TEST(YamlCodecTest, SchemaErrorsPointIntoTheFile) {
  const char* text =
      "apiVersion: visi.dev/v1alpha1\n"
      "kind: List\n"
      "items:\n"
      "- apiVersion: visi.dev/v1alpha1\n"
      "  kind: VisiSession\n"
      "  metadata: {name: nb, namespace: alice}\n"
      "  spec:\n"
      "    user: alice\n"
      "    spark:\n"
      "      workers: 500\n";
  auto objs = DecodeManifest(text, "list.yaml");
  ASSERT_TRUE(objs.ok()) << objs.status().ToString();
  ASSERT_EQ(objs->size(), 1u);
  Status invalid = InvalidError("bad", {{"spec.spark.workers", "must be <= 64, got 500"}});
  Status located = (*objs)[0].Locate(invalid);
  EXPECT_EQ(located.causes()[0].field, "list.yaml:10: spec.spark.workers");
  EXPECT_EQ(located.message(), "list.yaml:4: bad");
}

}  // namespace
}  // namespace visi
