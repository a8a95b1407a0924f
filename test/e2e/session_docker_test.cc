// VisiSessions on a real dockerd, through a real visid: lifecycle, drift
// repair, scaling, adoption after a restart, isolation between sessions, the
// daemon going away and coming back, bad specs, suspend and resume. Every Docker object carries
// this run's visi.dev/instance label; the fixture removes them all.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>

#include "controller/drivers/docker/docker_client.h"
#include "test/e2e/main_docker.h"
#include "controller/drivers/docker/tar_archive.h"
#include "reconcilers/session/prober.h"
#include "test/e2e/unix_socket_proxy.h"
#include "test/e2e/visid_process.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

const std::string kSessions = "/apis/visi.dev/v1alpha1/namespaces/alice/visisessions";
constexpr auto kReadyWithin = std::chrono::seconds(90);

std::string SessionJson(const std::string& name, int workers = 2, const Json& extra_spec = Json::object()) {
  Json j = {{"apiVersion", "visi.dev/v1alpha1"},
            {"kind", "VisiSession"},
            {"metadata", {{"name", name}, {"namespace", "alice"}}},
            {"spec", {{"user", "alice"}, {"spark", {{"workers", workers}}}}}};
  j["spec"].merge_patch(extra_spec);
  return j.dump();
}

class SessionDockerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    const unsigned r = rd();
    instance_ = "e2e-" + std::to_string(r % 1000000);
    // A /20 of its own per run (10.160.0.0 - 10.175.255.255), so runs in
    // parallel do not compete for subnets.
    pool_ = "10." + std::to_string(160 + r % 16) + "." + std::to_string((r / 16 % 16) * 16) + ".0/20";
    ConnectMainDocker(&docker_);
    if (HasFatalFailure()) return;
    proxy_ = std::make_unique<UnixSocketProxy>(visid_.dir() + "/docker.sock", "/var/run/docker.sock");
    ASSERT_TRUE(proxy_->Start());
    ASSERT_TRUE(StartVisid());
    admin_ = std::make_unique<ApiClient>(visid_.AdminConfig());
  }
  void TearDown() override {
    visid_.Stop();
    // Whatever a failed test left: found by this run's label.
    for (const auto& c : Containers()) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    auto networks = docker_->ListNetworks({{"visi.dev/instance", instance_}});
    if (networks.ok()) {
      for (const auto& n : *networks) (void)docker_->RemoveNetwork(n.id);
    }
  }
  bool StartVisid() {
    return visid_.Start({"--controllers", "*,-visiroute", "--instance", instance_, "--subnet-pool", pool_, "--session-resync", "500ms",
                         "--docker-host", "unix://" + visid_.dir() + "/docker.sock", "--lease-duration", "2s",
                         "--renew-deadline", "1500ms", "--retry-period", "250ms"});
  }

  Json Get(const std::string& name) {
    auto r = admin_->Request("GET", kSessions + "/" + name);
    if (r.code != 200) return Json();
    auto j = ParseJson(r.body);
    return j.ok() ? *j : Json();
  }
  std::string Condition(const std::string& name, const std::string& type, const char* field = "reason") {
    Json s = Get(name);
    if (!s.is_object() || !s.contains("status") || !s["status"].contains("conditions")) return "";
    for (const auto& c : s["status"]["conditions"]) {
      if (c["type"] == type) return c.value(field, "");
    }
    return "";
  }
  bool Ready(const std::string& name) { return Condition(name, "Ready", "status") == "True"; }
  std::vector<ContainerInfo> Containers(const Labels& extra = {}) {
    Labels l = extra;
    l["visi.dev/instance"] = instance_;
    auto c = docker_->ListContainers(l);
    return c.ok() ? *c : std::vector<ContainerInfo>{};
  }
  size_t RunningOf(const std::string& uid) {
    size_t n = 0;
    for (const auto& c : Containers({{"visi.dev/session-uid", uid}})) n += c.running();
    return n;
  }
  std::string Create(const std::string& body) {
    auto r = admin_->Request("POST", kSessions, body);
    EXPECT_EQ(r.code, 201) << r.body;
    auto j = ParseJson(r.body);
    return j.ok() ? (*j)["metadata"].value("uid", "") : "";
  }
  // An HTTP exchange with a container from the host (the path HAProxy takes).
  static std::string HttpGet(const std::string& host_port, const std::string& path) {
    auto [rc, out] = RunCommand("curl -s -m 5 http://" + host_port + path);
    return rc == 0 ? out : "";
  }

  VisidProcess visid_;
  std::string instance_, pool_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::unique_ptr<UnixSocketProxy> proxy_;
  std::unique_ptr<ApiClient> admin_;
};

