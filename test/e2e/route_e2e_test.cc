// Routing end to end: a real visid running its HAProxy, real session
// containers on a real dockerd, and HTTP through the router from this
// process (raw sockets) and curl. Every Docker object carries this run's
// visi.dev/instance label; the fixture removes them all.
#include <gtest/gtest.h>

#include <set>
#include <signal.h>

#include <fstream>
#include <random>
#include <regex>

#include "controller/drivers/docker/docker_client.h"
#include "test/e2e/main_docker.h"
#include "controller/drivers/haproxy/managed_haproxy.h"
#include "test/e2e/unix_socket_proxy.h"
#include "test/e2e/visid_process.h"
#include "test/integration/loopback_http.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

constexpr auto kReadyWithin = std::chrono::seconds(90);

std::string Sessions(const std::string& ns) { return "/apis/visi.dev/v1alpha1/namespaces/" + ns + "/visisessions"; }

std::string SessionJson(const std::string& ns, const std::string& name, const Json& extra_spec = Json::object()) {
  Json j = {{"apiVersion", "visi.dev/v1alpha1"},
            {"kind", "VisiSession"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"spec", {{"user", ns}, {"spark", {{"workers", 0}}}}}};
  j["spec"].merge_patch(extra_spec);
  return j.dump();
}

