// The route reconciler over the in-memory twin of HAProxy and a real manager
// on the in-memory store with a fake clock: routes follow sessions and their
// logins, the router's live state is read back (restart, half-applied and
// foreign routes), router outages and refused routes, idleness from the
// counters. Then one-time logins over the store, and the wake-up endpoint
// called directly with request structs.
#include "reconcilers/route/route_reconciler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <regex>
#include <thread>

#include "controller/api/scheme.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/ownership.h"
#include "controller/store/memory/memory_store.h"
#include "reconcilers/route/login.h"
#include "reconcilers/route/wakeup_handler.h"
#include "test/fakes/fake_router.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

using std::chrono::seconds;

constexpr char kRouterUrl[] = "http://127.0.0.1:8080";
constexpr char kAddr[] = "10.200.7.9:8888";
constexpr char kHold[] = "visi.dev/test-hold";

// The ticket in a login URL.
std::string TicketOf(const Json& ticket) {
  const std::string url = ticket.value("url", "");
  const size_t at = url.find("?ticket=");
  return at == std::string::npos ? "" : url.substr(at + 8);
}

class RouteTest : public ::testing::Test {
 protected:
  void SetUp() override { StartReconciler(); }
  void StartReconciler() {
    ManagerOptions mo;
    mo.clock = &clock_;
    mo.leader_election = false;
    manager_ = std::make_unique<Manager>(store_.get(), mo);
    RouteReconcilerOptions o;
    o.router_url = kRouterUrl;
    o.workers = 2;
    // The test drives every read-back with SyncOnce.
    o.sync_period = std::chrono::hours(1);
    o.activity_period = std::chrono::hours(1);
    o.ensure_router = [this] {
      ++ensure_calls_;
      if (!restart_router_on_ensure_) return UnavailableError("not restartable in this test");
      router_.SetDown(false);
      router_.Restart();  // a fresh HAProxy holds no route
      return OkStatus();
    };
    reconciler_ = std::make_unique<RouteReconciler>(manager_.get(), &router_, o);
    manager_->Start();
    ASSERT_TRUE(Eventually([&] { return reconciler_->controller()->running(); }));
  }
  void TearDown() override {
    manager_->Stop();
    reconciler_.reset();
    manager_.reset();
  }

  ObjectPtr CreateSession(const std::string& name, int64_t idle_timeout = 1800) {
    Object o = Session("alice", name);
    o.spec["idleTimeoutSeconds"] = idle_timeout;
    auto r = store_->Create(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }
  // What the session reconciler writes once the front end answers.
  void SetReady(const std::string& name, const std::string& addr = kAddr) {
    auto r = MutateWithRetry(
        store_.get(), "VisiSession", "alice", name,
        [&](Object* o) {
          o->status["phase"] = "Running";
          o->status["frontEndAddress"] = addr;
          o->status["subnet"] = "10.200.7.0/24";
          SetCondition(&o->status, {"Ready", "True", "Ready", "", o->metadata.generation}, clock_.Now());
          return true;
        },
        /*status=*/true);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void SetStatusCondition(const std::string& name, const Condition& c) {
    auto r = MutateWithRetry(
        store_.get(), "VisiSession", "alice", name,
        [&](Object* o) { return SetCondition(&o->status, c, clock_.Now()); }, /*status=*/true);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  void SetSuspend(const std::string& name, bool suspend) {
    auto r = MutateWithRetry(store_.get(), "VisiSession", "alice", name, [&](Object* o) {
      o->spec["suspend"] = suspend;
      return true;
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  ObjectPtr Get(const std::string& name) {
    auto o = store_->Get("VisiSession", "alice", name);
    return o.ok() ? *o : nullptr;
  }
  // A field of the session's condition `type` ("" when absent).
  std::string Cond(const std::string& name, const std::string& type, const char* field = "reason") {
    ObjectPtr o = Get(name);
    const Json* c = o ? FindCondition(o->status, type) : nullptr;
    return c ? c->value(field, "") : "";
  }
  bool Routed(const std::string& name, const std::string& reason) {
    return Cond(name, "Routed", "status") == (reason == "FrontEnd" || reason == "WakeUp" ? "True" : "False") &&
           Cond(name, "Routed") == reason;
  }
  // The reconciler's cache shows the session as stored (a direct Reconcile
  // then works from what the test saw).
  bool CacheHasLatest(const std::string& name) {
    ObjectPtr cached = manager_->InformerFor("VisiSession")->Get("alice", name);
    ObjectPtr stored = Get(name);
    return cached && stored && cached->metadata.resource_version == stored->metadata.resource_version;
  }
  std::optional<Route> RouteOf(const std::string& name) { return router_.RouteOf("alice/" + name); }
  bool RoutedTo(const std::string& name, const std::string& backend) {
    auto r = RouteOf(name);
    return r && r->backend == backend && r->path_prefix == "/s/alice/" + name + "/";
  }
  // Issues and redeems a login; the cookie.
  RedeemedLogin LogIn(const std::string& name) {
    auto ticket = IssueLogin(store_.get(), "alice", name, kRouterUrl, kDefaultLoginTtl, clock_.Now());
    EXPECT_TRUE(ticket.ok()) << ticket.status().ToString();
    if (!ticket.ok()) return {};
    auto redeemed = RedeemLogin(store_.get(), "alice", name, TicketOf(*ticket), clock_.Now());
    EXPECT_TRUE(redeemed.ok()) << redeemed.status().ToString();
    return redeemed.ok() ? *redeemed : RedeemedLogin{};
  }
  std::vector<ObjectPtr> Logins() {
    ListOptions lo;
    lo.kind = "SessionLogin";
    lo.namespace_ = "alice";
    auto l = store_->List(lo);
    EXPECT_TRUE(l.ok());
    return l.ok() ? l->items : std::vector<ObjectPtr>{};
  }
  // How often `reason` was recorded in Events about session `name`.
  int EventCount(const std::string& name, const std::string& reason) {
    ListOptions lo;
    lo.kind = "Event";
    lo.namespace_ = "alice";
    auto events = store_->List(lo);
    EXPECT_TRUE(events.ok());
    int n = 0;
    for (const auto& e : events.ok() ? events->items : std::vector<ObjectPtr>{}) {
      if (e->spec.value("involvedObject", Json::object()).value("name", "") == name &&
          e->spec.value("reason", "") == reason) {
        n += e->spec.value("count", 1);
      }
    }
    return n;
  }

  FakeClock clock_{*ParseRfc3339("2026-11-24T10:00:00Z")};
  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), SystemClock::Default());
  FakeRouter router_;
  std::atomic<int> ensure_calls_{0};
  std::atomic<bool> restart_router_on_ensure_{false};
  std::unique_ptr<Manager> manager_;
  std::unique_ptr<RouteReconciler> reconciler_;
};

// --- Routes follow sessions -----------------------------------------------

TEST_F(RouteTest, AReadySessionIsRoutedToItsFrontEnd) {
  CreateSession("nb");
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr) && Routed("nb", "FrontEnd"); }))
      << Get("nb")->status.dump(2);
  EXPECT_TRUE(RouteOf("nb")->cookie_hashes.empty());
  const Json& st = Get("nb")->status;
  EXPECT_EQ(st["url"], "http://127.0.0.1:8080/s/alice/nb/");
  EXPECT_EQ(st["route"], (Json{{"pathPrefix", "/s/alice/nb/"}, {"backend", kAddr}, {"logins", 0}}));
  EXPECT_EQ(st["phase"], "Running");  // the session reconciler's fields are kept

