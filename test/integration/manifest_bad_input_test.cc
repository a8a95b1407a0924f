// Hostile manifests through the whole path a user's file takes (YAML/JSON
// decoding, schema validation, the durable store): each is refused with an
// error that names the problem, none crashes, and nothing stored changes.
#include <random>

#include "controller/api/yaml_codec.h"
#include "controller/store/apply.h"
#include "test/fakes/objects.h"
#include "test/integration/store_factories.h"

namespace visi::testing {
namespace {

class ManifestBadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = dir_.Make();
    ASSERT_TRUE(store_->Create(Session("alice", "notebook")).ok());
    ASSERT_TRUE(store_->Create(Pool("default")).ok());
    before_ = Snapshot();
  }

  // Everything stored, as text, with the revision.
  std::string Snapshot() {
    std::string out = std::to_string(store_->CurrentRevision());
    for (const char* kind : {"VisiSession", "FarmPool"}) {
      ListOptions all;
      all.kind = kind;
      auto list = store_->List(all);
      for (const auto& o : list->items) out += "\n" + ObjectToJsonText(*o);
    }
    return out;
  }

  // Decodes and applies `text`; returns the first error.
  Status Apply(const std::string& text) {
    auto objs = DecodeManifest(text, "hostile.yaml");
    if (!objs.ok()) return objs.status();
    for (const auto& m : *objs) {
      auto r = ApplyObject(*store_, m.object);
      if (!r.ok()) return m.Locate(r.status());
    }
    return OkStatus();
  }

  SqliteFactory dir_;
  std::unique_ptr<Store> store_;
  std::string before_;
};

std::string Billion() {
  std::string s = "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    std::string p = "*l" + std::to_string(i - 1);
    s += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [" + p + "," + p + "," + p + "," +
         p + "," + p + "," + p + "," + p + "," + p + "," + p + "]\n";
  }
  return s + "metadata: {name: bomb, namespace: alice}\nspec: {user: alice, statePaths: *l8}\n";
}