TEST_F(SessionDockerTest, LifecycleDriftScalingAndTeardown) {
  const std::string uid = Create(SessionJson("nb"));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin)) << Get("nb").dump(2);
  Json st = Get("nb")["status"];
  EXPECT_EQ(st["phase"], "Running");
  EXPECT_EQ(st["readyWorkers"], 2);
  const std::string fe = st["frontEndAddress"];
  // The front end serves and keeps notes; the workers registered with the
  // master over the session network.
  EXPECT_EQ(HttpGet(fe, "/healthz"), "ok\n");
  auto [rc, out] = RunCommand("curl -s -m 5 -o /dev/null -w '%{http_code}' --data-binary 'first note' http://" + fe +
                              "/notes");
  EXPECT_EQ(out, "201");
  EXPECT_NE(HttpGet(fe, "/notes").find("first note"), std::string::npos);
  const std::string master_ip = st["sparkMasterAddress"].get<std::string>().substr(8, st["sparkMasterAddress"].get<std::string>().rfind(':') - 8);
  ASSERT_TRUE(Eventually([&] {
    auto w = HttpGet(master_ip + ":8081", "/workers");
    return w.find("worker-0") != std::string::npos && w.find("worker-1") != std::string::npos;
  }, std::chrono::seconds(30)));
  // Unprivileged, by label, with deterministic names.
  auto cs = Containers({{"visi.dev/session-uid", uid}});
  ASSERT_EQ(cs.size(), 4u);
  for (const auto& c : cs) {
    EXPECT_EQ(c.name.rfind("visi-alice-nb-", 0), 0u) << c.name;
    EXPECT_FALSE(c.labels.at("visi.dev/spec-hash").empty());
  }

  // Drift: a container removed by hand and one stopped by hand come back.
  std::string worker, frontend;
  for (const auto& c : cs) {
    if (c.labels.at("visi.dev/component") == "worker") worker = c.name;
    if (c.labels.at("visi.dev/component") == "frontend") frontend = c.name;
  }
  ASSERT_TRUE(docker_->RemoveContainer(worker, std::chrono::seconds(0)).ok());
  ASSERT_EQ(RunCommand("docker stop -t 0 " + frontend + " >/dev/null 2>&1").first, 0);
  ASSERT_TRUE(Eventually([&] { return RunningOf(uid) == 4 && Ready("nb"); }, kReadyWithin));
  // Ready may still be the status from before the stop (the pass that
  // restarted the front end probes it next time), and the restarted front
  // end may have another address: wait for the status's address to serve.
  auto fe_now = [&] { return Get("nb")["status"].value("frontEndAddress", ""); };
  EXPECT_TRUE(Eventually([&] { return HttpGet(fe_now(), "/notes").find("first note") != std::string::npos; },
                         std::chrono::seconds(30)))
      << "a restarted front end keeps its files: " << HttpGet(fe_now(), "/notes");

  // Workers 2 -> 3 -> 1.
  for (int workers : {3, 1}) {
    auto p = admin_->Request("PATCH", kSessions + "/nb",
                             Json{{"spec", {{"spark", {{"workers", workers}}}}}}.dump(),
                             "application/merge-patch+json");
    ASSERT_EQ(p.code, 200) << p.body;
    ASSERT_TRUE(Eventually([&] {
      Json s = Get("nb");
      return Containers({{"visi.dev/session-uid", uid}}).size() == size_t(workers) + 2 &&
             RunningOf(uid) == size_t(workers) + 2 && Ready("nb") &&
             s["status"]["observedGeneration"] == s["metadata"]["generation"];
    }, kReadyWithin)) << workers;
  }

  // Delete: everything goes, the subnet is released.
  const std::string subnet = Get("nb")["status"]["subnet"];
  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/nb").code, 200);
  ASSERT_TRUE(Eventually([&] { return admin_->Request("GET", kSessions + "/nb").code == 404; }, kReadyWithin));
  EXPECT_TRUE(Containers({{"visi.dev/session-uid", uid}}).empty());
  EXPECT_TRUE(docker_->ListNetworks({{"visi.dev/session-uid", uid}})->empty());
  std::string claim = subnet;
  std::replace(claim.begin(), claim.end(), '.', '-');
  std::replace(claim.begin(), claim.end(), '/', '-');
  EXPECT_EQ(admin_->Request("GET", "/apis/visi.dev/v1alpha1/subnetclaims/" + claim).code, 404);
}