  // Converged: a reconcile changes nothing in the router.
  ASSERT_TRUE(Eventually([&] { return CacheHasLatest("nb"); }));
  const int applies = router_.calls().apply_route;
  EXPECT_EQ(reconciler_->Reconcile("alice/nb").outcome, ReconcileResult::Outcome::kDone);
  EXPECT_EQ(router_.calls().apply_route, applies);
  EXPECT_NE(reconciler_->RenderMetrics().find("visi_router_routes 1\n"), std::string::npos);
}

TEST_F(RouteTest, ASessionThatDoesNotServeIsRoutedToTheWakeUpEndpoint) {
  CreateSession("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", "") && Routed("nb", "WakeUp"); }));
  EXPECT_EQ(Get("nb")->status["route"]["backend"], "wake-up");

  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr) && Routed("nb", "FrontEnd"); }));

  // Suspended (the session reconciler has not stopped it yet): wake-up again.
  SetSuspend("nb", true);
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", "") && Routed("nb", "WakeUp"); }));

  SetSuspend("nb", false);
  SetStatusCondition("nb", {"Ready", "False", "Starting", "", 1});
  ASSERT_TRUE(Eventually([&] { return Cond("nb", "Ready", "status") == "False"; }));
  EXPECT_TRUE(Eventually([&] { return RoutedTo("nb", "") && Routed("nb", "WakeUp"); }));
}

TEST_F(RouteTest, ARedeemedLoginOpensTheRoute) {
  CreateSession("nb");
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr); }));
  RedeemedLogin a = LogIn("nb");
  ASSERT_EQ(a.session_key, "alice/nb");
  EXPECT_TRUE(reconciler_->WaitForLogin("alice/nb", a.cookie_hash, std::chrono::seconds(10)));
  EXPECT_EQ(RouteOf("nb")->cookie_hashes, std::vector<std::string>{a.cookie_hash});

  RedeemedLogin b = LogIn("nb");
  EXPECT_TRUE(reconciler_->WaitForLogin("alice/nb", b.cookie_hash, std::chrono::seconds(10)));
  std::vector<std::string> both = {a.cookie_hash, b.cookie_hash};
  std::sort(both.begin(), both.end());
  EXPECT_EQ(RouteOf("nb")->cookie_hashes, both);
  EXPECT_EQ(RouteOf("nb")->backend, kAddr);
  EXPECT_TRUE(Eventually([&] { return Get("nb")->status["route"].value("logins", 0) == 2; }));

  // A hash no login has is never routed.
  EXPECT_FALSE(reconciler_->WaitForLogin("alice/nb", CookieHash("nobody"), std::chrono::milliseconds(50)));
  EXPECT_FALSE(reconciler_->WaitForLogin("alice/other", a.cookie_hash, std::chrono::milliseconds(50)));
}

TEST_F(RouteTest, ADeletedSessionLosesItsRoute) {
  CreateSession("nb");
  ObjectPtr held = CreateSession("held");
  ASSERT_TRUE(AddFinalizer(store_.get(), *held, kHold).ok());
  ASSERT_TRUE(Eventually([&] { return RouteOf("nb") && RouteOf("held") && Routed("held", "WakeUp"); }));

  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  EXPECT_TRUE(Eventually([&] { return !RouteOf("nb"); }));

  // Being deleted (a finalizer holds it): no route, and the status says so.
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "held", {}).ok());
  ASSERT_TRUE(Eventually([&] { return !RouteOf("held") && Routed("held", "NoRoute"); }));
  EXPECT_FALSE(Get("held")->status.contains("url"));
  EXPECT_FALSE(Get("held")->status.contains("route"));
  ASSERT_TRUE(RemoveFinalizer(store_.get(), *Get("held"), kHold).ok() || !Get("held"));
  EXPECT_TRUE(Eventually([&] { return Get("held") == nullptr; }));
  EXPECT_TRUE(router_.Routes().empty());
}

// --- The router's live state is the truth ---------------------------------

TEST_F(RouteTest, ARouteNobodyWantsIsRemovedBySync) {
  CreateSession("nb");
  ASSERT_TRUE(Eventually([&] { return RouteOf("nb").has_value(); }));
  ASSERT_TRUE(router_.ApplyRoute({"bob/ghost", "/s/bob/ghost/", {CookieHash("x")}, "10.1.1.1:80"}).ok());
  reconciler_->SyncOnce(false);
  EXPECT_TRUE(Eventually([&] { return !router_.RouteOf("bob/ghost"); }));
  EXPECT_TRUE(RouteOf("nb").has_value());
}

