// The API end to end: a real visid over real HTTPS on port 0.
#include <gtest/gtest.h>

#include <sstream>

#include <atomic>
#include <filesystem>
#include <csignal>
#include <thread>

#include "controller/server/auth/pki.h"
#include "test/e2e/visid_process.h"
#include "test/runtime/runtime_test_util.h"
#include "test/fakes/raw_tls_client.h"

namespace visi::testing {
namespace {

const std::string kSessions = "/apis/visi.dev/v1alpha1/namespaces/alice/visisessions";

std::string SessionJson(const std::string& name, const std::string& ns = "alice", int workers = 2) {
  return Json{{"apiVersion", "visi.dev/v1alpha1"},
              {"kind", "VisiSession"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", {{"user", "alice"}, {"spark", {{"workers", workers}}}}}}
      .dump();
}

class ApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    alice_token_ = visid_.AddUser("alice", {"alice"});
    ASSERT_FALSE(alice_token_.empty());
    ASSERT_TRUE(visid_.Start()) << "visid did not start; see " << visid_.dir() << "/visid.log";
    admin_ = std::make_unique<ApiClient>(visid_.AdminConfig());
  }
  VisidProcess visid_;
  std::string alice_token_;
  std::unique_ptr<ApiClient> admin_;
};

TEST_F(ApiServerTest, ServesHttpsWithItsOwnCa) {
  EXPECT_EQ(visid_.url().rfind("https://127.0.0.1:", 0), 0u);
  auto r = admin_->Request("GET", "/healthz");
  EXPECT_EQ(r.code, 200) << r.body;
  // A client that does not trust visid's CA is refused by TLS.
  ClientConfig untrusted = visid_.AdminConfig();
  PkiPaths other;
  ASSERT_TRUE(EnsurePki(visid_.dir() + "/other-pki", {}, &other).ok());
  untrusted.certificate_authority = other.ca_cert;
  auto refused = ApiClient(untrusted).Request("GET", "/healthz");
  EXPECT_EQ(refused.code, 0) << "TLS should fail without visid's CA";
}

TEST_F(ApiServerTest, DiscoveryDescribesTheGroup) {
  auto groups = admin_->Request("GET", "/apis");
  ASSERT_EQ(groups.code, 200);
  EXPECT_EQ((*ParseJson(groups.body))["groups"][0]["name"], "visi.dev");
  auto resources = admin_->Request("GET", "/apis/visi.dev/v1alpha1");
  ASSERT_EQ(resources.code, 200);
  auto j = *ParseJson(resources.body);
  std::set<std::string> names;
  for (const auto& r : j["resources"]) names.insert(r["name"]);
  for (const char* n : {"visisessions", "visisessions/status", "farmpools", "farmmachines",
                        "snapshots", "leases", "events"}) {
    EXPECT_TRUE(names.count(n)) << n;
  }
}

TEST_F(ApiServerTest, EveryVerb) {
  auto created = admin_->Request("POST", kSessions, SessionJson("nb"));
  ASSERT_EQ(created.code, 201) << created.body;
  auto obj = *ParseJson(created.body);
  EXPECT_EQ(obj["spec"]["pool"], "default");  // defaulted from the CRD
  auto got = admin_->Request("GET", kSessions + "/nb");
  ASSERT_EQ(got.code, 200);
  auto list = admin_->Request("GET", kSessions);
  ASSERT_EQ(list.code, 200);
  auto lj = *ParseJson(list.body);
  EXPECT_EQ(lj["kind"], "VisiSessionList");
  EXPECT_EQ(lj["items"].size(), 1u);
  // PUT replaces the spec.
  Json put = *ParseJson(got.body);
  put["spec"]["spark"]["workers"] = 5;
  auto updated = admin_->Request("PUT", kSessions + "/nb", put.dump());
  ASSERT_EQ(updated.code, 200) << updated.body;
  EXPECT_EQ((*ParseJson(updated.body))["metadata"]["generation"], 2);
  // Status only through /status.
  Json st = *ParseJson(updated.body);
  st["status"] = {{"phase", "Running"}};
  auto status = admin_->Request("PUT", kSessions + "/nb/status", st.dump());
  ASSERT_EQ(status.code, 200) << status.body;
  EXPECT_EQ((*ParseJson(status.body))["status"]["phase"], "Running");
  Json sneaky = *ParseJson(status.body);
  sneaky["status"]["phase"] = "Failed";
  auto ignored = admin_->Request("PUT", kSessions + "/nb", sneaky.dump());
  ASSERT_EQ(ignored.code, 200);
  EXPECT_EQ((*ParseJson(ignored.body))["status"]["phase"], "Running");
  // Merge patch and JSON patch.
  auto merged = admin_->Request("PATCH", kSessions + "/nb", R"({"metadata":{"labels":{"tier":"gold"}}})",
                                "application/merge-patch+json");
  ASSERT_EQ(merged.code, 200) << merged.body;
  EXPECT_EQ((*ParseJson(merged.body))["metadata"]["labels"]["tier"], "gold");
  auto patched = admin_->Request("PATCH", kSessions + "/nb",
                                 R"([{"op":"replace","path":"/spec/spark/workers","value":7}])",
                                 "application/json-patch+json");
  ASSERT_EQ(patched.code, 200) << patched.body;
  EXPECT_EQ((*ParseJson(patched.body))["spec"]["spark"]["workers"], 7);
  auto strategic = admin_->Request("PATCH", kSessions + "/nb", "{}", "application/strategic-merge-patch+json");
  EXPECT_EQ(strategic.code, 415);
  // Selectors and pagination.
  ASSERT_EQ(admin_->Request("POST", kSessions, SessionJson("nb2")).code, 201);
  auto gold = admin_->Request("GET", kSessions + "?labelSelector=tier%3Dgold");
  EXPECT_EQ((*ParseJson(gold.body))["items"].size(), 1u);
  auto page = admin_->Request("GET", kSessions + "?limit=1");
  auto pj = *ParseJson(page.body);
  EXPECT_EQ(pj["items"].size(), 1u);
  ASSERT_TRUE(pj["metadata"].contains("continue"));
  auto next = admin_->Request("GET", kSessions + "?limit=1&continue=" +
                                         UrlEncode(pj["metadata"]["continue"].get<std::string>()));
  EXPECT_EQ((*ParseJson(next.body))["items"][0]["metadata"]["name"], "nb2");
  auto by_field = admin_->Request("GET", kSessions + "?fieldSelector=status.phase%3DRunning");
  EXPECT_EQ((*ParseJson(by_field.body))["items"].size(), 1u);
  // Delete.
  auto deleted = admin_->Request("DELETE", kSessions + "/nb");
  ASSERT_EQ(deleted.code, 200) << deleted.body;
  EXPECT_EQ(admin_->Request("GET", kSessions + "/nb").code, 404);
  auto missing = admin_->Request("GET", kSessions + "/nb");
  auto mj = *ParseJson(missing.body);
  EXPECT_EQ(mj["kind"], "Status");
  EXPECT_EQ(mj["reason"], "NotFound");
}

// Delete propagation through the API, carried out by visid's own garbage
// collector: Orphan keeps the dependent, Foreground deletes it first, and an
// unknown policy is refused before anything changes.
TEST_F(ApiServerTest, DeletePropagationPolicies) {
  auto make_pair = [&](const std::string& owner, const std::string& dep) {
    auto o = admin_->Request("POST", kSessions, SessionJson(owner));
    EXPECT_EQ(o.code, 201) << o.body;
    Json d = *ParseJson(SessionJson(dep));
    d["metadata"]["ownerReferences"] = Json::array({{{"apiVersion", "visi.dev/v1alpha1"},
                                                     {"kind", "VisiSession"},
                                                     {"name", owner},
                                                     {"uid", (*ParseJson(o.body))["metadata"]["uid"]},
                                                     {"controller", true},
                                                     {"blockOwnerDeletion", true}}});
    EXPECT_EQ(admin_->Request("POST", kSessions, d.dump()).code, 201);
  };
  auto gone = [&](const std::string& name) {
    return Eventually([&] { return admin_->Request("GET", kSessions + "/" + name).code == 404; });
  };

  make_pair("o1", "d1");
  auto bogus = admin_->Request("DELETE", kSessions + "/o1?propagationPolicy=Sideways");
  EXPECT_EQ(bogus.code, 422) << bogus.body;
  EXPECT_NE(bogus.body.find("propagationPolicy"), std::string::npos) << bogus.body;
  auto bogus_body = admin_->Request("DELETE", kSessions + "/o1", R"({"propagationPolicy":7})");
  EXPECT_EQ(bogus_body.code / 100, 4) << bogus_body.body;
  EXPECT_EQ(admin_->Request("GET", kSessions + "/o1").code, 200) << "a refused delete changes nothing";

  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/o1", R"({"propagationPolicy":"Orphan"})").code, 200);
  ASSERT_TRUE(gone("o1"));
  auto d1 = admin_->Request("GET", kSessions + "/d1");
  ASSERT_EQ(d1.code, 200) << "an orphaned dependent is kept";
  EXPECT_FALSE((*ParseJson(d1.body))["metadata"].contains("ownerReferences")) << d1.body;

  make_pair("o2", "d2");
  auto fg = admin_->Request("DELETE", kSessions + "/o2?propagationPolicy=Foreground");
  ASSERT_EQ(fg.code, 200) << fg.body;
  ASSERT_TRUE(gone("d2"));
  ASSERT_TRUE(gone("o2"));

  make_pair("o3", "d3");
  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/o3").code, 200);  // Background
  EXPECT_EQ(admin_->Request("GET", kSessions + "/o3").code, 404);
  ASSERT_TRUE(gone("d3"));
  EXPECT_EQ(admin_->Request("GET", kSessions + "/d1").code, 200);
}

TEST_F(ApiServerTest, ConflictsAreReported) {
  auto created = *ParseJson(admin_->Request("POST", kSessions, SessionJson("nb")).body);
  Json a = created, b = created;
  a["spec"]["spark"]["workers"] = 3;
  b["spec"]["spark"]["workers"] = 4;
  EXPECT_EQ(admin_->Request("PUT", kSessions + "/nb", a.dump()).code, 200);
  auto stale = admin_->Request("PUT", kSessions + "/nb", b.dump());
  EXPECT_EQ(stale.code, 409);
  EXPECT_EQ((*ParseJson(stale.body))["reason"], "Conflict");
  auto dup = admin_->Request("POST", kSessions, SessionJson("nb"));
  EXPECT_EQ(dup.code, 409);
  EXPECT_EQ((*ParseJson(dup.body))["reason"], "AlreadyExists");
}

TEST_F(ApiServerTest, AuthMatrix) {
  ASSERT_EQ(admin_->Request("POST", kSessions, SessionJson("nb")).code, 201);
  ASSERT_EQ(admin_->Request("POST", "/apis/visi.dev/v1alpha1/namespaces/bob/visisessions",
                            SessionJson("nb", "bob")).code, 201);
  ClientConfig none = visid_.AdminConfig();
  none.token = "";
  EXPECT_EQ(ApiClient(none).Request("GET", kSessions).code, 401);
  EXPECT_EQ(ApiClient(visid_.ConfigWithToken("not-a-token")).Request("GET", kSessions).code, 401);
  ApiClient alice(visid_.ConfigWithToken(alice_token_));
  EXPECT_EQ(alice.Request("GET", kSessions).code, 200);
  EXPECT_EQ(alice.Request("GET", kSessions + "/nb").code, 200);
  EXPECT_EQ(alice.Request("POST", kSessions, SessionJson("mine")).code, 201);
  auto other = alice.Request("GET", "/apis/visi.dev/v1alpha1/namespaces/bob/visisessions/nb");
  EXPECT_EQ(other.code, 403);
  EXPECT_EQ((*ParseJson(other.body))["reason"], "Forbidden");
  EXPECT_EQ(alice.Request("DELETE", "/apis/visi.dev/v1alpha1/namespaces/bob/visisessions/nb").code, 403);
  EXPECT_EQ(alice.Request("GET", "/apis/visi.dev/v1alpha1/visisessions").code, 403);  // all namespaces
  EXPECT_EQ(alice.Request("GET", "/apis/visi.dev/v1alpha1/farmpools").code, 403);    // cluster scope
  EXPECT_EQ(alice.Request("GET", "/apis/visi.dev/v1alpha1/namespaces/bob/visisessions?watch=true").code, 403);
  EXPECT_EQ(admin_->Request("GET", "/apis/visi.dev/v1alpha1/visisessions").code, 200);
  EXPECT_EQ(admin_->Request("GET", "/apis/visi.dev/v1alpha1/farmpools").code, 200);
  EXPECT_EQ(ApiClient(none).Request("GET", "/healthz").code, 200);
  EXPECT_EQ(ApiClient(none).Request("GET", "/metrics").code, 401);

  // Users read their sessions' status but never write it: the router trusts
  // status.frontEndAddress. Logins come only from the login subresource.
  EXPECT_EQ(alice.Request("GET", kSessions + "/nb/status").code, 200);
  const std::string fake = R"({"status":{"frontEndAddress":"10.9.9.9:80"}})";
  auto put = alice.Request("PATCH", kSessions + "/nb/status", fake, "application/merge-patch+json");
  EXPECT_EQ(put.code, 403) << put.body;
  EXPECT_NE(put.body.find("status is written by the controllers"), std::string::npos) << put.body;
  Json s = *ParseJson(alice.Request("GET", kSessions + "/nb").body);
  EXPECT_EQ(alice.Request("PUT", kSessions + "/nb/status", s.dump()).code, 403);
  EXPECT_EQ(admin_->Request("PUT", kSessions + "/nb/status", s.dump()).code, 200);  // controllers' identity
  const std::string logins = "/apis/visi.dev/v1alpha1/namespaces/alice/sessionlogins";
  Json login = {{"apiVersion", "visi.dev/v1alpha1"},
                {"kind", "SessionLogin"},
                {"metadata", {{"name", "login-mine"}, {"namespace", "alice"}}},
                {"spec", {{"session", "nb"}, {"ticketSHA256", std::string(64, 'A')}, {"expiresTime", "2030-01-01T00:00:00Z"}}}};
  EXPECT_EQ(alice.Request("POST", logins, login.dump()).code, 403);
  EXPECT_EQ(alice.Request("GET", logins).code, 200);
  ASSERT_EQ(admin_->Request("POST", logins, login.dump()).code, 201);
  EXPECT_EQ(alice.Request("PATCH", logins + "/login-mine/status", R"({"status":{"cookieSHA256":")" +
                                                                      std::string(64, 'B') + R"("}})",
                          "application/merge-patch+json")
                .code,
            403);
  EXPECT_EQ(alice.Request("DELETE", logins + "/login-mine").code, 200);  // a logout
}

