#include "controller/drivers/farm/exec_provider.h"

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>
#include <string_view>
#include <system_error>
#include <utility>

#include "controller/base/duration.h"

extern char** environ;

namespace visi {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long a program gets between SIGTERM and SIGKILL after its timeout.
constexpr milliseconds kKillGrace{2000};
// How much of stderr goes into an error message.
constexpr size_t kStderrTailBytes = 512;
// Field limits, as in crds/farmmachines.yaml.
constexpr size_t kMaxEndpointBytes = 1024;
constexpr size_t kMaxTlsSecretPathBytes = 4096;
constexpr size_t kMaxProviderIdBytes = 1024;

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

std::string ErrnoText(int err) { return std::generic_category().message(err); }

// Bytes as printable ASCII: "\n", "\t", "\\" and "\xNN" for everything else.
std::string Sanitize(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

// The end of stderr for an error message, or "" when there was none.
std::string StderrTail(std::string_view err) {
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.remove_suffix(1);
  if (err.empty()) return "";
  if (err.size() <= kStderrTailBytes) return "; stderr: " + Sanitize(err);
  return "; stderr: ..." + Sanitize(err.substr(err.size() - kStderrTailBytes));
}

// True once the program itself has exited; it stays unreaped (WNOWAIT), so
// its pid, which is also its process group's id, cannot be reused yet.
bool LeaderExited(pid_t pid) {
  siginfo_t info{};
  int rc;
  do {
    rc = waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc < 0 && errno == EINTR);
  return rc == 0 && info.si_pid == pid;
}

// Waits up to `limit` for the program to exit, without reaping it.
void WaitForLeader(pid_t pid, int pidfd, milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!LeaderExited(pid)) {
    auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return;
    // Without a pidfd (kernels before 5.3), look again every 20 ms.
    pollfd pfd{pidfd, POLLIN, 0};
    poll(&pfd, pidfd >= 0 ? 1 : 0, pidfd >= 0 ? left.count() : std::min<long>(left.count(), 20));
  }
}

struct RunOutput {
  std::string out;
  std::string err;
};

// Runs `options.argv` and returns its output when it exits 0.
StatusOr<RunOutput> Run(std::string_view verb, const ExecOptions& options) {
  const std::string what = std::string(verb) + " program";
  if (options.argv.empty() || options.argv[0].empty()) {
    return InvalidError(what + ": argv is empty");
  }
  const std::string& program = options.argv[0];
  const std::string named = what + " \"" + Sanitize(program) + "\"";
  if (options.timeout.count() <= 0) {
    return InvalidError(named + ": timeout must be positive");
  }

  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return InternalError("pipe: " + ErrnoText(errno));
  UniqueFd out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) return InternalError("pipe: " + ErrnoText(errno));
  UniqueFd err_read(err_pipe[0]), err_write(err_pipe[1]);

  // The child: stdin /dev/null, stdout and stderr to the pipes, no other fd,
  // a process group of its own, default signal handling, nothing blocked.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 34)
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
#endif
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  sigfillset(&signals);
  posix_spawnattr_setsigdefault(&attr, &signals);

  // visid's environment, with options.env on top.
  std::vector<std::string> env_entries;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    if (options.env.count(std::string(entry.substr(0, entry.find('=')))) == 0) {
      env_entries.emplace_back(entry);
    }
  }
  for (const auto& [name, value] : options.env) env_entries.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& entry : env_entries) envp.push_back(entry.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  out_write.Reset();
  err_write.Reset();
  if (rc != 0) {
    std::string message = named + " cannot be started: " + ErrnoText(rc);
    if (rc == EAGAIN || rc == ENOMEM) return UnavailableError(message);
    return InvalidError(message);
  }

  // Read both pipes until the program exits, the output is too large or
  // the deadline passes. A pidfd wakes the poll when the program exits.
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  const auto deadline = Clock::now() + options.timeout;
  RunOutput output;
  UniqueFd* pipes[2] = {&out_read, &err_read};
  std::string* buffers[2] = {&output.out, &output.err};
  const char* names[2] = {"stdout", "stderr"};
  Status failure;
  bool timed_out = false;
  char chunk[16384];
  for (;;) {
    bool exited = LeaderExited(pid);
    auto left = std::chrono::ceil<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 && !exited) {
      timed_out = true;
      break;
    }
    if (exited && out_read.get() < 0 && err_read.get() < 0) break;
    pollfd pfds[3];
    int count = 0;
    for (UniqueFd* fd : pipes) {
      if (fd->get() >= 0) pfds[count++] = {fd->get(), POLLIN, 0};
    }
    if (pidfd.get() >= 0 && !exited) pfds[count++] = {pidfd.get(), POLLIN, 0};
    // Once the program has exited, take what is in the pipes and stop:
    // something it left behind may hold them open.
    long wait_ms = exited ? 0 : pidfd.get() >= 0 ? left.count() : std::min<long>(left.count(), 20);
    int ready = poll(pfds, count, static_cast<int>(wait_ms));
    if (ready < 0 && errno != EINTR) {
      failure = InternalError("poll: " + ErrnoText(errno));
      break;
    }
    if (ready == 0 && exited) break;
    for (int i = 0; i < 2 && failure.ok(); ++i) {
      int fd = pipes[i]->get();
      auto it = std::find_if(pfds, pfds + count, [fd](const pollfd& p) { return p.fd == fd; });
      if (fd < 0 || it == pfds + count || it->revents == 0) continue;
      ssize_t n = read(fd, chunk, sizeof(chunk));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        pipes[i]->Reset();
        continue;
      }
      buffers[i]->append(chunk, static_cast<size_t>(n));
      if (buffers[i]->size() > options.max_output_bytes) {
        failure = InvalidError(named + " wrote more than " +
                               std::to_string(options.max_output_bytes) + " bytes on " +
                               names[i] + "; killed");
      }
    }
    if (!failure.ok()) break;
  }

  // Closing the pipes stops writers with SIGPIPE. On timeout the group gets
  // SIGTERM and a grace period. Then whatever is left of the group gets
  // SIGKILL: the program is alive or an unreaped zombie at this point, so
  // its pid still names our group and no one else's.
  out_read.Reset();
  err_read.Reset();
  if (timed_out) {
    kill(-pid, SIGTERM);
    WaitForLeader(pid, pidfd.get(), kKillGrace);
  }
  kill(-pid, SIGKILL);
  int wait_status = 0;
  while (waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }

  if (timed_out) {
    return Status(Code::kDeadlineExceeded, named + " did not finish within " +
                                               FormatDuration(options.timeout) + "; killed");
  }
  if (!failure.ok()) return failure;
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    return UnavailableError(named + " was killed by signal " + std::to_string(sig) +
                            (abbrev != nullptr ? std::string(" (SIG") + abbrev + ")" : "") +
                            StderrTail(output.err));
  }
  if (!WIFEXITED(wait_status) || WEXITSTATUS(wait_status) != 0) {
    return UnavailableError(named + " exited with code " +
                            std::to_string(WEXITSTATUS(wait_status)) + StderrTail(output.err));
  }
  return output;
}