TEST_F(RouteTest, AfterARouterRestartSyncBringsEveryRouteBack) {
  CreateSession("nb");
  SetReady("nb");
  CreateSession("sleepy");
  RedeemedLogin login = LogIn("nb");
  ASSERT_TRUE(reconciler_->WaitForLogin("alice/nb", login.cookie_hash, std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr) && RoutedTo("sleepy", ""); }));
  const std::vector<Route> before = router_.Routes();
  ASSERT_EQ(before.size(), 2u);

  router_.Restart();
  ASSERT_TRUE(router_.Routes().empty());
  reconciler_->SyncOnce(false);
  EXPECT_TRUE(Eventually([&] { return router_.Routes() == before; }))
      << router_.Routes().size() << " routes; " << reconciler_->RenderMetrics();
}

TEST_F(RouteTest, AReadBackNeverUndoesAnApplyMadeMeanwhile) {
  // Two sessions before the reconciler starts: each of its two workers begins
  // with a read-back of the router.
  manager_->Stop();
  reconciler_.reset();
  manager_.reset();
  CreateSession("a");
  CreateSession("b");
  // The first read-back is slow: the other worker may apply its route meanwhile.
  std::atomic<bool> first{true};
  router_.SetAfterListHook([&] {
    if (!first.exchange(false)) return;
    const int applies = router_.calls().apply_route;
    (void)Eventually([&] { return router_.calls().apply_route > applies; }, std::chrono::milliseconds(500));
  });
  StartReconciler();
  ASSERT_TRUE(Eventually([&] { return RouteOf("a") && RouteOf("b"); }));
  router_.SetAfterListHook(nullptr);
  // Both routes are known to the reconciler: deleting the sessions removes
  // them, with no read-back in between.
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "a", {}).ok());
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "b", {}).ok());
  EXPECT_TRUE(Eventually([&] { return router_.Routes().empty(); }, std::chrono::seconds(3)))
      << router_.Routes().size() << " routes left";
}

TEST_F(RouteTest, AHalfAppliedRouteIsRepaired) {
  CreateSession("nb");
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr); }));
  const Route good = *RouteOf("nb");
  ASSERT_TRUE(router_.MakeHalfApplied("alice/nb"));
  reconciler_->SyncOnce(false);
  EXPECT_TRUE(Eventually([&] { return RouteOf("nb") == good; }));
}

TEST_F(RouteTest, ARouterThatDoesNotAnswerIsStartedAgainAndRefilled) {
  CreateSession("nb");
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr); }));
  const Route good = *RouteOf("nb");
  router_.SetDown(true);  // HAProxy died
  restart_router_on_ensure_ = true;
  reconciler_->SyncOnce(false);
  EXPECT_EQ(ensure_calls_, 1);
  EXPECT_TRUE(Eventually([&] { return RouteOf("nb") == good; }));
  EXPECT_NE(reconciler_->RenderMetrics().find("visi_router_restarts_total 1\n"), std::string::npos);
}

TEST_F(RouteTest, WhileTheRouterIsDownNothingBreaksAndStatusStays) {
  CreateSession("nb", /*idle_timeout=*/600);
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr) && Routed("nb", "FrontEnd"); }));
  reconciler_->SyncOnce(true);
  ASSERT_TRUE(Eventually([&] { return Cond("nb", "Idle") == "Active"; }));
  const Json routed = *FindCondition(Get("nb")->status, "Routed");

  router_.SetDown(true);
  const uint64_t errors = reconciler_->controller()->GetStats().errors;
  reconciler_->SyncOnce(true);
  EXPECT_NE(reconciler_->RenderMetrics().find("visi_router_up 0\n"), std::string::npos);
  // The session stops serving while the router is down; hours pass.
  SetStatusCondition("nb", {"Ready", "False", "Starting", "", 1});
  ASSERT_TRUE(Eventually([&] { return reconciler_->controller()->GetStats().errors > errors; }));
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(std::chrono::hours(1));
    reconciler_->SyncOnce(true);
  }
  ObjectPtr s = Get("nb");
  EXPECT_EQ(*FindCondition(s->status, "Routed"), routed);
  EXPECT_NE(Cond("nb", "Idle", "status"), "True");
  EXPECT_EQ(RouteOf("nb")->backend, kAddr);  // nothing could change it

  router_.SetDown(false);
  reconciler_->SyncOnce(true);
  EXPECT_TRUE(Eventually([&] { return RoutedTo("nb", "") && Routed("nb", "WakeUp"); }));
  EXPECT_NE(reconciler_->RenderMetrics().find("visi_router_up 1\n"), std::string::npos);
}

// --- Refused routes -------------------------------------------------------

TEST_F(RouteTest, AnInjectedApplyErrorBecomesRoutedFalseWithItsReason) {
  struct Case {
    Status error;
    const char* reason;
  } cases[] = {
      {InvalidError("path_prefix: injected"), "RouteInvalid"},
      {AlreadyExistsError("prefix taken: injected"), "PrefixConflict"},
      {InternalError("garbled answer: injected"), "RouterError"},
  };
  CreateSession("nb");
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr) && Routed("nb", "FrontEnd"); }));
  bool suspend = false;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    // Enough failures for every retry the change causes; cleared below.
    router_.FailNext("ApplyRoute", c.error, 1000);
    suspend = !suspend;
    SetSuspend("nb", suspend);  // the route must change
    ASSERT_TRUE(Eventually([&] { return Routed("nb", c.reason); })) << Get("nb")->status.dump(2);
    EXPECT_NE(Cond("nb", "Routed", "message").find("injected"), std::string::npos);
    // A condition, and a slow retry instead of a hot loop (once the cache
    // shows the condition, so that the reconcile has nothing to write).
    ASSERT_TRUE(Eventually([&] { return CacheHasLatest("nb"); }));
    ReconcileResult r = reconciler_->Reconcile("alice/nb");
    EXPECT_EQ(r.outcome, ReconcileResult::Outcome::kRequeueAfter);
    EXPECT_EQ(r.after, std::chrono::seconds(30));

    // The sync pass leaves a refused route alone until its retry is due.
    router_.ClearFailures();
    clock_.Advance(std::chrono::seconds(30));
    reconciler_->SyncOnce(false);
    ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", suspend ? "" : kAddr); }));
    EXPECT_TRUE(Eventually([&] { return Routed("nb", suspend ? "WakeUp" : "FrontEnd"); }));
  }
}