TEST_F(ApiServerTest, MalformedAndOversizedBodies) {
  struct Case {
    std::string body;
    int code;
    std::string says;
  };
  std::vector<Case> cases = {
      {"{not json", 400, "malformed JSON"},
      {std::string(100000, '['), 400, "nests deeper"},
      {"[]", 422, "mapping"},
      {R"({"apiVersion":"visi.dev/v1alpha1","kind":"FarmPool","metadata":{"name":"x"},"spec":{}})", 400,
       "does not match the path"},
      {R"({"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"x","namespace":"bob"},"spec":{"user":"a"}})",
       400, "namespace"},
      {R"({"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"x"},"spec":{"user":"a","spark":{"workers":500}}})",
       422, "spec.spark.workers"},
      {R"({"apiVersion":"visi.dev/v1alpha1","kind":"VisiSession","metadata":{"name":"Bad!"},"spec":{"user":"a"}})",
       422, "metadata.name"},
  };
  for (const auto& c : cases) {
    auto r = admin_->Request("POST", kSessions, c.body);
    EXPECT_EQ(r.code, c.code) << c.body.substr(0, 80) << " -> " << r.body;
    EXPECT_NE(r.body.find(c.says), std::string::npos) << r.body;
    auto j = ParseJson(r.body);
    ASSERT_TRUE(j.ok()) << "every error is a Status object";
    EXPECT_EQ((*j)["kind"], "Status");
  }
  auto invalid = *ParseJson(admin_->Request("POST", kSessions, cases[5].body).body);
  EXPECT_EQ(invalid["details"]["causes"][0]["field"], "spec.spark.workers");
  std::string huge = SessionJson("huge");
  huge.insert(huge.size() - 1, ",\"pad\":\"" + std::string(4 * 1024 * 1024, 'x') + "\"");
  auto big = admin_->Request("POST", kSessions, huge);
  EXPECT_EQ(big.code, 413) << big.body.substr(0, 200);
  EXPECT_EQ(admin_->Request("GET", kSessions + "?limit=abc").code, 400);
  EXPECT_EQ(admin_->Request("GET", kSessions + "?labelSelector=" + std::string(20000, 'a')).code, 431);
  EXPECT_EQ(admin_->Request("GET", kSessions + "?labelSelector=a%20in%20(b").code, 400);
  EXPECT_EQ(admin_->Request("GET", "/apis/visi.dev/v1alpha1/namespaces/alice/pods").code, 404);
  EXPECT_EQ((*ParseJson(admin_->Request("GET", kSessions).body))["items"].size(), 0u) << "nothing stored";
}

