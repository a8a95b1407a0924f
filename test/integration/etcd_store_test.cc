// The etcd store's own cases, against real etcd members: what the contract
// suite cannot say (hostile data in etcd, members going away, compaction,
// the --store URL).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "controller/base/base64.h"
#include "controller/store/etcd/etcd_client.h"
#include "controller/store/etcd/etcd_json.h"
#include "test/fakes/objects.h"
#include "test/integration/store_factories.h"

namespace visi::testing {
namespace {

using std::chrono::milliseconds;

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.endpoints = SharedEtcd().endpoints();
    options_.prefix = UniqueEtcdPrefix("etcd-store-test");
    auto s = OpenEtcdStore(options_, Scheme::Builtin(), &clock_);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
    EtcdClientOptions raw;
    raw.endpoints = options_.endpoints;
    auto c = EtcdClient::Create(raw);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    raw_ = std::move(*c);
  }

  // Writes `value` at prefix + `relative` behind the store's back.
  void PutRaw(const std::string& relative, const std::string& value) {
    auto r = raw_->Txn({}, {{EtcdOp::Type::kPut, options_.prefix + relative, value}}, {});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r->succeeded);
  }

  FakeClock clock_{*ParseRfc3339("2026-11-23T22:00:00Z")};
  EtcdStoreOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<EtcdClient> raw_;
};

TEST(EtcdStoreUrlTest, ParsesMembersAndRefusesMalformedUrls) {
  using V = std::vector<std::string>;
  struct Good {
    std::string url;
    V endpoints;
  };
  for (const Good& g : std::vector<Good>{
           {"etcd://127.0.0.1:2379", {"http://127.0.0.1:2379"}},
           {"etcd://a:1,b.example.com:65535", {"http://a:1", "http://b.example.com:65535"}},
           {"etcd+https://etcd-0.visi:2379,etcd-1.visi:2379",
            {"https://etcd-0.visi:2379", "https://etcd-1.visi:2379"}},
           {"etcd://[::1]:2379", {"http://[::1]:2379"}},
       }) {
    auto r = ParseEtcdStoreUrl(g.url);
    ASSERT_TRUE(r.ok()) << g.url << ": " << r.status().ToString();
    EXPECT_EQ(*r, g.endpoints) << g.url;
  }
  for (const std::string bad : {"",
                                "etcd://",
                                "etcd+https://",
                                "http://127.0.0.1:2379",
                                "etcd:/h:1",
                                "ETCD://h:1",
                                "etcd://h",
                                "etcd://h:",
                                "etcd://:2379",
                                "etcd://h:0",
                                "etcd://h:65536",
                                "etcd://h:99999999999",
                                "etcd://h:12a",
                                "etcd://h:-1",
                                "etcd://h:1,",
                                "etcd://,h:1",
                                "etcd://h:1,,g:2",
                                "etcd://h/x:1",
                                "etcd://user@h:1",
                                "etcd://h:1/path",
                                "etcd://h :1",
                                "etcd://h:1?x=y",
                                "etcd://[::1:2379",
                                "etcd://h;rm -rf:1"}) {
    auto r = ParseEtcdStoreUrl(bad);
    ASSERT_FALSE(r.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(r.status().code(), Code::kInvalid) << bad;
    EXPECT_NE(r.status().message().find("--store"), std::string::npos) << r.status().message();
  }
}

TEST(EtcdStoreOpenTest, RefusesBadOptions) {
  FakeClock clock;
  EtcdStoreOptions o;
  EXPECT_EQ(OpenEtcdStore(o, Scheme::Builtin(), &clock).status().code(),
            Code::kInvalid);  // no endpoints
  o.endpoints = {"ftp://127.0.0.1:1"};
  EXPECT_EQ(OpenEtcdStore(o, Scheme::Builtin(), &clock).status().code(), Code::kInvalid);
  o.endpoints = SharedEtcd().endpoints();
  o.prefix = "no-slash";
  EXPECT_EQ(OpenEtcdStore(o, Scheme::Builtin(), &clock).status().code(), Code::kInvalid);
  o.prefix = "/visi/";
  o.tls_ca_file = "/nonexistent/ca.pem";
  auto s = OpenEtcdStore(o, Scheme::Builtin(), &clock);
  EXPECT_EQ(s.status().code(), Code::kInvalid);
  EXPECT_NE(s.status().message().find("/nonexistent/ca.pem"), std::string::npos);
}

TEST(EtcdStoreOpenTest, AMemberNotAnsweringIsUnavailableNamingIt) {
  FakeClock clock;
  EtcdStoreOptions o;
  std::string dead = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  o.endpoints = {dead};
  o.request_timeout = milliseconds(2000);
  auto s = OpenEtcdStore(o, Scheme::Builtin(), &clock);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kUnavailable);
  EXPECT_NE(s.status().message().find(dead), std::string::npos) << s.status().message();
  // With a live member after the dead one, every call goes through.
  o.endpoints = {dead, SharedEtcd().endpoints()[0]};
  o.prefix = UniqueEtcdPrefix("etcd-store-test");
  auto ok = OpenEtcdStore(o, Scheme::Builtin(), &clock);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  auto c = (*ok)->Create(Session("alice", "nb"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE((*ok)->Get("VisiSession", "alice", "nb").ok());
}

TEST_F(EtcdStoreTest, ValueThatIsNotJsonIsAnErrorNamingTheKey) {
  ASSERT_TRUE(store_->Create(Session("alice", "good")).ok());
  PutRaw("VisiSession/alice/junk", "\x01not json{");
  const std::string key = options_.prefix + "VisiSession/alice/junk";
  auto g = store_->Get("VisiSession", "alice", "junk");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kInternal);
  EXPECT_NE(g.status().message().find(key), std::string::npos) << g.status().message();
  ListOptions all;
  all.kind = "VisiSession";
  auto l = store_->List(all);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), Code::kInternal);
  EXPECT_NE(l.status().message().find(key), std::string::npos) << l.status().message();
  // Writes to the key refuse too, and leave it alone.
  Object over = Session("alice", "junk");
  EXPECT_EQ(store_->Update(over).status().code(), Code::kInternal);
  EXPECT_EQ(store_->Delete("VisiSession", "alice", "junk").status().code(), Code::kInternal);
  // A watch from the current state cannot start; one from a revision
  // before the junk ends with an error naming it.
  WatchOptions from_now;
  from_now.kind = "VisiSession";
  auto w0 = store_->Watch(from_now);
  ASSERT_FALSE(w0.ok());
  EXPECT_NE(w0.status().message().find(key), std::string::npos);
  // The other objects are still served.
  EXPECT_TRUE(store_->Get("VisiSession", "alice", "good").ok());
}