TEST_F(RouteTest, APrefixHeldByAForeignRouteIsAConflictUntilSyncRemovesIt) {
  ASSERT_TRUE(router_.ApplyRoute({"bob/squatter", "/s/alice/nb/", {}, ""}).ok());
  CreateSession("nb");
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return Routed("nb", "PrefixConflict"); })) << Get("nb")->status.dump(2);
  EXPECT_FALSE(RouteOf("nb"));
  reconciler_->SyncOnce(false);
  ASSERT_TRUE(Eventually([&] { return !router_.RouteOf("bob/squatter"); }));
  reconciler_->SyncOnce(false);
  EXPECT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr) && Routed("nb", "FrontEnd"); }));
}

TEST_F(RouteTest, ASessionNameTooLongForARoutePrefixIsRouteInvalid) {
  // A valid object name (DNS subdomain) whose prefix exceeds what the router takes.
  const std::string name =
      std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') + "." + std::string(60, 'd');
  ASSERT_GT(std::string("/s/alice/" + name + "/").size(), kMaxPathPrefixBytes);
  ASSERT_TRUE(CreateSession(name));
  ASSERT_TRUE(Eventually([&] { return Routed(name, "RouteInvalid"); })) << Get(name)->status.dump(2);
  EXPECT_NE(Cond(name, "Routed", "message").find("path_prefix"), std::string::npos);
  EXPECT_TRUE(router_.Routes().empty());
}

// --- Activity and idleness ------------------------------------------------

TEST_F(RouteTest, IdleAfterTheTimeoutWithoutClientsActiveAgainWithOne) {
  CreateSession("nb", /*idle_timeout=*/600);
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr); }));
  reconciler_->SyncOnce(true);
  ASSERT_TRUE(Eventually([&] { return Cond("nb", "Idle") == "Active"; })) << Get("nb")->status.dump(2);
  EXPECT_EQ(Get("nb")->status["connectedClients"], 0);
  EXPECT_EQ(Get("nb")->status["lastActivityTime"], FormatRfc3339(clock_.Now()));

  clock_.Advance(seconds(599));
  reconciler_->SyncOnce(true);
  clock_.Advance(seconds(1));
  reconciler_->SyncOnce(true);
  ASSERT_TRUE(Eventually([&] { return Cond("nb", "Idle") == "NoClients"; })) << Get("nb")->status.dump(2);
  EXPECT_EQ(Cond("nb", "Idle", "status"), "True");
  EXPECT_TRUE(Eventually([&] { return EventCount("nb", "Idle") == 1; }));

  // A browser opens a websocket.
  router_.SetStats("alice/nb", {.key = "alice/nb", .current_connections = 1, .seconds_since_last_request = 700});
  reconciler_->SyncOnce(true);
  ASSERT_TRUE(Eventually([&] { return Cond("nb", "Idle", "status") == "False"; }));
  EXPECT_TRUE(Eventually([&] { return Get("nb")->status.value("connectedClients", 0) == 1; }));
  EXPECT_EQ(Get("nb")->status["lastActivityTime"], FormatRfc3339(clock_.Now()));
  EXPECT_EQ(EventCount("nb", "Idle"), 1);
}

TEST_F(RouteTest, CountersThatCannotBeReadNeverMakeASessionIdle) {
  CreateSession("nb", /*idle_timeout=*/600);
  SetReady("nb");
  ASSERT_TRUE(Eventually([&] { return RoutedTo("nb", kAddr); }));
  reconciler_->SyncOnce(true);
  ASSERT_TRUE(Eventually([&] { return Cond("nb", "Idle") == "Active"; }));
  // Routes read back fine, counters do not, for hours.
  router_.FailNext("Stats", UnavailableError("show stat: no answer"), 1000);
  reconciler_->SyncOnce(true);
  clock_.Advance(std::chrono::hours(5));
  reconciler_->SyncOnce(true);
  ASSERT_TRUE(Eventually([&] { return CacheHasLatest("nb"); }));
  EXPECT_EQ(reconciler_->Reconcile("alice/nb").outcome, ReconcileResult::Outcome::kDone);
  EXPECT_EQ(Cond("nb", "Idle", "status"), "False");
}

// --- Logins in the reconciler ---------------------------------------------

TEST_F(RouteTest, ExpiredUnredeemedLoginsAreDeleted) {
  CreateSession("nb");
  SetReady("nb");
  auto unused = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(300), clock_.Now());
  ASSERT_TRUE(unused.ok());
  auto fresh = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(3600), clock_.Now());
  ASSERT_TRUE(fresh.ok());
  RedeemedLogin used = LogIn("nb");  // its ticket had 300 s as well
  ASSERT_TRUE(reconciler_->WaitForLogin("alice/nb", used.cookie_hash, std::chrono::seconds(10)));
  ASSERT_EQ(Logins().size(), 3u);
  // Nothing but the reconciler's own requeue (at the first expiry) wakes it:
  // let fake time run, a second per millisecond, until the ticket is gone.
  clock_.Advance(seconds(300));
  ASSERT_EQ(Logins().size(), 3u);  // 300 s: still redeemable this second
  const TimePoint start = clock_.Now();
  ASSERT_TRUE(Eventually([&] {
    if (Logins().size() == 2) return true;
    if (clock_.Now() - start < seconds(1200)) clock_.Advance(seconds(1));
    return false;
  }));
  const std::string gone = (*unused)["metadata"]["name"];
  EXPECT_EQ(store_->Get("SessionLogin", "alice", gone).status().code(), Code::kNotFound);
  EXPECT_TRUE(store_->Get("SessionLogin", "alice", (*fresh)["metadata"]["name"].get<std::string>()).ok());
  EXPECT_EQ(RouteOf("nb")->cookie_hashes, std::vector<std::string>{used.cookie_hash});
}

