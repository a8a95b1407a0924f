// visictl against a real visid: the commands scripts rely on, their output
// and exit codes, and bad flags and files.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "controller/base/clock.h"
#include "test/e2e/visid_process.h"

namespace visi::testing {
namespace {

class VisictlTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(visid_.Start()); }

  std::pair<int, std::string> Visictl(const std::string& args) {
    return RunCommand("timeout 60 env VISICONFIG=" + visid_.config_path() + " " VISI_VISICTL_BINARY " " +
                      args + " 2>&1");
  }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = visid_.dir() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  VisidProcess visid_;
};

const char* kSession =
    "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nmetadata:\n  name: notebook\n  namespace: alice\n"
    "  labels: {app: visi}\nspec:\n  user: alice\n  spark: {workers: 3}\n";

TEST_F(VisictlTest, ApplyIsIdempotentAndReportsEachObject) {
  std::string dir = visid_.dir() + "/manifests";
  std::filesystem::create_directories(dir + "/nested");
  Write("manifests/session.yaml", kSession);
  Write("manifests/nested/pool.yaml", "apiVersion: visi.dev/v1alpha1\nkind: FarmPool\nmetadata: {name: default}\nspec: {}\n");
  auto [rc, out] = Visictl("apply -f " + dir);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "visisession.visi.dev/notebook created\n");  // not recursive: the pool is skipped
  std::tie(rc, out) = Visictl("apply -R -f " + dir);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("farmpool.visi.dev/default created"), std::string::npos) << out;
  EXPECT_NE(out.find("visisession.visi.dev/notebook unchanged"), std::string::npos) << out;
  std::string changed = kSession;
  changed.replace(changed.find("workers: 3"), 10, "workers: 4");
  std::tie(rc, out) = Visictl("apply -f " + Write("changed.yaml", changed));
  EXPECT_EQ(out, "visisession.visi.dev/notebook configured\n");
}

TEST_F(VisictlTest, ValidationErrorsNameFileAndLine) {
  std::string bad = Write("bad.yaml",
                          "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\nmetadata: {name: nb, namespace: alice}\n"
                          "spec:\n  user: alice\n  spark:\n    workers: 500\n");
  auto [rc, out] = Visictl("apply -f " + bad);
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find(bad + ":7: spec.spark.workers: must be <= 64, got 500"), std::string::npos) << out;
  std::tie(rc, out) = Visictl("apply -f " + Write("broken.yaml", "kind: [\n"));
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("broken.yaml:"), std::string::npos) << out;
  std::tie(rc, out) = Visictl("apply -f /nonexistent.yaml");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
}

TEST_F(VisictlTest, GetInEveryFormat) {
  ASSERT_EQ(Visictl("apply -f " + Write("s.yaml", kSession)).first, 0);
  auto [rc, out] = Visictl("get visisessions -n alice");
  EXPECT_EQ(rc, 0);
  EXPECT_EQ(out.substr(0, out.find('\n')).substr(0, 4), "NAME");
  EXPECT_NE(out.find("notebook"), std::string::npos);
  EXPECT_NE(out.find("USER"), std::string::npos);
  std::tie(rc, out) = Visictl("get vs -A -o wide");
  EXPECT_NE(out.find("NAMESPACE"), std::string::npos) << out;
  EXPECT_NE(out.find("WORKERS"), std::string::npos) << out;
  std::tie(rc, out) = Visictl("get vs/notebook -n alice -o name");
  EXPECT_EQ(out, "visisession.visi.dev/notebook\n");
  std::tie(rc, out) = Visictl("get vs notebook -n alice -o 'jsonpath={.spec.spark.workers}'");
  EXPECT_EQ(out, "3");
  std::tie(rc, out) = Visictl("get vs notebook -n alice -o json");
  EXPECT_EQ((*ParseJson(out))["spec"]["user"], "alice");
  std::tie(rc, out) = Visictl("get vs -n alice -o yaml");
  EXPECT_NE(out.find("kind: List"), std::string::npos) << out;
  std::tie(rc, out) = Visictl("get vs -n alice -l app=other");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("No resources found in alice namespace."), std::string::npos) << out;
  std::tie(rc, out) = Visictl("get vs ghost -n alice");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("NotFound"), std::string::npos) << out;
  std::tie(rc, out) = Visictl("get pods");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("doesn't have a resource type \"pods\""), std::string::npos);
  std::tie(rc, out) = Visictl("get vs -o xml");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("unknown output format"), std::string::npos);
  std::tie(rc, out) = Visictl("get vs -l 'a in (b'");
  EXPECT_EQ(rc, 1);
  std::tie(rc, out) = Visictl("get --bogus-flag vs");
  EXPECT_EQ(rc, 2) << out;
  std::tie(rc, out) = Visictl("get --help");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("--selector"), std::string::npos);
}

