// The HAProxy router against a real HAProxy 2.6 (/usr/sbin/haproxy) started
// by each test, with loopback HTTP servers in the test process standing in
// for session front ends and for visid's wake-up endpoint.

#include "controller/drivers/haproxy/haproxy_router.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <thread>

#include "controller/drivers/haproxy/managed_haproxy.h"
#include "test/integration/loopback_http.h"

namespace visi::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kHaproxy[] = "/usr/sbin/haproxy";

#define ASSERT_OK(expr)                                     \
  do {                                                      \
    ::visi::Status s_ = (expr);                             \
    ASSERT_TRUE(s_.ok()) << #expr << ": " << s_.ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                     \
  do {                                                      \
    ::visi::Status s_ = (expr);                             \
    EXPECT_TRUE(s_.ok()) << #expr << ": " << s_.ToString(); \
  } while (0)

class HaproxyRouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kHaproxy)) << "these tests need Debian's haproxy package";
    char dir[] = "/tmp/visi-hap-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    wakeup_ = std::make_unique<LoopbackHttpServer>("wakeup");
    a_ = std::make_unique<LoopbackHttpServer>("A");
    b_ = std::make_unique<LoopbackHttpServer>("B");
    c_ = std::make_unique<LoopbackHttpServer>("C");
    ManagedHaproxyOptions options;
    options.binary = kHaproxy;
    options.config.runtime_dir = dir_ + "/run";
    options.config.wakeup_address = wakeup_->address();
    haproxy_ = std::make_unique<ManagedHaproxy>(options);
    Status started = haproxy_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    auto router = HaproxyRouter::Create(haproxy_->config());
    ASSERT_TRUE(router.ok()) << router.status().ToString();
    router_ = std::move(*router);
  }

  void TearDown() override {
    router_.reset();
    haproxy_.reset();  // stops HAProxy by pid
    a_.reset();
    b_.reset();
    c_.reset();
    wakeup_.reset();
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  int port() const { return haproxy_->config().bind_port; }

  static Route MakeRoute(const std::string& key, const std::string& prefix, const std::vector<std::string>& secrets,
                         const std::string& backend) {
    Route r{key, prefix, {}, backend};
    for (const std::string& s : secrets) r.cookie_hashes.push_back(CookieHash(s));
    return NormalizeRoute(r);
  }

  HttpAnswer Get(const std::string& path, const std::string& secret) {
    return HttpGet(port(), path, {CookieHeader(secret)});
  }

  // Waits (bounded) until the killed child has exited and is reaped.
  bool WaitUntilExited() {
    for (int i = 0; i < 1000 && haproxy_->Running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return !haproxy_->Running();
  }

  RuntimeApi Api() const { return RuntimeApi({haproxy_->config().socket_path()}); }

  std::string dir_;
  std::unique_ptr<LoopbackHttpServer> wakeup_, a_, b_, c_;
  std::unique_ptr<ManagedHaproxy> haproxy_;
  std::unique_ptr<HaproxyRouter> router_;
};

TEST_F(HaproxyRouterTest, RenderedConfigPassesHaproxyCheck) {
  // `haproxy -c` on the file ManagedHaproxy wrote.
  std::string command = std::string(kHaproxy) + " -q -c -f " + haproxy_->config().config_path();
  EXPECT_EQ(std::system(command.c_str()), 0);
}

TEST_F(HaproxyRouterTest, RequestNeedsTheRoutesCookieAndPrefix) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA", "sA2"}, a_->address())));
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));

  HttpAnswer ok = Get("/s/alice/a/tree?x=1", "sA");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "body=A path=/s/alice/a/tree?x=1 route=alice/a\n");
  EXPECT_EQ(Get("/s/alice/a/", "sA2").body, "body=A path=/s/alice/a/ route=alice/a\n");  // a second login
  EXPECT_EQ(Get("/s/bob/b/x", "sB").body, "body=B path=/s/bob/b/x route=bob/b\n");

  EXPECT_EQ(HttpGet(port(), "/s/alice/a/x").status, 403);  // no cookie
  EXPECT_EQ(HttpGet(port(), "/s/alice/a/x", {"Cookie: other=sA"}).status, 403);
  EXPECT_EQ(Get("/s/alice/a/x", "wrong").status, 403);  // wrong cookie
  EXPECT_EQ(Get("/s/alice/a/x", "").status, 403);       // empty cookie
  EXPECT_EQ(Get("/s/alice/a/x", "sB").status, 403);     // B's cookie, A's prefix
  EXPECT_EQ(Get("/s/bob/b/x", "sA").status, 403);       // A's cookie, B's prefix
  EXPECT_EQ(Get("/s/alice/a", "sA").status, 403);       // not under the prefix
  EXPECT_EQ(Get("/s/alice/ab/x", "sA").status, 403);
  EXPECT_EQ(Get("/", "sA").status, 403);
  EXPECT_EQ(Get("/s/alice/a/x", CookieHash("sA")).status, 403);  // the hash is not the secret
  EXPECT_EQ(a_->requests(), 2);
  EXPECT_EQ(b_->requests(), 1);

  // The route header comes from HAProxy, never from the client.
  HttpAnswer spoofed = HttpGet(port(), "/s/alice/a/y", {CookieHeader("sA"), "X-Visi-Route: bob/b"});
  EXPECT_EQ(spoofed.body, "body=A path=/s/alice/a/y route=alice/a\n");
}

