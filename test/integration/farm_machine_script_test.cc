// hack/farm-machine.sh, the exec provider whose machines are separate
// dockerds on this host, run exactly as visid runs it: through ExecCreate and
// ExecDelete (argv without a shell, a process group that is killed when the
// program exits). Needs root and the main daemon with the workload images
// (hack/test.sh provides both); skipped otherwise. Each case has a farm
// directory of its own, and TearDown runs delete-all on it, so no daemon
// outlives the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/drivers/docker/docker_client.h"
#include "controller/drivers/farm/exec_provider.h"

namespace visi::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

const std::string kScript = std::string(VISI_SOURCE_DIR) + "/hack/farm-machine.sh";
const std::vector<std::string> kImages = {"visi/busybox:latest", "visi/frontend:latest",
                                          "visi/spark:latest"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// True once no process has `pid`: exited and reaped by its parent (init).
bool Reaped(pid_t pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
// True once `pid` has exited: reaped, or a zombie waiting for init.
bool Dead(pid_t pid) {
  std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  size_t paren = stat.rfind(')');
  return Reaped(pid) || (paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}
// Signals are delivered and zombies reaped asynchronously. Not a timing
// assertion: the bound only avoids a hang.
bool Eventually(bool (*done)(pid_t), pid_t pid) {
  for (int i = 0; i < 3000 && !done(pid); ++i) std::this_thread::sleep_for(milliseconds(10));
  return done(pid);
}

// Live processes whose command line contains `text` (a daemon's containerd
// and shims name its exec root).
std::vector<pid_t> ProcessesMentioning(const std::string& text) {
  std::vector<pid_t> out;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (ReadFile(entry.path() / "cmdline").find(text) != std::string::npos && !Dead(pid)) {
      out.push_back(pid);
    }
  }
  return out;
}

std::unique_ptr<DockerClient> Docker(const std::string& endpoint) {
  DockerClientOptions options;
  options.endpoint = endpoint;
  options.request_timeout = milliseconds(10000);
  auto client = DockerClient::Create(options);
  return client.ok() ? std::move(*client) : nullptr;
}

// Starts a container that sleeps on `docker`; its id.
StatusOr<std::string> StartSleeper(DockerClient* docker) {
  ContainerSpec spec;
  spec.name = "sleeper";
  spec.image = "visi/busybox:latest";
  spec.command = {"sleep", "3600"};
  VISI_ASSIGN_OR_RETURN(std::string id, docker->CreateContainer(spec));
  VISI_RETURN_IF_ERROR(docker->StartContainer(id));
  return id;
}

// The socket's path: "unix:///run/visi-farm/ID/docker.sock" without "unix://".
std::string SocketPath(const ExecMachine& m) { return m.endpoint.substr(std::string("unix://").size()); }

class FarmMachineScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "hack/farm-machine.sh starts Docker daemons: needs root";
    auto main = Docker("unix:///var/run/docker.sock");
    if (!main || !main->Ping().ok()) {
      GTEST_SKIP() << "no Docker daemon answers at /var/run/docker.sock (hack/test.sh starts one)";
    }
    for (const std::string& image : kImages) {
      auto present = main->ImageExists(image);
      if (!present.ok() || !*present) GTEST_SKIP() << image << " is not on the main daemon (bash hack/images.sh)";
    }
    std::string templ = "/tmp/visi-farm-it-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    farm_dir_ = templ;
  }
  void TearDown() override {
    if (farm_dir_.empty()) return;
    Status status = ExecDelete(Options({kScript, "delete-all"}, {}));
    EXPECT_TRUE(status.ok()) << status.ToString();
    std::error_code ignored;
    fs::remove_all(farm_dir_, ignored);
  }

  ExecOptions Options(std::vector<std::string> argv, std::map<std::string, std::string> env) {
    ExecOptions options;
    options.argv = std::move(argv);
    options.timeout = milliseconds(180'000);  // the script bounds its own waits (60 s)
    options.env = std::move(env);
    options.env["VISI_FARM_DIR"] = farm_dir_;
    return options;
  }
  StatusOr<ExecMachine> Create(const std::string& machine, std::map<std::string, std::string> extra = {}) {
    auto env = ExecCreateEnv("pool-it", machine);
    env.insert(extra.begin(), extra.end());
    return ExecCreate(Options({kScript, "create"}, env));
  }
  Status Delete(const std::string& machine, const ExecMachine& created) {
    return ExecDelete(Options({kScript, "delete"}, ExecDeleteEnv("pool-it", machine, created)));
  }
  // The machine's dockerd, from the pid file in its state directory.
  static pid_t DaemonPid(const ExecMachine& m) { return std::atoi(ReadFile(m.provider_id + "/docker.pid").c_str()); }

  std::string farm_dir_;
};

TEST_F(FarmMachineScriptTest, CreateReportsADaemonOfItsOwnWithTheImages) {
  StatusOr<ExecMachine> m = Create("m1");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->provider_id, farm_dir_ + "/m1");
  EXPECT_TRUE(fs::is_directory(m->provider_id));
  ASSERT_EQ(m->endpoint.rfind("unix:///run/visi-farm/", 0), 0u) << m->endpoint;
  EXPECT_LT(SocketPath(*m).size(), 108u) << "longer than a unix socket path may be";
  // ExecCreate killed the program's process group on exit: the daemon
  // answers because it runs in a session of its own.
  auto docker = Docker(m->endpoint);
  ASSERT_NE(docker, nullptr);
  ASSERT_TRUE(docker->Ping().ok()) << docker->Ping().ToString();
  for (const std::string& image : kImages) {
    auto present = docker->ImageExists(image);
    ASSERT_TRUE(present.ok()) << present.status().ToString();
    EXPECT_TRUE(*present) << image;
  }
  // A dockerd of its own, not the main daemon.
  pid_t pid = DaemonPid(*m);
  ASSERT_GT(pid, 0);
  EXPECT_NE(ReadFile("/proc/" + std::to_string(pid) + "/cmdline").find(SocketPath(*m)), std::string::npos);
}