TEST_F(EtcdStoreTest, AnEventWithABadValueEndsTheWatchNamingTheKey) {
  WatchOptions opts;
  opts.kind = "VisiSession";
  opts.resource_version = store_->CurrentRevision();
  auto w = store_->Watch(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  ASSERT_TRUE(store_->Create(Session("alice", "before")).ok());
  PutRaw("VisiSession/alice/junk", "[1,2,3]");
  auto e1 = (*w)->Next(milliseconds(5000));
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->type, EventType::kAdded);
  auto e2 = (*w)->Next(milliseconds(5000));
  ASSERT_TRUE(e2);
  ASSERT_EQ(e2->type, EventType::kError);
  EXPECT_EQ(e2->error.code(), Code::kInternal);
  EXPECT_NE(e2->error.message().find(options_.prefix + "VisiSession/alice/junk"), std::string::npos)
      << e2->error.message();
}

TEST_F(EtcdStoreTest, AnObjectUnderAnotherObjectsKeyIsRefused) {
  // Valid objects, but not the ones their keys name.
  Object pool = Pool("p");
  PutRaw("VisiSession/alice/p", ObjectToJsonText(pool));
  Object other = Session("bob", "elsewhere");
  PutRaw("VisiSession/alice/nb", ObjectToJsonText(other));
  PutRaw("VisiSession/alice/empty", "{}");
  for (const std::string name : {"p", "nb", "empty"}) {
    auto g = store_->Get("VisiSession", "alice", name);
    ASSERT_FALSE(g.ok()) << name;
    EXPECT_EQ(g.status().code(), Code::kInternal);
    EXPECT_NE(g.status().message().find(options_.prefix + "VisiSession/alice/" + name),
              std::string::npos)
        << g.status().message();
  }
  EXPECT_NE(store_->Get("VisiSession", "alice", "p").status().message().find("FarmPool"),
            std::string::npos);
}

