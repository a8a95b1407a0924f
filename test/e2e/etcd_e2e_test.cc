// visid on etcd, end to end (issue 9): a real 3-member etcd cluster on
// loopback, real visid processes with --store etcd://..., real sessions on
// the real dockerd.
//  - One etcd member dies, then the raft leader: the API keeps serving, and
//    a watch through visid misses nothing and repeats nothing.
//  - Two visid share the cluster; the one leading the controllers is
//    SIGKILLed while 20 sessions are being created: all 20 end Ready on the
//    other, each with exactly its containers and network.
// Every Docker object carries this run's visi.dev/instance label; TearDown
// removes them all, and the etcd members die with the cluster object.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "controller/drivers/docker/docker_client.h"
#include "test/e2e/main_docker.h"
#include "test/e2e/visid_process.h"
#include "test/integration/etcd_process.h"

namespace visi::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

const std::string kApi = "/apis/visi.dev/v1alpha1";
const std::string kSessions = kApi + "/namespaces/alice/visisessions";
constexpr int kLeaseMs = 2000;

bool Poll(const std::function<bool()>& done, milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(milliseconds(200));
  }
  return done();
}

Json Body(const ApiResponse& r) {
  auto j = ParseJson(r.body);
  return j.ok() && j->is_object() ? *j : Json::object();
}

std::string SessionJson(const std::string& name, int workers) {
  return Json({{"apiVersion", "visi.dev/v1alpha1"},
               {"kind", "VisiSession"},
               {"metadata", {{"name", name}, {"namespace", "alice"}}},
               {"spec", {{"user", "alice"}, {"spark", {{"workers", workers}}}}}})
      .dump();
}

