// Crash safety: a writer process is SIGKILLed at random moments, several
// times; the reopened store holds every acknowledged write and nothing torn.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "controller/store/sqlite/sqlite_store.h"

extern char** environ;

namespace visi {
namespace {

struct Ack {
  int counter = 0;
  uint64_t rv = 0;
};

// Runs the writer for `ms` milliseconds, kills it, and returns what it acked.
std::map<std::string, Ack> RunAndKill(const std::string& db, int id, int ms) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  std::string ids = std::to_string(id);
  char* argv[] = {const_cast<char*>(VISI_CRASH_WRITER), const_cast<char*>(db.c_str()),
                  const_cast<char*>(ids.c_str()), nullptr};
  pid_t pid;
  EXPECT_EQ(posix_spawn(&pid, VISI_CRASH_WRITER, &fa, nullptr, argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  std::string out;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, n);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  reader.join();
  ::close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the writer exited on its own";
  std::map<std::string, Ack> acks;
  std::istringstream lines(out);
  std::string word, key;
  int counter;
  unsigned long long rv;
  while (lines >> word >> key >> counter >> rv) {
    Ack& a = acks[key];
    if (counter > a.counter) a = {counter, rv};
  }
  return acks;
}

TEST(StoreCrashTest, EveryAcknowledgedWriteSurvivesSigkill) {
  char tmpl[] = "/tmp/visi-crash-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string db = dir + "/store.db";
  std::mt19937 rng(std::random_device{}());
  size_t total_acks = 0;
  for (int round = 0; round < 6; ++round) {
    int ms = 150 + static_cast<int>(rng() % 400);
    auto acks = RunAndKill(db, round, ms);
    for (const auto& a : acks) total_acks += a.second.counter;
    auto store = OpenSqliteStore(db, Scheme::Builtin(), SystemClock::Default());
    ASSERT_TRUE(store.ok()) << "round " << round << ": " << store.status().ToString();
    uint64_t max_rv = 0;
    for (const auto& [key, ack] : acks) {
      auto o = (*store)->Get("VisiSession", "crash", key);
      ASSERT_TRUE(o.ok()) << "round " << round << ": acknowledged " << key << " is missing";
      int stored = std::stoi((*o)->metadata.annotations.at("visi.dev/counter"));
      EXPECT_GE(stored, ack.counter) << key << ": an acknowledged update was lost";
      EXPECT_GE((*o)->metadata.resource_version, ack.rv);
      max_rv = std::max(max_rv, ack.rv);
    }
    EXPECT_GE((*store)->CurrentRevision(), max_rv);
    // Nothing torn: every stored object decodes and passes validation.
    ListOptions all;
    all.kind = "VisiSession";
    auto list = (*store)->List(all);
    ASSERT_TRUE(list.ok());
    for (const auto& o : list->items) {
      Object copy = *o;
      EXPECT_TRUE(Scheme::Builtin()->ValidateAndDefault(&copy).ok()) << o->metadata.name;
    }
  }
  EXPECT_GT(total_acks, 100u) << "the writer barely wrote; the test proved little";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace visi
