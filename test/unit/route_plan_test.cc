// The route reconciler's pure parts, table style, no fakes: the desired route
// of a session and which logins it accepts, stale logins, the route status,
// activity and idleness at explicit time points, and the wake-up endpoint's
// cookie parsing and HTML escaping.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>

#include "controller/drivers/haproxy/route_format.h"
#include "controller/runtime/conditions.h"
#include "reconcilers/route/activity.h"
#include "reconcilers/route/route_desired.h"
#include "reconcilers/route/wakeup_handler.h"

namespace visi {
namespace {

using std::chrono::seconds;

const TimePoint kT0 = *ParseRfc3339("2026-11-24T10:00:00Z");
constexpr char kUid[] = "uid-nb-1";
constexpr char kAddr[] = "10.200.7.9:8888";

// A session as the user wrote it; no status.
Object SessionObject(const std::string& name = "nb", const std::string& uid = kUid) {
  Object o;
  o.kind = "VisiSession";
  o.metadata.namespace_ = "alice";
  o.metadata.name = name;
  o.metadata.uid = uid;
  o.metadata.generation = 3;
  o.spec = {{"user", "alice"}, {"spark", {{"workers", 2}}}, {"idleTimeoutSeconds", 600}};
  return o;
}

// The session as the session reconciler leaves it once Ready at `ready_at`.
Object ReadySession(TimePoint ready_at = kT0, const std::string& addr = kAddr) {
  Object o = SessionObject();
  o.status = {{"phase", "Running"}, {"subnet", "10.200.7.0/24"}};
  if (!addr.empty()) o.status["frontEndAddress"] = addr;
  SetCondition(&o.status, {"Ready", "True", "Ready", "", 3}, ready_at);
  return o;
}

// A SessionLogin of `session` (by default owned by it and naming it),
// redeemed at `redeemed` when set.
Object LoginObject(const Object& session, const std::string& name, std::optional<TimePoint> redeemed,
                   const std::string& cookie_hash, TimePoint expires = kT0 + seconds(300)) {
  Object l;
  l.kind = "SessionLogin";
  l.metadata.namespace_ = session.metadata.namespace_;
  l.metadata.name = name;
  l.metadata.uid = "uid-" + name;
  OwnerReference ref;
  ref.api_version = kApiVersion;
  ref.kind = "VisiSession";
  ref.name = session.metadata.name;
  ref.uid = session.metadata.uid;
  l.metadata.owner_references.push_back(ref);
  l.spec = {{"session", session.metadata.name},
            {"ticketSHA256", CookieHash("ticket-" + name)},
            {"expiresTime", FormatRfc3339(expires)}};
  if (redeemed) l.status = {{"redeemedTime", FormatRfc3339(*redeemed)}, {"cookieSHA256", cookie_hash}};
  return l;
}

ObjectPtr Ptr(Object o) { return std::make_shared<const Object>(std::move(o)); }

ObjectPtr Redeemed(const Object& session, const std::string& name, TimePoint at) {
  return Ptr(LoginObject(session, name, at, CookieHash("cookie-" + name)));
}

std::vector<std::string> Names(const std::vector<ObjectPtr>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(o->metadata.name);
  std::sort(out.begin(), out.end());
  return out;
}

const Json& Cond(const Json& status, const std::string& type) {
  static const Json kNone = Json::object();
  const Json* c = FindCondition(status, type);
  return c ? *c : kNone;
}

// --- DesiredRoute ---------------------------------------------------------

TEST(DesiredRouteTest, ReadySessionWithAFrontEndGetsItsAddress) {
  std::optional<Route> r = DesiredRoute(ReadySession(), {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->key, "alice/nb");
  EXPECT_EQ(r->path_prefix, "/s/alice/nb/");
  EXPECT_EQ(r->backend, kAddr);
  EXPECT_TRUE(r->cookie_hashes.empty());
  EXPECT_TRUE(ValidateRoute(*r).ok()) << ValidateRoute(*r).ToString();
  EXPECT_TRUE(SessionServesRequests(ReadySession()));
}

TEST(DesiredRouteTest, EverySessionThatDoesNotServeGoesToTheWakeUpEndpoint) {
  struct Case {
    const char* what;
    Object session;
  };
  std::vector<Case> cases;
  cases.push_back({"no status yet", SessionObject()});
  cases.push_back({"Ready without a front-end address", ReadySession(kT0, "")});
  {
    Object o = ReadySession();
    SetCondition(&o.status, {"Ready", "False", "Starting", "", 3}, kT0);
    cases.push_back({"Ready=False with an address", o});
  }
  {
    Object o = ReadySession();
    SetCondition(&o.status, {"Ready", "Unknown", "Probing", "", 3}, kT0);
    cases.push_back({"Ready=Unknown", o});
  }
  {
    Object o = ReadySession();
    o.status["conditions"] = Json::array();
    cases.push_back({"no Ready condition", o});
  }
  {
    Object o = ReadySession();
    o.spec["suspend"] = true;
    cases.push_back({"suspended while still Ready", o});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    std::optional<Route> r = DesiredRoute(c.session, {});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->backend, "");
    EXPECT_EQ(r->path_prefix, "/s/alice/nb/");
    EXPECT_FALSE(SessionServesRequests(c.session));
  }
}

TEST(DesiredRouteTest, AFrontEndOutsideTheSessionsSubnetGetsTheWakeUpEndpoint) {
  // Only controllers write status; should a bad one slip through anyway, a
  // route never leads out of the session's own subnet.
  for (const std::string& addr : {"10.200.8.9:8888", "127.0.0.1:6443", "169.254.169.254:80", "10.200.7.0:80",
                                  "10.200.7.255:80", "not-an-address", "10.200.7.9"}) {
    SCOPED_TRACE(addr);
    Object o = ReadySession(kT0, addr);
    EXPECT_FALSE(FrontEndInSubnet(o));
    EXPECT_EQ(DesiredRoute(o, {})->backend, "");
  }
  Object no_subnet = ReadySession();
  no_subnet.status.erase("subnet");
  EXPECT_EQ(DesiredRoute(no_subnet, {})->backend, "");
  EXPECT_TRUE(FrontEndInSubnet(ReadySession(kT0, "10.200.7.254:1")));
}

TEST(DesiredRouteTest, ASessionBeingDeletedHasNoRoute) {
  Object o = ReadySession();
  o.metadata.deletion_timestamp = FormatRfc3339(kT0);
  EXPECT_FALSE(DesiredRoute(o, {Redeemed(o, "l1", kT0)}));
  EXPECT_FALSE(SessionServesRequests(o));
}

TEST(DesiredRouteTest, OnlyRedeemedLoginsOfThisIncarnationNamingItOpenTheRoute) {
  const Object s = ReadySession();
  Object other_session = SessionObject("nb2", "uid-nb2");
  Object old_incarnation = SessionObject("nb", "uid-nb-0");  // deleted and recreated since

  std::vector<ObjectPtr> logins;
  logins.push_back(Redeemed(s, "good1", kT0 + seconds(1)));
  logins.push_back(Redeemed(s, "good2", kT0 + seconds(2)));
  logins.push_back(Ptr(LoginObject(s, "unredeemed", std::nullopt, "")));
  logins.push_back(Redeemed(other_session, "other-session", kT0));
  logins.push_back(Redeemed(old_incarnation, "old-incarnation", kT0));
  {
    Object l = *Redeemed(s, "names-another", kT0);  // owned by this uid, names another session
    l.spec["session"] = "nb2";
    logins.push_back(Ptr(l));
  }
  {
    Object l = *Redeemed(s, "other-namespace", kT0);
    l.metadata.namespace_ = "bob";
    logins.push_back(Ptr(l));
  }
  {
    Object l = *Redeemed(s, "not-owned", kT0);
    l.metadata.owner_references.clear();
    logins.push_back(Ptr(l));
  }
  {
    Object l = *Redeemed(s, "being-deleted", kT0);
    l.metadata.deletion_timestamp = FormatRfc3339(kT0);
    logins.push_back(Ptr(l));
  }
  {
    Object l = *Redeemed(s, "short-hash", kT0);
    l.status["cookieSHA256"] = "ABCD";
    logins.push_back(Ptr(l));
  }
  logins.push_back(nullptr);

  EXPECT_EQ(Names(AcceptedLogins(s, logins)), (std::vector<std::string>{"good1", "good2"}));
  std::optional<Route> r = DesiredRoute(s, logins);
  ASSERT_TRUE(r);
  std::vector<std::string> want = {CookieHash("cookie-good1"), CookieHash("cookie-good2")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(r->cookie_hashes, want);  // normalized: sorted
  EXPECT_EQ(r->backend, kAddr);

  // The same logins open the wake-up route of a session that sleeps.
  Object sleeping = s;
  sleeping.spec["suspend"] = true;
  EXPECT_EQ(DesiredRoute(sleeping, logins)->cookie_hashes, want);
}

TEST(DesiredRouteTest, TwoLoginsWithOneCookieHashGiveOneEntry) {
  const Object s = ReadySession();
  std::vector<ObjectPtr> logins = {Ptr(LoginObject(s, "a", kT0, CookieHash("same"))),
                                   Ptr(LoginObject(s, "b", kT0 + seconds(1), CookieHash("same")))};
  EXPECT_EQ(DesiredRoute(s, logins)->cookie_hashes, std::vector<std::string>{CookieHash("same")});
}

TEST(DesiredRouteTest, AtMostTheNewestLoginsPerRoute) {
  const Object s = ReadySession();
  std::vector<ObjectPtr> logins;
  const int n = static_cast<int>(kMaxLoginsPerRoute) + 44;
  for (int i = 0; i < n; ++i) logins.push_back(Redeemed(s, "l" + std::to_string(i), kT0 + seconds(i)));
  std::shuffle(logins.begin(), logins.end(), std::mt19937(7));

  std::vector<ObjectPtr> accepted = AcceptedLogins(s, logins);
  ASSERT_EQ(accepted.size(), kMaxLoginsPerRoute);
  // Newest first.
  EXPECT_EQ(accepted.front()->metadata.name, "l" + std::to_string(n - 1));
  EXPECT_EQ(accepted.back()->metadata.name, "l44");

  std::optional<Route> r = DesiredRoute(s, logins);
  ASSERT_EQ(r->cookie_hashes.size(), kMaxLoginsPerRoute);
  std::set<std::string> hashes(r->cookie_hashes.begin(), r->cookie_hashes.end());
  EXPECT_FALSE(hashes.count(CookieHash("cookie-l43")));
  EXPECT_TRUE(hashes.count(CookieHash("cookie-l44")));
  EXPECT_TRUE(hashes.count(CookieHash("cookie-l" + std::to_string(n - 1))));
  EXPECT_TRUE(ValidateRoute(*r).ok()) << ValidateRoute(*r).ToString();
}

TEST(DesiredRouteTest, LoginsRedeemedInTheSameSecondAreOrderedByName) {
  const Object s = ReadySession();
  std::vector<ObjectPtr> logins = {Redeemed(s, "b", kT0), Redeemed(s, "c", kT0 + seconds(1)),
                                   Redeemed(s, "a", kT0)};
  std::vector<ObjectPtr> accepted = AcceptedLogins(s, logins);
  ASSERT_EQ(accepted.size(), 3u);
  EXPECT_EQ(accepted[0]->metadata.name, "c");
  EXPECT_EQ(accepted[1]->metadata.name, "a");
  EXPECT_EQ(accepted[2]->metadata.name, "b");
}

// --- StaleLogins ----------------------------------------------------------

TEST(StaleLoginsTest, UnredeemedLoginsGoOnceExpired) {
  const Object s = ReadySession();
  const TimePoint now = kT0 + seconds(1000);
  std::vector<ObjectPtr> logins = {
      Ptr(LoginObject(s, "expired", std::nullopt, "", now - seconds(1))),
      Ptr(LoginObject(s, "expires-now", std::nullopt, "", now)),  // still redeemable this second
      Ptr(LoginObject(s, "valid", std::nullopt, "", now + seconds(1))),
      Ptr(LoginObject(s, "redeemed-long-ago", kT0, CookieHash("c"), now - seconds(500))),  // cookies do not expire
      Ptr(LoginObject(SessionObject("nb2", "uid-nb2"), "other-session", std::nullopt, "", now - seconds(1))),
  };
  {
    Object l = LoginObject(s, "garbled-expiry", std::nullopt, "");
    l.spec["expiresTime"] = "tomorrow";
    logins.push_back(Ptr(l));
  }
  EXPECT_EQ(Names(StaleLogins(s, logins, now)), (std::vector<std::string>{"expired", "garbled-expiry"}));
}

TEST(StaleLoginsTest, RedeemedLoginsBeyondWhatARouteHoldsGoOldestFirst) {
  const Object s = ReadySession();
  std::vector<ObjectPtr> logins;
  const int n = static_cast<int>(kMaxLoginsPerRoute) + 2;
  for (int i = 0; i < n; ++i) logins.push_back(Redeemed(s, "l" + std::to_string(1000 + i), kT0 + seconds(i)));
  EXPECT_EQ(Names(StaleLogins(s, logins, kT0)), (std::vector<std::string>{"l1000", "l1001"}));
  logins.pop_back();
  logins.pop_back();
  EXPECT_TRUE(StaleLogins(s, logins, kT0).empty());
}

// --- SetRouteStatus -------------------------------------------------------

constexpr char kRouterUrl[] = "http://127.0.0.1:8080";

TEST(SetRouteStatusTest, FrontEndRoute) {
  const Object s = ReadySession();
  Json status = s.status;
  RouteOutcome out;
  out.route = DesiredRoute(s, {Redeemed(s, "l1", kT0)});
  ASSERT_TRUE(SetRouteStatus(&status, s, out, kRouterUrl, kT0));
  EXPECT_EQ(status["url"], "http://127.0.0.1:8080/s/alice/nb/");
  EXPECT_EQ(status["route"], (Json{{"pathPrefix", "/s/alice/nb/"}, {"backend", kAddr}, {"logins", 1}}));
  const Json& c = Cond(status, "Routed");
  EXPECT_EQ(c.value("status", ""), "True");
  EXPECT_EQ(c.value("reason", ""), "FrontEnd");
  EXPECT_EQ(c.value("observedGeneration", 0), 3);
  EXPECT_EQ(status["phase"], "Running");  // the rest of the status is kept
  // Unchanged: nothing to write.
  EXPECT_FALSE(SetRouteStatus(&status, s, out, kRouterUrl, kT0 + seconds(5)));
}

TEST(SetRouteStatusTest, WakeUpRoute) {
  const Object s = SessionObject();
  Json status;  // null: the session reconciler has written nothing yet
  RouteOutcome out;
  out.route = DesiredRoute(s, {});
  ASSERT_TRUE(SetRouteStatus(&status, s, out, kRouterUrl, kT0));
  EXPECT_EQ(status["url"], "http://127.0.0.1:8080/s/alice/nb/");
  EXPECT_EQ(status["route"]["backend"], "wake-up");
  EXPECT_EQ(status["route"]["logins"], 0);
  EXPECT_EQ(Cond(status, "Routed").value("status", ""), "True");
  EXPECT_EQ(Cond(status, "Routed").value("reason", ""), "WakeUp");
}

TEST(SetRouteStatusTest, ErrorsSetRoutedFalseWithTheirReason) {
  const Object s = ReadySession();
  Json status = s.status;
  RouteOutcome ok;
  ok.route = DesiredRoute(s, {});
  ASSERT_TRUE(SetRouteStatus(&status, s, ok, kRouterUrl, kT0));
  for (const char* reason : {"RouteInvalid", "PrefixConflict", "RouterError"}) {
    SCOPED_TRACE(reason);
    Json st = status;
    RouteOutcome bad = ok;
    bad.error_reason = reason;
    bad.error_message = "path_prefix: too long";
    ASSERT_TRUE(SetRouteStatus(&st, s, bad, kRouterUrl, kT0 + seconds(1)));
    const Json& c = Cond(st, "Routed");
    EXPECT_EQ(c.value("status", ""), "False");
    EXPECT_EQ(c.value("reason", ""), reason);
    EXPECT_EQ(c.value("message", ""), "path_prefix: too long");
    EXPECT_EQ(c.value("lastTransitionTime", ""), FormatRfc3339(kT0 + seconds(1)));
    EXPECT_EQ(st["url"], status["url"]);  // the last route is still reported
  }
}

TEST(SetRouteStatusTest, NoRouteClearsUrlAndRoute) {
  Object s = ReadySession();
  Json status = s.status;
  RouteOutcome ok;
  ok.route = DesiredRoute(s, {});
  ASSERT_TRUE(SetRouteStatus(&status, s, ok, kRouterUrl, kT0));
  s.metadata.deletion_timestamp = FormatRfc3339(kT0);
  RouteOutcome gone;
  ASSERT_TRUE(SetRouteStatus(&status, s, gone, kRouterUrl, kT0 + seconds(1)));
  EXPECT_FALSE(status.contains("url"));
  EXPECT_FALSE(status.contains("route"));
  EXPECT_EQ(Cond(status, "Routed").value("status", ""), "False");
  EXPECT_EQ(Cond(status, "Routed").value("reason", ""), "NoRoute");
}

// --- SetActivityStatus ----------------------------------------------------

RouteStats Stats(int connections, int64_t since_last_request) {
  RouteStats st;
  st.key = "alice/nb";
  st.current_connections = connections;
  st.seconds_since_last_request = since_last_request;
  return st;
}

std::string IdleStatus(const Json& status) { return Cond(status, "Idle").value("status", ""); }

TEST(SetActivityStatusTest, IdleAfterTheTimeoutWithoutClients) {
  const Object s = ReadySession(kT0);  // idleTimeoutSeconds 600
  Json st = s.status;
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, -1), kT0 + seconds(10)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0));  // counts from Ready
  EXPECT_EQ(st["connectedClients"], 0);
  EXPECT_EQ(IdleStatus(st), "False");
  EXPECT_EQ(Cond(st, "Idle").value("reason", ""), "Active");

