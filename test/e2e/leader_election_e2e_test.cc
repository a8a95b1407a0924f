// Leader election across processes: one visid serves the API only, and
// controllers-only visid processes (--kubeconfig) elect one leader over the
// Lease visi-system/visid-controllers. The leader is killed (SIGKILL) and
// then stopped cleanly; the other takes over, never while the first leads.
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <regex>

#include "test/e2e/child_process.h"
#include "test/e2e/visid_process.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

constexpr int64_t kLeaseMs = 2000;
constexpr int64_t kRetryMs = 250;
const std::string kSessions = "/apis/visi.dev/v1alpha1/namespaces/alice/visisessions";

// The unixMillis of the first log line `msg` ("started leading", "stopped
// leading"), if any.
std::optional<int64_t> LeadershipAt(const ChildProcess& p, const std::string& msg) {
  std::regex re("\"msg\":\"" + msg + "\"[^\\n]*\"unixMillis\":([0-9]+)");
  std::smatch m;
  std::string log = p.Log();
  if (!std::regex_search(log, m, re)) return std::nullopt;
  return std::stoll(m[1]);
}

class LeaderElectionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(api_.Start({"--no-controllers"})) << api_.dir() << "/visid.log";
    admin_ = std::make_unique<ApiClient>(api_.AdminConfig());
  }
  std::unique_ptr<ChildProcess> Candidate(const std::string& identity) {
    auto p = std::make_unique<ChildProcess>(
        std::vector<std::string>{VISI_VISID_BINARY, "--kubeconfig", api_.config_path(), "--controllers",
                                 "garbage-collector", "--identity", identity,
                                 "--lease-duration", std::to_string(kLeaseMs) + "ms", "--renew-deadline",
                                 std::to_string(kLeaseMs * 3 / 4) + "ms", "--retry-period",
                                 std::to_string(kRetryMs) + "ms"},
        api_.dir() + "/" + identity + ".log");
    EXPECT_EQ(p->Start().rfind("controllers started", 0), 0u) << p->Log();
    return p;
  }
  std::string Holder() {
    auto r = admin_->Request("GET", "/apis/visi.dev/v1alpha1/namespaces/visi-system/leases/visid-controllers");
    if (r.code != 200) return "";
    auto j = ParseJson(r.body);
    return j.ok() ? (*j)["spec"].value("holderIdentity", "") : "";
  }
  VisidProcess api_;
  std::unique_ptr<ApiClient> admin_;
};

TEST_F(LeaderElectionE2eTest, KilledLeaderIsReplacedWithinTheLeaseAndNeverTwoLead) {
  auto b = Candidate("cand-b");
  ASSERT_TRUE(Eventually([&] { return LeadershipAt(*b, "started leading").has_value(); })) << b->Log();
  auto c = Candidate("cand-c");
  // c has seen b renew for longer than a lease: it must not have taken over.
  ASSERT_TRUE(Eventually([&] { return c->Log().find("\"level\"") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(2 * kLeaseMs));
  EXPECT_FALSE(LeadershipAt(*c, "started leading").has_value()) << c->Log();
  EXPECT_EQ(Holder(), "cand-b");

  // SIGKILL: b cannot release; c waits out the lease, then leads.
  const int64_t killed_at = b->Kill(SIGKILL);
  ASSERT_TRUE(Eventually([&] { return LeadershipAt(*c, "started leading").has_value(); })) << c->Log();
  const int64_t took_over = *LeadershipAt(*c, "started leading");
  EXPECT_GE(took_over, killed_at) << "c led while b was still alive";
  // The lease runs lease_duration from c's last sight of a renewal, which
  // came at most one retry period before the kill; c then needs at most one
  // more retry period to notice. The slack covers a loaded 2-core machine.
  EXPECT_LE(took_over - killed_at, kLeaseMs + 2 * kRetryMs + 1500) << "took over after " << took_over - killed_at
                                                                      << " ms";
  std::printf("takeover after SIGKILL: %lld ms (lease %lld ms)\n", static_cast<long long>(took_over - killed_at),
              static_cast<long long>(kLeaseMs));
  EXPECT_TRUE(Eventually([&] { return Holder() == "cand-c"; }));

  // The new leader's controllers act: its garbage collector collects.
  auto owner = admin_->Request(
      "POST", kSessions,
      R"({"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"o","namespace":"alice"},"spec":{"user":"alice"}})");
  ASSERT_EQ(owner.code, 201) << owner.body;
  Json dep = {{"apiVersion", "visi.dev/v1alpha1"},
              {"kind", "VisiSession"},
              {"metadata",
               {{"name", "d"},
                {"namespace", "alice"},
                {"ownerReferences",
                 {{{"apiVersion", "visi.dev/v1alpha1"},
                   {"kind", "VisiSession"},
                   {"name", "o"},
                   {"uid", (*ParseJson(owner.body))["metadata"]["uid"]}}}}}},
              {"spec", {{"user", "alice"}}}};
  ASSERT_EQ(admin_->Request("POST", kSessions, dep.dump()).code, 201);
  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/o").code, 200);
  EXPECT_TRUE(Eventually([&] { return admin_->Request("GET", kSessions + "/d").code == 404; }));

  // A clean stop releases the lease: the next candidate leads at once,
  // without waiting out the lease, and only after c stopped.
  auto b2 = Candidate("cand-b2");
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kRetryMs));
  EXPECT_FALSE(LeadershipAt(*b2, "started leading").has_value()) << b2->Log();
  c->Kill(SIGTERM);
  auto stopped = LeadershipAt(*c, "stopped leading");
  ASSERT_TRUE(stopped.has_value()) << c->Log();
  ASSERT_TRUE(Eventually([&] { return LeadershipAt(*b2, "started leading").has_value(); })) << b2->Log();
  const int64_t b2_led = *LeadershipAt(*b2, "started leading");
  EXPECT_GE(b2_led, *stopped) << "b2 led before c had stopped";
  EXPECT_LT(b2_led - *stopped, kLeaseMs) << "a released lease is taken without waiting it out";
  std::printf("takeover after a clean stop: %lld ms\n", static_cast<long long>(b2_led - *stopped));
  EXPECT_TRUE(Eventually([&] { return Holder() == "cand-b2"; }));
}

TEST_F(LeaderElectionE2eTest, ControllersOnlyFlagsAreChecked) {
  auto [rc, out] = RunCommand(std::string(VISI_VISID_BINARY) + " --kubeconfig /nonexistent/conf 2>&1");
  EXPECT_EQ(rc, 105) << out;  // CLI11's "validation error"
  EXPECT_NE(out.find("--kubeconfig"), std::string::npos) << out;
  std::tie(rc, out) = RunCommand(std::string(VISI_VISID_BINARY) + " --kubeconfig " + api_.config_path() +
                                 " --data-dir /tmp/x 2>&1");
  EXPECT_NE(rc, 0) << out;
  EXPECT_NE(out.find("excludes"), std::string::npos) << out;
  std::tie(rc, out) = RunCommand(std::string(VISI_VISID_BINARY) + " 2>&1");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--data-dir is required"), std::string::npos) << out;
  // A config that does not parse is named.
  std::string bad = api_.dir() + "/bad.conf";
  std::ofstream(bad) << "apiVersion: v1\nclusters: [oops\n";
  std::tie(rc, out) = RunCommand(std::string(VISI_VISID_BINARY) + " --kubeconfig " + bad + " 2>&1");
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("bad.conf"), std::string::npos) << out;
}

}  // namespace
}  // namespace visi::testing