// Runs and is not a zombie (an orphan whose reaper has not come by yet).
bool ProcessRuns(int pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

// What a login URL gives a browser: the cookie, from the 303's Set-Cookie.
struct LoginResult {
  int status = 0;
  std::string cookie;    // JSESSIONID value
  std::string location;  // where the browser goes next
  std::string set_cookie;
};

class RouteE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    const unsigned r = rd();
    instance_ = "e2e-rt-" + std::to_string(r % 1000000);
    pool_ = "10." + std::to_string(176 + r % 16) + "." + std::to_string((r / 16 % 16) * 16) + ".0/20";
    ConnectMainDocker(&docker_);
    if (HasFatalFailure()) return;
    proxy_ = std::make_unique<UnixSocketProxy>(visid_.dir() + "/docker.sock", "/var/run/docker.sock");
    ASSERT_TRUE(proxy_->Start());
    alice_token_ = visid_.AddUser("alice", {"alice"});  // users are read at start
    router_listen_ = "127.0.0.1:" + std::to_string(PickFreePort("127.0.0.1"));
    ASSERT_TRUE(StartVisid());
  }
  bool StartVisid() {
    if (!visid_.Start({"--controllers", "*", "--instance", instance_, "--subnet-pool", pool_, "--session-resync",
                       "500ms", "--docker-host", "unix://" + visid_.dir() + "/docker.sock", "--router-listen",
                       router_listen_, "--router-sync", "300ms", "--router-activity", "300ms", "--lease-duration",
                       "2s", "--renew-deadline", "1500ms", "--retry-period", "250ms"})) {
      return false;
    }
    admin_ = std::make_unique<ApiClient>(visid_.AdminConfig());
    return Eventually([&] { return ReadRouterLog(); }, std::chrono::seconds(10));
  }
  void TearDown() override {
    visid_.Stop();
    auto containers = docker_->ListContainers({{"visi.dev/instance", instance_}});
    if (containers.ok()) {
      for (const auto& c : *containers) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
    auto networks = docker_->ListNetworks({{"visi.dev/instance", instance_}});
    if (networks.ok()) {
      for (const auto& n : *networks) (void)docker_->RemoveNetwork(n.id);
    }
  }

  // The router's URL and HAProxy's pid from visid's last "router started" line.
  bool ReadRouterLog() {
    std::ifstream in(visid_.log_path());
    std::string line;
    static const std::regex re("\"haproxyPid\":([0-9]+).*\"url\":\"http://127\\.0\\.0\\.1:([0-9]+)\"");
    bool found = false;
    while (std::getline(in, line)) {
      std::smatch m;
      if (line.find("router started") != std::string::npos && std::regex_search(line, m, re)) {
        haproxy_pid_ = std::stoi(m[1]);
        router_port_ = std::stoi(m[2]);
        found = true;
      }
    }
    return found;
  }

  Json Get(const std::string& ns, const std::string& name) {
    auto r = admin_->Request("GET", Sessions(ns) + "/" + name);
    if (r.code != 200) return Json();
    auto j = ParseJson(r.body);
    return j.ok() ? *j : Json();
  }
  std::string Condition(const std::string& ns, const std::string& name, const std::string& type,
                        const char* field = "reason") {
    Json s = Get(ns, name);
    if (!s.is_object() || !s.contains("status") || !s["status"].contains("conditions")) return "";
    for (const auto& c : s["status"]["conditions"]) {
      if (c["type"] == type) return c.value(field, "");
    }
    return "";
  }
  void CreateSession(const std::string& ns, const std::string& name, const Json& extra_spec = Json::object()) {
    auto r = admin_->Request("POST", Sessions(ns), SessionJson(ns, name, extra_spec));
    ASSERT_EQ(r.code, 201) << r.body;
  }
  // Ready, and its route leads to the front end.
  bool Routed(const std::string& ns, const std::string& name) {
    return Condition(ns, name, "Ready", "status") == "True" && Condition(ns, name, "Routed") == "FrontEnd";
  }
  // POST .../login with `client`; the login URL ("" on failure, `code` set).
  std::string LoginUrl(ApiClient& client, const std::string& ns, const std::string& name, int* code = nullptr) {
    auto r = client.Request("POST", Sessions(ns) + "/" + name + "/login", "{}");
    if (code) *code = r.code;
    if (r.code != 201) return "";
    auto j = ParseJson(r.body);
    return j.ok() ? (*j).value("url", "") : "";
  }
  // Follows a login URL as a browser's first request would (no redirect).
  LoginResult FollowLogin(const std::string& url) {
    LoginResult out;
    const std::string prefix = "http://127.0.0.1:" + std::to_string(router_port_);
    if (url.rfind(prefix, 0) != 0) return out;
    auto [rc, head] = RunCommand("curl -s -m 10 -o /dev/null -D - '" + url + "'");
    if (rc != 0) return out;
    std::smatch m;
    if (std::regex_search(head, m, std::regex("^HTTP/1.1 ([0-9]+)"))) out.status = std::stoi(m[1]);
    if (std::regex_search(head, m, std::regex("set-cookie: (JSESSIONID=([0-9a-f]+)[^\r\n]*)", std::regex::icase))) {
      out.set_cookie = m[1];
      out.cookie = m[2];
    }
    if (std::regex_search(head, m, std::regex("location: ([^\r\n]+)", std::regex::icase))) out.location = m[1];
    return out;
  }
  HttpAnswer Through(const std::string& path, const std::string& cookie) {
    return cookie.empty() ? HttpGet(router_port_, path) : HttpGet(router_port_, path, {CookieHeader(cookie)});
  }

  VisidProcess visid_;
  std::string instance_, pool_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::unique_ptr<UnixSocketProxy> proxy_;
  std::unique_ptr<ApiClient> admin_;
  std::string alice_token_, router_listen_;
  int router_port_ = 0;
  int haproxy_pid_ = 0;
};