// An optional string field: absent and null give "", other types an error.
Status OptionalString(const nlohmann::json& object, const char* field, size_t max_bytes,
                      std::string* out) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return OkStatus();
  std::string message;
  if (!it->is_string()) {
    message = std::string("must be a string, got ") + it->type_name();
  } else if (it->get_ref<const std::string&>().size() > max_bytes) {
    message = "must be at most " + std::to_string(max_bytes) + " bytes";
  } else {
    *out = it->get<std::string>();
    return OkStatus();
  }
  return InvalidError(std::string("create program printed an invalid \"") + field + "\": " + message,
                      {{field, message}});
}

StatusOr<ExecMachine> ParseMachine(const std::string& out) {
  if (out.find_first_not_of(" \t\r\n") == std::string::npos) {
    return InvalidError("create program printed nothing on stdout; want a JSON object");
  }
  nlohmann::json object = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    return InvalidError("create program printed invalid JSON on stdout: " +
                        Sanitize(std::string_view(out).substr(0, 200)));
  }
  if (!object.is_object()) {
    return InvalidError(std::string("create program printed a JSON ") + object.type_name() +
                        " on stdout; want an object");
  }
  ExecMachine machine;
  VISI_RETURN_IF_ERROR(OptionalString(object, "endpoint", kMaxEndpointBytes, &machine.endpoint));
  if (machine.endpoint.empty()) {
    return InvalidError("create program printed no \"endpoint\"",
                        {{"endpoint", "required: unix:///path or tcp://host:port"}});
  }
  const std::string& e = machine.endpoint;
  bool unix_socket = e.starts_with("unix://") && e.size() > 7;
  bool tcp = e.starts_with("tcp://") && e.size() > 6;
  if (!unix_socket && !tcp) {
    std::string message = "must be unix:///path or tcp://host:port, got \"" + Sanitize(e) + "\"";
    return InvalidError("create program printed an invalid \"endpoint\": " + message,
                        {{"endpoint", message}});
  }
  VISI_RETURN_IF_ERROR(
      OptionalString(object, "tlsSecretPath", kMaxTlsSecretPathBytes, &machine.tls_secret_path));
  if (!machine.tls_secret_path.empty() && machine.tls_secret_path[0] != '/') {
    std::string message = "must be an absolute directory, got \"" +
                          Sanitize(machine.tls_secret_path) + "\"";
    return InvalidError("create program printed an invalid \"tlsSecretPath\": " + message,
                        {{"tlsSecretPath", message}});
  }
  VISI_RETURN_IF_ERROR(
      OptionalString(object, "providerID", kMaxProviderIdBytes, &machine.provider_id));
  return machine;
}

}  // namespace

std::map<std::string, std::string> ExecCreateEnv(const std::string& pool,
                                                 const std::string& machine) {
  return {{"VISI_POOL", pool}, {"VISI_MACHINE", machine}};
}

std::map<std::string, std::string> ExecDeleteEnv(const std::string& pool,
                                                 const std::string& machine,
                                                 const ExecMachine& created) {
  return {{"VISI_POOL", pool},
          {"VISI_MACHINE", machine},
          {"VISI_PROVIDER_ID", created.provider_id},
          {"VISI_ENDPOINT", created.endpoint}};
}

StatusOr<ExecMachine> ExecCreate(const ExecOptions& options) {
  VISI_ASSIGN_OR_RETURN(RunOutput output, Run("create", options));
  return ParseMachine(output.out);
}

Status ExecDelete(const ExecOptions& options) { return Run("delete", options).status(); }

}  // namespace visi
