// visid's command line: every bad flag is refused before anything starts,
// with a message that names the flag (split from api_server_test.cc).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test/e2e/visid_process.h"

namespace visi::testing {
namespace {

TEST(VisidFlagsTest, PlainHttpOnlyOnLoopbackAndBadFlagsAreRefused) {
  VisidProcess v;
  EXPECT_FALSE(v.Start({"--insecure-http", "--listen", "0.0.0.0:0"}));
  VisidProcess plain;
  ASSERT_TRUE(plain.Start({"--insecure-http"}));
  EXPECT_EQ(plain.url().rfind("http://127.0.0.1:", 0), 0u);
  ApiClient client(plain.AdminConfig());
  EXPECT_EQ(client.Request("GET", "/apis").code, 200);
  VisidProcess bad;
  EXPECT_FALSE(bad.Start({"--listen", "nonsense"}));
}

// The controller flags: every bad value is refused before anything starts,
// with a message that names the flag.
TEST(VisidFlagsTest, ControllerFlagsAreChecked) {
  const std::string visid = std::string(VISI_VISID_BINARY) + " --data-dir /tmp/visid-flags-never-created ";
  struct Case {
    std::string flags, want;
  };
  for (const Case& c : std::vector<Case>{
           {"--controllers bogus", "unknown controller \"bogus\""},
           {"--controllers '*,-nope'", "unknown controller \"nope\""},
           {"--instance Bad_Name", "--instance must be"},
           {"--instance ''", "--instance must be"},
           {"--subnet-pool 10.0.0.1/8", "host bits must be zero"},
           {"--subnet-pool 300.0.0.0/8", "--subnet-pool"},
           {"--subnet-pool 10.200.0.0/16 --subnet-prefix 8", "--subnet-prefix"},
           {"--session-resync 5ms", "--session-resync"},
           {"--event-ttl soon", "--event-ttl"},
           {"--session-workers 0", "--session-workers"},
           {"--login-ttl 0s", "--login-ttl"},
           {"--login-ttl 48h", "--login-ttl"},
           {"--router-sync fast", "--router-sync"},
           {"--router-activity 1ms", "--router-activity"},
           {"--snapshot-gc-period 10ms", "--snapshot-gc-period"},
           {"--snapshot-gc-period forever", "--snapshot-gc-period"},
           {"--snapshot-max-size 4Gi", "--snapshot-max-size must be a quantity from 1Mi to 3Gi"},
           {"--snapshot-max-size lots", "--snapshot-max-size"},
           {"--controllers '*,-snapshots'", "unknown controller \"snapshots\""},
           {"--controllers farm", "unknown controller \"farm\""},
           {"--machine-heartbeat 1ms", "--machine-heartbeat must be a duration from 100ms to 1h"},
           {"--machine-heartbeat often", "--machine-heartbeat"},
           {"--store mysql://db", "--store must be sqlite or etcd://HOST:PORT"},
           {"--store etcd://", "--store"},
           {"--store 'etcd://h:1,;rm -rf /'", "--store"},
           {"--store etcd://127.0.0.1:2379 --etcd-prefix visi", "--etcd-prefix must start and end with '/'"},
           {"--store etcd://127.0.0.1:2379 --etcd-cert /tmp/c.pem", "--etcd-cert and --etcd-key go together"},
           {"--store etcd://127.0.0.1:2379 --etcd-compact-retention lots", "--etcd-compact-retention"},
           {"--store etcd://127.0.0.1:2379 --etcd-compact-retention -5", "--etcd-compact-retention"},
           {"--print-haproxy-config", "--router-attach DIR"},
           {"--print-haproxy-config --router-attach /tmp/x --router-listen 127.0.0.1:0", "--router-listen must be"},
           {"--print-haproxy-config --router-attach 'rel;dir' --router-listen 127.0.0.1:80 --wakeup-listen 127.0.0.1:81",
            "runtime_dir"},
       }) {
    auto [rc, out] = RunCommand(visid + c.flags + " 2>&1");
    EXPECT_NE(rc, 0) << c.flags << "\n" << out;
    EXPECT_NE(out.find(c.want), std::string::npos) << c.flags << "\n" << out;
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/visid-flags-never-created")) << "nothing is created for bad flags";
  // Router addresses are checked when the router starts: visid stops with the flag named.
  for (const Case& c : std::vector<Case>{
           {"--router-listen nonsense", "--router-listen must be IPv4:PORT"},
           {"--router-listen 127.0.0.1:99999", "--router-listen must be IPv4:PORT"},
           {"--wakeup-listen 10.1.2.3:0", "--wakeup-listen must be a loopback address"},
           {"--router-attach /nonexistent-visi-dir --wakeup-listen 127.0.0.1:0", "--wakeup-listen must be IPv4:PORT"},
       }) {
    VisidProcess r;
    std::vector<std::string> args = {"--controllers", "visiroute"};
    std::istringstream words(c.flags);
    for (std::string w; words >> w;) args.push_back(w);
    EXPECT_FALSE(r.Start(args)) << c.flags;
    auto [rc, log] = RunCommand("cat " + r.log_path());
    EXPECT_NE(log.find(c.want), std::string::npos) << c.flags << "\n" << log;
  }
  // A Docker endpoint that does not parse stops visid with the field named.
  VisidProcess v;
  EXPECT_FALSE(v.Start({"--controllers", "*", "--docker-host", "ftp://nowhere"}));
  auto [rc, out] = RunCommand("cat " + v.dir() + "/visid.log");
  EXPECT_NE(out.find("ftp://nowhere"), std::string::npos) << out;
}

// visid copy-store: bad flags are refused (exit 2) with the flag named, an
// unreachable etcd or a busy store is a failure (exit 1), and a missing
// source store is never created.
TEST(VisidFlagsTest, CopyStoreFlagsAreChecked) {
  VisidProcess v;  // a data directory with a store in it, and its lock taken
  ASSERT_TRUE(v.Start());
  const std::string copy = std::string(VISI_VISID_BINARY) + " copy-store ";
  struct Case {
    std::string flags, want;
    int rc;
  };
  for (const Case& c : std::vector<Case>{
           {"--to etcd://127.0.0.1:2379", "--from is required", 106},
           {"--from " + v.dir(), "--to is required", 106},
           {"--from " + v.dir() + " --to sqlite", "--to must be etcd://HOST:PORT", 2},
           {"--from " + v.dir() + " --to etcd://", "--to \"etcd://\": no members", 2},
           {"--from " + v.dir() + " --to 'etcd://h:1;reboot'", "--to \"etcd://h:1;reboot\"", 2},
           {"--from " + v.dir() + " --to etcd://127.0.0.1:1 --etcd-prefix x", "--etcd-prefix must start and end", 2},
           {"--from " + v.dir() + " --to etcd://127.0.0.1:1 --etcd-key k.pem", "--etcd-cert and --etcd-key", 2},
           {"--from /tmp/visid-copy-never-created --to etcd://127.0.0.1:1", "no SQLite store at", 2},
           {"--from " + v.dir() + " --to etcd://127.0.0.1:1", "in use by another process", 1},
       }) {
    auto [rc, out] = RunCommand(copy + c.flags + " 2>&1");
    EXPECT_EQ(rc, c.rc) << c.flags << "\n" << out;
    EXPECT_NE(out.find(c.want), std::string::npos) << c.flags << "\n" << out;
  }
  EXPECT_FALSE(std::filesystem::exists("/tmp/visid-copy-never-created"));
  EXPECT_FALSE(std::filesystem::exists("/tmp/visid-copy-never-created/store.db"));
  // A file that is not a SQLite store, or an empty one, is refused and
  // left as it was: no schema written into it, no lock file beside it.
  for (const std::string text : {"not a database\n", ""}) {
    const std::string garbage = v.dir() + "/garbage.db";
    std::ofstream(garbage) << text;
    auto [grc, gout] = RunCommand(copy + "--from " + garbage + " --to etcd://127.0.0.1:1 2>&1");
    EXPECT_EQ(grc, 2) << gout;
    EXPECT_NE(gout.find("is not a SQLite store"), std::string::npos) << gout;
    EXPECT_EQ(RunCommand("cat " + garbage).second, text);
    EXPECT_FALSE(std::filesystem::exists(garbage + ".lock"));
    EXPECT_FALSE(std::filesystem::exists(garbage + "-wal"));
  }
  // visid's own flags before "copy-store" are refused, not ignored.
  auto [brc, bout] = RunCommand(std::string(VISI_VISID_BINARY) + " --etcd-prefix /other/ copy-store --from " +
                                v.dir() + " --to etcd://127.0.0.1:1 2>&1");
  EXPECT_EQ(brc, 2) << bout;
  EXPECT_NE(bout.find("--etcd-prefix is not a flag of copy-store"), std::string::npos) << bout;
  // Stopped, its store can be read; no etcd answers on port 1.
  v.Stop();
  auto [rc, out] = RunCommand(copy + "--from " + v.dir() + "/store.db --to etcd://127.0.0.1:1 2>&1");
  EXPECT_EQ(rc, 1) << out;
  EXPECT_NE(out.find("127.0.0.1:1"), std::string::npos) << out;
}

}  // namespace
}  // namespace visi::testing