  EXPECT_FALSE(SetActivityStatus(&st, s, Stats(0, -1), kT0 + seconds(599)));
  EXPECT_EQ(IdleStatus(st), "False");

  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, -1), kT0 + seconds(600)));
  EXPECT_EQ(IdleStatus(st), "True");
  EXPECT_EQ(Cond(st, "Idle").value("reason", ""), "NoClients");
  EXPECT_EQ(Cond(st, "Idle").value("lastTransitionTime", ""), FormatRfc3339(kT0 + seconds(600)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0));
}

TEST(SetActivityStatusTest, ARecentRequestKeepsTheSessionActive) {
  const Object s = ReadySession(kT0);
  Json st = s.status;
  // 650 s after Ready, the last request was 100 s ago.
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, 100), kT0 + seconds(650)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(550)));
  EXPECT_EQ(IdleStatus(st), "False");
  // No request since: idle 600 s after that request.
  SetActivityStatus(&st, s, Stats(0, 599), kT0 + seconds(1149));
  EXPECT_EQ(IdleStatus(st), "False");
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, 600), kT0 + seconds(1150)));
  EXPECT_EQ(IdleStatus(st), "True");
  // An older request never moves the activity back.
  SetActivityStatus(&st, s, Stats(0, 5000), kT0 + seconds(1150));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(550)));
  EXPECT_EQ(IdleStatus(st), "True");
  // A new request: active again.
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, 1), kT0 + seconds(1300)));
  EXPECT_EQ(IdleStatus(st), "False");
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(1299)));
}