TEST_F(ApiServerTest, WatchStreamsAndResumesAcrossARestart) {
  auto first = *ParseJson(admin_->Request("POST", kSessions, SessionJson("a")).body);
  std::string rv = first["metadata"]["resourceVersion"];
  ASSERT_EQ(admin_->Request("POST", kSessions, SessionJson("b")).code, 201);
  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/a").code, 200);
  visid_.Stop();
  ASSERT_TRUE(visid_.Start());
  ApiClient client(visid_.AdminConfig());
  std::vector<std::string> seen;
  Status s = client.Watch(kSessions + "?watch=true&resourceVersion=" + rv,
                          [&](const Json& e) {
                            seen.push_back(e["type"].get<std::string>() + " " +
                                           e["object"]["metadata"]["name"].get<std::string>());
                            return seen.size() < 2;
                          },
                          std::chrono::seconds(10));
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b", "DELETED a"}));
  // A live event reaches a watcher started before it.
  std::vector<std::string> live;
  std::thread watcher([&] {
    (void)client.Watch(kSessions + "?watch=true&resourceVersion=" +
                           (*ParseJson(client.Request("GET", kSessions).body))["metadata"]["resourceVersion"].get<std::string>(),
                       [&](const Json& e) {
                         live.push_back(e["object"]["metadata"]["name"]);
                         return false;
                       },
                       std::chrono::seconds(10));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(client.Request("POST", kSessions, SessionJson("c")).code, 201);
  watcher.join();
  EXPECT_EQ(live, (std::vector<std::string>{"c"}));
}

// The open watches, from /metrics.
int OpenWatches(ApiClient& c) {
  auto m = c.Request("GET", "/metrics").body;
  auto at = m.find("\nvisi_apiserver_open_watches ");
  return at == std::string::npos ? -1 : std::atoi(m.c_str() + at + 29);
}

TEST_F(ApiServerTest, ClientsThatNeverSendTheirBodyDoNotHangTheServer) {
  std::vector<std::unique_ptr<RawTlsClient>> idle;
  std::string token = visid_.AdminConfig().token;
  for (int i = 0; i < 60; ++i) {
    idle.push_back(std::make_unique<RawTlsClient>(visid_.url()));
    std::string auth = i % 2 ? "Authorization: Bearer " + token + "\r\n" : "";
    ASSERT_TRUE(idle.back()->Send("POST " + kSessions + " HTTP/1.1\r\nHost: x\r\n" + auth +
                                  "Content-Type: application/json\r\nContent-Length: 10\r\n\r\n"));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ApiClient probe(visid_.AdminConfig(), std::chrono::seconds(5));
  EXPECT_EQ(probe.Request("GET", "/healthz").code, 200);
  EXPECT_EQ(probe.Request("POST", kSessions, SessionJson("still-works")).code, 201);
}

TEST_F(ApiServerTest, HostileRequestsAreRefused) {
  auto created = *ParseJson(admin_->Request("POST", kSessions, SessionJson("nb")).body);
  // A JSON patch whose copies would double the object again and again.
  Json bomb = Json::array();
  for (int i = 0; i < 40; ++i) bomb.push_back({{"op", "copy"}, {"from", "/spec"}, {"path", "/spec/a" + std::to_string(i)}});
  auto r = admin_->Request("PATCH", kSessions + "/nb", bomb.dump(), "application/json-patch+json");
  EXPECT_TRUE(r.code == 413 || r.code == 422) << r.code << " " << r.body.substr(0, 200);
  // dryRun is refused, not performed.
  r = admin_->Request("POST", kSessions + "?dryRun=All", SessionJson("dry"));
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(admin_->Request("GET", kSessions + "/dry").code, 404);
  // A replace must name the version it replaces.
  Json put = created;
  put["metadata"].erase("resourceVersion");
  r = admin_->Request("PUT", kSessions + "/nb", put.dump());
  EXPECT_EQ(r.code, 422);
  EXPECT_NE(r.body.find("metadata.resourceVersion"), std::string::npos);
  // A watch from the future.
  r = admin_->Request("GET", kSessions + "?watch=true&resourceVersion=1000000000");
  EXPECT_EQ(r.code, 504);
  EXPECT_NE(r.body.find("too large resource version"), std::string::npos);
  // Unknown methods and chunked uploads.
  std::string token = visid_.AdminConfig().token;
  RawTlsClient odd(visid_.url());
  ASSERT_TRUE(odd.Send("BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(odd.StatusLine().find(" 405"), std::string::npos);
  RawTlsClient chunked(visid_.url());
  ASSERT_TRUE(chunked.Send("POST " + kSessions + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token +
                           "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
  EXPECT_NE(chunked.StatusLine().find(" 411"), std::string::npos);
  auto metrics = admin_->Request("GET", "/metrics").body;
  EXPECT_EQ(metrics.find("BREW"), std::string::npos) << "method names must not become metric labels";
}

TEST_F(ApiServerTest, AStuckWatcherNeverBlocksWritersAndIsCutOff) {
  RawTlsClient stuck(visid_.url(), /*rcvbuf=*/4096);
  ASSERT_TRUE(stuck.Send("GET " + kSessions + "?watch=true HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                         visid_.AdminConfig().token + "\r\n\r\n"));
  for (int i = 0; i < 50 && OpenWatches(*admin_) != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(OpenWatches(*admin_), 1);
  std::atomic<int> delivered{0};
  ApiClient reader(visid_.AdminConfig());
  std::string from = (*ParseJson(admin_->Request("GET", kSessions).body))["metadata"]["resourceVersion"];
  constexpr int kWrites = 700;
  std::thread live([&] {
    (void)reader.Watch(kSessions + "?watch=true&resourceVersion=" + from,
                       [&](const Json&) { return ++delivered < kWrites; }, std::chrono::seconds(120));
  });
  // ~30 KiB each: 20 MiB in all, more than the kernel's socket buffers and
  // the server's 8 MiB per-watch bound together.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kWrites; ++i) {
    Json o = *ParseJson(SessionJson("s" + std::to_string(i)));
    o["spec"]["env"] = {{{"name", "PAD"}, {"value", std::string(30000, 'p')}}};
    ASSERT_EQ(admin_->Request("POST", kSessions, o.dump()).code, 201);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  live.join();
  EXPECT_EQ(delivered.load(), kWrites) << "a live watcher must see every event";
  EXPECT_LT(secs, 60.0) << "writers were held up";
  // The stuck watch is ended by the server while its client is still connected.
  int open = -1;
  for (int i = 0; i < 200 && (open = OpenWatches(*admin_)) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(open, 0) << "the stuck watch was not cut off";
}

TEST_F(ApiServerTest, MetricsCountRequestsByVerbResourceAndCode) {
  auto created = admin_->Request("POST", kSessions, SessionJson("nb"));
  ASSERT_EQ(created.code, 201);
  uint64_t created_rv = std::stoull((*ParseJson(created.body))["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_EQ(admin_->Request("GET", kSessions + "/missing").code, 404);
  auto m = admin_->Request("GET", "/metrics");
  ASSERT_EQ(m.code, 200);
  for (const char* want : {
           "# TYPE visi_apiserver_requests_total counter",
           "visi_apiserver_requests_total{verb=\"CREATE\",resource=\"visisessions\",code=\"201\"} 1",
           "visi_apiserver_requests_total{verb=\"GET\",resource=\"visisessions\",code=\"404\"} 1",
           "# TYPE visi_apiserver_request_duration_seconds histogram",
           "visi_apiserver_request_duration_seconds_bucket{verb=\"CREATE\",resource=\"visisessions\",le=\"+Inf\"} 1",
           "visi_store_operation_duration_seconds_count{operation=\"create\"} 1",
           "visi_apiserver_open_watches 0", "# TYPE visi_leader_is_leader gauge",
           "visi_controller_reconciles_total{controller=\"garbage-collector\"}"}) {
    EXPECT_NE(m.body.find(want), std::string::npos) << want << "\n" << m.body;
  }
  // visid writes too (its leader lease), so the revision is at least the create's.
  auto at = m.body.find("\nvisi_store_revision ");
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::stoull(m.body.substr(at + 21)), created_rv);
}

// The login subresource: POST only, VisiSessions only, a clear error when no
// router is configured, and (with --router-url) a one-time URL under it.
TEST_F(ApiServerTest, LoginSubresource) {
  const std::string base = "/apis/visi.dev/v1alpha1/namespaces/alice/visisessions";
  Json session = {{"apiVersion", "visi.dev/v1alpha1"},
                  {"kind", "VisiSession"},
                  {"metadata", {{"name", "nb"}, {"namespace", "alice"}}},
                  {"spec", {{"user", "alice"}}}};
  ASSERT_EQ(admin_->Request("POST", base, session.dump()).code, 201);
  auto none = admin_->Request("POST", base + "/nb/login", "{}");
  EXPECT_EQ(none.code, 503) << none.body;  // this visid runs no router and has no --router-url
  EXPECT_NE(none.body.find("no router is configured"), std::string::npos) << none.body;
  EXPECT_EQ(admin_->Request("GET", base + "/nb/login").code, 405);
  EXPECT_EQ(admin_->Request("DELETE", base + "/nb/login").code, 405);
  EXPECT_EQ(admin_->Request("POST", "/apis/visi.dev/v1alpha1/farmpools/default/login", "{}").code, 404);
  EXPECT_EQ(admin_->Request("POST", base + "/nb/login/extra", "{}").code, 404);
  EXPECT_EQ(admin_->Request("POST", base + "/nb/logins", "{}").code, 404);

  VisidProcess routed;
  ASSERT_TRUE(routed.Start({"--router-url", "https://notebooks.example.org/"}));
  ApiClient admin(routed.AdminConfig());
  ASSERT_EQ(admin.Request("POST", base, session.dump()).code, 201);
  EXPECT_EQ(admin.Request("POST", base + "/missing/login", "{}").code, 404);
  auto ok = admin.Request("POST", base + "/nb/login", "this body is ignored");
  ASSERT_EQ(ok.code, 201) << ok.body;
  Json ticket = *ParseJson(ok.body);
  EXPECT_EQ(ticket["kind"], "SessionLoginTicket");
  const std::string url = ticket.value("url", "");
  EXPECT_EQ(url.rfind("https://notebooks.example.org/_visi/login/alice/nb?ticket=", 0), 0u) << url;
  EXPECT_EQ(ticket.value("sessionURL", ""), "https://notebooks.example.org/s/alice/nb/");
  // Stored: the hash of the ticket, never the ticket.
  auto stored = admin.Request("GET", "/apis/visi.dev/v1alpha1/namespaces/alice/sessionlogins");
  ASSERT_EQ(stored.code, 200);
  EXPECT_EQ(stored.body.find(url.substr(url.find("ticket=") + 7)), std::string::npos);
  EXPECT_NE(stored.body.find("ticketSHA256"), std::string::npos);
}

TEST(VisidWatchHistoryTest, TooOldResourceVersionIsGone) {
  VisidProcess v;
  // Without leader election visid itself writes nothing (no lease renewals),
  // so the five retained changes are the test's own.
  ASSERT_TRUE(v.Start({"--watch-history", "5", "--no-leader-elect"}));
  ApiClient client(v.AdminConfig());
  std::vector<std::string> rvs;
  for (int i = 0; i < 10; ++i) {
    auto r = client.Request("POST", kSessions, SessionJson("s" + std::to_string(i)));
    ASSERT_EQ(r.code, 201);
    rvs.push_back((*ParseJson(r.body))["metadata"]["resourceVersion"]);
  }
  auto gone = client.Request("GET", kSessions + "?watch=true&resourceVersion=1");
  EXPECT_EQ(gone.code, 410) << gone.body;
  EXPECT_NE(gone.body.find("too old resource version"), std::string::npos) << gone.body;
  EXPECT_EQ((*ParseJson(gone.body))["reason"], "Gone");
  auto bad = client.Request("GET", kSessions + "?watch=true&resourceVersion=abc");
  EXPECT_EQ(bad.code, 400);
  EXPECT_NE(bad.body.find("resourceVersion"), std::string::npos);
  // A retained revision still resumes.
  std::vector<std::string> seen;
  EXPECT_TRUE(client.Watch(kSessions + "?watch=true&resourceVersion=" + rvs[7],
                           [&](const Json& e) {
                             seen.push_back(e["object"]["metadata"]["name"]);
                             return seen.size() < 2;
                           },
                           std::chrono::seconds(10)).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"s8", "s9"}));
}

// Deadlines come from the socket guard linked into visid (conn_guard.cc).
TEST(VisidDeadlinesTest, SlowRequestsAndIdleConnectionsAreCutButWatchesLive) {
  VisidProcess v;
  ASSERT_TRUE(v.Start({"--request-timeout", "1s", "--idle-timeout", "5s"}));
  std::string token = v.AdminConfig().token;

  // A client that trickles its headers in, a byte every 100 ms.
  RawTlsClient slow(v.url());
  slow.SetReadTimeout(200);
  ASSERT_TRUE(slow.Send("GET /readyz HTTP/1.1\r\n"));
  std::string header = "X-Slow: " + std::string(60, 'a') + "\r\n";
  auto start = std::chrono::steady_clock::now();
  bool cut = false;
  for (size_t i = 0; i < header.size() && !cut; ++i) {
    if (!slow.Send(header.substr(i, 1))) cut = true;
    else cut = slow.ClosedByServer();  // waits up to 200 ms
  }
  double cut_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(cut) << "a request trickled in over " << cut_after << " s was never cut off";
  EXPECT_LT(cut_after, 4.0);

  // Headers without end, sent fast: the connection is cut once a request
  // passes 4x the body limit plus the header limit (about 12 MiB).
  {
    std::signal(SIGPIPE, SIG_IGN);  // writes after the cut fail with EPIPE instead
    RawTlsClient flood(v.url());
    flood.SetReadTimeout(2000);
    ASSERT_TRUE(flood.Send("GET /readyz HTTP/1.1\r\nHost: x\r\n"));
    std::string line = "X-Flood: " + std::string(8000, 'f') + "\r\n";
    size_t sent = 0;
    // Socket buffers on loopback can hold several MiB on the way.
    while (sent < 64 * 1024 * 1024 && flood.Send(line)) sent += line.size();
    EXPECT_LT(sent, 64u * 1024 * 1024) << "64 MiB of headers were accepted";
    EXPECT_TRUE(flood.ClosedByServer());
  }

  // A slow but complete request inside the deadline is served.
  {
    RawTlsClient patient(v.url());
    ASSERT_TRUE(patient.Send("GET /readyz HTTP/1.1\r\nHost: x\r\n"));
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ASSERT_TRUE(patient.Send("\r\n"));
    EXPECT_NE(patient.StatusLine().find(" 200"), std::string::npos);
  }

  // A watch outlives both deadlines: its heartbeats keep it busy.
  RawTlsClient watcher(v.url());
  watcher.SetReadTimeout(8000);
  ASSERT_TRUE(watcher.Send("GET " + kSessions + "?watch=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                           token + "\r\n\r\n"));
  EXPECT_NE(watcher.StatusLine().find(" 200"), std::string::npos);

  // A connection that says nothing at all is closed after the idle deadline.
  RawTlsClient silent(v.url());
  silent.SetReadTimeout(9000);
  auto silent_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.ClosedByServer());
  double silent_after = std::chrono::duration<double>(std::chrono::steady_clock::now() - silent_start).count();
  EXPECT_GT(silent_after, 4.0);
  EXPECT_LT(silent_after, 8.0);

  // Seven seconds in, the watch still delivers.
  ApiClient admin(v.AdminConfig(), std::chrono::seconds(5));
  ASSERT_EQ(admin.Request("POST", kSessions, SessionJson("late")).code, 201);
  std::string got;
  char buf[4096];
  while (got.find("\"late\"") == std::string::npos) {
    int n = watcher.Read(buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, n);
  }
  EXPECT_NE(got.find("\"ADDED\""), std::string::npos) << got.substr(0, 300);
  auto metrics = admin.Request("GET", "/metrics").body;
  EXPECT_NE(metrics.find("visi_apiserver_connections_closed_total{reason=\"request_timeout\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("visi_apiserver_connections_closed_total{reason=\"idle_timeout\"} 1\n"),
            std::string::npos);
  EXPECT_NE(metrics.find("visi_apiserver_connections_closed_total{reason=\"request_too_large\"} 1\n"),
            std::string::npos);

  VisidProcess bad;
  EXPECT_FALSE(bad.Start({"--idle-timeout", "1s"}));
  EXPECT_FALSE(bad.Start({"--request-timeout", "soon"}));
}

}  // namespace
}  // namespace visi::testing