TEST_F(HaproxyRouterTest, ChangesNeitherReloadNorDropOpenConnections) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  const pid_t pid = haproxy_->pid();

  HttpConnection keep_alive(port());
  ASSERT_EQ(keep_alive.Get("/s/alice/a/1", {CookieHeader("sA")}).status, 200);
  HttpConnection streaming(port());
  ASSERT_TRUE(streaming.Send("/s/alice/a/slow", {CookieHeader("sA")}));
  HttpAnswer head = streaming.Receive(10);  // in flight: half the body came
  ASSERT_EQ(head.status, 200);

  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  ASSERT_OK(router_->ApplyRoute(MakeRoute("carol/c", "/s/carol/c/", {"sC"}, c_->address())));
  EXPECT_EQ(Get("/s/carol/c/", "sC").body, "body=C path=/s/carol/c/ route=carol/c\n");
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB", "sB2"}, c_->address())));
  ASSERT_OK(router_->RemoveRoute("bob/b"));
  ASSERT_OK(router_->RemoveRoute("carol/c"));
  EXPECT_EQ(Get("/s/carol/c/", "sC").status, 403);

  a_->ReleaseSlow();
  EXPECT_EQ(head.body + streaming.ReadRest(), "body=A path=/s/alice/a/slow route=alice/a\n");
  HttpAnswer again = keep_alive.Get("/s/alice/a/2", {CookieHeader("sA")});
  EXPECT_EQ(again.body, "body=A path=/s/alice/a/2 route=alice/a\n");
  EXPECT_EQ(haproxy_->pid(), pid);
  EXPECT_TRUE(haproxy_->Running());
}

TEST_F(HaproxyRouterTest, EmptyBackendRoutesToTheWakeUpEndpoint) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, "")));
  EXPECT_EQ(Get("/s/alice/a/lab", "sA").body, "body=wakeup path=/s/alice/a/lab route=alice/a\n");
  EXPECT_EQ(Get("/s/alice/a/lab", "sB").status, 403);  // waking up needs the cookie too

  // The session runs again: the same route now reaches it.
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  EXPECT_EQ(Get("/s/alice/a/lab", "sA").body, "body=A path=/s/alice/a/lab route=alice/a\n");
  // And back to sleep.
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, "")));
  EXPECT_EQ(Get("/s/alice/a/lab", "sA").body, "body=wakeup path=/s/alice/a/lab route=alice/a\n");
}

TEST_F(HaproxyRouterTest, LoginPathsReachTheWakeUpEndpointWithoutARoute) {
  // A login link has no cookie yet: /_visi/ goes to visid, which checks the
  // ticket itself. The route header is removed, never passed on.
  HttpAnswer login = HttpGet(port(), "/_visi/login/alice/a?ticket=T", {"X-Visi-Route: bob/b"});
  EXPECT_EQ(login.status, 200);
  EXPECT_EQ(login.body, "body=wakeup path=/_visi/login/alice/a?ticket=T route=-\n");  // "-": no header
  EXPECT_EQ(HttpGet(port(), "/_visi").status, 403);   // not under the prefix
  EXPECT_EQ(HttpGet(port(), "/_visix/").status, 403);
  EXPECT_EQ(a_->requests(), 0);
}