TEST_F(FarmMachineScriptTest, CreateAgainReportsTheSameDaemon) {
  StatusOr<ExecMachine> first = Create("m1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  pid_t pid = DaemonPid(*first);
  StatusOr<ExecMachine> second = Create("m1");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ(DaemonPid(*second), pid);
  EXPECT_FALSE(Dead(pid));
  EXPECT_TRUE(Docker(second->endpoint)->Ping().ok());
}

TEST_F(FarmMachineScriptTest, DeleteStopsTheDaemonAndItsContainers) {
  StatusOr<ExecMachine> m = Create("m1");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  pid_t pid = DaemonPid(*m);
  auto docker = Docker(m->endpoint);
  auto id = StartSleeper(docker.get());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  const std::string run_dir = fs::path(SocketPath(*m)).parent_path();

  Status deleted = Delete("m1", *m);
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_FALSE(docker->Ping().ok());
  EXPECT_TRUE(Eventually(Dead, pid)) << "dockerd " << pid;
  EXPECT_FALSE(fs::exists(m->provider_id));
  EXPECT_FALSE(fs::exists(run_dir));
  // No containerd, shim or mount of this machine is left.
  EXPECT_EQ(ProcessesMentioning(run_dir), std::vector<pid_t>{});
  std::string mounts = ReadFile("/proc/self/mounts");
  EXPECT_EQ(mounts.find(run_dir), std::string::npos);
  EXPECT_EQ(mounts.find(m->provider_id), std::string::npos);

  // Deleting what is gone, or was never there, succeeds (the contract).
  deleted = Delete("m1", *m);
  EXPECT_TRUE(deleted.ok()) << deleted.ToString();
  deleted = Delete("never-created", ExecMachine{});
  EXPECT_TRUE(deleted.ok()) << deleted.ToString();
}

TEST_F(FarmMachineScriptTest, CreateStartsAfreshWhenTheDaemonWasKilled) {
  StatusOr<ExecMachine> first = Create("m1");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  pid_t pid = DaemonPid(*first);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  // At once: its pid file names a process that is gone, or a zombie not
  // reaped yet (a pid that may be reused).
  StatusOr<ExecMachine> second = Create("m1");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(*second, *first);
  EXPECT_NE(DaemonPid(*second), pid);
  EXPECT_TRUE(Docker(second->endpoint)->Ping().ok());
}

TEST_F(FarmMachineScriptTest, RefusesNamesThatAreNotDnsLabels) {
  for (const std::string name : {"../x", "A B", "-x", "x_y", ""}) {
    SCOPED_TRACE("VISI_MACHINE=" + name);
    Status created = Create(name).status();
    EXPECT_EQ(created.code(), Code::kUnavailable) << created.ToString();
    EXPECT_NE(created.message().find("exited with code 2"), std::string::npos) << created.message();
    EXPECT_NE(created.message().find("VISI_MACHINE"), std::string::npos) << created.message();
    Status deleted = Delete(name, ExecMachine{});
    EXPECT_NE(deleted.message().find("exited with code 2"), std::string::npos) << deleted.message();
    EXPECT_NE(deleted.message().find("VISI_MACHINE"), std::string::npos) << deleted.message();
  }
  EXPECT_TRUE(fs::is_empty(farm_dir_));
}

TEST_F(FarmMachineScriptTest, FailCreateHookFailsWithItsMessage) {
  Status created = Create("m1", {{"VISI_FARM_FAIL_CREATE", "1"}}).status();
  EXPECT_EQ(created.code(), Code::kUnavailable) << created.ToString();
  EXPECT_NE(created.message().find("exited with code 1"), std::string::npos) << created.message();
  EXPECT_NE(created.message().find("VISI_FARM_FAIL_CREATE"), std::string::npos) << created.message();
  EXPECT_FALSE(fs::exists(fs::path(farm_dir_) / "m1" / "docker.pid"));
}

TEST_F(FarmMachineScriptTest, DeleteAfterTheDaemonWasKilledLeavesNoProcessBehind) {
  StatusOr<ExecMachine> m = Create("m1");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  auto docker = Docker(m->endpoint);
  auto id = StartSleeper(docker.get());
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto info = docker->InspectContainer(*id);
  ASSERT_TRUE(info.ok());
  const std::string run_dir = fs::path(SocketPath(*m)).parent_path();
  ASSERT_FALSE(ProcessesMentioning(run_dir).empty()) << "its containerd and shim name the exec root";
  // The daemon dies without stopping anything: containerd, the shim and
  // the container's process stay.
  ASSERT_EQ(kill(DaemonPid(*m), SIGKILL), 0);
  Status deleted = Delete("m1", *m);
  ASSERT_TRUE(deleted.ok()) << deleted.ToString();
  EXPECT_EQ(ProcessesMentioning(run_dir), std::vector<pid_t>{});
  // The container's cgroup is gone, and with it its processes.
  bool cgroup_left = fs::exists("/sys/fs/cgroup/docker/" + *id) ||
                     fs::exists("/sys/fs/cgroup/system.slice/docker-" + *id + ".scope");
  std::error_code ec;
  for (const auto& controller : fs::directory_iterator("/sys/fs/cgroup", ec)) {  // cgroup v1: one tree per controller
    cgroup_left = cgroup_left || fs::exists(controller.path() / "docker" / *id);
  }
  EXPECT_FALSE(cgroup_left) << "a cgroup of container " << *id << " is left";
  EXPECT_FALSE(fs::exists(m->provider_id));
}

}  // namespace
}  // namespace visi::testing