TEST(SetActivityStatusTest, AnOpenConnectionIsNeverIdleHoweverOld) {
  const Object s = ReadySession(kT0);
  Json st = s.status;
  const TimePoint now = kT0 + std::chrono::hours(72);
  // A websocket open for three days: its last request is three days old.
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(1, 72 * 3600), now));
  EXPECT_EQ(IdleStatus(st), "False");
  EXPECT_EQ(st["connectedClients"], 1);
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(now));
  // It closes: idle only once the timeout has passed since.
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, 72 * 3600), now + seconds(1)));
  EXPECT_EQ(st["connectedClients"], 0);
  EXPECT_EQ(IdleStatus(st), "False");
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, 72 * 3600), now + seconds(600)));
  EXPECT_EQ(IdleStatus(st), "True");
}

TEST(SetActivityStatusTest, NoCountersNeverMakeASessionIdle) {
  const Object s = ReadySession(kT0);
  // The router is down from the start: only lastActivityTime is written.
  Json st = s.status;
  ASSERT_TRUE(SetActivityStatus(&st, s, std::nullopt, kT0 + std::chrono::hours(10)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0));
  EXPECT_FALSE(st.contains("connectedClients"));
  EXPECT_EQ(FindCondition(st, "Idle"), nullptr);
  EXPECT_FALSE(SetActivityStatus(&st, s, std::nullopt, kT0 + std::chrono::hours(20)));

  // Active, then the router goes down for hours: nothing changes.
  Json active = s.status;
  ASSERT_TRUE(SetActivityStatus(&active, s, Stats(1, 0), kT0 + seconds(60)));
  const Json before = active;
  EXPECT_FALSE(SetActivityStatus(&active, s, std::nullopt, kT0 + std::chrono::hours(10)));
  EXPECT_EQ(active, before);
  EXPECT_EQ(IdleStatus(active), "False");
}