TEST_F(HaproxyRouterTest, ListRoutesReadsBackAndRestartLosesThem) {
  const Route a = MakeRoute("alice/a", "/s/alice/a/", {"sA", "sA2"}, a_->address());
  const Route b = MakeRoute("bob/b", "/s/bob/b/", {"sB"}, "");
  const Route lonely = MakeRoute("dave/d", "/s/dave/d/", {}, c_->address());  // no login yet
  ASSERT_OK(router_->ApplyRoute(b));
  ASSERT_OK(router_->ApplyRoute(a));
  ASSERT_OK(router_->ApplyRoute(lonely));
  auto listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_EQ(*listed, (std::vector<Route>{a, b, lonely}));

  // A crash: routes live only in HAProxy's memory.
  ASSERT_EQ(::kill(haproxy_->pid(), SIGKILL), 0);
  ASSERT_TRUE(WaitUntilExited());
  EXPECT_EQ(router_->Ping().code(), Code::kUnavailable);
  EXPECT_EQ(router_->ListRoutes().status().code(), Code::kUnavailable);
  ASSERT_OK(haproxy_->Start());
  listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  EXPECT_TRUE(listed->empty());
  EXPECT_EQ(Get("/s/alice/a/", "sA").status, 403);

  // What a reconciler does: apply the desired routes again.
  ASSERT_OK(router_->ApplyRoute(a));
  ASSERT_OK(router_->ApplyRoute(b));
  EXPECT_EQ(Get("/s/alice/a/", "sA").body, "body=A path=/s/alice/a/ route=alice/a\n");
  EXPECT_EQ(Get("/s/bob/b/", "sB").body, "body=wakeup path=/s/bob/b/ route=bob/b\n");
  listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, (std::vector<Route>{a, b}));
}

TEST_F(HaproxyRouterTest, ApplyRouteIsIdempotentAndConverges) {
  Route a = MakeRoute("alice/a", "/s/alice/a/", {"sA", "sA2"}, a_->address());
  ASSERT_OK(router_->ApplyRoute(a));
  ASSERT_OK(router_->ApplyRoute(a));
  auto entries = Api().ShowMap(haproxy_->config().routes_map_path());
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 2u);  // one per login, no duplicates

  // A login ends; another begins; the prefix moves.
  Route changed = MakeRoute("alice/a", "/s/alice/renamed/", {"sA2", "sA3"}, a_->address());
  ASSERT_OK(router_->ApplyRoute(changed));
  EXPECT_EQ(Get("/s/alice/renamed/", "sA").status, 403);
  EXPECT_EQ(Get("/s/alice/renamed/", "sA2").status, 200);
  EXPECT_EQ(Get("/s/alice/renamed/", "sA3").status, 200);
  EXPECT_EQ(Get("/s/alice/a/", "sA2").status, 403);
  auto listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<Route>{changed});

  // Unsorted, duplicated hashes are the same route.
  Route shuffled = changed;
  shuffled.cookie_hashes = {CookieHash("sA3"), CookieHash("sA2"), CookieHash("sA3")};
  ASSERT_OK(router_->ApplyRoute(shuffled));
  entries = Api().ShowMap(haproxy_->config().routes_map_path());
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->size(), 2u);
}

TEST_F(HaproxyRouterTest, HalfAppliedRouteIsReportedAndRepaired) {
  const Route a = MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address());
  ASSERT_OK(router_->ApplyRoute(a));
  // A stray entry with another prefix, as an interrupted prefix change leaves.
  ASSERT_OK(
      Api().AddMapEntry(haproxy_->config().routes_map_path(), RoutesMapKey(CookieHash("sX"), "/s/old/"), "alice:a"));
  auto listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].path_prefix, "");  // never equal to a desired route
  ASSERT_OK(router_->ApplyRoute(a));
  EXPECT_EQ(Get("/s/old/", "sX").status, 403);
  listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<Route>{a});
}