TEST_F(RouteTest, ALoginRedeemedJustBeforeItExpiresIsNotDeletedFromAStaleCache) {
  CreateSession("nb");
  auto ticket = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(300), clock_.Now());
  ASSERT_TRUE(ticket.ok());
  const std::string name = (*ticket)["metadata"]["name"];
  ASSERT_TRUE(Eventually([&] { return manager_->InformerFor("SessionLogin")->Get("alice", name) != nullptr; }));
  // The caches stop here: they still show the login unredeemed.
  manager_->Stop();
  auto redeemed = RedeemLogin(store_.get(), "alice", "nb", TicketOf(*ticket), clock_.Now() + seconds(299));
  ASSERT_TRUE(redeemed.ok()) << redeemed.status().ToString();
  clock_.Advance(seconds(301));
  (void)reconciler_->Reconcile("alice/nb");
  auto still = store_->Get("SessionLogin", "alice", name);
  ASSERT_TRUE(still.ok()) << "a redeemed login was deleted as an expired ticket";
  EXPECT_EQ((*still)->status.value("cookieSHA256", ""), redeemed->cookie_hash);
}

// --- One-time logins over the store ----------------------------------------

TEST_F(RouteTest, IssueLoginStoresOnlyTheTicketsHash) {
  ObjectPtr s = CreateSession("nb");
  auto t = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(120), clock_.Now());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)["kind"], "SessionLoginTicket");
  EXPECT_EQ((*t)["session"], "nb");
  EXPECT_EQ((*t)["expiresTime"], FormatRfc3339(clock_.Now() + seconds(120)));
  const std::string ticket = TicketOf(*t);
  EXPECT_TRUE(std::regex_match(ticket, std::regex("[0-9a-f]{64}"))) << ticket;
  EXPECT_EQ((*t)["url"], std::string(kRouterUrl) + "/_visi/login/alice/nb?ticket=" + ticket);

  auto login = store_->Get("SessionLogin", "alice", (*t)["metadata"]["name"].get<std::string>());
  ASSERT_TRUE(login.ok());
  EXPECT_EQ((*login)->spec["ticketSHA256"], CookieHash(ticket));
  EXPECT_EQ((*login)->spec["session"], "nb");
  ASSERT_EQ((*login)->metadata.owner_references.size(), 1u);
  EXPECT_EQ((*login)->metadata.owner_references[0].uid, s->metadata.uid);
  EXPECT_EQ(ObjectToJsonText(**login).find(ticket), std::string::npos);

  // Each login has its own ticket.
  auto t2 = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(120), clock_.Now());
  ASSERT_TRUE(t2.ok());
  EXPECT_NE(TicketOf(*t2), ticket);
}

TEST_F(RouteTest, IssueLoginRefusals) {
  CreateSession("nb");
  EXPECT_EQ(IssueLogin(store_.get(), "alice", "nb", "", seconds(60), clock_.Now()).status().code(),
            Code::kUnavailable);
  EXPECT_EQ(IssueLogin(store_.get(), "alice", "missing", kRouterUrl, seconds(60), clock_.Now()).status().code(),
            Code::kNotFound);
  ObjectPtr held = CreateSession("held");
  ASSERT_TRUE(AddFinalizer(store_.get(), *held, kHold).ok());
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "held", {}).ok());
  EXPECT_EQ(IssueLogin(store_.get(), "alice", "held", kRouterUrl, seconds(60), clock_.Now()).status().code(),
            Code::kConflict);
  ASSERT_TRUE(RemoveFinalizer(store_.get(), *Get("held"), kHold).ok() || !Get("held"));

  // Unused links are bounded per session; a used or expired one frees a place.
  std::vector<std::string> tickets;
  for (int i = 0; i < kMaxOpenLogins; ++i) {
    auto t = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(60), clock_.Now());
    ASSERT_TRUE(t.ok()) << i << ": " << t.status().ToString();
    tickets.push_back((*t)["url"].get<std::string>().substr((*t)["url"].get<std::string>().find("ticket=") + 7));
  }
  auto full = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(60), clock_.Now());
  EXPECT_EQ(full.status().code(), Code::kConflict);
  EXPECT_NE(full.status().message().find("unused login links"), std::string::npos) << full.status().ToString();
  ASSERT_TRUE(RedeemLogin(store_.get(), "alice", "nb", tickets[0], clock_.Now()).ok());
  EXPECT_TRUE(IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(60), clock_.Now()).ok());
  EXPECT_EQ(IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(60), clock_.Now()).status().code(),
            Code::kConflict);
  clock_.Advance(seconds(61));
  EXPECT_TRUE(IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(60), clock_.Now()).ok());
}

