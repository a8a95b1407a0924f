#pragma once

// Shared by the suspend/resume end-to-end tests (issue 7): a real visid that
// runs its own HAProxy, sessions on the real dockerd whose front end keeps
// notes in /data, a browser played by curl with a cookie jar, and the checks
// on what a suspended or running session leaves in Docker, in the store and
// in the snapshot directory. Every Docker object carries this test's
// visi.dev/instance label; TearDown removes them all, pass or fail.

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <regex>
#include <set>

#include "controller/drivers/docker/docker_client.h"
#include "test/e2e/main_docker.h"
#include "controller/drivers/haproxy/managed_haproxy.h"
#include "test/e2e/visid_process.h"

namespace visi::testing {

constexpr auto kReadyWithin = std::chrono::seconds(90);
constexpr auto kPollEvery = std::chrono::milliseconds(200);
inline const std::string kApi = "/apis/visi.dev/v1alpha1";
inline const std::string kSessions = kApi + "/namespaces/alice/visisessions";

// Polls `done` every 200 ms until it holds or `limit` passes (each poll is an
// HTTPS request or a curl process: no busy loop on two shared cores).
inline bool Poll(const std::function<bool()>& done, std::chrono::milliseconds limit = kReadyWithin) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(kPollEvery);
  }
  return done();
}

// j[key] when it is there, else an empty object (never null: value() on
// null throws).
inline Json Field(const Json& j, const std::string& key) {
  const Json out = j.is_object() ? j.value(key, Json::object()) : Json::object();
  return out.is_null() ? Json::object() : out;
}

// The condition `type` of an object's status ("" when absent).
inline std::string ConditionOf(const Json& object, const std::string& type, const char* field = "reason") {
  const Json status = object.is_object() ? object.value("status", Json::object()) : Json::object();
  for (const auto& c : status.value("conditions", Json::array())) {
    if (c.value("type", "") == type) return c.value(field, "");
  }
  return "";
}

struct Page {
  int status = 0;  // 0: curl failed
  std::string body;
};