TEST_F(HaproxyRouterTest, RemoveRoute) {
  EXPECT_EQ(router_->RemoveRoute("alice/a").code(), Code::kNotFound);
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));

  // Removal cuts the route's own requests in flight.
  HttpConnection streaming(port());
  ASSERT_TRUE(streaming.Send("/s/alice/a/slow", {CookieHeader("sA")}));
  HttpAnswer head = streaming.Receive(10);
  ASSERT_EQ(head.status, 200);
  ASSERT_OK(router_->RemoveRoute("alice/a"));
  const std::string whole = "body=A path=/s/alice/a/slow route=alice/a\n";
  EXPECT_LT((head.body + streaming.ReadRest()).size(), whole.size());  // only the first half came
  EXPECT_TRUE(streaming.closed());                                     // then HAProxy closed

  EXPECT_EQ(Get("/s/alice/a/", "sA").status, 403);
  EXPECT_EQ(Get("/s/bob/b/", "sB").status, 200);
  EXPECT_EQ(router_->RemoveRoute("alice/a").code(), Code::kNotFound);
  auto listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].key, "bob/b");
}

TEST_F(HaproxyRouterTest, ConflictsAndBadRoutesAreRefused) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  EXPECT_EQ(router_->ApplyRoute(MakeRoute("mallory/m", "/s/alice/a/", {"sM"}, b_->address())).code(),
            Code::kAlreadyExists);
  EXPECT_EQ(Get("/s/alice/a/", "sM").status, 403);

  Route injected = MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address());
  injected.backend = "127.0.0.1:1 weight 100";
  Status s = router_->ApplyRoute(injected);
  ASSERT_EQ(s.code(), Code::kInvalid);
  ASSERT_EQ(s.causes().size(), 1u);
  EXPECT_EQ(s.causes()[0].field, "backend");
  EXPECT_EQ(router_->RemoveRoute("alice/a;del server visi_sessions/bob:b").code(), Code::kInvalid);
  EXPECT_EQ(Get("/s/alice/a/", "sA").status, 200);  // untouched
}

TEST_F(HaproxyRouterTest, MissingServerNeverFallsBackToAnotherSession) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  // An entry naming a server that does not exist, and a route whose server
  // is in maintenance: both must fail closed (503), never reach B.
  ASSERT_OK(Api().AddMapEntry(haproxy_->config().routes_map_path(), RoutesMapKey(CookieHash("sG"), "/s/ghost/g/"),
                              "ghost:g"));
  EXPECT_EQ(Get("/s/ghost/g/", "sG").status, 503);
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  ASSERT_OK(Api().DisableServer(kSessionsBackend, "alice:a"));
  EXPECT_EQ(Get("/s/alice/a/", "sA").status, 503);
  EXPECT_EQ(b_->requests(), 0);
  EXPECT_EQ(a_->requests(), 0);

  // ListRoutes shows both as needing repair; ApplyRoute repairs alice.
  auto listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].key, "alice/a");
  EXPECT_EQ((*listed)[0].path_prefix, "");
  EXPECT_EQ((*listed)[2].key, "ghost/g");
  EXPECT_EQ((*listed)[2].path_prefix, "");
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  EXPECT_EQ(Get("/s/alice/a/", "sA").status, 200);
  ASSERT_OK(router_->RemoveRoute("ghost/g"));
  EXPECT_EQ(Get("/s/ghost/g/", "sG").status, 403);
}

TEST_F(HaproxyRouterTest, StatsShowRequestsAndOpenConnections) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  auto stats = router_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_EQ((*stats)[0], (RouteStats{"alice/a", 0, -1, 0, 0}));

  ASSERT_EQ(Get("/s/alice/a/x", "sA").status, 200);
  HttpConnection streaming(port());
  ASSERT_TRUE(streaming.Send("/s/alice/a/slow", {CookieHeader("sA")}));
  ASSERT_EQ(streaming.Receive(10).status, 200);

  stats = router_->Stats();
  ASSERT_TRUE(stats.ok());
  const RouteStats& a = (*stats)[0];
  EXPECT_EQ(a.key, "alice/a");
  EXPECT_EQ(a.current_connections, 1);
  EXPECT_GE(a.seconds_since_last_request, 0);
  EXPECT_LE(a.seconds_since_last_request, 60);  // a sanity bound, not a timing assertion
  EXPECT_GT(a.bytes_in, 0);
  EXPECT_GT(a.bytes_out, 0);
  EXPECT_EQ((*stats)[1], (RouteStats{"bob/b", 0, -1, 0, 0}));  // untouched

  a_->ReleaseSlow();
  EXPECT_FALSE(streaming.ReadRest().empty());
}