TEST_F(RouteTest, RedeemLoginOnceBeforeItExpires) {
  CreateSession("nb");
  CreateSession("nb2");
  auto issue = [&](const std::string& name) {
    auto t = IssueLogin(store_.get(), "alice", name, kRouterUrl, seconds(300), clock_.Now());
    EXPECT_TRUE(t.ok());
    return t.ok() ? TicketOf(*t) : std::string();
  };
  const TimePoint now = clock_.Now();
  auto code = [&](const std::string& ns, const std::string& name, const std::string& ticket, TimePoint at) {
    return RedeemLogin(store_.get(), ns, name, ticket, at).status().code();
  };

  const std::string t1 = issue("nb");
  auto r = RedeemLogin(store_.get(), "alice", "nb", t1, now);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(std::regex_match(r->cookie, std::regex("[0-9a-f]{64}")));
  EXPECT_EQ(r->cookie_hash, CookieHash(r->cookie));
  EXPECT_EQ(r->session_key, "alice/nb");
  auto stored = store_->Get("SessionLogin", "alice", LoginObjectName(CookieHash(t1)));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)->status["cookieSHA256"], r->cookie_hash);
  EXPECT_EQ((*stored)->status["redeemedTime"], FormatRfc3339(now));
  EXPECT_EQ(ObjectToJsonText(**stored).find(r->cookie), std::string::npos);  // the cookie is not stored

  EXPECT_EQ(code("alice", "nb", t1, now), Code::kGone);  // second redemption

  const std::string t2 = issue("nb");
  EXPECT_EQ(code("alice", "nb", t2, now + seconds(301)), Code::kGone);  // expired
  EXPECT_TRUE(RedeemLogin(store_.get(), "alice", "nb", t2, now + seconds(300)).ok());  // its last second

  EXPECT_EQ(code("alice", "nb", std::string(64, 'a'), now), Code::kNotFound);  // no such ticket
  const std::string t3 = issue("nb");
  EXPECT_EQ(code("alice", "nb2", t3, now), Code::kNotFound);  // a ticket of another session
  EXPECT_EQ(code("bob", "nb", t3, now), Code::kNotFound);     // of another namespace
  EXPECT_TRUE(RedeemLogin(store_.get(), "alice", "nb", t3, now).ok());  // not used up by those

  for (const std::string& bad : {std::string(""), std::string(63, 'a'), std::string(65, 'a'),
                                 std::string(64, 'A'), std::string(64, 'g'), std::string(62, 'a') + "\r\n",
                                 std::string("../../") + std::string(58, 'a')}) {
    EXPECT_EQ(code("alice", "nb", bad, now), Code::kBadRequest) << bad;
  }
  const std::string t4 = issue("nb");
  for (const auto& [ns, name] : std::vector<std::pair<std::string, std::string>>{
           {"", "nb"}, {"Alice", "nb"}, {"..", "nb"}, {"alice", ""}, {"alice", ".."}, {"alice", "a/b"},
           {"alice", "NB"}, {"alice", std::string(300, 'n')}, {"al ice", "nb"}, {"alice", "nb\n"}}) {
    EXPECT_EQ(code(ns, name, t4, now), Code::kBadRequest) << ns << "/" << name;
  }
}

TEST_F(RouteTest, ALoginOfASessionDeletedAndCreatedAgainIsNotValid) {
  CreateSession("nb");
  auto t = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(300), clock_.Now());
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  EXPECT_EQ(RedeemLogin(store_.get(), "alice", "nb", TicketOf(*t), clock_.Now()).status().code(), Code::kNotFound);
  CreateSession("nb");  // same name, new uid: the old login still exists (no garbage collector here)
  EXPECT_EQ(RedeemLogin(store_.get(), "alice", "nb", TicketOf(*t), clock_.Now()).status().code(), Code::kNotFound);
}

TEST_F(RouteTest, OfRacingRedemptionsExactlyOneWins) {
  CreateSession("nb");
  auto t = IssueLogin(store_.get(), "alice", "nb", kRouterUrl, seconds(300), clock_.Now());
  ASSERT_TRUE(t.ok());
  const std::string ticket = TicketOf(*t);
  std::atomic<int> ok{0}, gone{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      auto r = RedeemLogin(store_.get(), "alice", "nb", ticket, clock_.Now());
      (r.ok() ? ok : r.status().code() == Code::kGone ? gone : other)++;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(gone, 7);
  EXPECT_EQ(other, 0);
}

// --- The wake-up endpoint ---------------------------------------------------

class WakeupHandlerTest : public RouteTest {
 protected:
  HttpRequest Request(const std::string& path, const std::string& cookie = "",
                      const std::string& method = "GET") {
    HttpRequest r;
    r.method = method;
    r.path = path;
    if (!cookie.empty()) r.headers["cookie"] = "theme=dark; JSESSIONID=" + cookie;
    return r;
  }
  HttpRequest LoginRequest(const std::string& ns, const std::string& name, const std::string& ticket) {
    HttpRequest r = Request("/_visi/login/" + ns + "/" + name);
    r.query["ticket"] = ticket;
    return r;
  }
  std::string TicketFor(const std::string& name) {
    auto t = IssueLogin(store_.get(), "alice", name, kRouterUrl, kDefaultLoginTtl, clock_.Now());
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? TicketOf(*t) : "";
  }
  static std::vector<std::string> Headers(const HttpResponse& r, const std::string& name) {
    std::vector<std::string> out;
    for (const auto& [k, v] : r.headers) {
      if (k == name) out.push_back(v);
    }
    return out;
  }
  static std::string Header(const HttpResponse& r, const std::string& name) {
    auto h = Headers(r, name);
    return h.size() == 1 ? h[0] : "";
  }

  void SetUp() override {
    RouteTest::SetUp();
    handler_ = std::make_unique<WakeupHandler>(store_.get(), &clock_, reconciler_.get(), manager_->events(),
                                               std::chrono::seconds(10));
  }

  std::unique_ptr<WakeupHandler> handler_;
};

TEST_F(WakeupHandlerTest, HealthzAndUnknownPaths) {
  HttpResponse ok = handler_->Handle(Request("/_visi/healthz"));
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(ok.body, "ok\n");
  for (const char* path : {"/", "", "/x", "/_visi/", "/_visi/healthz/", "/_visi/loginx/alice/nb", "/s", "/s/",
                           "/s/alice", "/s/alice/nb", "/s//nb/", "/s/alice//", "/t/alice/nb/"}) {
    EXPECT_EQ(handler_->Handle(Request(path)).code, 404) << path;
  }
}

TEST_F(WakeupHandlerTest, ALoginSetsTheCookieAndRedirectsOnceTheRouteTakesIt) {
  CreateSession("nb");
  SetReady("nb");
  const std::string ticket = TicketFor("nb");
  HttpResponse r = handler_->Handle(LoginRequest("alice", "nb", ticket));
  ASSERT_EQ(r.code, 303) << r.body;
  EXPECT_EQ(Header(r, "Location"), "/s/alice/nb/");
  const std::string set_cookie = Header(r, "Set-Cookie");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(set_cookie, m,
                               std::regex("JSESSIONID=([0-9a-f]{64}); Path=/s/alice/nb/; HttpOnly; SameSite=Lax")))
      << set_cookie;
  const std::string cookie = m[1];
  EXPECT_EQ(Header(r, "Cache-Control"), "no-store");
  EXPECT_EQ(r.body.find("still being set up"), std::string::npos);  // the route took the cookie first
  EXPECT_EQ(RouteOf("nb")->cookie_hashes, std::vector<std::string>{CookieHash(cookie)});
  EXPECT_EQ(r.body.find(ticket), std::string::npos);
  EXPECT_EQ(r.body.find(cookie), std::string::npos);

  HttpResponse again = handler_->Handle(LoginRequest("alice", "nb", ticket));
  EXPECT_EQ(again.code, 410);
  EXPECT_TRUE(Headers(again, "Set-Cookie").empty());

  // Behind HTTPS (--router-url https://...) the cookie is Secure.
  handler_->set_secure_cookies(true);
  HttpResponse secure = handler_->Handle(LoginRequest("alice", "nb", TicketFor("nb")));
  ASSERT_EQ(secure.code, 303) << secure.body;
  EXPECT_TRUE(std::regex_match(Header(secure, "Set-Cookie"),
                               std::regex("JSESSIONID=[0-9a-f]{64}; Path=/s/alice/nb/; HttpOnly; SameSite=Lax; Secure")))
      << Header(secure, "Set-Cookie");
}