TEST_F(EtcdStoreTest, CompactedRevisionsAreGoneForWatchesAndContinueTokens) {
  for (int i = 0; i < 6; ++i)
    ASSERT_TRUE(store_->Create(Session("alice", "s" + std::to_string(i))).ok());
  uint64_t old = store_->CurrentRevision();
  ListOptions page;
  page.kind = "VisiSession";
  page.limit = 2;
  auto first = store_->List(page);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->continue_token.empty());
  ASSERT_TRUE(store_->Create(Session("alice", "later")).ok());
  ASSERT_TRUE(raw_->Compact(static_cast<int64_t>(store_->CurrentRevision())).ok());
  WatchOptions opts;
  opts.kind = "VisiSession";
  opts.resource_version = old;
  auto w = store_->Watch(opts);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kGone);
  EXPECT_NE(w.status().message().find("too old resource version"), std::string::npos);
  page.continue_token = first->continue_token;
  auto next = store_->List(page);
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), Code::kGone) << next.status().ToString();
  // A token from no list of this etcd: its revision is in the future.
  page.continue_token = Base64Encode("etcd1:999999999:VisiSession/alice/s1");
  EXPECT_EQ(store_->List(page).status().code(), Code::kBadRequest);
  // From the current revision all is well.
  opts.resource_version = store_->CurrentRevision();
  EXPECT_TRUE(store_->Watch(opts).ok());
}

TEST_F(EtcdStoreTest, AResourceVersionFromTheFutureIsTooLarge) {
  WatchOptions opts;
  opts.kind = "VisiSession";
  opts.resource_version = store_->CurrentRevision() + 1000;
  auto w = store_->Watch(opts);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kDeadlineExceeded);
  EXPECT_NE(w.status().message().find("too large resource version"), std::string::npos);
}

TEST_F(EtcdStoreTest, StopEndsABlockedNext) {
  WatchOptions opts;
  opts.kind = "VisiSession";
  auto w = store_->Watch(opts);
  ASSERT_TRUE(w.ok());
  std::thread stopper([&] {
    // Next is blocked (or about to be) on an idle stream.
    (*w)->Stop();
  });
  auto e = (*w)->Next(milliseconds(60000));
  stopper.join();
  ASSERT_TRUE(e);  // not a timeout
  EXPECT_EQ(e->type, EventType::kError);
}

TEST_F(EtcdStoreTest, AnObjectJustUnderTheSizeLimitGoesThroughTheGateway) {
  // etcd's default --max-request-bytes is Visi's object limit: an object
  // just under it fits with its key and the transaction around it.
  Object big = Session("alice", "big");
  big.spec["env"] = Json::array();
  for (int i = 0; i < 48; ++i) {
    big.spec["env"].push_back(
        {{"name", "V" + std::to_string(i)}, {"value", std::string(32000, 'x')}});
  }
  ASSERT_GT(ObjectToJsonText(big).size(), 1500000u);
  WatchOptions opts;
  opts.kind = "VisiSession";
  opts.resource_version = store_->CurrentRevision();
  auto w = store_->Watch(opts);
  ASSERT_TRUE(w.ok());
  auto c = store_->Create(big);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Object bigger = **c;
  bigger.metadata.labels["x"] = "y";
  ASSERT_TRUE(store_->Update(bigger).ok());
  auto g = store_->Get("VisiSession", "alice", "big");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)->spec["env"].size(), 48u);
  ListOptions all;
  all.kind = "VisiSession";
  EXPECT_EQ(store_->List(all)->items.size(), 1u);
  auto e = (*w)->Next(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kAdded);
  e = (*w)->Next(milliseconds(5000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kModified);  // with the 1.5 MB previous state alongside
}

TEST_F(EtcdStoreTest, TwoStoresOnOnePrefixNeverOverwriteEachOther) {
  // Two visid on one etcd: the transactions, not a process lock, decide.
  auto other = OpenEtcdStore(options_, Scheme::Builtin(), &clock_);
  ASSERT_TRUE(other.ok());
  auto v1 = *store_->Create(Session("alice", "nb"));
  EXPECT_EQ((*other)->Create(Session("alice", "nb")).status().code(), Code::kAlreadyExists);
  Object a = *v1, b = *v1;
  a.spec["spark"]["workers"] = 3;
  b.spec["spark"]["workers"] = 4;
  ASSERT_TRUE(store_->Update(a).ok());
  EXPECT_EQ((*other)->Update(b).status().code(), Code::kConflict);
  EXPECT_EQ((*(*other)->Get("VisiSession", "alice", "nb"))->spec["spark"]["workers"], 3);
}