TEST_F(SessionDockerTest, AdoptionAfterARestartDuplicatesNothing) {
  const std::string uid = Create(SessionJson("nb", 2));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin));
  std::set<std::string> before;
  for (const auto& c : Containers({{"visi.dev/session-uid", uid}})) before.insert(c.id);
  visid_.Stop();
  ASSERT_TRUE(StartVisid());
  admin_ = std::make_unique<ApiClient>(visid_.AdminConfig());
  // Give the new process time to reconcile (several resync periods).
  std::this_thread::sleep_for(std::chrono::seconds(3));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin));
  std::set<std::string> after;
  for (const auto& c : Containers({{"visi.dev/session-uid", uid}})) after.insert(c.id);
  EXPECT_EQ(before, after) << "the same containers, adopted";
  EXPECT_EQ(docker_->ListNetworks({{"visi.dev/session-uid", uid}})->size(), 1u);
}

TEST_F(SessionDockerTest, SessionsCannotReachEachOther) {
  const std::string a = Create(SessionJson("a", 0));
  const std::string b = Create(SessionJson("b", 0));
  ASSERT_TRUE(Eventually([&] { return Ready("a") && Ready("b"); }, kReadyWithin));
  const std::string master_a = Get("a")["status"]["sparkMasterAddress"];
  const std::string ip_a = master_a.substr(8, master_a.rfind(':') - 8);
  const std::string net_a = Get("a")["status"]["network"], net_b = Get("b")["status"]["network"];
  // A probe container on each network tries A's master; the host can reach it.
  auto probe = [&](const std::string& net) {
    ContainerSpec p;
    p.name = "visi-probe-" + instance_ + "-" + net.substr(net.size() - 8);
    p.image = "visi/busybox:latest";
    p.network = net;
    p.labels = {{"visi.dev/instance", instance_}};
    p.command = {"sh", "-c", "if nc -w 2 " + ip_a + " 7077 </dev/null; then echo reached; else echo blocked; fi > /tmp/r; sleep 30"};
    EXPECT_TRUE(docker_->CreateContainer(p).ok());
    EXPECT_TRUE(docker_->StartContainer(p.name).ok());
    std::string result;
    Eventually([&] {
      auto tar = docker_->GetArchive(p.name, "/tmp/r");
      if (!tar.ok()) return false;
      result = tar->find("reached") != std::string::npos ? "reached" : tar->find("blocked") != std::string::npos ? "blocked" : "";
      return !result.empty();
    }, std::chrono::seconds(20));
    (void)docker_->RemoveContainer(p.name, std::chrono::seconds(0));
    return result;
  };
  EXPECT_EQ(probe(net_a), "reached") << "same session: reachable";
  EXPECT_EQ(probe(net_b), "blocked") << "another session's network: unreachable";
  SocketProber host;
  EXPECT_TRUE(host.Tcp(ip_a, 7077, std::chrono::seconds(2)).ok()) << "the host reaches every session";
}

TEST_F(SessionDockerTest, DaemonStoppedAndStartedAgain) {
  Create(SessionJson("nb", 1));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin));
  proxy_->Stop();  // to visid, the daemon is gone
  ASSERT_TRUE(Eventually([&] { return Condition("nb", "ContainersReady") == "DockerUnavailable"; }, kReadyWithin));
  EXPECT_NE(Get("nb")["status"]["message"].get<std::string>().find("Docker daemon"), std::string::npos);
  ASSERT_TRUE(proxy_->Start());
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin)) << "recovers by itself";
}