TEST(SetActivityStatusTest, ZeroIdleTimeoutTurnsIdlenessOff) {
  Object s = ReadySession(kT0);
  s.spec["idleTimeoutSeconds"] = 0;
  Json st = s.status;
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(0, -1), kT0 + std::chrono::hours(24 * 365)));
  EXPECT_EQ(IdleStatus(st), "False");
  EXPECT_EQ(Cond(st, "Idle").value("reason", ""), "IdleTimeoutOff");
}

TEST(SetActivityStatusTest, TheDefaultIdleTimeoutIsHalfAnHour) {
  Object s = ReadySession(kT0);
  s.spec.erase("idleTimeoutSeconds");
  Json st = s.status;
  SetActivityStatus(&st, s, Stats(0, -1), kT0 + seconds(1799));
  EXPECT_EQ(IdleStatus(st), "False");
  SetActivityStatus(&st, s, Stats(0, -1), kT0 + seconds(1800));
  EXPECT_EQ(IdleStatus(st), "True");
}

TEST(SetActivityStatusTest, ASessionThatDoesNotServeIsNotIdle) {
  // Never Ready: nothing is written.
  Object starting = SessionObject();
  Json st = starting.status;
  EXPECT_FALSE(SetActivityStatus(&st, starting, Stats(0, -1), kT0 + std::chrono::hours(10)));
  EXPECT_EQ(FindCondition(st, "Idle"), nullptr);

  // Idle, then suspended (still Ready while the snapshot is taken): Idle
  // goes False and no client is counted.
  Object s = ReadySession(kT0);
  Json idle = s.status;
  ASSERT_TRUE(SetActivityStatus(&idle, s, Stats(2, 0), kT0 + seconds(1)));
  ASSERT_TRUE(SetActivityStatus(&idle, s, Stats(0, 0), kT0 + seconds(2)));
  ASSERT_TRUE(SetActivityStatus(&idle, s, Stats(0, 600), kT0 + seconds(602)));
  ASSERT_EQ(IdleStatus(idle), "True");
  s.spec["suspend"] = true;
  s.status = idle;
  ASSERT_TRUE(SetActivityStatus(&idle, s, Stats(0, 600), kT0 + seconds(700)));
  EXPECT_EQ(IdleStatus(idle), "False");
  EXPECT_EQ(Cond(idle, "Idle").value("reason", ""), "NotRunning");
  EXPECT_EQ(idle["connectedClients"], 0);
}