// A store on `etcd` holding alice/a, and a watch of VisiSessions from
// after it. `timeout` bounds each request (the watch waits that long for a member).
void OpenWatching(EtcdCluster& etcd, FakeClock* clock, std::chrono::milliseconds timeout,
                  std::unique_ptr<Store>* store, std::unique_ptr<Watcher>* watcher) {
  EtcdStoreOptions o;
  o.endpoints = etcd.endpoints();
  o.request_timeout = timeout;
  auto s = OpenEtcdStore(o, Scheme::Builtin(), clock);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  *store = std::move(*s);
  ASSERT_TRUE((*store)->Create(Session("alice", "a")).ok());
  WatchOptions opts;
  opts.kind = "VisiSession";
  opts.resource_version = (*store)->CurrentRevision();
  auto w = (*store)->Watch(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  *watcher = std::move(*w);
}

TEST(EtcdStoreMemberTest, CallsFailWhileTheOnlyMemberIsDownAndWatchesResumeAfter) {
  EtcdCluster etcd;
  ASSERT_EQ(etcd.Start(1), "");
  FakeClock clock;
  std::unique_ptr<Store> owned;
  std::unique_ptr<Watcher> watcher;
  OpenWatching(etcd, &clock, milliseconds(20000), &owned, &watcher);
  if (HasFatalFailure()) return;
  Store& store = *owned;
  auto* w = &watcher;
  etcd.Kill(0);
  auto g = store.Get("VisiSession", "alice", "a");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), Code::kUnavailable);
  EXPECT_NE(g.status().message().find(etcd.endpoints()[0]), std::string::npos)
      << g.status().message();
  ASSERT_EQ(etcd.Restart(0), "");
  auto b = store.Create(Session("alice", "b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  // The watch reconnected from where it was: b, and nothing twice.
  auto e = (*w)->Next(milliseconds(20000));
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type, EventType::kAdded) << e->error.ToString();
  EXPECT_EQ(e->object->metadata.name, "b");
  EXPECT_EQ(e->resource_version, (*b)->metadata.resource_version);
  EXPECT_FALSE((*w)->Next(milliseconds(200)).has_value());
}

// Creates `o` as a controller would while etcd elects a new leader: retried
// on Unavailable, which may mean it was applied (then a retry finds it
// existing).
StatusOr<ObjectPtr> CreateThroughElection(Store& store, const Object& o) {
  Status last;
  for (int attempt = 0; attempt < 60; ++attempt) {
    auto r = store.Create(o);
    if (r.ok()) return r;
    last = r.status();
    if (last.code() == Code::kAlreadyExists && attempt > 0) {
      return store.Get(o.kind, o.metadata.namespace_, o.metadata.name);
    }
    if (last.code() != Code::kUnavailable) return last;
    std::this_thread::sleep_for(milliseconds(200));  // the election, not a timed assertion
  }
  return last;
}