TEST_F(ManifestBadInputTest, EachIsRefusedClearlyAndNothingChanges) {
  const std::string session_head =
      "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nmetadata:\n  name: notebook\n  namespace: alice\n";
  const std::string pool_head = "apiVersion: visi.dev/v1alpha1\nkind: FarmPool\nmetadata: {name: default}\n";
  struct Case {
    std::string name, text;
    Code code;
    std::string says;
  };
  std::vector<Case> cases = {
      {"yaml syntax", "kind: [VisiSession\nmetadata: {", Code::kBadRequest, "hostile.yaml:"},
      {"json syntax", "{\"kind\": \"VisiSession\", \"metadata\": ", Code::kBadRequest, "hostile.yaml:1"},
      {"alias bomb", Billion(), Code::kBadRequest, "more than"},
      {"deep nesting", session_head + "spec: " + std::string(3000, '[') + std::string(3000, ']'),
       Code::kBadRequest, "nesting"},
      {"wrong type", session_head + "spec:\n  user: alice\n  spark:\n    workers: lots\n", Code::kInvalid,
       "hostile.yaml:9: spec.spark.workers: expected integer, got string"},
      {"wrong metadata type", "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nmetadata:\n  name: [x]\n",
       Code::kInvalid, "hostile.yaml:4: metadata.name: expected string"},
      {"unknown kind", "apiVersion: visi.dev/v1alpha1\nkind: Pod\nmetadata: {name: p, namespace: alice}\n",
       Code::kInvalid, "unknown kind \"Pod\""},
      {"unknown apiVersion", "apiVersion: visi.dev/v9\nkind: VisiSession\nmetadata: {name: x, namespace: alice}\nspec: {user: a}\n",
       Code::kInvalid, "expected \"visi.dev/v1alpha1\""},
      {"invalid name", "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nmetadata: {name: Not_Valid, namespace: alice}\nspec: {user: a}\n",
       Code::kInvalid, "metadata.name: a lowercase RFC 1123 subdomain"},
      {"invalid label", session_head + "  labels: {\"bad key\": v}\nspec: {user: alice}\n", Code::kInvalid,
       "metadata.labels[bad key]: invalid key"},
      {"unknown field", session_head + "spec: {user: alice, sudo: true}\n", Code::kInvalid,
       "spec.sudo: unknown field"},
      {"not a mapping", "- just\n- a list\n", Code::kInvalid, "must be a JSON/YAML mapping"},
      {"scalar document", "42\n", Code::kInvalid, "mapping"},
      {"duplicate key", session_head + "spec: {user: alice}\nspec: {user: bob}\n", Code::kBadRequest,
       "duplicate key \"spec\""},
      // FarmPools and FarmMachines (docs/farm.md).
      {"pool: unknown provider", pool_head + "spec: {provider: {type: cloud}}\n", Code::kInvalid,
       "spec.provider.type"},
      {"pool: exec without delete", pool_head + "spec: {provider: {type: exec, exec: {create: [/bin/mk]}}}\n",
       Code::kInvalid, "spec.provider.exec.delete"},
      {"pool: exec with an empty argv", pool_head + "spec: {provider: {type: exec, exec: {create: [], delete: [x]}}}\n",
       Code::kInvalid, "spec.provider.exec.create"},
      {"pool: exec timeout 0", pool_head + "spec: {provider: {type: exec, exec: {create: [a], delete: [b], timeoutSeconds: 0}}}\n",
       Code::kInvalid, "spec.provider.exec.timeoutSeconds"},
      {"pool: static endpoint not unix or tcp",
       pool_head + "spec: {provider: {type: static, static: {machines: [{name: m1, endpoint: 'http://h:2375'}]}}}\n",
       Code::kInvalid, "spec.provider.static.machines[0].endpoint"},
      {"pool: static machine name", pool_head + "spec: {provider: {type: static, static: {machines: [{name: '../m', endpoint: 'unix:///x'}]}}}\n",
       Code::kInvalid, "spec.provider.static.machines[0].name"},
      {"pool: capacity not a quantity", pool_head + "spec: {machineCapacity: {memory: lots}}\n", Code::kInvalid,
       "spec.machineCapacity.memory"},
      {"pool: negative minIdle", pool_head + "spec: {idlePool: {minIdle: -1}}\n", Code::kInvalid,
       "spec.idlePool.minIdle"},
      {"pool: maxMachines 0", pool_head + "spec: {maxMachines: 0}\n", Code::kInvalid, "spec.maxMachines"},
      {"pool: subnet pool not a CIDR", pool_head + "spec: {network: {subnetPool: 10.0.0.0/33}}\n", Code::kInvalid,
       "spec.network.subnetPool"},
      {"machine: no pool", "apiVersion: visi.dev/v1alpha1\nkind: FarmMachine\nmetadata: {name: m1}\nspec: {endpoint: 'unix:///x'}\n",
       Code::kInvalid, "spec.pool"},
      {"machine: bad endpoint", "apiVersion: visi.dev/v1alpha1\nkind: FarmMachine\nmetadata: {name: m1}\nspec: {pool: p, endpoint: 'ftp://x'}\n",
       Code::kInvalid, "spec.endpoint"},
  };
  // Over 1.5 MiB, every field within its schema bound.
  std::string big = session_head + "spec:\n  user: alice\n  env:\n";
  for (int i = 0; i < 60; ++i) big += "  - name: V" + std::to_string(i) + "\n    value: " + std::string(32000, 'x') + "\n";
  cases.push_back({"over 1.5 MiB", big, Code::kTooLarge, "the limit is 1572864"});
  for (const auto& c : cases) {
    Status s = Apply(c.text);
    EXPECT_EQ(s.code(), c.code) << c.name << ": " << s.ToString();
    EXPECT_NE(s.ToString().find(c.says), std::string::npos) << c.name << ": " << s.ToString();
    EXPECT_EQ(Snapshot(), before_) << c.name << " changed the store";
  }
}

TEST_F(ManifestBadInputTest, MangledManifestsNeverCrash) {
  const std::string good =
      "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nmetadata:\n  name: other\n  namespace: alice\n"
      "  labels: {app: visi}\nspec:\n  user: alice\n  spark: {workers: 3}\n  statePaths: [/data]\n"
      "---\n{\"apiVersion\": \"visi.dev/v1alpha1\", \"kind\": \"FarmPool\", \"metadata\": {\"name\": \"p2\"},"
      " \"spec\": {\"maxMachines\": 3}}\n";
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]:,-&*!|>'\"#%@`\n\t \\0xZ9.";
  int refused = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t pos = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: t.erase(pos, 1 + rng() % 8); break;
        default: t.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      }
      if (t.empty()) t = "x";
    }
    auto objs = DecodeManifest(t, "mangled.yaml");
    if (!objs.ok()) {
      ++refused;
      EXPECT_FALSE(objs.status().message().empty());
      continue;
    }
    for (auto& m : *objs) {
      Status s = Scheme::Builtin()->ValidateAndDefault(&m.object);
      if (!s.ok()) {
        ++refused;
        EXPECT_FALSE(s.ToString().empty());
      }
    }
  }
  EXPECT_GT(refused, 500);  // most mangled files are refused, none crashed
}

}  // namespace
}  // namespace visi::testing
