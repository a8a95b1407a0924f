// The HAProxy driver's pure parts (route format, config rendering, answer
// parsers) and its Runtime API client against a scripted unix socket that
// answers with canned, garbled, oversized or no data.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>

#include "controller/drivers/haproxy/haproxy_config.h"
#include "controller/drivers/haproxy/haproxy_router.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/drivers/haproxy/runtime_answers.h"
#include "controller/drivers/haproxy/runtime_api.h"

namespace visi::testing {
namespace {

namespace fs = std::filesystem;

// Real answers of HAProxy 2.6.12, captured from /usr/sbin/haproxy.
constexpr char kStatHeader[] =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,"
    "act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"
    "check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,"
    "req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,"
    "rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,"
    "agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,"
    "wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,"
    "idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,"
    "agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,"
    "h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,"
    "h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,"
    "h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,"
    "h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,\n";
constexpr char kStatAlice[] =
    "sessions,alice:a,0,0,1,1,,2,224,322,,0,,0,0,0,0,no check,0,1,0,,,1,,,1,3,1,,0,,2,1,,1,,,,0,2,0,0,0,0,,,,2,0,0,,,,,"
    "7,,,0,0,1,1,,,,,,,,,,,,127.0.0.1:18001,,http,,,,,,,,0,2,0,,,0,0,0,0,1,1,0,0,0,0,1,0,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,"
    ",,,\n";
constexpr char kStatBob[] =
    "sessions,bob:b,0,0,0,0,,0,0,0,,0,,0,0,0,0,no "
    "check,0,1,0,,,1,,,1,3,2,,0,,2,0,,0,,,,0,0,0,0,0,0,,,,0,0,0,,,,,-1,,,0,"
    "0,0,0,,,,,,,,,,,,127.0.0.1:18002,,http,,,,,,,,0,0,0,,,0,0,0,0,0,0,0,0,0,0,0,0,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,\n";
constexpr char kServersState[] =
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
    "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state "
    "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr "
    "srv_agent_addr srv_agent_port\n"
    "3 sessions 1 alice:a 127.0.0.1 2 0 0 0 119 1 0 0 0 0 0 0 - 18001 - 0 0 - - 0\n"
    "3 sessions 2 bob:b 10.0.0.9 0 1 0 0 5 1 0 0 0 0 0 0 - 8888 - 0 0 - - 0\n\n";

const std::string kHashA = "5B53B6C789E6C0CDDD464A8AE1B55CB04D0AD8F643D3FE7E0EEFE76E00FBD69B";  // sha256("sA")

// --- Route format --------------------------------------------------------

TEST(RouteFormatTest, CookieHashIsUpperHexSha256) {
  EXPECT_EQ(CookieHash("sA"), kHashA);
  EXPECT_EQ(CookieHash(""), "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855");
  EXPECT_TRUE(IsValidCookieHash(CookieHash("anything")));
}

TEST(RouteFormatTest, GoodRouteIsValid) {
  Route r{"alice/notebook", "/s/alice/notebook/", {kHashA}, "10.213.4.7:8888"};
  EXPECT_TRUE(ValidateRoute(r).ok());
  r.backend = "";
  r.cookie_hashes.clear();
  EXPECT_TRUE(ValidateRoute(r).ok());
  r.key = "a-1/b.c-2";
  EXPECT_TRUE(ValidateRoute(r).ok());
}

std::vector<std::string> Fields(const Status& s) {
  std::vector<std::string> out;
  for (const FieldCause& c : s.causes()) out.push_back(c.field);
  return out;
}

TEST(RouteFormatTest, EachBadFieldIsNamed) {
  Route r{"Alice/x", "s/a", {kHashA, "5b53"}, "10.0.0.1"};
  Status s = ValidateRoute(r);
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_EQ(Fields(s), (std::vector<std::string>{"key", "path_prefix", "cookie_hashes[1]", "backend"}));
}

TEST(RouteFormatTest, InjectionAttemptsAreInvalid) {
  const Route good{"alice/a", "/s/alice/a/", {kHashA}, "10.0.0.1:80"};
  for (const std::string& key :
       std::vector<std::string>{"alice/a\nshow info", "alice/a;del server x/y", "alice/a b", "alice", "a/b/c", "#0x1/a",
                                "alice/a:b", "/a", "a/", "alice/-a", std::string("alice/a\0b", 9)}) {
    Route r = good;
    r.key = key;
    EXPECT_EQ(Fields(ValidateRoute(r)), std::vector<std::string>{"key"}) << key;
  }
  for (const std::string& prefix :
       std::vector<std::string>{"/s/a", "s/a/", "/", "//", "/s//a/", "/s/../", "/s/./", "/s a/", "/s;a/", "/s/a/\n",
                                "/s/%61/", "/s/a#/", "/s/\\/"}) {
    Route r = good;
    r.path_prefix = prefix;
    EXPECT_EQ(Fields(ValidateRoute(r)), std::vector<std::string>{"path_prefix"}) << prefix;
  }
  for (const std::string& backend :
       std::vector<std::string>{"10.0.0.1", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:080", "host:80",
                                "10.0.0.1:80 weight 100", "10.0.0.1:80\nshow info", "[::1]:80", "10.0.0.256:80"}) {
    Route r = good;
    r.backend = backend;
    EXPECT_EQ(Fields(ValidateRoute(r)), std::vector<std::string>{"backend"}) << backend;
  }
  Route r = good;
  r.cookie_hashes = {kHashA, std::string(64, 'a'), kHashA + " x"};
  EXPECT_EQ(Fields(ValidateRoute(r)), (std::vector<std::string>{"cookie_hashes[1]", "cookie_hashes[2]"}));
  r.cookie_hashes.assign(kMaxCookieHashesPerRoute + 1, kHashA);
  EXPECT_EQ(Fields(ValidateRoute(r)), std::vector<std::string>{"cookie_hashes"});
}

TEST(RouteFormatTest, NamesAndMapKeysRoundTrip) {
  EXPECT_EQ(ServerNameForKey("alice/note.book"), "alice:note.book");
  EXPECT_EQ(KeyForServerName("alice:note.book"), "alice/note.book");
  EXPECT_EQ(KeyForServerName("wakeup"), std::nullopt);
  EXPECT_EQ(KeyForServerName("a:b:c"), std::nullopt);
  auto split = SplitRoutesMapKey(RoutesMapKey(kHashA, "/s/alice/a/"));
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->first, kHashA);
  EXPECT_EQ(split->second, "/s/alice/a/");
  EXPECT_EQ(SplitRoutesMapKey(kHashA), std::nullopt);
  EXPECT_EQ(SplitRoutesMapKey("junk/s/a/"), std::nullopt);
  Route r{"a/b", "/p/", {"B" + kHashA.substr(1), kHashA, kHashA}, ""};
  EXPECT_EQ(NormalizeRoute(r).cookie_hashes, (std::vector<std::string>{kHashA, "B" + kHashA.substr(1)}));
}

// --- Config ----------------------------------------------------------------

HaproxyConfigOptions GoodOptions() {
  HaproxyConfigOptions o;
  o.bind_port = 8080;
  o.runtime_dir = "/var/lib/visi/haproxy";
  o.wakeup_address = "127.0.0.1:6444";
  return o;
}

TEST(HaproxyConfigTest, RendersTheRoutingRules) {
  auto text = RenderBaseConfig(GoodOptions());
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  for (const char* line : {
           "  stats socket /var/lib/visi/haproxy/admin.sock mode 600 level admin\n",
           "  bind 127.0.0.1:8080\n",
           "  http-request set-var(txn.visi_route) req.cook(JSESSIONID),sha2(256),hex,concat(,txn.visi_path,),"
           "map_beg(/var/lib/visi/haproxy/routes.map)\n",
           "  acl visi_control path_beg /_visi/\n",
           "  http-request deny deny_status 403 unless { var(txn.visi_route) -m found } || visi_control\n",
           "  use_backend visi_control if visi_control\n",
           "backend visi_control\n",
           "  server wakeup 127.0.0.1:6444\n",
           "map(/var/lib/visi/haproxy/route-prefixes.map) if FALSE\n",
           "backend visi_sessions\n",
           "  use-server %[var(txn.visi_route)] if { var(txn.visi_route) -m found }\n",
           "  http-request set-header X-Visi-Route %[var(txn.visi_route),regsub(:,/)]\n",
           "  timeout tunnel 3600000ms\n",
       }) {
    EXPECT_NE(text->find(line), std::string::npos) << line;
  }
  EXPECT_EQ(text->find("\n  log "), std::string::npos);  // no logging by default
  EXPECT_EQ(text->find("redispatch"), std::string::npos);
  HaproxyConfigOptions logging = GoodOptions();
  logging.log_to_stdout = true;
  EXPECT_NE(RenderBaseConfig(logging)->find("  log stdout format raw local0 info\n"), std::string::npos);
}

TEST(HaproxyConfigTest, BadOptionsAreNamed) {
  HaproxyConfigOptions o = GoodOptions();
  o.bind_port = 0;
  o.bind_address = "localhost";
  o.runtime_dir = "/tmp/a dir\n  stats socket /tmp/x level admin";
  o.wakeup_address = "127.0.0.1";
  o.client_timeout = std::chrono::milliseconds(0);
  Status s = RenderBaseConfig(o).status();
  EXPECT_EQ(s.code(), Code::kInvalid);
  EXPECT_EQ(Fields(s),
            (std::vector<std::string>{"bind_address", "bind_port", "runtime_dir", "wakeup_address", "client_timeout"}));
  o = GoodOptions();
  o.runtime_dir = "relative/dir";
  EXPECT_EQ(Fields(RenderBaseConfig(o).status()), std::vector<std::string>{"runtime_dir"});
  o.runtime_dir = "/" + std::string(120, 'x');  // the socket path would not fit
  EXPECT_EQ(Fields(RenderBaseConfig(o).status()), std::vector<std::string>{"runtime_dir"});
}

// --- Answer parsers -----------------------------------------------------------

TEST(RuntimeAnswersTest, ParsesShowMap) {
  auto entries = ParseShowMap("0x55c9883f1ef0 " + kHashA + "/s/alice/a/ alice:a\n0x7fa0 k v with space\n\n");
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(*entries, (std::vector<MapEntry>{{"0x55c9883f1ef0", kHashA + "/s/alice/a/", "alice:a"},
                                             {"0x7fa0", "k", "v with space"}}));
  EXPECT_TRUE(ParseShowMap("\n")->empty());
  EXPECT_EQ(ParseShowMap("Unknown map identifier. Please use #<id> or <file>.\n\n").status().code(), Code::kNotFound);
  EXPECT_EQ(ParseShowMap("0x1 k v\ngarbage\n").status().code(), Code::kInternal);
  EXPECT_EQ(ParseShowMap("0x1 keyonly\n").status().code(), Code::kInternal);
  EXPECT_EQ(ParseShowMap(std::string("\x00\xff\x01", 3)).status().code(), Code::kInternal);
}

TEST(RuntimeAnswersTest, ParsesShowStat) {
  auto stats = ParseServerStats(std::string(kStatHeader) + kStatAlice + kStatBob + "\n");
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_EQ((*stats)[0], (ServerStat{"sessions", "alice:a", "no check", "127.0.0.1:18001", 1, 7, 224, 322}));
  EXPECT_EQ((*stats)[1], (ServerStat{"sessions", "bob:b", "no check", "127.0.0.1:18002", 0, -1, 0, 0}));
  EXPECT_EQ(ParseServerStats("No such proxy.\n\n").status().code(), Code::kNotFound);

  std::string row = kStatAlice;
  EXPECT_EQ(ParseServerStats(std::string(kStatHeader) + row.substr(0, 40) + "\n").status().code(), Code::kInternal);
  std::string bad_number = row;
  bad_number.replace(bad_number.find(",224,"), 5, ",2x4,");
  EXPECT_EQ(ParseServerStats(std::string(kStatHeader) + bad_number).status().code(), Code::kInternal);
  std::string negative = row;
  negative.replace(negative.find(",224,"), 5, ",-99,");
  EXPECT_EQ(ParseServerStats(std::string(kStatHeader) + negative).status().code(), Code::kInternal);
  std::string overflow = row;
  overflow.replace(overflow.find(",224,"), 5, ",99999999999999999999999,");
  EXPECT_EQ(ParseServerStats(std::string(kStatHeader) + overflow).status().code(), Code::kInternal);
  EXPECT_EQ(ParseServerStats("# pxname,svname\nx,y\n").status().code(), Code::kInternal);  // columns missing
}

TEST(RuntimeAnswersTest, ParsesServersState) {
  auto states = ParseServersState(kServersState);
  ASSERT_TRUE(states.ok()) << states.status().ToString();
  ASSERT_EQ(states->size(), 2u);
  EXPECT_EQ((*states)[0], (ServerState{"sessions", "alice:a", "127.0.0.1", 18001, 2, 0, 0}));
  EXPECT_FALSE((*states)[0].in_maintenance());
  EXPECT_EQ((*states)[1], (ServerState{"sessions", "bob:b", "10.0.0.9", 8888, 0, 1, 0}));
  EXPECT_TRUE((*states)[1].in_maintenance());
  std::string weighted = kServersState;
  weighted.replace(weighted.find("10.0.0.9 0 1 0"), 14, "10.0.0.9 0 1 7");
  EXPECT_EQ((*ParseServersState(weighted))[1].weight, 7);
  std::string bad_weight = kServersState;
  bad_weight.replace(bad_weight.find("10.0.0.9 0 1 0"), 14, "10.0.0.9 0 1 x");
  EXPECT_EQ(ParseServersState(bad_weight).status().code(), Code::kInternal);
  EXPECT_EQ(ParseServersState("Can't find backend.\n\n").status().code(), Code::kNotFound);
  std::string text = kServersState;
  EXPECT_EQ(ParseServersState(text.substr(0, text.size() - 20)).status().code(), Code::kInternal);
  std::string bad_port = text;
  bad_port.replace(bad_port.find(" 18001 "), 7, " 99999 ");
  EXPECT_EQ(ParseServersState(bad_port).status().code(), Code::kInternal);
}

TEST(RuntimeAnswersTest, ErrorTextsMapToCodes) {
  EXPECT_EQ(ErrorFromAnswer("x", "No such server.\n").code(), Code::kNotFound);
  EXPECT_EQ(ErrorFromAnswer("x", "No such backend.\n").code(), Code::kNotFound);
  EXPECT_EQ(ErrorFromAnswer("x", "Key not found.\n").code(), Code::kNotFound);
  EXPECT_EQ(ErrorFromAnswer("x", "Already exists a server with the same name in backend.\n").code(),
            Code::kAlreadyExists);
  EXPECT_EQ(ErrorFromAnswer("x", "Server still has connections attached to it, cannot remove it.\n").code(),
            Code::kUnavailable);
  EXPECT_EQ(ErrorFromAnswer("x", "invalid port '99999'\n").code(), Code::kInvalid);
  EXPECT_EQ(ErrorFromAnswer("x", "Unknown command, but maybe ...").code(), Code::kInternal);
  Status s = ErrorFromAnswer("del server a/b", std::string("\x1b[31mevil\"\n", 10));
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_EQ(s.message(), "del server a/b: HAProxy answered \"\\x1b[31mevil\\x22\"");
}

TEST(RuntimeAnswersTest, RandomGarbageNeverCrashes) {
  std::mt19937 rng(42);
  const std::string alphabet =
      std::string(kStatHeader).substr(0, 120) + std::string("0123456789,-# \n\r\x00\xff:/x", 21);
  for (int i = 0; i < 3000; ++i) {
    std::string junk(rng() % 400, ' ');
    for (char& c : junk) c = alphabet[rng() % alphabet.size()];
    if (i % 3 == 0) junk = std::string(kStatHeader) + junk;
    if (i % 3 == 1) junk = "1\n# be_id be_name srv_name srv_addr srv_op_state srv_admin_state srv_port\n" + junk;
    (void)ParseShowMap(junk);
    (void)ParseServerStats(junk);
    (void)ParseServersState(junk);
    (void)ErrorFromAnswer("x", junk);
  }
}

// --- The client against a scripted socket ------------------------------------

// A unix socket server that records each command line and answers with a
// script: a fixed answer, silence, or `size` bytes.
class ScriptedSocket {
 public:
  enum class Mode { kAnswer, kSilent, kFlood, kCloseAtOnce };

