// Stock kubectl against visid: get, list, watch, create, apply and delete,
// with kubectl's default validation: it finds fieldValidation in visid's
// OpenAPI v3 document and leaves strict validation to the server.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "test/e2e/visid_process.h"

namespace visi::testing {
namespace {

class KubectlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(visid_.Start());
    manifest_ = visid_.dir() + "/session.yaml";
    std::ofstream(manifest_) << "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\n"
                                "metadata: {name: nb, namespace: alice}\nspec: {user: alice}\n";
  }

  // Runs kubectl with visid's kubeconfig; returns exit code and output.
  std::pair<int, std::string> Kubectl(const std::string& args) {
    return RunCommand("timeout 60 kubectl --kubeconfig " + visid_.config_path() + " " + args + " 2>&1");
  }

  VisidProcess visid_;
  std::string manifest_;
};

TEST_F(KubectlTest, GetCreateApplyWatchDelete) {
  auto [rc, out] = Kubectl("create -f " + manifest_);
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("visisession.visi.dev/nb created"), std::string::npos) << out;
  std::tie(rc, out) = Kubectl("get visisessions -A");
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("alice"), std::string::npos) << out;
  EXPECT_NE(out.find("nb"), std::string::npos) << out;
  std::tie(rc, out) = Kubectl("get vs nb -n alice -o jsonpath={.spec.pool}");
  EXPECT_EQ(out, "default");
  std::tie(rc, out) = Kubectl("apply -f " + manifest_);
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("nb"), std::string::npos) << out;
  // A watch sees a change made while it runs.
  std::string watched;
  std::thread watch([&] { watched = Kubectl("get vs -n alice -w --request-timeout=5s").second; });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  std::string second = visid_.dir() + "/second.yaml";
  std::ofstream(second) << "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\n"
                           "metadata: {name: second, namespace: alice}\nspec: {user: alice}\n";
  std::tie(rc, out) = Kubectl("create -f " + second);
  ASSERT_EQ(rc, 0) << out;
  watch.join();
  EXPECT_NE(watched.find("second"), std::string::npos) << watched;
  std::tie(rc, out) = Kubectl("delete vs nb -n alice");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("deleted"), std::string::npos) << out;
  std::tie(rc, out) = Kubectl("get vs nb -n alice");
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("NotFound"), std::string::npos) << out;
  // The server validates strictly, and names the object and the field.
  std::string bad = visid_.dir() + "/bad.yaml";
  std::ofstream(bad) << "apiVersion: visi.dev/v1alpha1\nkind: VisiSession\n"
                        "metadata: {name: bad, namespace: alice}\nspec: {user: alice, bogus: 1}\n";
  std::tie(rc, out) = Kubectl("create -f " + bad);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("The VisiSession \"bad\" is invalid: spec.bogus: unknown field"), std::string::npos) << out;
  // So does it with client-side validation switched off.
  std::tie(rc, out) = Kubectl("create --validate=false -f " + bad);
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("spec.bogus"), std::string::npos) << out;
}

}  // namespace
}  // namespace visi::testing