// spec.suspend: the containers are stopped, /data is captured into a
// Snapshot, then the containers and the network go and the subnet is
// released; false again creates them anew, restores /data, then starts them.
TEST_F(SessionDockerTest, SuspendSnapshotsAndReleasesAndResumeRestores) {
  const std::string uid = Create(SessionJson("nb", 1));
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin)) << Get("nb").dump(2);
  const Json before = Get("nb")["status"];
  const std::string subnet = before["subnet"];
  const Labels of_session = {{"visi.dev/session-uid", uid}};
  ASSERT_EQ(Containers(of_session).size(), 3u);
  auto nets = docker_->ListNetworks(of_session);
  ASSERT_TRUE(nets.ok());
  ASSERT_EQ(nets->size(), 1u);
  const std::string network_id = (*nets)[0].id;
  // The notebook's state: a file in the front end's /data.
  auto frontends = Containers({{"visi.dev/session-uid", uid}, {"visi.dev/component", "frontend"}});
  ASSERT_EQ(frontends.size(), 1u);
  TarEntry note;
  note.name = "data/notes.txt";
  note.content = "kept across a suspend\n";
  note.mode = 0644;
  ASSERT_TRUE(docker_->PutArchive(frontends[0].id, "/", *WriteTar({note})).ok());
  auto patch = [&](bool suspend) {
    auto p = admin_->Request("PATCH", kSessions + "/nb", Json{{"spec", {{"suspend", suspend}}}}.dump(),
                             "application/merge-patch+json");
    EXPECT_EQ(p.code, 200) << p.body;
  };

  patch(true);
  ASSERT_TRUE(Eventually([&] { return Get("nb")["status"].value("phase", "") == "Suspended"; }, kReadyWithin))
      << Get("nb")["status"].dump(2);
  EXPECT_TRUE(Containers(of_session).empty()) << "every container of the session is gone";
  nets = docker_->ListNetworks(of_session);
  ASSERT_TRUE(nets.ok());
  EXPECT_TRUE(nets->empty()) << "the network is gone";
  Json st = Get("nb")["status"];
  EXPECT_EQ(Condition("nb", "Suspended", "status"), "True");
  EXPECT_EQ(Condition("nb", "Suspended"), "SuspendRequested");
  EXPECT_EQ(Condition("nb", "Ready"), "Suspended");
  EXPECT_EQ(Condition("nb", "ContainersReady"), "Suspended");
  EXPECT_TRUE(st.contains("suspendedTime"));
  EXPECT_EQ(st["components"], Json::array());
  EXPECT_FALSE(st.contains("frontEndAddress"));
  EXPECT_FALSE(st.contains("sparkMasterAddress"));
  EXPECT_FALSE(st.contains("subnet")) << "released";
  std::string claim = subnet;
  std::replace(claim.begin(), claim.end(), '.', '-');
  std::replace(claim.begin(), claim.end(), '/', '-');
  EXPECT_EQ(admin_->Request("GET", "/apis/visi.dev/v1alpha1/subnetclaims/" + claim).code, 404) << "the claim is gone";
  ASSERT_TRUE(st.contains("lastSnapshot")) << st.dump(2);
  const std::string snap_name = st["lastSnapshot"]["name"];
  auto snap = admin_->Request("GET", "/apis/visi.dev/v1alpha1/namespaces/alice/snapshots/" + snap_name);
  ASSERT_EQ(snap.code, 200) << snap.body;
  const Json snapshot = Json::parse(snap.body);
  EXPECT_EQ(snapshot["status"]["phase"], "Ready");
  EXPECT_EQ(snapshot["status"]["sha256"], st["lastSnapshot"]["sha256"]);
  EXPECT_EQ(snapshot["metadata"]["labels"]["visi.dev/session-uid"], uid);
  EXPECT_TRUE(std::filesystem::exists(snapshot["status"]["location"].get<std::string>()));

  patch(false);
  ASSERT_TRUE(Eventually([&] { return Ready("nb"); }, kReadyWithin)) << Get("nb").dump(2);
  Json after = Get("nb")["status"];
  EXPECT_EQ(after["phase"], "Running");
  EXPECT_FALSE(after.contains("restoring"));
  EXPECT_EQ(Condition("nb", "Suspended"), "Resumed");
  EXPECT_EQ(Condition("nb", "Suspended", "status"), "False");
  EXPECT_EQ(Condition("nb", "Restored"), "Restored");
  EXPECT_GE(after["startedTime"].get<std::string>(), st["suspendedTime"].get<std::string>()) << "started at the resume";
  EXPECT_EQ(RunningOf(uid), 3u);
  nets = docker_->ListNetworks(of_session);
  ASSERT_TRUE(nets.ok());
  ASSERT_EQ(nets->size(), 1u);
  EXPECT_NE((*nets)[0].id, network_id) << "a new network";
  const std::string now_subnet = after["subnet"];
  const std::string fe = after["frontEndAddress"];
  EXPECT_EQ(fe.rfind(now_subnet.substr(0, now_subnet.rfind('.') + 1), 0), 0u) << fe << " is on " << now_subnet;
  EXPECT_EQ(HttpGet(fe, "/healthz"), "ok\n");
  frontends = Containers({{"visi.dev/session-uid", uid}, {"visi.dev/component", "frontend"}});
  ASSERT_EQ(frontends.size(), 1u);
  auto tar = docker_->GetArchive(frontends[0].id, "/data/notes.txt");
  ASSERT_TRUE(tar.ok()) << tar.status().ToString();
  auto files = ReadTar(*tar);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  EXPECT_EQ(files->at(0).content, "kept across a suspend\n");
}