TEST_F(WakeupHandlerTest, ALoginWhileTheRouterIsDownStillSetsTheCookie) {
  CreateSession("nb");
  ASSERT_TRUE(Eventually([&] { return RouteOf("nb").has_value(); }));
  router_.SetDown(true);
  WakeupHandler impatient(store_.get(), &clock_, reconciler_.get(), manager_->events(),
                          std::chrono::milliseconds(20));
  HttpResponse r = impatient.Handle(LoginRequest("alice", "nb", TicketFor("nb")));
  ASSERT_EQ(r.code, 303) << r.body;
  EXPECT_EQ(Headers(r, "Set-Cookie").size(), 1u);
  EXPECT_NE(r.body.find("still being set up"), std::string::npos);
}

TEST_F(WakeupHandlerTest, BadLoginLinks) {
  CreateSession("nb");
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb", std::string(64, 'a'))).code, 404);  // no such ticket
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb", "short")).code, 400);
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb", "")).code, 400);
  EXPECT_EQ(handler_->Handle(Request("/_visi/login/alice/nb")).code, 400);  // no ticket
  const std::string ticket = TicketFor("nb");
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb/extra", ticket)).code, 400);
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb/", ticket)).code, 400);
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb2", ticket)).code, 404);  // another session's path
  HttpRequest post = LoginRequest("alice", "nb", ticket);
  post.method = "POST";
  HttpResponse refused = handler_->Handle(post);
  EXPECT_EQ(refused.code, 405);
  EXPECT_EQ(Header(refused, "Allow"), "GET");
  HttpRequest head = LoginRequest("alice", "nb", ticket);
  head.method = "HEAD";  // a link checker must not use the ticket up
  EXPECT_EQ(handler_->Handle(head).code, 405);
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb", ticket)).code, 303);  // none of those used it up

  // Expired (the reconciler stopped: it would delete the ticket, a 404).
  const std::string late = TicketFor("nb");
  manager_->Stop();
  clock_.Advance(kDefaultLoginTtl + seconds(1));
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb", late)).code, 410);
}