TEST_F(RouteE2eTest, OnlyTheLoggedInUserReachesTheSession) {
  CreateSession("alice", "nb");
  CreateSession("bob", "nb");
  ASSERT_TRUE(Eventually([&] { return Routed("alice", "nb") && Routed("bob", "nb"); }, kReadyWithin))
      << Get("alice", "nb").dump(2) << Get("bob", "nb").dump(2);
  const std::string url = Get("alice", "nb")["status"].value("url", "");
  EXPECT_EQ(url, "http://127.0.0.1:" + std::to_string(router_port_) + "/s/alice/nb/");

  // alice may log in to her session only.
  ApiClient alice(visid_.ConfigWithToken(alice_token_));
  int code = 0;
  EXPECT_EQ(LoginUrl(alice, "bob", "nb", &code), "");
  EXPECT_EQ(code, 403);
  EXPECT_EQ(LoginUrl(alice, "alice", "missing", &code), "");
  EXPECT_EQ(code, 404);
  const std::string login = LoginUrl(alice, "alice", "nb");
  ASSERT_FALSE(login.empty());
  EXPECT_NE(login.find("/_visi/login/alice/nb?ticket="), std::string::npos) << login;

  // Before the login, nobody gets through.
  EXPECT_EQ(Through("/s/alice/nb/", "").status, 403);

  LoginResult a = FollowLogin(login);
  EXPECT_EQ(a.status, 303);
  EXPECT_EQ(a.location, "/s/alice/nb/");
  ASSERT_EQ(a.cookie.size(), 64u) << a.set_cookie;
  EXPECT_NE(a.set_cookie.find("Path=/s/alice/nb/"), std::string::npos) << a.set_cookie;
  EXPECT_NE(a.set_cookie.find("HttpOnly"), std::string::npos) << a.set_cookie;
  // A second use of the same link fails; the first cookie still works.
  EXPECT_EQ(FollowLogin(login).status, 410);

  HttpAnswer page = Through("/s/alice/nb/", a.cookie);
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("Visi notebook: alice/nb"), std::string::npos) << page.body;
  EXPECT_EQ(Through("/s/alice/nb/healthz", a.cookie).body, "ok\n");

  // Refused by HAProxy: no cookie, a wrong one, the hash instead of the
  // secret, another user's cookie on this prefix, this cookie on another's.
  LoginResult b = FollowLogin(LoginUrl(*admin_, "bob", "nb"));
  ASSERT_EQ(b.cookie.size(), 64u);
  EXPECT_EQ(Through("/s/bob/nb/", b.cookie).status, 200);
  EXPECT_EQ(Through("/s/alice/nb/", "").status, 403);
  EXPECT_EQ(Through("/s/alice/nb/", std::string(64, 'a')).status, 403);
  EXPECT_EQ(Through("/s/alice/nb/", b.cookie).status, 403);
  EXPECT_EQ(Through("/s/bob/nb/", a.cookie).status, 403);
  EXPECT_EQ(Through("/s/alice/nb", a.cookie).status, 403);
  EXPECT_EQ(Through("/_visi/login/alice/nb?ticket=" + std::string(64, '0'), "").status, 404);

  // The store holds hashes only: neither the ticket nor the cookie in clear.
  auto logins = admin_->Request("GET", "/apis/visi.dev/v1alpha1/namespaces/alice/sessionlogins");
  ASSERT_EQ(logins.code, 200);
  EXPECT_EQ(logins.body.find(a.cookie), std::string::npos);
  EXPECT_EQ(logins.body.find(login.substr(login.find("ticket=") + 7)), std::string::npos);
  EXPECT_NE(logins.body.find("cookieSHA256"), std::string::npos);

  // visictl open prints a working login URL.
  auto [rc, out] = RunCommand(std::string(VISI_VISICTL_BINARY) + " --config " + visid_.config_path() +
                              " open nb -n bob 2>/dev/null");
  ASSERT_EQ(rc, 0);
  EXPECT_EQ(FollowLogin(out.substr(0, out.find('\n'))).status, 303);
}

