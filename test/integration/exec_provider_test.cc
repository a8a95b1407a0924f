// The exec machine provider running real programs: small /bin/sh scripts
// written into a temp directory. Covers the create output contract, the
// environment, failures, timeouts (the whole process group is gone
// afterwards), the output cap, and no leaked fds or zombies.
#include "controller/drivers/farm/exec_provider.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace visi::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// True once `pid` has exited: no such process, or a zombie left for its new
// parent (init) to reap.
bool IsGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

// SIGKILL is delivered asynchronously: give the kernel a moment to finish
// the process off. Not a timing assertion; the bound only avoids a hang.
bool EventuallyGone(pid_t pid) {
  for (int i = 0; i < 1000; ++i) {
    if (IsGone(pid)) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

int OpenFdCount() {
  int count = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator("/proc/self/fd")) ++count;
  return count;
}

class ExecProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (fs::temp_directory_path() / "visi-exec-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    fs::remove_all(dir_);
  }

  // Writes an executable /bin/sh script; returns its path.
  std::string Script(const std::string& name, const std::string& body) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    chmod(path.c_str(), 0755);
    return path;
  }

  ExecOptions Options(std::vector<std::string> argv, milliseconds timeout = milliseconds(20000)) {
    ExecOptions options;
    options.argv = std::move(argv);
    options.timeout = timeout;
    options.env = ExecCreateEnv("pool-a", "pool-a-m1");
    return options;
  }

  // Pids a script wrote to PIDS, one per line.
  std::vector<pid_t> ReadPids() {
    std::vector<pid_t> pids;
    std::ifstream in(Pids());
    for (pid_t pid; in >> pid;) pids.push_back(pid);
    return pids;
  }
  std::string Pids() const { return (dir_ / "pids").string(); }

  fs::path dir_;
};

TEST_F(ExecProviderTest, CreateReportsAllFields) {
  std::string create = Script("create", R"(echo '{"endpoint": "tcp://10.0.0.5:2376",
  "tlsSecretPath": "/etc/visi/m1", "providerID": "i-0123"}')");
  StatusOr<ExecMachine> machine = ExecCreate(Options({create}));
  ASSERT_TRUE(machine.ok()) << machine.status().ToString();
  EXPECT_EQ(*machine, (ExecMachine{"tcp://10.0.0.5:2376", "/etc/visi/m1", "i-0123"}));
}

TEST_F(ExecProviderTest, CreateWithOnlyAnEndpoint) {
  std::string create = Script("create", R"(echo "provisioning..." >&2
echo '{"endpoint": "unix:///run/m1/docker.sock", "providerID": null, "extra": [1]}')");
  StatusOr<ExecMachine> machine = ExecCreate(Options({create}));
  ASSERT_TRUE(machine.ok()) << machine.status().ToString();
  EXPECT_EQ(*machine, (ExecMachine{"unix:///run/m1/docker.sock", "", ""}));
}

TEST_F(ExecProviderTest, EnvironmentAndArgumentsReachTheProgram) {
  // Arguments go through without a shell: no splitting, no expansion.
  // Stdin is /dev/null: `read` fails at once instead of waiting.
  std::string create = Script("create", R"(if read line; then exit 9; fi
[ "$VISI_OUTER" = kept ] || exit 8
echo "{\"endpoint\": \"unix:///$VISI_POOL/$VISI_MACHINE\", \"providerID\": \"$1|$2|$#\"}")");
  setenv("VISI_OUTER", "kept", 1);
  StatusOr<ExecMachine> machine = ExecCreate(Options({create, "a b", "$HOME"}));
  unsetenv("VISI_OUTER");
  ASSERT_TRUE(machine.ok()) << machine.status().ToString();
  EXPECT_EQ(machine->endpoint, "unix:///pool-a/pool-a-m1");
  EXPECT_EQ(machine->provider_id, "a b|$HOME|2");
}

TEST_F(ExecProviderTest, NonZeroExitIsRetryableWithStderr) {
  std::string create = Script("create", R"(echo "quota exceeded in zone b" >&2
exit 3)");
  StatusOr<ExecMachine> machine = ExecCreate(Options({create}));
  ASSERT_FALSE(machine.ok());
  EXPECT_EQ(machine.status().code(), Code::kUnavailable);
  EXPECT_NE(machine.status().message().find("exited with code 3"), std::string::npos)
      << machine.status().message();
  EXPECT_NE(machine.status().message().find("quota exceeded in zone b"), std::string::npos);
  EXPECT_NE(machine.status().message().find(create), std::string::npos);
}