  explicit ScriptedSocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(fd_, 16) != 0) std::abort();
    if (::pipe2(wake_, O_CLOEXEC) != 0) std::abort();
    thread_ = std::thread([this] { Loop(); });
  }
  ~ScriptedSocket() {
    stop_ = true;
    (void)!::write(wake_[1], "x", 1);
    thread_.join();
    ::close(fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
    ::unlink(path_.c_str());
  }

  void Script(Mode mode, std::string answer = "") {
    std::lock_guard<std::mutex> lock(mu_);
    mode_ = mode;
    answer_ = std::move(answer);
  }
  int connections() const { return connections_; }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN)) continue;
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++connections_;
      Mode mode;
      std::string answer;
      {
        std::lock_guard<std::mutex> lock(mu_);
        mode = mode_;
        answer = answer_;
      }
      std::string line;
      char ch;
      while (mode != Mode::kCloseAtOnce && ::recv(c, &ch, 1, 0) == 1 && ch != '\n') line.push_back(ch);
      {
        std::lock_guard<std::mutex> lock(mu_);
        lines_.push_back(line);
      }
      if (mode == Mode::kAnswer) {
        (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      } else if (mode == Mode::kFlood) {
        std::string block(65536, 'x');
        for (int i = 0; i < 64 && ::send(c, block.data(), block.size(), MSG_NOSIGNAL) > 0; ++i) {
        }
      } else if (mode == Mode::kSilent) {
        pollfd wait[2] = {{c, POLLIN, 0}, {wake_[0], POLLIN, 0}};
        ::poll(wait, 2, -1);  // until the client gives up (or the test ends)
      }
      ::close(c);
    }
  }

  std::string path_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::mutex mu_;
  Mode mode_ = Mode::kAnswer;
  std::string answer_;
  std::vector<std::string> lines_;
};

class RuntimeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/visi-rtapi-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    socket_ = std::make_unique<ScriptedSocket>(dir_ + "/admin.sock");
  }
  void TearDown() override {
    socket_.reset();
    fs::remove_all(dir_);
  }
  RuntimeApi Api(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    return RuntimeApi({dir_ + "/admin.sock", timeout, 1 << 20});
  }

  std::string dir_;
  std::unique_ptr<ScriptedSocket> socket_;
};

TEST_F(RuntimeApiTest, SendsOneLineAndReadsTheAnswer) {
  socket_->Script(ScriptedSocket::Mode::kAnswer, "Name: HAProxy\nVersion: 2.6.12\n");
  ASSERT_TRUE(Api().Ping().ok());
  socket_->Script(ScriptedSocket::Mode::kAnswer, "New server registered.\n\n");
  ASSERT_TRUE(Api().AddServer("visi_sessions", "alice:a", {"10.0.0.5", 8888}).ok());
  socket_->Script(ScriptedSocket::Mode::kAnswer, "\n");
  ASSERT_TRUE(Api().AddMapEntry("/run/routes.map", kHashA + "/s/a/", "alice:a").ok());
  EXPECT_EQ(socket_->lines(), (std::vector<std::string>{
                                  "show info",
                                  "add server visi_sessions/alice:a 10.0.0.5:8888 weight 0",
                                  "add map /run/routes.map " + kHashA + "/s/a/ alice:a",
                              }));
}