TEST_F(HaproxyRouterTest, StoppedHaproxyIsUnavailable) {
  ASSERT_OK(router_->Ping());
  ASSERT_OK(haproxy_->Stop(ManagedHaproxy::StopMode::kGraceful));
  EXPECT_FALSE(haproxy_->Running());
  EXPECT_EQ(router_->Ping().code(), Code::kUnavailable);
  EXPECT_EQ(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, "")).code(), Code::kUnavailable);
  EXPECT_EQ(router_->Stats().status().code(), Code::kUnavailable);
  ASSERT_OK(haproxy_->Restart());
  ASSERT_OK(router_->Ping());
  EXPECT_EQ(haproxy_->Start().code(), Code::kAlreadyExists);
}

TEST_F(HaproxyRouterTest, AnHaproxyLeftByAKilledOwnerIsReplaced) {
  // A second owner of the same runtime dir and port (visid restarted after
  // a SIGKILL left its HAProxy running) stops the stale one and serves.
  const pid_t stale = haproxy_->pid();
  ManagedHaproxyOptions options;
  options.binary = kHaproxy;
  options.config = haproxy_->config();
  ManagedHaproxy successor(options);
  ASSERT_OK(successor.Start());
  EXPECT_NE(successor.pid(), stale);
  EXPECT_FALSE(haproxy_->Running());  // reaped: it was this process's child
  EXPECT_EQ(successor.config().bind_port, haproxy_->config().bind_port);
  auto router = HaproxyRouter::Create(successor.config());
  ASSERT_TRUE(router.ok());
  ASSERT_OK((*router)->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  EXPECT_EQ(Get("/s/alice/a/x", "sA").status, 200);
  ASSERT_OK(successor.Stop());
}

}  // namespace
}  // namespace visi::testing

namespace visi::testing {
namespace {

TEST_F(HaproxyRouterTest, RepointingLetsWakeUpRequestsFinishAndCutsAFrontEndsRequests) {
  // A progress page in flight when the session becomes Ready completes.
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, "")));
  HttpConnection page(port());
  ASSERT_TRUE(page.Send("/s/alice/a/slow", {CookieHeader("sA")}));
  HttpAnswer head = page.Receive(10);
  ASSERT_EQ(head.status, 200);
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  wakeup_->ReleaseSlow();
  EXPECT_EQ(head.body + page.ReadRest(), "body=wakeup path=/s/alice/a/slow route=alice/a\n");
  EXPECT_EQ(Get("/s/alice/a/x", "sA").body, "body=A path=/s/alice/a/x route=alice/a\n");

  // A front end's request in flight when the session goes to sleep is cut.
  HttpConnection busy(port());
  ASSERT_TRUE(busy.Send("/s/alice/a/slow", {CookieHeader("sA")}));
  HttpAnswer started = busy.Receive(10);
  ASSERT_EQ(started.status, 200);
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, "")));
  const std::string whole = "body=A path=/s/alice/a/slow route=alice/a\n";
  EXPECT_LT((started.body + busy.ReadRest()).size(), whole.size());
  EXPECT_TRUE(busy.closed());
}

TEST_F(HaproxyRouterTest, ApplyRouteFromSendsTheDifferenceAndFallsBackWhenObservedIsWrong) {
  const Route v1 = MakeRoute("alice/a", "/s/alice/a/", {"sA"}, "");
  ASSERT_OK(router_->ApplyRoute(v1));
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  // Ready, and a second login, from what the router was known to hold.
  const Route v2 = MakeRoute("alice/a", "/s/alice/a/", {"sA", "sA2"}, a_->address());
  ASSERT_OK(router_->ApplyRouteFrom(v1, v2));
  EXPECT_EQ(*router_->ListRoutes(), (std::vector<Route>{v2, MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())}));
  EXPECT_EQ(Get("/s/alice/a/x", "sA2").body, "body=A path=/s/alice/a/x route=alice/a\n");
  // The first login goes, and the session sleeps.
  const Route v3 = MakeRoute("alice/a", "/s/alice/a/", {"sA2"}, "");
  ASSERT_OK(router_->ApplyRouteFrom(v2, v3));
  EXPECT_EQ(Get("/s/alice/a/x", "sA").status, 403);
  EXPECT_EQ(Get("/s/alice/a/x", "sA2").body, "body=wakeup path=/s/alice/a/x route=alice/a\n");
  EXPECT_EQ((*router_->ListRoutes())[0], v3);

  // A stale view (HAProxy restarted empty): it converges from HAProxy's state.
  ASSERT_OK(haproxy_->Restart());
  ASSERT_OK(router_->ApplyRouteFrom(v3, v2));
  EXPECT_EQ(*router_->ListRoutes(), std::vector<Route>{v2});
  EXPECT_EQ(Get("/s/alice/a/x", "sA").body, "body=A path=/s/alice/a/x route=alice/a\n");
  // A view of another prefix, or a half-applied one, is not trusted either.
  ASSERT_OK(router_->ApplyRouteFrom(Route{"alice/a", "", {}, ""}, v3));
  EXPECT_EQ(*router_->ListRoutes(), std::vector<Route>{v3});
  EXPECT_EQ(router_->ApplyRouteFrom(v3, Route{"alice/a", "bad", {}, ""}).code(), Code::kInvalid);
}