TEST_F(VisictlTest, DescribeShowsSpecStatusAndEvents) {
  ASSERT_EQ(Visictl("apply -f " + Write("s.yaml", kSession)).first, 0);
  // Recent enough that visid's event TTL (1h) keeps them.
  const auto now = std::chrono::system_clock::now();
  const std::string first = FormatRfc3339(now - std::chrono::minutes(50));
  const std::string last = FormatRfc3339(now - std::chrono::minutes(2));
  Write("event.yaml",
        "apiVersion: visi.dev/v1alpha1\nkind: Event\nmetadata: {name: nb.1, namespace: alice}\n"
        "spec:\n  involvedObject: {kind: VisiSession, name: notebook}\n  reason: Scheduled\n"
        "  message: placed on machine m1\n"
        "---\napiVersion: visi.dev/v1alpha1\nkind: Event\nmetadata: {name: nb.2, namespace: alice}\n"
        "spec:\n  involvedObject: {kind: VisiSession, name: notebook}\n  reason: Pulled\n"
        "  message: image present\n  count: 5\n  firstTimestamp: '" + first + "'\n"
        "  lastTimestamp: '" + last + "'\n"
        "---\napiVersion: visi.dev/v1alpha1\nkind: Event\nmetadata: {name: nb.3, namespace: alice}\n"
        "spec:\n  involvedObject: {kind: VisiSession, name: notebook, uid: an-earlier-notebook}\n"
        "  reason: Stale\n  message: about another object of that name\n");
  ASSERT_EQ(Visictl("apply -f " + visid_.dir() + "/event.yaml").first, 0);
  auto [rc, out] = Visictl("describe vs notebook -n alice");
  EXPECT_EQ(rc, 0) << out;
  for (const char* want : {"Name:         notebook", "Namespace:    alice", "app=visi", "Spec:", "workers: 3",
                           "Events:", "Scheduled", "placed on machine m1", "Pulled", "(x5 over "}) {
    EXPECT_NE(out.find(want), std::string::npos) << want << "\n" << out;
  }
  EXPECT_LT(out.find("Pulled"), out.find("Scheduled")) << "oldest first\n" << out;
  EXPECT_EQ(out.find("Stale"), std::string::npos) << "another object's event\n" << out;
}

TEST_F(VisictlTest, WaitShowsProgressAndTimesOut) {
  ASSERT_EQ(Visictl("apply -f " + Write("s.yaml", kSession)).first, 0);
  auto [rc, out] = Visictl("wait vs/notebook -n alice --for=jsonpath={.spec.user}=alice");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("condition met"), std::string::npos);
  std::tie(rc, out) = Visictl("wait vs/notebook -n alice --for=condition=Ready --timeout=3s");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("waiting for visisession/notebook"), std::string::npos) << out;
  EXPECT_NE(out.find("timed out"), std::string::npos) << out;
  std::tie(rc, out) = Visictl("wait vs/notebook -n alice --for=sometime");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("--for must be"), std::string::npos);
  std::tie(rc, out) = Visictl("wait vs/notebook -n alice --for=delete --timeout=soon");
  EXPECT_EQ(rc, 2);
  // A deletion that happens while waiting.
  std::thread deleter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    Visictl("delete vs notebook -n alice --wait=false");
  });
  std::tie(rc, out) = Visictl("wait vs/notebook -n alice --for=delete --timeout=20s");
  deleter.join();
  EXPECT_EQ(rc, 0) << out;
}

TEST_F(VisictlTest, DeleteByNameFileAndSelector) {
  std::string file = Write("s.yaml", kSession);
  ASSERT_EQ(Visictl("apply -f " + file).first, 0);
  auto [rc, out] = Visictl("delete -f " + file);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "visisession.visi.dev \"notebook\" deleted\n");
  ASSERT_EQ(Visictl("apply -f " + file).first, 0);
  std::tie(rc, out) = Visictl("delete vs -n alice -l app=visi");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("deleted"), std::string::npos);
  std::tie(rc, out) = Visictl("delete vs notebook -n alice");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("NotFound"), std::string::npos);
  std::tie(rc, out) = Visictl("delete vs -n alice");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("no name was specified"), std::string::npos);
}

TEST_F(VisictlTest, ConfigContextsAndBadConfigs) {
  auto [rc, out] = Visictl("config view");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("REDACTED"), std::string::npos);
  EXPECT_EQ(out.find(visid_.AdminConfig().token), std::string::npos) << "the token must not be printed";
  std::tie(rc, out) = Visictl("config set-context visi --namespace alice");
  EXPECT_EQ(rc, 0) << out;
  ASSERT_EQ(Visictl("apply -f " + Write("s.yaml", kSession)).first, 0);
  std::tie(rc, out) = Visictl("get vs -o name");  // the context's namespace now
  EXPECT_EQ(out, "visisession.visi.dev/notebook\n");
  std::tie(rc, out) = Visictl("config use-context nowhere");
  EXPECT_EQ(rc, 1);
  std::tie(rc, out) = RunCommand("env VISICONFIG=" + Write("garbage.conf", "clusters: [\n") +
                                 " " VISI_VISICTL_BINARY " get vs 2>&1");
  EXPECT_EQ(rc, 1);
  EXPECT_NE(out.find("garbage.conf:"), std::string::npos) << out;
}

}  // namespace
}  // namespace visi::testing