bool SessionReady(const Json& s) {
  const Json st = s.value("status", Json::object());
  if (!st.is_object() || st.value("phase", "") != "Running") return false;
  for (const auto& c : st.value("conditions", Json::array())) {
    if (c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

std::string FileText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class EtcdE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string err = etcd_.Start(3);
    ASSERT_EQ(err, "") << err;
    store_ = "etcd://";
    for (const auto& e : etcd_.endpoints()) {
      store_ += (store_.size() > 7 ? "," : "") + e.substr(std::string("http://").size());
    }
  }

  // The flags every visid of a test gets: the cluster, and leader election
  // fast enough for a test.
  std::vector<std::string> StoreFlags(const std::string& identity) const {
    return {"--store", store_, "--identity", identity, "--lease-duration", std::to_string(kLeaseMs) + "ms",
            "--renew-deadline", std::to_string(kLeaseMs * 3 / 4) + "ms", "--retry-period", "250ms"};
  }

  // The member the raft leader is, or -1.
  int RaftLeader() {
    for (size_t i = 0; i < etcd_.size(); ++i) {
      if (etcd_.member(i).running() && etcd_.member(i).IsRaftLeader()) return static_cast<int>(i);
    }
    return -1;
  }

  EtcdCluster etcd_;
  std::string store_;
};

// One member, then the raft leader, dies under a visid using all three: the
// API keeps answering (at most an election's pause), and a watch through
// visid sees every object created once.
TEST_F(EtcdE2eTest, TheApiKeepsWorkingWhenEtcdMembersDie) {
  VisidProcess visid;
  ASSERT_TRUE(visid.Start(StoreFlags("visid-a"))) << FileText(visid.log_path());
  ApiClient api(visid.AdminConfig(), seconds(30));
  std::vector<std::string> created;
  // A create refused as unavailable may still have been applied: its retry
  // is then AlreadyExists (409), and the object is there all the same.
  auto create = [&](const std::string& name) {
    auto r = api.Request("POST", kSessions, SessionJson(name, 0));
    if ((r.code == 201 || r.code == 409) && std::find(created.begin(), created.end(), name) == created.end()) {
      created.push_back(name);
    }
    if (r.code == 409) r.code = 201;
    return r;
  };
  for (int i = 0; i < 5; ++i) ASSERT_EQ(create("before-" + std::to_string(i)).code, 201);
  auto listed = api.Request("GET", kSessions);
  ASSERT_EQ(listed.code, 200) << listed.body;
  const std::string rv = Body(listed)["metadata"].value("resourceVersion", "");

  // A watch from that revision, through visid, for the whole test.
  std::mutex mu;
  std::map<std::string, int> added;
  std::atomic<bool> stop{false};
  std::thread watcher;
  // Joined however the test ends (an ASSERT returns early).
  struct Joiner {
    std::atomic<bool>& stop;
    std::thread& t;
    ~Joiner() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } joiner{stop, watcher};
  watcher = std::thread([&] {
    std::string from = rv;
    while (!stop) {
      (void)api.Watch(kSessions + "?watch=1&timeoutSeconds=3&resourceVersion=" + from, [&](const Json& e) {
        const Json o = e.value("object", Json::object());
        const std::string orv = o.value("metadata", Json::object()).value("resourceVersion", "");
        if (!orv.empty()) from = orv;
        if (e.value("type", "") == "ADDED") {
          std::lock_guard lock(mu);
          ++added[o["metadata"].value("name", "")];
        }
        return !stop;
      }, seconds(5));
    }
  });

  // A follower dies: every request keeps working, none fails.
  int leader = -1;
  ASSERT_TRUE(Poll([&] { return (leader = RaftLeader()) >= 0; }, seconds(10)));
  const size_t follower = leader == 0 ? 1 : 0;
  etcd_.Kill(follower);
  for (int i = 0; i < 10; ++i) {
    auto r = create("no-follower-" + std::to_string(i));
    ASSERT_EQ(r.code, 201) << r.body;
    ASSERT_EQ(api.Request("GET", kSessions + "/no-follower-" + std::to_string(i)).code, 200);
  }
  ASSERT_EQ(etcd_.Restart(follower), "");

  // The raft leader dies: after the election the API serves again.
  ASSERT_TRUE(Poll([&] { return (leader = RaftLeader()) >= 0; }, seconds(10)));
  etcd_.Kill(static_cast<size_t>(leader));
  const auto killed = std::chrono::steady_clock::now();
  int failed = 0;
  ASSERT_TRUE(Poll([&] {
    if (create("after-leader").code == 201) return true;
    ++failed;
    return false;
  }, seconds(30))) << FileText(visid.log_path());
  std::printf("API writing again %lld ms after the raft leader was killed (%d refused meanwhile)\n",
              static_cast<long long>(
                  std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed).count()),
              failed);
  for (int i = 0; i < 10; ++i) {
    auto r = create("no-leader-" + std::to_string(i));
    ASSERT_EQ(r.code, 201) << r.body;
    auto got = api.Request("GET", kSessions + "/no-leader-" + std::to_string(i));
    ASSERT_EQ(got.code, 200) << got.body;
  }
  auto all = api.Request("GET", kSessions + "?limit=7");
  ASSERT_EQ(all.code, 200) << all.body;
  EXPECT_EQ(Body(all)["items"].size(), 7u);
  EXPECT_FALSE(Body(all)["metadata"].value("continue", "").empty()) << "pages";

  // The watch saw each object created after its start, once.
  const bool seen_all = Poll([&] {
    std::lock_guard lock(mu);
    for (size_t i = 5; i < created.size(); ++i) {
      if (added[created[i]] == 0) return false;
    }
    return true;
  }, seconds(30));
  stop = true;
  watcher.join();
  EXPECT_TRUE(seen_all);
  std::lock_guard lock(mu);
  for (size_t i = 5; i < created.size(); ++i) EXPECT_EQ(added[created[i]], 1) << created[i];
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(added.count(created[i]), 0u) << created[i] << " predates the watch";
}