TEST_F(HaproxyRouterTest, ARouteServerGivenWeightByHandIsRepaired) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("alice/a", "/s/alice/a/", {"sA"}, a_->address())));
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  auto states = Api().ShowServersState(kSessionsBackend);
  ASSERT_TRUE(states.ok());
  for (const auto& st : *states) EXPECT_EQ(st.weight, 0) << st.server;
  // With weight, bob's server could answer a request meant for a missing route.
  ASSERT_TRUE(Api().Execute("set server visi_sessions/bob:b weight 1").ok());
  auto listed = router_->ListRoutes();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ((*listed)[1].key, "bob/b");
  EXPECT_EQ((*listed)[1].path_prefix, "") << "reported as needing repair";
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  for (const auto& st : *Api().ShowServersState(kSessionsBackend)) EXPECT_EQ(st.weight, 0) << st.server;
  EXPECT_EQ((*router_->ListRoutes())[1], MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address()));
}

TEST_F(HaproxyRouterTest, ApplyRoutesAppliesABatchAndReportsEachRoute) {
  ASSERT_OK(router_->ApplyRoute(MakeRoute("bob/b", "/s/bob/b/", {"sB"}, b_->address())));
  std::vector<Route> batch = {
      MakeRoute("alice/a", "/s/alice/a/", {"sA", "sA2"}, a_->address()),
      MakeRoute("carol/c", "/s/bob/b/", {"sC"}, c_->address()),  // bob's prefix
      Route{"dave/d", "no-slash", {}, ""},                         // invalid
      MakeRoute("bob/b", "/s/bob/b/", {"sB2"}, c_->address()),     // changes an existing route
      MakeRoute("erin/e", "/s/erin/e/", {}, ""),
  };
  std::vector<Status> got = router_->ApplyRoutes(batch);
  ASSERT_EQ(got.size(), batch.size());
  EXPECT_OK(got[0]);
  EXPECT_EQ(got[1].code(), Code::kAlreadyExists);
  EXPECT_EQ(got[2].code(), Code::kInvalid);
  EXPECT_OK(got[3]);
  EXPECT_OK(got[4]);
  auto routes = router_->ListRoutes();
  ASSERT_TRUE(routes.ok());
  EXPECT_EQ(*routes, (std::vector<Route>{batch[0], batch[3], batch[4]}));
  EXPECT_EQ(Get("/s/alice/a/x", "sA2").body, "body=A path=/s/alice/a/x route=alice/a\n");
  EXPECT_EQ(Get("/s/bob/b/x", "sB2").body, "body=C path=/s/bob/b/x route=bob/b\n");
  EXPECT_EQ(Get("/s/bob/b/x", "sB").status, 403);  // the replaced login

  // After a restart, one batch brings them all back.
  ASSERT_OK(haproxy_->Restart());
  std::vector<Route> again = {batch[0], batch[3], batch[4]};
  for (const Status& s : router_->ApplyRoutes(again)) EXPECT_OK(s);
  EXPECT_EQ(*router_->ListRoutes(), again);
  EXPECT_EQ(Get("/s/alice/a/x", "sA").status, 200);

  // HAProxy gone: every route of the batch says so.
  ASSERT_OK(haproxy_->Stop());
  for (const Status& s : router_->ApplyRoutes(again)) EXPECT_EQ(s.code(), Code::kUnavailable);
}

}  // namespace
}  // namespace visi::testing