TEST(SetActivityStatusTest, AResumedSessionCountsFromItsNewReadyTime) {
  // Idle yesterday, suspended, resumed now: the old lastActivityTime does
  // not make it idle at once.
  const TimePoint resumed = kT0 + std::chrono::hours(24);
  Object s = ReadySession(resumed);
  s.status["lastActivityTime"] = FormatRfc3339(kT0);
  Json st = s.status;
  SetActivityStatus(&st, s, Stats(0, -1), resumed + seconds(599));
  EXPECT_EQ(IdleStatus(st), "False");
  SetActivityStatus(&st, s, Stats(0, -1), resumed + seconds(600));
  EXPECT_EQ(IdleStatus(st), "True");
}

TEST(SetActivityStatusTest, LastActivityTimeMovesOnlyInSteps) {
  const Object s = ReadySession(kT0);
  Json st = s.status;
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(1, 0), kT0 + seconds(100)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(100)));
  // Busy for 29 more seconds: no write.
  EXPECT_FALSE(SetActivityStatus(&st, s, Stats(1, 0), kT0 + seconds(129)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(100)));
  // 30 s: written.
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(1, 0), kT0 + seconds(130)));
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(130)));
  // More clients is a change of its own.
  ASSERT_TRUE(SetActivityStatus(&st, s, Stats(3, 0), kT0 + seconds(131)));
  EXPECT_EQ(st["connectedClients"], 3);
  EXPECT_EQ(st["lastActivityTime"], FormatRfc3339(kT0 + seconds(130)));
}