TEST(EtcdStoreMemberTest, CallsAndWatchesMoveToAnotherMemberWhenOneDies) {
  EtcdCluster etcd;
  ASSERT_EQ(etcd.Start(3), "");
  FakeClock clock;
  std::unique_ptr<Store> owned;
  std::unique_ptr<Watcher> watcher;
  OpenWatching(etcd, &clock, milliseconds(10000), &owned, &watcher);
  if (HasFatalFailure()) return;
  Store& store = *owned;
  auto* w = &watcher;
  etcd.Kill(0);  // the member every call went to so far (perhaps the leader)
  auto b = CreateThroughElection(store, Session("alice", "b"));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(store.Get("VisiSession", "alice", "a").ok());
  auto e = (*w)->Next(milliseconds(20000));
  ASSERT_TRUE(e);
  ASSERT_EQ(e->type, EventType::kAdded) << e->error.ToString();
  EXPECT_EQ(e->object->metadata.name, "b");
  ASSERT_EQ(etcd.Restart(0), "");
  etcd.Kill(1);
  auto c = CreateThroughElection(store, Session("alice", "c"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  e = (*w)->Next(milliseconds(20000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->resource_version, (*c)->metadata.resource_version);
}

// A CA, a member certificate for 127.0.0.1 and a client certificate, made
// with the openssl tool in `dir`; and a second CA that signed nothing here.
bool MakeCertificates(const std::string& dir) {
  constexpr const char* kScript = R"(set -e
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=visi-test-ca
openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.pem -days 2 -subj /CN=other
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
for n in server client; do
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=visi-$n
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 \
    -extfile $n.ext
done
)";
  std::ofstream(dir + "/make.sh") << kScript;
  std::string run = "sh '" + dir + "/make.sh' '" + dir + "' >'" + dir + "/make.log' 2>&1";
  return std::system(run.c_str()) == 0;
}

TEST(EtcdStoreTlsTest, TalksTlsWithAClientCertificateAndRefusesAnUnknownServer) {
  EtcdCluster etcd;
  std::string tls = etcd.dir() + "/tls";
  std::filesystem::create_directories(tls);
  ASSERT_TRUE(MakeCertificates(tls));
  etcd.client_scheme = "https";
  etcd.extra_flags.insert(
      etcd.extra_flags.end(),
      {"--cert-file=" + tls + "/server.pem", "--key-file=" + tls + "/server.key",
       "--trusted-ca-file=" + tls + "/ca.pem", "--client-cert-auth"});
  ASSERT_EQ(etcd.Start(1), "");
  FakeClock clock;
  EtcdStoreOptions o;
  o.endpoints = etcd.endpoints();
  o.tls_ca_file = tls + "/ca.pem";
  o.tls_cert_file = tls + "/client.pem";
  o.tls_key_file = tls + "/client.key";
  o.request_timeout = milliseconds(20000);  // the member may still be starting
  auto s = OpenEtcdStore(o, Scheme::Builtin(), &clock);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  WatchOptions opts;
  opts.kind = "VisiSession";
  opts.resource_version = (*s)->CurrentRevision();
  auto w = (*s)->Watch(opts);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  auto c = (*s)->Create(Session("alice", "nb"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE((*s)->Get("VisiSession", "alice", "nb").ok());
  auto e = (*w)->Next(milliseconds(10000));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, EventType::kAdded) << e->error.ToString();
  // A server whose certificate the given CA did not sign is not talked to.
  EtcdStoreOptions wrong_ca = o;
  wrong_ca.tls_ca_file = tls + "/other-ca.pem";
  auto refused = OpenEtcdStore(wrong_ca, Scheme::Builtin(), &clock);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kUnavailable);
  EXPECT_NE(refused.status().message().find(o.endpoints[0]), std::string::npos);
  EXPECT_NE(refused.status().message().find("SSL handshake"), std::string::npos)
      << refused.status().message();
  // Nor does the member talk to a client without a certificate.
  EtcdStoreOptions anonymous = o;
  anonymous.tls_cert_file.clear();
  anonymous.tls_key_file.clear();
  EXPECT_EQ(OpenEtcdStore(anonymous, Scheme::Builtin(), &clock).status().code(),
            Code::kUnavailable);
}

TEST(EtcdJsonTest, GatewayErrorsBecomeCodes) {
  struct Case {
    int http;
    std::string body;
    Code code;
  };
  auto err = [](int code, const std::string& msg) {
    return Json({{"error", msg}, {"message", msg}, {"code", code}}).dump();
  };
  for (const Case& c : std::vector<Case>{
           {503, err(14, "etcdserver: no leader"), Code::kUnavailable},
           {400, err(11, "etcdserver: mvcc: required revision has been compacted"), Code::kGone},
           {400, err(11, "etcdserver: mvcc: required revision is a future revision"),
            Code::kDeadlineExceeded},
           {400, err(3, "etcdserver: request is too large"), Code::kTooLarge},
           {400, err(3, "etcdserver: duplicate key given in txn request"), Code::kInternal},
           {401, err(16, "etcdserver: invalid auth token"), Code::kUnauthorized},
           {502, "<html>bad gateway</html>", Code::kUnavailable},
           {404, "not found", Code::kInternal},
       }) {
    Status s = GatewayError("http://m:1", c.http, c.body);
    EXPECT_EQ(s.code(), c.code) << c.body;
    EXPECT_NE(s.message().find("http://m:1"), std::string::npos);
  }
}

TEST(EtcdJsonTest, HostileWatchLinesAreErrorsNotCrashes) {
  for (const std::string line :
       {"", "{", "[]", "null", R"({"result":{"events":[{"kv":{"key":"!!!"}}]}})",
        R"({"result":{"header":{"revision":"abc"}}})", R"({"result":{"events":[{"kv":[]}]}})",
        R"({"result":{"header":{"revision":"99999999999999999999999"}}})"}) {
    auto r = ParseWatchLine("http://m:1", line);
    EXPECT_FALSE(r.ok()) << line;
  }
  auto ok = ParseWatchLine("http://m:1", R"({"result":{"header":{"revision":"7"}}})");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->IsProgress());
  EXPECT_EQ(ok->revision, 7);
}

}  // namespace
}  // namespace visi::testing