TEST_F(WakeupHandlerTest, TheWakeUpPageNeedsTheSessionsOwnCookie) {
  CreateSession("nb");
  CreateSession("nb2");
  RedeemedLogin mine = LogIn("nb");
  RedeemedLogin other = LogIn("nb2");
  const HttpResponse no_cookie = handler_->Handle(Request("/s/alice/nb/"));
  EXPECT_EQ(no_cookie.code, 403);
  struct Case {
    const char* what;
    HttpRequest req;
  } cases[] = {
      {"a wrong cookie", Request("/s/alice/nb/tree", std::string(64, 'a'))},
      {"another session's cookie", Request("/s/alice/nb/", other.cookie)},
      {"the cookie of a missing session", Request("/s/alice/missing/", mine.cookie)},
      {"no cookie, missing session", Request("/s/alice/missing/")},
      {"no cookie, missing namespace", Request("/s/nobody/nb/")},
      {"the right cookie in another namespace", Request("/s/bob/nb/", mine.cookie)},
      {"a cookie hash instead of the cookie", Request("/s/alice/nb/", mine.cookie_hash)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    HttpResponse r = handler_->Handle(c.req);
    EXPECT_EQ(r.code, 403);
    // The same answer whether or not the session exists: no existence oracle.
    EXPECT_EQ(r.body, no_cookie.body);
    EXPECT_EQ(r.body.find("Starting"), std::string::npos);
  }
  // Another session's cookie opens that session.
  EXPECT_EQ(handler_->Handle(Request("/s/alice/nb2/", other.cookie)).code, 503);
  // The last JSESSIONID counts, as in HAProxy.
  HttpRequest two = Request("/s/alice/nb/");
  two.headers["cookie"] = "JSESSIONID=" + mine.cookie + "; JSESSIONID=" + other.cookie;
  EXPECT_EQ(handler_->Handle(two).code, 403);
  two.headers["cookie"] = "JSESSIONID=" + other.cookie + "; JSESSIONID=" + mine.cookie;
  EXPECT_EQ(handler_->Handle(two).code, 503);
}

TEST_F(WakeupHandlerTest, ACookieOfAnEarlierSessionOfThatNameIsRefused) {
  CreateSession("nb");
  RedeemedLogin old = LogIn("nb");
  ASSERT_EQ(handler_->Handle(Request("/s/alice/nb/", old.cookie)).code, 503);
  ASSERT_TRUE(store_->Delete("VisiSession", "alice", "nb", {}).ok());
  CreateSession("nb");  // the old login is still stored: no garbage collector here
  EXPECT_EQ(handler_->Handle(Request("/s/alice/nb/", old.cookie)).code, 403);
}

TEST_F(WakeupHandlerTest, WithItsCookieTheProgressPageListsTheConditionsEscaped) {
  CreateSession("nb");
  RedeemedLogin login = LogIn("nb");
  SetStatusCondition("nb", {"ContainersReady", "False", "ImageMissing", "<script>alert('x')</script> & more", 1});
  HttpResponse r = handler_->Handle(Request("/s/alice/nb/lab/tree", login.cookie));
  ASSERT_EQ(r.code, 503) << r.body;
  EXPECT_EQ(Header(r, "Retry-After"), "2");
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("ContainersReady"), std::string::npos);
  EXPECT_NE(r.body.find("ImageMissing"), std::string::npos);
  EXPECT_NE(r.body.find("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("<script"), std::string::npos);
  EXPECT_NE(r.body.find("alice/nb"), std::string::npos);
  EXPECT_NE(Header(r, "Content-Security-Policy").find("default-src 'none'"), std::string::npos);

  HttpRequest json = Request("/s/alice/nb/api/kernels", login.cookie);
  json.headers["accept"] = "application/json";
  HttpResponse j = handler_->Handle(json);
  ASSERT_EQ(j.code, 503);
  EXPECT_EQ(j.content_type, "application/json");
  EXPECT_EQ(Header(j, "Retry-After"), "2");
  auto body = ParseJson(j.body);
  ASSERT_TRUE(body.ok()) << j.body;
  EXPECT_EQ((*body)["session"], "alice/nb");
  EXPECT_EQ((*body)["ready"], false);
  bool found = false;
  for (const auto& c : (*body)["conditions"]) {
    found |= c.value("message", "") == "<script>alert('x')</script> & more";
  }
  EXPECT_TRUE(found) << j.body;

  // A browser's Accept (HTML first) gets the page.
  HttpRequest browser = json;
  browser.headers["accept"] = "text/html,application/xhtml+xml,application/json;q=0.9,*/*;q=0.8";
  EXPECT_EQ(handler_->Handle(browser).content_type, "text/html; charset=utf-8");
}

TEST_F(WakeupHandlerTest, ARequestWithItsCookieWakesASuspendedSession) {
  CreateSession("nb");
  SetSuspend("nb", true);
  RedeemedLogin login = LogIn("nb");
  // Without the cookie nothing is written.
  EXPECT_EQ(handler_->Handle(Request("/s/alice/nb/", std::string(64, 'b'))).code, 403);
  EXPECT_EQ(Get("nb")->spec["suspend"], true);

  HttpResponse r = handler_->Handle(Request("/s/alice/nb/", login.cookie, "POST"));
  EXPECT_EQ(r.code, 503);
  EXPECT_EQ(Get("nb")->spec["suspend"], false);
  EXPECT_EQ(EventCount("nb", "WakeUp"), 1);
  // Already resumed: no second spec write, no second event.
  const int64_t generation = Get("nb")->metadata.generation;
  EXPECT_EQ(handler_->Handle(Request("/s/alice/nb/", login.cookie)).code, 503);
  EXPECT_EQ(Get("nb")->metadata.generation, generation);
  EXPECT_EQ(EventCount("nb", "WakeUp"), 1);
}

TEST_F(WakeupHandlerTest, HostilePathsNeverCrashAndGetA4xx) {
  CreateSession("nb");
  RedeemedLogin login = LogIn("nb");
  const std::string ticket = TicketFor("nb");
  std::vector<HttpRequest> reqs;
  for (const std::string& path :
       {std::string("/s/../../etc/passwd/"), std::string("/s/alice/../nb/"), std::string("/s/%2e%2e/%2e%2e/"),
        std::string("/s/alice/%6Eb/"), std::string("/s/alice/nb\r\nSet-Cookie: x=y/"),
        std::string("/s/alice\0/nb/", 13), std::string("/s/\xff\xfe/\xc0\xaf/"),
        "/s/" + std::string(100000, 'a') + "/" + std::string(100000, 'b') + "/",
        "/s/alice/" + std::string(100000, '/'), std::string("/_visi/login/"), std::string("/_visi/login/alice"),
        std::string("/_visi/login//nb"), std::string("/_visi/login/../nb"), std::string("/_visi/login/alice/.."),
        std::string("/_visi/login/%2e%2e/nb"), std::string("/_visi/login/alice/nb\r\nLocation: http://evil/"),
        "/_visi/login/alice/" + std::string(100000, 'n'), std::string("/_visi/login/\xff/\xfe")}) {
    reqs.push_back(Request(path, login.cookie));
    reqs.back().query["ticket"] = ticket;
    reqs.push_back(Request(path));
  }
  for (const std::string& bad_ticket :
       {std::string("../../etc/passwd"), std::string(100000, 'a'), std::string("\r\n\0", 3), ticket + "x"}) {
    HttpRequest r = LoginRequest("alice", "nb", bad_ticket);
    reqs.push_back(r);
  }
  HttpRequest long_cookie = Request("/s/alice/nb/");
  long_cookie.headers["cookie"] = std::string(100000, ';') + "JSESSIONID=" + std::string(100000, 'x');
  reqs.push_back(long_cookie);

  for (const auto& req : reqs) {
    SCOPED_TRACE(req.path.substr(0, 80));
    HttpResponse r = handler_->Handle(req);
    EXPECT_GE(r.code, 400);
    EXPECT_LT(r.code, 500);
    EXPECT_TRUE(Headers(r, "Set-Cookie").empty());
    EXPECT_TRUE(Headers(r, "Location").empty());
    for (const auto& [k, v] : r.headers) EXPECT_EQ(v.find_first_of("\r\n"), std::string::npos) << k;
    EXPECT_NO_THROW((void)Json(r.body).dump()) << "the body is not valid UTF-8";
  }
  // Dot segments under the prefix are the session's own path (HAProxy
  // compares the raw path): with the cookie, the progress page.
  EXPECT_EQ(handler_->Handle(Request("/s/alice/nb/../../../", login.cookie)).code, 503);
  EXPECT_EQ(handler_->Handle(Request("/s/alice/nb/../../../")).code, 403);
  // None of it used up the ticket.
  EXPECT_EQ(handler_->Handle(LoginRequest("alice", "nb", ticket)).code, 303);
}

}  // namespace
}  // namespace visi::testing