TEST_F(RouteE2eTest, RouteChangesKeepOpenConnectionsAndHaproxyRestartsRestoreRoutes) {
  CreateSession("alice", "nb");
  ASSERT_TRUE(Eventually([&] { return Routed("alice", "nb"); }, kReadyWithin)) << Get("alice", "nb").dump(2);
  LoginResult a = FollowLogin(LoginUrl(*admin_, "alice", "nb"));
  ASSERT_EQ(a.cookie.size(), 64u);

  // A keep-alive connection to alice's session stays up while another
  // session's route is added, logged into and removed: no reload.
  HttpConnection held(router_port_);
  ASSERT_EQ(held.Get("/s/alice/nb/healthz", {CookieHeader(a.cookie)}).body, "ok\n");
  CreateSession("alice", "other");
  ASSERT_TRUE(Eventually([&] { return Routed("alice", "other"); }, kReadyWithin));
  LoginResult o = FollowLogin(LoginUrl(*admin_, "alice", "other"));
  ASSERT_EQ(Through("/s/alice/other/healthz", o.cookie).body, "ok\n");
  ASSERT_EQ(held.Get("/s/alice/nb/healthz", {CookieHeader(a.cookie)}).body, "ok\n");
  ASSERT_EQ(admin_->Request("DELETE", Sessions("alice") + "/other").code, 200);
  ASSERT_TRUE(Eventually([&] { return Through("/s/alice/other/healthz", o.cookie).status == 403; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(held.Get("/s/alice/nb/healthz", {CookieHeader(a.cookie)}).body, "ok\n");
  EXPECT_FALSE(held.closed());
  EXPECT_EQ(::kill(haproxy_pid_, 0), 0) << "the same HAProxy process serves throughout";

  // HAProxy killed: visid starts it again on the same port and every route
  // comes back, logins included.
  ASSERT_EQ(::kill(haproxy_pid_, SIGKILL), 0);
  ASSERT_TRUE(Eventually([&] { return Through("/s/alice/nb/healthz", a.cookie).body == "ok\n"; },
                         std::chrono::seconds(15)));
  EXPECT_EQ(Through("/s/alice/nb/healthz", "").status, 403);
  auto metrics = admin_->Request("GET", "/metrics");
  EXPECT_NE(metrics.body.find("visi_router_restarts_total 1"), std::string::npos) << metrics.body;
}

TEST_F(RouteE2eTest, VisidKilledAndRestartedKeepsLoginsAndRoutes) {
  CreateSession("alice", "nb");
  ASSERT_TRUE(Eventually([&] { return Routed("alice", "nb"); }, kReadyWithin)) << Get("alice", "nb").dump(2);
  LoginResult a = FollowLogin(LoginUrl(*admin_, "alice", "nb"));
  ASSERT_EQ(Through("/s/alice/nb/healthz", a.cookie).body, "ok\n");
  const int old_haproxy = haproxy_pid_;

  // SIGKILL: visid's HAProxy (in its own process group) outlives it. The
  // next visid replaces it on the same port and re-applies every route.
  visid_.Kill();
  ASSERT_TRUE(StartVisid());
  EXPECT_NE(haproxy_pid_, old_haproxy);
  EXPECT_FALSE(ProcessRuns(old_haproxy)) << "the stale HAProxy was stopped";
  ASSERT_TRUE(Eventually([&] { return Through("/s/alice/nb/healthz", a.cookie).body == "ok\n"; },
                         std::chrono::seconds(30)));
  EXPECT_EQ(Through("/s/alice/nb/healthz", "").status, 403);
}

TEST_F(RouteE2eTest, WakeUpPageStartsASuspendedSession) {
  CreateSession("alice", "sleepy", {{"suspend", true}});
  ASSERT_TRUE(Eventually([&] { return Condition("alice", "sleepy", "Routed") == "WakeUp"; }, kReadyWithin))
      << Get("alice", "sleepy").dump(2);
  LoginResult a = FollowLogin(LoginUrl(*admin_, "alice", "sleepy"));
  ASSERT_EQ(a.cookie.size(), 64u);
  // Without the cookie the wake-up page is as closed as the session.
  EXPECT_EQ(Through("/s/alice/sleepy/", "").status, 403);

  HttpConnection c(router_port_);
  ASSERT_TRUE(c.Send("/s/alice/sleepy/", {CookieHeader(a.cookie), "Accept: text/html"}));
  HttpAnswer page = c.Receive();
  EXPECT_EQ(page.status, 503);
  EXPECT_NE(page.body.find("alice/sleepy"), std::string::npos) << page.body;
  EXPECT_NE(page.body.find("http-equiv=\"refresh\""), std::string::npos) << page.body;
  EXPECT_EQ(Get("alice", "sleepy")["spec"].value("suspend", true), false) << "the wake-up asked the session to run";
  HttpAnswer json = HttpGet(router_port_, "/s/alice/sleepy/", {CookieHeader(a.cookie), "Accept: application/json"});
  EXPECT_EQ(json.status, 503);
  EXPECT_NE(json.body.find("\"session\":\"alice/sleepy\""), std::string::npos) << json.body;

  // The page reloads until the session answers through the same URL.
  ASSERT_TRUE(Eventually([&] { return Through("/s/alice/sleepy/healthz", a.cookie).body == "ok\n"; }, kReadyWithin))
      << Get("alice", "sleepy").dump(2);
  // The route changes first, the status right after it.
  EXPECT_TRUE(Eventually([&] { return Condition("alice", "sleepy", "Routed") == "FrontEnd"; },
                         std::chrono::seconds(10)));
}

TEST_F(RouteE2eTest, ActivityAndIdleFollowTheRoutersCountersAndIdleSuspends) {
  CreateSession("alice", "nb", {{"idleTimeoutSeconds", 2}});
  ASSERT_TRUE(Eventually([&] { return Routed("alice", "nb"); }, kReadyWithin));
  LoginResult a = FollowLogin(LoginUrl(*admin_, "alice", "nb"));
  ASSERT_EQ(a.cookie.size(), 64u);
  // Nobody comes: Idle after 2 s, and visid suspends it (a snapshot, then a
  // stop). Idle may be True only for a moment before the suspend makes it
  // NotRunning: the events tell the story.
  ASSERT_TRUE(Eventually([&] { return Get("alice", "nb")["spec"].value("suspend", false); }, std::chrono::seconds(30)))
      << Get("alice", "nb").dump(2);
  EXPECT_FALSE(Get("alice", "nb")["status"].value("lastActivityTime", "").empty());
  // The event follows the spec write it reports: wait for it.
  std::set<std::string> reasons;
  std::string events_body;
  Eventually(
      [&] {
        auto events = admin_->Request("GET", "/apis/visi.dev/v1alpha1/namespaces/alice/events");
        if (events.code != 200) return false;
        events_body = events.body;
        reasons.clear();
        for (const auto& e : Json::parse(events.body).value("items", Json::array())) {
          if (e.contains("spec") && e["spec"].is_object()) reasons.insert(e["spec"].value("reason", ""));
        }
        return reasons.count("Idle") && reasons.count("IdleSuspended");
      },
      std::chrono::seconds(10));
  EXPECT_TRUE(reasons.count("Idle")) << events_body;
  EXPECT_TRUE(reasons.count("IdleSuspended")) << events_body;
  ASSERT_TRUE(Eventually([&] { return Get("alice", "nb")["status"].value("phase", "") == "Suspended"; },
                         kReadyWithin))
      << Get("alice", "nb").dump(2);
  // Requests wake it up and, once it runs, keep it awake; the counters show them.
  ASSERT_TRUE(Eventually([&] { return Through("/s/alice/nb/healthz", a.cookie).body == "ok\n"; }, kReadyWithin))
      << Get("alice", "nb").dump(2);
  bool awake = Eventually(
      [&] {
        (void)Through("/s/alice/nb/healthz", a.cookie);
        return Condition("alice", "nb", "Idle") == "Active";
      },
      std::chrono::seconds(30));
  EXPECT_TRUE(awake) << Get("alice", "nb").dump(2);
  EXPECT_EQ(Condition("alice", "nb", "Idle", "status"), "False");
  EXPECT_TRUE(Eventually([&] { return Get("alice", "nb")["status"].value("connectedClients", -1) == 0; },
                         std::chrono::seconds(30)));
}

// An HAProxy the operator runs (config from visid --print-haproxy-config),
// driven by visid through its stats socket and never started or stopped by
// it. No Docker: the session's "front end" is a server in this process.
TEST(RouteAttachE2eTest, VisidDrivesAnOperatorsHaproxy) {
  VisidProcess visid;
  const std::string dir = visid.dir() + "/hap";
  std::filesystem::create_directories(dir);
  const std::string listen = "127.0.0.1:" + std::to_string(PickFreePort("127.0.0.1"));
  const std::string wakeup = "127.0.0.1:" + std::to_string(PickFreePort("127.0.0.1"));
  auto [rc, config] = RunCommand(std::string(VISI_VISID_BINARY) + " --print-haproxy-config --router-attach " + dir +
                                 " --router-listen " + listen + " --wakeup-listen " + wakeup);
  ASSERT_EQ(rc, 0) << config;
  EXPECT_NE(config.find("stats socket " + dir + "/admin.sock"), std::string::npos) << config;
  std::ofstream(dir + "/haproxy.cfg") << config;
  std::ofstream(dir + "/routes.map") << "";
  std::ofstream(dir + "/route-prefixes.map") << "";
  auto [hrc, hout] = RunCommand("/usr/sbin/haproxy -D -p " + dir + "/op.pid -f " + dir + "/haproxy.cfg 2>&1");
  ASSERT_EQ(hrc, 0) << hout;
  int op_pid = 0;
  ASSERT_TRUE(Eventually([&] { return (std::ifstream(dir + "/op.pid") >> op_pid) && op_pid > 0; },
                         std::chrono::seconds(10)));
  struct StopOperatorsHaproxy {
    int pid;
    ~StopOperatorsHaproxy() { ::kill(pid, SIGTERM); }
  } stop{op_pid};

  ASSERT_TRUE(visid.Start({"--controllers", "garbage-collector,visiroute", "--router-attach", dir, "--router-listen",
                           listen, "--wakeup-listen", wakeup, "--router-sync", "300ms"}));
  ApiClient admin(visid.AdminConfig());
  LoopbackHttpServer frontend("frontend");
  ASSERT_EQ(admin.Request("POST", Sessions("alice"), SessionJson("alice", "nb")).code, 201);
  // The session reconciler does not run here: the test plays it (retrying
  // while the route reconciler writes the same status).
  ASSERT_TRUE(Eventually(
      [&] {
        Json s = *ParseJson(admin.Request("GET", Sessions("alice") + "/nb").body);
        s["status"]["phase"] = "Running";
        s["status"]["frontEndAddress"] = frontend.address();
        s["status"]["subnet"] = "127.0.0.0/8";  // the route only leads into the session's subnet
        s["status"]["conditions"] = {{{"type", "Ready"}, {"status", "True"}, {"reason", "Ready"}}};
        return admin.Request("PUT", Sessions("alice") + "/nb/status", s.dump()).code == 200;
      },
      std::chrono::seconds(10)));
  ASSERT_TRUE(Eventually(
      [&] {
        Json s = *ParseJson(admin.Request("GET", Sessions("alice") + "/nb").body);
        return s["status"].value("route", Json::object()).value("backend", "") == frontend.address();
      },
      std::chrono::seconds(10)));

  auto login = admin.Request("POST", Sessions("alice") + "/nb/login", "{}");
  ASSERT_EQ(login.code, 201) << login.body;
  const std::string url = (*ParseJson(login.body)).value("url", "");
  EXPECT_EQ(url.rfind("http://" + listen + "/_visi/login/alice/nb?ticket=", 0), 0u) << url;
  auto [crc, head] = RunCommand("curl -s -m 10 -o /dev/null -D - '" + url + "'");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(head, m, std::regex("set-cookie: JSESSIONID=([0-9a-f]{64})", std::regex::icase)))
      << head;
  const std::string cookie = m[1];
  const int port = std::stoi(listen.substr(listen.rfind(':') + 1));
  HttpAnswer ok = HttpGet(port, "/s/alice/nb/lab", {CookieHeader(cookie)});
  EXPECT_EQ(ok.status, 200) << admin.Request("GET", Sessions("alice") + "/nb").body;
  EXPECT_EQ(ok.body, "body=frontend path=/s/alice/nb/lab route=alice/nb\n");
  EXPECT_EQ(HttpGet(port, "/s/alice/nb/lab").status, 403);

  // visid goes; the operator's HAProxy stays, routes and all.
  visid.Stop();
  EXPECT_TRUE(ProcessRuns(op_pid));
  EXPECT_EQ(HttpGet(port, "/s/alice/nb/lab", {CookieHeader(cookie)}).status, 200);
}

}  // namespace
}  // namespace visi::testing