TEST_F(ExecProviderTest, StderrInTheMessageIsCutAndEscaped) {
  std::string create = Script("create", R"(i=0
while [ $i -lt 100 ]; do echo "early line $i" >&2; i=$((i+1)); done
printf 'last\001line\n' >&2
exit 1)");
  Status status = ExecCreate(Options({create})).status();
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_NE(status.message().find("last\\x01line"), std::string::npos) << status.message();
  EXPECT_EQ(status.message().find("early line 0\\n"), std::string::npos);
  EXPECT_LT(status.message().size(), 1000u);
  for (char c : status.message()) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << int(c);
}

TEST_F(ExecProviderTest, DeathBySignalIsRetryable) {
  std::string create = Script("create", "echo dying >&2; kill -KILL $$");
  Status status = ExecCreate(Options({create})).status();
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_NE(status.message().find("signal 9 (SIGKILL)"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("dying"), std::string::npos);
}

TEST_F(ExecProviderTest, TimeoutKillsTheProgramAndWhatItStarted) {
  std::string create = Script("create", "sleep 30 &\necho $$ $! > " + Pids() + "\nsleep 30");
  Status status = ExecCreate(Options({create}, milliseconds(200))).status();
  EXPECT_EQ(status.code(), Code::kDeadlineExceeded);
  EXPECT_NE(status.message().find(create), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("200ms"), std::string::npos) << status.message();
  std::vector<pid_t> pids = ReadPids();
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(EventuallyGone(pid)) << pid;
}

TEST_F(ExecProviderTest, TimeoutEscalatesToSigkill) {
  // Ignoring SIGTERM is inherited by `sleep`; only SIGKILL ends them.
  std::string create =
      Script("create", "trap '' TERM\nsleep 30 &\necho $$ $! > " + Pids() + "\nsleep 30");
  Status status = ExecCreate(Options({create}, milliseconds(200))).status();
  EXPECT_EQ(status.code(), Code::kDeadlineExceeded);
  std::vector<pid_t> pids = ReadPids();
  ASSERT_EQ(pids.size(), 2u);
  for (pid_t pid : pids) EXPECT_TRUE(EventuallyGone(pid)) << pid;
}

TEST_F(ExecProviderTest, TooMuchOutputIsAnErrorAndKillsTheProgram) {
  struct Case {
    std::string redirect;
    size_t cap;
    std::string stream;
  };
  for (const Case& c : {Case{"", 64 * 1024, "stdout"}, Case{">&2", 1000, "stderr"}}) {
    SCOPED_TRACE(c.stream);
    std::string create = Script("create", "echo $$ > " + Pids() + "\nyes " + c.redirect);
    ExecOptions options = Options({create});
    options.max_output_bytes = c.cap;
    Status status = ExecCreate(options).status();
    EXPECT_EQ(status.code(), Code::kInvalid);
    EXPECT_NE(status.message().find("more than " + std::to_string(c.cap) + " bytes on " + c.stream),
              std::string::npos)
        << status.message();
    std::vector<pid_t> pids = ReadPids();
    ASSERT_EQ(pids.size(), 1u);
    EXPECT_TRUE(EventuallyGone(pids[0]));
  }
}

TEST_F(ExecProviderTest, BadOutputIsInvalidAndNamesTheProblem) {
  struct Case {
    std::string output;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "printed nothing on stdout"},
      {R"({"endpoint": )", "printed invalid JSON"},
      {R"({"endpoint": "unix:///x"} trailing)", "printed invalid JSON"},
      {R"(["unix:///x"])", "printed a JSON array on stdout; want an object"},
      {R"("unix:///x")", "printed a JSON string"},
      {R"({"providerID": "i-1"})", R"(create program printed no "endpoint")"},
      {R"({"endpoint": ""})", R"(create program printed no "endpoint")"},
      {R"({"endpoint": "http://host:2375"})", R"(invalid "endpoint": must be unix:///path)"},
      {R"({"endpoint": "unix://"})", R"(invalid "endpoint")"},
      {R"({"endpoint": "/var/run/docker.sock"})", R"(invalid "endpoint")"},
      {R"({"endpoint": 2376})", R"(invalid "endpoint": must be a string, got number)"},
      {R"({"endpoint": "tcp://h:1", "tlsSecretPath": true})",
       R"(invalid "tlsSecretPath": must be a string, got boolean)"},
      {R"({"endpoint": "tcp://h:1", "tlsSecretPath": "certs/m1"})",
       R"(invalid "tlsSecretPath": must be an absolute directory)"},
      {R"({"endpoint": "tcp://h:1", "providerID": {"id": 1}})",
       R"(invalid "providerID": must be a string, got object)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.output);
    std::ofstream(dir_ / "output") << c.output;
    std::string create = Script("create", "cat " + (dir_ / "output").string());
    Status status = ExecCreate(Options({create})).status();
    EXPECT_EQ(status.code(), Code::kInvalid);
    EXPECT_NE(status.message().find(c.message), std::string::npos) << status.message();
  }
}

TEST_F(ExecProviderTest, ProgramThatCannotStartIsInvalid) {
  std::string missing = (dir_ / "no-such-program").string();
  Status status = ExecCreate(Options({missing})).status();
  EXPECT_EQ(status.code(), Code::kInvalid);
  EXPECT_NE(status.message().find(missing), std::string::npos) << status.message();

  std::string not_executable = Script("not-executable", "exit 0");
  chmod(not_executable.c_str(), 0644);
  status = ExecDelete(Options({not_executable}));
  EXPECT_EQ(status.code(), Code::kInvalid);
  EXPECT_NE(status.message().find("delete program \"" + not_executable + "\" cannot be started"),
            std::string::npos)
      << status.message();

  EXPECT_EQ(ExecCreate(Options({})).status().code(), Code::kInvalid);
  EXPECT_EQ(ExecCreate(Options({"visi-no-such-program-in-path"})).status().code(),
            Code::kInvalid);
}

TEST_F(ExecProviderTest, DeleteGetsTheMachineAndSucceedsOnExitZero) {
  std::string del = Script("delete", R"([ "$VISI_POOL" = pool-a ] || exit 4
[ "$VISI_MACHINE" = pool-a-m1 ] || exit 5
[ "$VISI_PROVIDER_ID" = i-0123 ] || exit 6
[ "$VISI_ENDPOINT" = tcp://10.0.0.5:2376 ] || exit 7
echo "deleted $VISI_PROVIDER_ID")");
  ExecOptions options = Options({del});
  options.env = ExecDeleteEnv("pool-a", "pool-a-m1", {"tcp://10.0.0.5:2376", "", "i-0123"});
  Status status = ExecDelete(options);
  EXPECT_TRUE(status.ok()) << status.ToString();
}

TEST_F(ExecProviderTest, DeleteFailureIsRetryable) {
  std::string del = Script("delete", "echo 'instance i-0123 is locked' >&2\nexit 2");
  Status status = ExecDelete(Options({del}));
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_NE(status.message().find("delete program"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("exited with code 2"), std::string::npos);
  EXPECT_NE(status.message().find("instance i-0123 is locked"), std::string::npos);
}

TEST_F(ExecProviderTest, WhatTheProgramLeavesBehindIsKilled) {
  // The background sleep keeps stdout open; the program's exit still ends
  // the run, and the sleep goes with its process group.
  std::string create = Script("create", "sleep 30 &\necho $! > " + Pids() +
                                            "\necho '{\"endpoint\": \"unix:///m1.sock\"}'");
  StatusOr<ExecMachine> machine = ExecCreate(Options({create}));
  ASSERT_TRUE(machine.ok()) << machine.status().ToString();
  EXPECT_EQ(machine->endpoint, "unix:///m1.sock");
  std::vector<pid_t> pids = ReadPids();
  ASSERT_EQ(pids.size(), 1u);
  EXPECT_TRUE(EventuallyGone(pids[0]));
}

TEST_F(ExecProviderTest, NoFdsOrZombiesLeak) {
  std::string ok = Script("ok", R"(echo '{"endpoint": "unix:///x"}')");
  std::string fails = Script("fails", "echo no >&2; exit 1");
  std::string slow = Script("slow", "sleep 30");
  std::string chatty = Script("chatty", "yes");
  int before = OpenFdCount();
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(ExecCreate(Options({ok})).ok());
    EXPECT_EQ(ExecDelete(Options({fails})).code(), Code::kUnavailable);
    EXPECT_EQ(ExecDelete(Options({slow}, milliseconds(50))).code(), Code::kDeadlineExceeded);
    EXPECT_EQ(ExecCreate(Options({chatty})).status().code(), Code::kInvalid);
    EXPECT_EQ(ExecCreate(Options({(dir_ / "missing").string()})).status().code(),
              Code::kInvalid);
  }
  EXPECT_EQ(OpenFdCount(), before);
  // Every child was reaped: none is left to wait for.
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

}  // namespace
}  // namespace visi::testing