TEST_F(SessionDockerTest, BadSpecsEndInClearConditions) {
  // Refused by the schema, naming the field.
  auto neg = admin_->Request("POST", kSessions, SessionJson("neg", -1));
  EXPECT_EQ(neg.code, 422);
  EXPECT_NE(neg.body.find("spec.spark.workers"), std::string::npos) << neg.body;
  auto port = admin_->Request("POST", kSessions, SessionJson("port", 1, {{"frontEnd", {{"port", 70000}}}}));
  EXPECT_EQ(port.code, 422);
  EXPECT_NE(port.body.find("spec.frontEnd.port"), std::string::npos) << port.body;
  // Accepted, and stuck with a reason.
  Create(SessionJson("noimg", 1, {{"frontEnd", {{"image", "registry.invalid/nowhere:1"}}}}));
  ASSERT_TRUE(Eventually([&] { return Condition("noimg", "Ready") == "ImageMissing"; }, kReadyWithin));
  EXPECT_NE(Get("noimg")["status"]["message"].get<std::string>().find("registry.invalid/nowhere:1"),
            std::string::npos);
  Create(SessionJson("neverready", 0, {{"frontEnd", {{"readinessPath", "/never"}}}, {"startTimeoutSeconds", 3}}));
  ASSERT_TRUE(Eventually([&] { return Condition("neverready", "Ready") == "StartDeadlineExceeded"; }, kReadyWithin));
  EXPECT_EQ(Get("neverready")["status"]["phase"], "Failed");
  // Once the front end listens, the message says what the probe got.
  EXPECT_TRUE(Eventually([&] {
    return Get("neverready")["status"].value("message", "").find("answered 404") != std::string::npos;
  }, kReadyWithin)) << Get("neverready")["status"].dump();
  // Deleting stuck sessions leaves nothing behind.
  for (const char* n : {"noimg", "neverready"}) ASSERT_EQ(admin_->Request("DELETE", kSessions + "/" + n).code, 200);
  // A session is gone once its teardown finished: containers, then network.
  ASSERT_TRUE(Eventually([&] {
    return admin_->Request("GET", kSessions + "/noimg").code == 404 &&
           admin_->Request("GET", kSessions + "/neverready").code == 404;
  }, kReadyWithin));
  EXPECT_TRUE(Containers().empty());
  EXPECT_TRUE(docker_->ListNetworks({{"visi.dev/instance", instance_}})->empty());
}

}  // namespace
}  // namespace visi::testing
