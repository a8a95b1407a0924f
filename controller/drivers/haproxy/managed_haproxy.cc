#include "controller/drivers/haproxy/managed_haproxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>
#include <vector>

#include "controller/drivers/haproxy/runtime_answers.h"
#include "controller/drivers/haproxy/runtime_api.h"

extern char** environ;

namespace visi {
namespace {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

constexpr int kPortAttempts = 5;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

Status WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) return InternalError("cannot write " + path + ": " + std::strerror(errno));
  return OkStatus();
}

}  // namespace

int PickFreePort(const std::string& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = 0;
  int port = 0;
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) == 1 &&
      ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0) {
    socklen_t length = sizeof(sa);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length) == 0) port = ntohs(sa.sin_port);
  }
  ::close(fd);
  return port;
}

ManagedHaproxy::ManagedHaproxy(ManagedHaproxyOptions options) : options_(std::move(options)) {}

ManagedHaproxy::~ManagedHaproxy() { (void)Stop(); }

bool ManagedHaproxy::Running() {
  if (pid_ == 0) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  pid_ = 0;  // exited and reaped (or not our child any more)
  return false;
}

std::string ManagedHaproxy::LogTail(size_t max_bytes) const {
  std::ifstream in(options_.config.log_path(), std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::string all = text.str();
  if (all.size() > max_bytes) all = all.substr(all.size() - max_bytes);
  return all;
}

Status ManagedHaproxy::WriteFiles() const {
  const HaproxyConfigOptions& config = options_.config;
  VISI_ASSIGN_OR_RETURN(std::string text, RenderBaseConfig(config));
  std::error_code ec;
  fs::create_directories(config.runtime_dir, ec);
  if (ec) return InternalError("cannot create " + config.runtime_dir + ": " + ec.message());
  // Empty maps: a fresh HAProxy holds no route until the reconciler applies them.
  VISI_RETURN_IF_ERROR(WriteFile(config.routes_map_path(), ""));
  VISI_RETURN_IF_ERROR(WriteFile(config.prefixes_map_path(), ""));
  VISI_RETURN_IF_ERROR(WriteFile(config.config_path(), text));
  fs::remove(config.socket_path(), ec);  // a stale socket of an earlier run
  return OkStatus();
}

Status ManagedHaproxy::Start() {
  if (Running()) return AlreadyExistsError("HAProxy already runs as pid " + std::to_string(pid_));
  const bool pick_port = options_.config.bind_port == 0;
  Status last;
  for (int attempt = 0; attempt < (pick_port ? kPortAttempts : 1); ++attempt) {
    if (pick_port) {
      options_.config.bind_port = PickFreePort(options_.config.bind_address);
      if (options_.config.bind_port == 0) {
        return UnavailableError("no free TCP port on " + options_.config.bind_address);
      }
    }
    bool port_taken = false;
    last = StartOnce(&port_taken);
    if (last.ok() || !port_taken) break;
  }
  if (!last.ok() && pick_port) options_.config.bind_port = 0;
  return last;
}

namespace {

// Runs, and is not a zombie waiting for its parent to reap it.
bool Alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  return paren == std::string::npos || paren + 2 >= text.size() || text[paren + 2] != 'Z';
}

}  // namespace

void ManagedHaproxy::StopStale() const {
  const std::string pid_path = options_.config.runtime_dir + "/haproxy.pid";
  std::ifstream in(pid_path);
  long stale = 0;
  if (!(in >> stale) || stale <= 1) return;
  // Only the HAProxy an earlier owner started from this very config.
  std::ifstream cmd("/proc/" + std::to_string(stale) + "/cmdline", std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  if (cmdline.find("haproxy") == std::string::npos ||
      cmdline.find(" -f " + options_.config.config_path()) == std::string::npos) {
    return;
  }
  const pid_t pid = static_cast<pid_t>(stale);
  ::kill(pid, SIGTERM);
  const auto deadline = SteadyClock::now() + options_.stop_timeout;
  while (Alive(pid) && SteadyClock::now() < deadline) std::this_thread::sleep_for(kPollInterval);
  if (Alive(pid)) ::kill(pid, SIGKILL);
  for (int i = 0; i < 100 && Alive(pid); ++i) std::this_thread::sleep_for(kPollInterval);
}

Status ManagedHaproxy::StartOnce(bool* port_taken) {
  // An HAProxy left by an owner that was killed (it runs in its own process
  // group, so it outlives visid): stopped, so that its port is free again.
  StopStale();
  VISI_RETURN_IF_ERROR(WriteFiles());
  const HaproxyConfigOptions& config = options_.config;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, config.log_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);

  // A clean signal state (the parent may block or ignore some), and its own
  // process group, so that a terminal's Ctrl-C reaches only the owner.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigset_t all;
  sigemptyset(&empty);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

  // -db: stay in the foreground, so the child is HAProxy itself.
  std::string config_path = config.config_path();
  std::vector<std::string> args = {options_.binary, "-db", "-f", config_path};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = 0;
  int rc = posix_spawn(&pid, options_.binary.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return InternalError("cannot start " + options_.binary + ": " + std::strerror(rc));
  pid_ = pid;
  (void)WriteFile(config.runtime_dir + "/haproxy.pid", std::to_string(pid) + "\n");

  Status serving = WaitUntilServing();
  if (serving.ok()) return serving;
  (void)Stop();
  std::string output = LogTail();
  *port_taken = output.find("cannot bind socket") != std::string::npos ||
                output.find("Address already in use") != std::string::npos;
  if (*port_taken) {
    return UnavailableError("HAProxy cannot listen on " + config.bind_address + ":" + std::to_string(config.bind_port) +
                            ": " + QuoteAnswer(output, 600));
  }
  return Status(serving.code(), serving.message() + "; HAProxy said: " + QuoteAnswer(output, 600));
}

Status ManagedHaproxy::WaitUntilServing() {
  RuntimeApi api({options_.config.socket_path(), std::chrono::milliseconds(500)});
  const auto deadline = SteadyClock::now() + options_.start_timeout;
  Status last = UnavailableError("not started");
  while (SteadyClock::now() < deadline) {
    if (!Running()) return InternalError("HAProxy exited during start-up");
    last = api.Ping();
    if (last.ok()) return last;
    std::this_thread::sleep_for(kPollInterval);
  }
  return UnavailableError("HAProxy did not answer on " + options_.config.socket_path() + " within " +
                          std::to_string(options_.start_timeout.count()) + " ms: " + last.message());
}

Status ManagedHaproxy::Stop(StopMode mode) {
  if (!Running()) return OkStatus();
  ::kill(pid_, mode == StopMode::kGraceful ? SIGUSR1 : SIGTERM);
  const auto deadline = SteadyClock::now() + options_.stop_timeout;
  while (SteadyClock::now() < deadline) {
    if (!Running()) return OkStatus();
    std::this_thread::sleep_for(kPollInterval);
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = 0;
  return OkStatus();
}

Status ManagedHaproxy::Restart() {
  VISI_RETURN_IF_ERROR(Stop());
  return Start();
}

}  // namespace visi