TEST_F(RuntimeApiTest, UnsafeArgumentsAreNeverSent) {
  RuntimeApi api = Api();
  struct Case {
    Status status;
    std::string field;
  };
  std::vector<Case> cases = {
      {api.AddMapEntry("/m", "k\nshow info", "v"), "map key"},
      {api.AddMapEntry("/m", "k", "v;del server a/b"), "map value"},
      {api.AddMapEntry("/m", "k v", "v"), "map key"},
      {api.DelMapEntry("/m", "#0x55"), "map key"},
      {api.SetMapEntry("@1", "k", "v"), "map"},
      {api.ShowMap("").status(), "map"},
      {api.AddServer("visi_sessions", "a/b", {"10.0.0.1", 80}), "server"},
      {api.AddServer("visi_sessions", "a\tb", {"10.0.0.1", 80}), "server"},
      {api.SetServerAddress("visi_sessions", "a", {"10.0.0.1 port 1;", 80}), "address"},
      {api.DelServer("visi sessions", "a"), "backend"},
      {api.Execute("show info; shutdown sessions server a/b").status(), "command word 1"},
      {api.Execute("show info\n").status(), "command word 1"},
      {api.Execute("").status(), ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), Code::kInvalid) << c.field;
    if (!c.field.empty()) {
      ASSERT_EQ(c.status.causes().size(), 1u) << c.field;
      EXPECT_EQ(c.status.causes()[0].field, c.field);
    }
  }
  EXPECT_EQ(socket_->connections(), 0);
}