// Two visid on the cluster, the controllers' leader SIGKILLed while 20
// sessions are created through both: the other takes over and every session
// ends Ready, with one front end, one master, one worker and one network.
class EtcdTwoVisidTest : public EtcdE2eTest {
 protected:
  void SetUp() override {
    EtcdE2eTest::SetUp();
    if (HasFatalFailure()) return;
    const unsigned r = std::random_device()();
    instance_ = "e2e-etcd-" + std::to_string(r % 1000000);
    subnets_ = "10." + std::to_string(216 + r % 8) + "." + std::to_string((r / 8 % 8) * 32) + ".0/19";
    ConnectMainDocker(&docker_);
    if (HasFatalFailure()) return;
  }
  void TearDown() override {
    for (auto* v : {&a_, &b_}) v->Stop();
    if (!docker_) return;
    if (auto cs = docker_->ListContainers({{"visi.dev/instance", instance_}}); cs.ok()) {
      for (const auto& c : *cs) (void)docker_->RemoveContainer(c.id, seconds(0));
    }
    if (auto ns = docker_->ListNetworks({{"visi.dev/instance", instance_}}); ns.ok()) {
      for (const auto& n : *ns) (void)docker_->RemoveNetwork(n.id);
    }
  }
  bool StartVisid(VisidProcess& v, const std::string& identity) {
    std::vector<std::string> flags = StoreFlags(identity);
    flags.insert(flags.end(), {"--controllers", "*,-visiroute,-visifarm", "--instance", instance_, "--subnet-pool",
                               subnets_, "--session-resync", "1s", "--snapshot-dir", a_.dir() + "/snapshots",
                               "--docker-host", "unix:///var/run/docker.sock"});
    return v.Start(flags);
  }
  std::string Holder(ApiClient& api) {
    auto r = api.Request("GET", kApi + "/namespaces/visi-system/leases/visid-controllers");
    return r.code == 200 ? Body(r)["spec"].value("holderIdentity", "") : "";
  }

  VisidProcess a_, b_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::string instance_, subnets_;
};