// --- The wake-up endpoint's helpers ---------------------------------------

TEST(JsessionIdTest, TheLastJsessionIdWinsAsInHaproxy) {
  struct Case {
    const char* header;
    const char* want;
  } cases[] = {
      {"JSESSIONID=abc", "abc"},
      {"a=1; JSESSIONID=abc; b=2", "abc"},
      {"a=1;JSESSIONID=abc;b=2", "abc"},
      {"  JSESSIONID=abc  ;\tx=y", "abc"},
      {"JSESSIONID=first; JSESSIONID=second", "second"},
      {"JSESSIONID=first; other=1; JSESSIONID=second; more=2", "second"},
      {"JSESSIONID=a=b", "a=b"},
      {"XJSESSIONID=abc", ""},
      {"jsessionid=abc", ""},
      {"JSESSIONIDX=abc", ""},
      {"a=1; b=2", ""},
      {"", ""},
      {";;;", ""},
      {"JSESSIONID=", ""},
      {"JSESSIONID=abc; JSESSIONID=", ""},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(JsessionIdFromCookieHeader(c.header), c.want) << "header: " << c.header;
  }
}

// True when no byte of `s` can end an attribute or start a tag or entity.
bool HtmlInert(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<' || c == '>' || c == '"' || c == '\'') return false;
    if (c == '&') {
      const std::string rest = s.substr(i);
      bool entity = false;
      for (const char* e : {"&amp;", "&lt;", "&gt;", "&quot;", "&#39;"}) entity |= rest.rfind(e, 0) == 0;
      if (!entity) return false;
    }
  }
  return true;
}