TEST_F(RuntimeApiTest, RouterValidatesBeforeTalking) {
  HaproxyConfigOptions config;
  config.runtime_dir = dir_;
  config.wakeup_address = "127.0.0.1:9";
  auto router = HaproxyRouter::Create(config);
  ASSERT_TRUE(router.ok()) << router.status().ToString();
  Route bad{"alice/a", "/s/alice/a/\nshow info", {}, ""};
  EXPECT_EQ(Fields((*router)->ApplyRoute(bad)), std::vector<std::string>{"path_prefix"});
  EXPECT_EQ(Fields((*router)->RemoveRoute("alice/a\ndel server x/y")), std::vector<std::string>{"key"});
  EXPECT_EQ(socket_->connections(), 0);
  config.wakeup_address = "nowhere";
  EXPECT_EQ(HaproxyRouter::Create(config).status().code(), Code::kInvalid);
}

TEST_F(RuntimeApiTest, HostileServersBecomeErrors) {
  socket_->Script(ScriptedSocket::Mode::kAnswer, "Name: nginx\n");
  EXPECT_EQ(Api().Ping().code(), Code::kInternal);
  socket_->Script(ScriptedSocket::Mode::kAnswer, std::string("\x00\x01garbage\xff", 11));
  EXPECT_EQ(Api().ShowMap("/m").status().code(), Code::kInternal);
  EXPECT_EQ(Api().ShowServerStats("b").status().code(), Code::kInternal);
  EXPECT_EQ(Api().ShowServersState("b").status().code(), Code::kInternal);
  EXPECT_EQ(Api().DelServer("b", "s").code(), Code::kInternal);
  socket_->Script(ScriptedSocket::Mode::kAnswer, "No such server.\n");
  EXPECT_EQ(Api().EnableServer("b", "s").code(), Code::kNotFound);
  socket_->Script(ScriptedSocket::Mode::kCloseAtOnce);
  EXPECT_EQ(Api().Ping().code(), Code::kUnavailable);
  socket_->Script(ScriptedSocket::Mode::kFlood);
  EXPECT_EQ(Api().ShowMap("/m").status().code(), Code::kTooLarge);
  socket_->Script(ScriptedSocket::Mode::kSilent);
  Status silent = Api(std::chrono::milliseconds(200)).Ping();
  EXPECT_EQ(silent.code(), Code::kUnavailable);
  EXPECT_NE(silent.message().find("no complete answer"), std::string::npos) << silent.message();
}

TEST_F(RuntimeApiTest, MissingOrDeadSocketIsUnavailable) {
  RuntimeApi missing({dir_ + "/nothing.sock"});
  Status s = missing.Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("No such file"), std::string::npos) << s.message();
  // A socket file nobody listens on any more.
  std::string dead = dir_ + "/dead.sock";
  { ScriptedSocket gone(dead); }
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, dead.c_str(), sizeof(sa.sun_path) - 1);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);  // bound, never listening
  EXPECT_EQ(RuntimeApi({dead}).Ping().code(), Code::kUnavailable);
  ::close(fd);
  EXPECT_EQ(RuntimeApi({"/" + std::string(200, 'x')}).Ping().code(), Code::kInvalid);
}

}  // namespace
}  // namespace visi::testing