class SuspendE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Prepare();
    ASSERT_TRUE(StartVisid()) << ReadLog();
  }
  void Prepare() {
    static int n = 0;
    instance_ = "e2e-susp-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    const unsigned r = std::random_device()();
    pool_ = "10." + std::to_string(192 + r % 16) + "." + std::to_string((r / 16 % 16) * 16) + ".0/20";
    ConnectMainDocker(&docker_);
    if (HasFatalFailure()) return;
    router_listen_ = "127.0.0.1:" + std::to_string(PickFreePort("127.0.0.1"));
  }
  void TearDown() override {
    visid_.Stop();
    // The HAProxy of a visid that was killed and not started again.
    std::ifstream comm("/proc/" + std::to_string(haproxy_pid_) + "/comm");
    std::string name;
    if (haproxy_pid_ > 0 && std::getline(comm, name) && name == "haproxy") ::kill(haproxy_pid_, SIGTERM);
    if (auto cs = docker_->ListContainers({{"visi.dev/instance", instance_}}); cs.ok()) {
      for (const auto& c : *cs) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
    if (auto ns = docker_->ListNetworks({{"visi.dev/instance", instance_}}); ns.ok()) {
      for (const auto& n : *ns) (void)docker_->RemoveNetwork(n.id);
    }
  }

  // Starts visid (again) on the same data dir, instance and router port.
  bool StartVisid(const std::vector<std::string>& extra = {}) {
    const int routers_before = RouterStarts();
    std::vector<std::string> flags = {"--controllers",     "*",
                                      "--instance",        instance_,
                                      "--subnet-pool",     pool_,
                                      "--session-resync",  "500ms",
                                      "--docker-host",     "unix:///var/run/docker.sock",
                                      "--router-listen",   router_listen_,
                                      "--router-sync",     "300ms",
                                      "--router-activity", "300ms",
                                      "--lease-duration",  "2s",
                                      "--renew-deadline",  "1500ms",
                                      "--retry-period",    "250ms"};
    flags.insert(flags.end(), extra.begin(), extra.end());
    if (!visid_.Start(flags)) return false;
    admin_ = std::make_unique<ApiClient>(visid_.AdminConfig());
    return Poll([&] { return RouterStarts() > routers_before; }, std::chrono::seconds(10));
  }
  // How many "router started" lines visid.log holds; remembers the last
  // one's HAProxy pid and port.
  int RouterStarts() {
    std::ifstream in(visid_.dir() + "/visid.log");
    static const std::regex re("\"haproxyPid\":([0-9]+).*\"url\":\"http://127\\.0\\.0\\.1:([0-9]+)\"");
    int count = 0;
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (line.find("router started") != std::string::npos && std::regex_search(line, m, re)) {
        haproxy_pid_ = std::stoi(m[1]);
        router_port_ = std::stoi(m[2]);
        ++count;
      }
    }
    return count;
  }
  std::string ReadLog() {
    std::ifstream in(visid_.dir() + "/visid.log");
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }

  // --- The API ---
  // The object at `path`, or an empty object (no visid, 404, bad JSON).
  Json GetJson(const std::string& path) {
    auto r = admin_->Request("GET", path);
    auto j = r.code == 200 ? ParseJson(r.body) : StatusOr<Json>(Json::object());
    return j.ok() && j->is_object() ? *j : Json::object();
  }
  Json Get(const std::string& name) { return GetJson(kSessions + "/" + name); }
  Json StatusOf(const std::string& name) { return Field(Get(name), "status"); }
  std::string Phase(const std::string& name) { return StatusOf(name).value("phase", ""); }
  std::string Condition(const std::string& name, const std::string& type, const char* field = "reason") {
    return ConditionOf(Get(name), type, field);
  }
  // Running, Ready, and HAProxy's route leads to the front end.
  bool Routed(const std::string& name) {
    const Json s = Get(name);
    return Field(s, "status").value("phase", "") == "Running" && ConditionOf(s, "Ready", "status") == "True" &&
           ConditionOf(s, "Routed") == "FrontEnd";
  }
  std::string Create(const std::string& name, int workers, const Json& extra_spec = Json::object()) {
    Json j = {{"apiVersion", "visi.dev/v1alpha1"},
              {"kind", "VisiSession"},
              {"metadata", {{"name", name}, {"namespace", "alice"}}},
              {"spec", {{"user", "alice"}, {"spark", {{"workers", workers}}}}}};
    j["spec"].merge_patch(extra_spec);
    auto r = admin_->Request("POST", kSessions, j.dump());
    EXPECT_EQ(r.code, 201) << r.body;
    auto created = ParseJson(r.body);
    return created.ok() ? (*created)["metadata"].value("uid", "") : "";
  }
  bool Patch(const std::string& name, const Json& spec) {
    auto r =
        admin_->Request("PATCH", kSessions + "/" + name, Json{{"spec", spec}}.dump(), "application/merge-patch+json");
    EXPECT_EQ(r.code, 200) << r.body;
    return r.code == 200;
  }
  bool SuspendAndWait(const std::string& name) {
    return Patch(name, {{"suspend", true}}) && Poll([&] { return Phase(name) == "Suspended"; });
  }
  bool ResumeAndWait(const std::string& name) {
    return Patch(name, {{"suspend", false}}) && Poll([&] { return Routed(name); });
  }
  // The session's Snapshot objects (by the session-uid label), oldest first.
  std::vector<Json> Snapshots(const std::string& uid) {
    std::vector<Json> out;
    for (const auto& s : GetJson(kApi + "/namespaces/alice/snapshots").value("items", Json::array())) {
      if (Field(Field(s, "metadata"), "labels").value("visi.dev/session-uid", "") == uid) out.push_back(s);
    }
    std::sort(out.begin(), out.end(), [](const Json& a, const Json& b) {
      return Field(a, "metadata").value("creationTimestamp", "") < Field(b, "metadata").value("creationTimestamp", "");
    });
    return out;
  }
  Json Snapshot(const std::string& name) { return GetJson(kApi + "/namespaces/alice/snapshots/" + name); }
  std::vector<Json> Claims() { return GetJson(kApi + "/subnetclaims").value("items", Json::array()); }
  std::vector<Json> Events(const std::string& session, const std::string& reason) {
    std::vector<Json> out;
    for (const auto& e : GetJson(kApi + "/namespaces/alice/events").value("items", Json::array())) {
      const Json spec = Field(e, "spec");
      if (Field(spec, "involvedObject").value("name", "") == session && spec.value("reason", "") == reason)
        out.push_back(e);
    }
    return out;
  }

  // --- The browser: curl with a cookie jar, through HAProxy ---
  std::string Jar(const std::string& name) { return visid_.dir() + "/cookies-" + name; }
  std::string Url(const std::string& name, const std::string& path = "") {
    return "http://127.0.0.1:" + std::to_string(router_port_) + "/s/alice/" + name + "/" + path;
  }
  // Asks for a login link and follows it once: the jar holds the cookie.
  bool Login(const std::string& name) {
    auto r = admin_->Request("POST", kSessions + "/" + name + "/login", "{}");
    auto j = ParseJson(r.body);
    if (r.code != 201 || !j.ok()) return false;
    auto [rc, code] = RunCommand("curl -s -m 10 -o /dev/null -w '%{http_code}' -c " + ShellQuote(Jar(name)) + " " +
                                 ShellQuote((*j).value("url", "")));
    return rc == 0 && code == "303";
  }
  // One request as a browser makes it (Accept: text/html, the cookie);
  // `note` non-empty: POST the notes form.
  Page Browse(const std::string& name, const std::string& path, const std::string& note = "") {
    std::string cmd = "curl -s -m 10 -b " + ShellQuote(Jar(name)) + " -H 'Accept: text/html' -w '\\n%{http_code}' ";
    if (!note.empty()) cmd += "--data-urlencode " + ShellQuote("note=" + note) + " ";
    auto [rc, out] = RunCommand(cmd + ShellQuote(Url(name, path)) + " 2>/dev/null");
    const size_t nl = out.rfind('\n');
    if (rc != 0 || nl == std::string::npos) return {};
    return {std::atoi(out.c_str() + nl + 1), out.substr(0, nl)};
  }
  bool AddNote(const std::string& name, const std::string& note) { return Browse(name, "notes", note).status == 303; }
  // The notes, or "<HTTP n>" when the session does not answer 200.
  std::string Notes(const std::string& name) {
    Page p = Browse(name, "notes");
    return p.status == 200 ? p.body : "<HTTP " + std::to_string(p.status) + ">";
  }

  // --- Docker ---
  // The instance's containers (of one session when `uid` is given).
  std::vector<ContainerInfo> Containers(const std::string& uid = "") {
    Labels l = {{"visi.dev/instance", instance_}};
    if (!uid.empty()) l["visi.dev/session-uid"] = uid;
    auto c = docker_->ListContainers(l);
    return c.ok() ? *c : std::vector<ContainerInfo>{};
  }
  std::vector<NetworkInfo> Networks(const std::string& uid = "") {
    Labels l = {{"visi.dev/instance", instance_}};
    if (!uid.empty()) l["visi.dev/session-uid"] = uid;
    auto n = docker_->ListNetworks(l);
    return n.ok() ? *n : std::vector<NetworkInfo>{};
  }
  size_t RunningCount(const std::string& uid = "") {
    size_t n = 0;
    for (const auto& c : Containers(uid)) n += c.running();
    return n;
  }
  std::string ContainerId(const std::string& uid, const std::string& component) {
    for (const auto& c : Containers(uid)) {
      if (c.labels.count("visi.dev/component") && c.labels.at("visi.dev/component") == component) return c.id;
    }
    return "";
  }
  // A file in a Spark container's /tmp (spark.statePaths), written with
  // docker exec as the container's user.
  bool PutMarker(const std::string& uid, const std::string& component, const std::string& text) {
    const std::string id = ContainerId(uid, component);
    return !id.empty() &&
           RunCommand("docker exec " + id + " sh -c " + ShellQuote("echo " + ShellQuote(text) + " > /tmp/visi-marker"))
                   .first == 0;
  }
  std::string Marker(const std::string& uid, const std::string& component) {
    const std::string id = ContainerId(uid, component);
    return id.empty() ? "<no " + component + ">"
                      : RunCommand("docker exec " + id + " cat /tmp/visi-marker 2>&1").second;
  }

  // --- The snapshot directory ---
  std::string SnapshotDir() { return visid_.dir() + "/snapshots"; }
  // Every file under DIR/sha256/*/.
  std::set<std::string> StoreFiles() {
    std::set<std::string> out;
    std::error_code ec;
    for (const auto& fan : std::filesystem::directory_iterator(SnapshotDir() + "/sha256", ec)) {
      for (const auto& f : std::filesystem::directory_iterator(fan.path(), ec)) out.insert(f.path().string());
    }
    return out;
  }
  static std::string Sha256sum(const std::string& path) {
    auto [rc, out] = RunCommand("sha256sum " + ShellQuote(path) + " 2>&1");
    return rc == 0 ? out.substr(0, 64) : out;
  }

  // What a failed assertion should show: the session, its snapshots, the
  // store, the containers and visid's last log lines.
  std::string Diagnose(const std::string& name, const std::string& uid = "") {
    std::string out = "\nsession: " + StatusOf(name).dump(2) + "\nsnapshots:";
    for (const auto& s : Snapshots(uid.empty() ? Field(Get(name), "metadata").value("uid", "") : uid)) {
      out += "\n  " + Field(s, "metadata").value("name", "") + " " + s.value("status", Json::object()).dump();
    }
    out += "\nstore files:";
    for (const auto& f : StoreFiles()) out += "\n  " + f;
    out += "\ncontainers:";
    for (const auto& c : Containers()) out += "\n  " + c.name + " " + c.state;
    out += "\nnetworks: " + std::to_string(Networks().size()) + ", claims: " + std::to_string(Claims().size());
    const std::string log = ReadLog();
    size_t from = log.size();
    for (int lines = 0; lines < 40 && from > 0; ++lines) from = log.rfind('\n', from - 1);
    return out + "\nvisid.log (tail):\n" + log.substr(from == std::string::npos ? 0 : from);
  }

  // Suspended as the contract says: nothing of the session in Docker, no
  // subnet claim, and a verified snapshot on disk.
  void ExpectSuspendedCleanly(const std::string& name, const std::string& uid) {
    SCOPED_TRACE("suspended " + name);
    const Json st = StatusOf(name);
    EXPECT_EQ(st.value("phase", ""), "Suspended");
    EXPECT_EQ(Condition(name, "Suspended", "status"), "True");
    EXPECT_TRUE(Containers().empty()) << "no container of the instance is left";
    EXPECT_TRUE(Networks().empty()) << "no network of the instance is left";
    EXPECT_TRUE(Claims().empty()) << "the subnet claim is released";
    EXPECT_FALSE(st.contains("subnet")) << st.dump();
    EXPECT_FALSE(st.contains("network")) << st.dump();
    const Json last = st.value("lastSnapshot", Json::object());
    EXPECT_TRUE(std::regex_match(last.value("sha256", ""), std::regex("[0-9a-f]{64}"))) << st.dump();
    EXPECT_GT(last.value("sizeBytes", 0), 0) << st.dump();
    EXPECT_FALSE(last.value("capturedTime", "").empty()) << st.dump();
    const Json snap = Snapshot(last.value("name", ""));
    ASSERT_FALSE(snap.empty()) << "no Snapshot " << last.dump();
    const Json ss = snap.value("status", Json::object());
    EXPECT_EQ(ss.value("phase", ""), "Ready") << ss.dump();
    EXPECT_EQ(ss.value("sha256", ""), last.value("sha256", ""));
    EXPECT_EQ(ss.value("sizeBytes", -1), last.value("sizeBytes", -2));
    const std::string sha = ss.value("sha256", "");
    const std::string location = ss.value("location", "");
    EXPECT_EQ(location, SnapshotDir() + "/sha256/" + sha.substr(0, 2) + "/" + sha);
    EXPECT_TRUE(std::filesystem::is_regular_file(location)) << location;
    EXPECT_EQ(Sha256sum(location), sha) << location;
    EXPECT_EQ(Field(Field(snap, "metadata"), "labels").value("visi.dev/session-uid", ""), uid);
    EXPECT_EQ(Field(Field(snap, "metadata"), "labels").value("visi.dev/session-name", ""), name);
  }
  // Running with exactly the containers of `workers` workers, one network
  // and one claim: nothing left over from an earlier attempt.
  void ExpectRunningCleanly(const std::string& name, const std::string& uid, int workers) {
    SCOPED_TRACE("running " + name);
    const size_t expected = static_cast<size_t>(workers) + 2;
    EXPECT_EQ(Containers().size(), expected);
    EXPECT_EQ(Containers(uid).size(), expected);
    EXPECT_EQ(RunningCount(uid), expected);
    EXPECT_EQ(Networks().size(), 1u);
    EXPECT_EQ(Networks(uid).size(), 1u);
    const std::vector<Json> claims = Claims();
    ASSERT_EQ(claims.size(), 1u);
    EXPECT_EQ(Field(claims[0], "spec").value("sessionUID", ""), uid);
    EXPECT_EQ(Field(claims[0], "spec").value("subnet", ""), StatusOf(name).value("subnet", "?"));
  }
  // No snapshot left half-done, none beyond `retain`, and (after the GC's
  // sweeps) no file in the store that no Snapshot object names.
  void ExpectSnapshotsAndFilesConsistent(const std::string& name, const std::string& uid, size_t retain) {
    SCOPED_TRACE("snapshots of " + name);
    std::set<std::string> referenced, ready;
    bool files_ok = Poll(
        [&] {
          referenced.clear();
          ready.clear();
          for (const auto& s : Snapshots(uid)) {
            const Json ss = s.value("status", Json::object());
            if (ss.contains("location")) referenced.insert(ss.value("location", ""));
            if (ss.value("phase", "") == "Ready") ready.insert(ss.value("location", ""));
          }
          const std::set<std::string> files = StoreFiles();
          return std::includes(referenced.begin(), referenced.end(), files.begin(), files.end()) &&
                 std::includes(files.begin(), files.end(), ready.begin(), ready.end());
        },
        std::chrono::seconds(30));
    EXPECT_TRUE(files_ok) << "orphan or missing snapshot files" << Diagnose(name, uid);
    size_t ready_count = 0;
    const std::vector<Json> snaps = Snapshots(uid);
    for (const auto& s : snaps) {
      const std::string phase = s.value("status", Json::object()).value("phase", "");
      EXPECT_TRUE(phase == "Ready" || phase == "Failed") << s.dump();
      ready_count += phase == "Ready";
    }
    EXPECT_GE(ready_count, 1u);
    EXPECT_LE(snaps.size(), retain) << "Snapshot objects beyond retention";
    std::error_code ec;
    EXPECT_TRUE(std::filesystem::is_empty(SnapshotDir() + "/tmp", ec) || ec) << "a write in progress was left";
  }

  VisidProcess visid_;
  std::string instance_, pool_, router_listen_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::unique_ptr<ApiClient> admin_;
  int router_port_ = 0;
  int haproxy_pid_ = 0;
};

}  // namespace visi::testing