bool ValidUtf8(const std::string& s) {
  try {
    (void)Json(s).dump();
    return true;
  } catch (const Json::exception&) {
    return false;
  }
}

TEST(HtmlEscapeTest, HostileText) {
  EXPECT_EQ(HtmlEscape("<script>alert(\"x\")</script>"), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  EXPECT_EQ(HtmlEscape("' onmouseover='x"), "&#39; onmouseover=&#39;x");
  EXPECT_EQ(HtmlEscape("a &amp; b"), "a &amp;amp; b");
  EXPECT_EQ(HtmlEscape(""), "");
  EXPECT_EQ(HtmlEscape("plain text, ünïcödé ✓"), "plain text, ünïcödé ✓");
  EXPECT_EQ(HtmlEscape("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
}

TEST(HtmlEscapeTest, InvalidUtf8BecomesReplacementCharacters) {
  const std::string out = HtmlEscape(std::string("a\xff\xfe<b\xc3", 6));
  EXPECT_TRUE(ValidUtf8(out)) << out;
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_NE(out.find("&lt;"), std::string::npos);
  EXPECT_TRUE(HtmlInert(out));
  // An overlong encoding of '<' is not a way in.
  const std::string overlong = HtmlEscape(std::string("\xc0\xbc", 2));
  EXPECT_TRUE(ValidUtf8(overlong));
  EXPECT_TRUE(HtmlInert(overlong));
}

TEST(HtmlEscapeTest, RandomBytesComeOutInertAndValid) {
  std::mt19937 rng(42);
  for (int i = 0; i < 2000; ++i) {
    std::string in(rng() % 64, '\0');
    for (char& c : in) c = static_cast<char>(rng() % 256);
    const std::string out = HtmlEscape(in);
    ASSERT_TRUE(ValidUtf8(out)) << "case " << i;
    ASSERT_TRUE(HtmlInert(out)) << "case " << i << ": " << out;
  }
}

}  // namespace
}  // namespace visi