TEST_F(EtcdTwoVisidTest, TheLeaderKilledWhileSessionsAreCreatedLeavesAllReadyAndNothingTwice) {
  ASSERT_TRUE(StartVisid(a_, "visid-a")) << FileText(a_.log_path());
  // The second visid serves the same users with the same certificates.
  std::filesystem::copy(a_.dir() + "/pki", b_.dir() + "/pki", std::filesystem::copy_options::recursive);
  std::filesystem::copy_file(a_.dir() + "/users.yaml", b_.dir() + "/users.yaml");
  ASSERT_TRUE(StartVisid(b_, "visid-b")) << FileText(b_.log_path());
  std::map<std::string, VisidProcess*> by_identity = {{"visid-a", &a_}, {"visid-b", &b_}};
  std::map<std::string, std::unique_ptr<ApiClient>> api;
  api["visid-a"] = std::make_unique<ApiClient>(a_.AdminConfig(), seconds(30));
  api["visid-b"] = std::make_unique<ApiClient>(b_.AdminConfig(), seconds(30));
  std::string leader;
  ASSERT_TRUE(Poll([&] { return !(leader = Holder(*api["visid-a"])).empty(); }, seconds(30)));
  std::string survivor = leader == "visid-a" ? "visid-b" : "visid-a";
  EXPECT_EQ(Holder(*api[survivor]), leader) << "both serve the one store";

  // 20 sessions, through both visid in turn; the leader dies after the 7th.
  constexpr int kSessionCount = 20;
  int64_t killed_at = 0;
  for (int i = 0; i < kSessionCount; ++i) {
    if (i == 7) {
      // Whoever leads now (it may have moved on a loaded machine) dies.
      const std::string now_leading = Holder(*api[survivor]);
      if (!now_leading.empty() && now_leading != leader) {
        leader = now_leading;
        survivor = leader == "visid-a" ? "visid-b" : "visid-a";
      }
      killed_at = std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      by_identity[leader]->Kill();
    }
    const std::string via = (i % 2 == 0 || i >= 7) ? survivor : leader;
    auto r = api[via]->Request("POST", kSessions, SessionJson("s" + std::to_string(i), 1));
    ASSERT_EQ(r.code, 201) << "via " << via << ": " << r.body;
  }
  ApiClient& alive = *api[survivor];
  auto dump = [&] {
    auto r = alive.Request("GET", kSessions);
    std::string out;
    for (const auto& s : Body(r).value("items", Json::array())) {
      out += s["metadata"].value("name", "") + ": " + s.value("status", Json::object()).dump() + "\n";
    }
    const std::string log = FileText(by_identity[survivor]->log_path());
    return out + "survivor's log tail:\n" + log.substr(log.size() > 4000 ? log.size() - 4000 : 0);
  };
  ASSERT_TRUE(Poll([&] {
    auto r = alive.Request("GET", kSessions);
    const Json items = Body(r).value("items", Json::array());
    if (items.size() != static_cast<size_t>(kSessionCount)) return false;
    for (const auto& s : items) {
      if (!SessionReady(s)) return false;
    }
    return true;
  }, seconds(300))) << dump();
  EXPECT_EQ(Holder(alive), survivor);
  // The survivor took over within the lease (plus a retry period to notice,
  // and slack for a loaded 2-core machine), and not before the kill.
  // Its last "started leading": the takeover.
  const std::string log = FileText(by_identity[survivor]->log_path());
  const std::regex started("\"msg\":\"started leading\"[^\\n]*\"unixMillis\":([0-9]+)");
  int64_t took_over = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), started); it != std::sregex_iterator(); ++it) {
    took_over = std::stoll((*it)[1]);
  }
  ASSERT_GE(took_over, 0) << log;
  EXPECT_GE(took_over, killed_at);
  EXPECT_LE(took_over - killed_at, kLeaseMs + 2 * 250 + 3000);
  std::printf("controllers taken over %lld ms after the leader was SIGKILLed (lease %d ms)\n",
              static_cast<long long>(took_over - killed_at), kLeaseMs);

  // Nothing twice: per session exactly its three containers and one
  // network, on a subnet of its own.
  auto containers = docker_->ListContainers({{"visi.dev/instance", instance_}});
  ASSERT_TRUE(containers.ok()) << containers.status().ToString();
  auto networks = docker_->ListNetworks({{"visi.dev/instance", instance_}});
  ASSERT_TRUE(networks.ok()) << networks.status().ToString();
  std::map<std::string, std::multiset<std::string>> components;
  for (const auto& c : *containers) {
    components[c.labels.at("visi.dev/session-uid")].insert(c.labels.at("visi.dev/component"));
  }
  std::map<std::string, int> nets;
  std::set<std::string> subnets;
  for (const auto& n : *networks) {
    ++nets[n.labels.at("visi.dev/session-uid")];
    subnets.insert(n.subnet);
  }
  auto items = Body(alive.Request("GET", kSessions)).value("items", Json::array());
  ASSERT_EQ(items.size(), static_cast<size_t>(kSessionCount));
  for (const auto& s : items) {
    const std::string uid = s["metadata"].value("uid", "");
    EXPECT_EQ(components[uid], (std::multiset<std::string>{"frontend", "master", "worker"}))
        << s["metadata"].value("name", "");
    EXPECT_EQ(nets[uid], 1) << s["metadata"].value("name", "");
  }
  EXPECT_EQ(containers->size(), static_cast<size_t>(3 * kSessionCount));
  EXPECT_EQ(networks->size(), static_cast<size_t>(kSessionCount));
  EXPECT_EQ(subnets.size(), static_cast<size_t>(kSessionCount));
  auto claims = Body(alive.Request("GET", kApi + "/subnetclaims")).value("items", Json::array());
  EXPECT_EQ(claims.size(), static_cast<size_t>(kSessionCount));
}

}  // namespace
}  // namespace visi::testing
