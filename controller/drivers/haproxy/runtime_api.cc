#include "controller/drivers/haproxy/runtime_api.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace visi {
namespace {

constexpr size_t kMaxTokenBytes = 512;

using Clock = std::chrono::steady_clock;

bool IsTokenChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '~' || c == ':' || c == '/' || c == '+' || c == '=' || c == ',' || c == '-';
}

// Closes the descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits until `fd` is ready for `events` or `deadline` passes; false on
// timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 1 << 30)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the following call report the error
  }
}

}  // namespace

Status CheckToken(std::string_view value, std::string_view field) {
  if (value.empty() || value.size() > kMaxTokenBytes || !std::all_of(value.begin(), value.end(), IsTokenChar)) {
    return InvalidError("refusing to send an unsafe runtime command argument",
                        {{std::string(field), "must be 1-" + std::to_string(kMaxTokenBytes) +
                                                  " characters of A-Z a-z 0-9 . _ ~ : / + = , -"}});
  }
  return OkStatus();
}

Status CheckCommandLine(std::string_view line) {
  if (line.empty()) return InvalidError("empty runtime command");
  size_t start = 0;
  int index = 0;
  while (start <= line.size()) {
    size_t space = line.find(' ', start);
    std::string_view word =
        line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start);
    VISI_RETURN_IF_ERROR(CheckToken(word, "command word " + std::to_string(index)));
    if (space == std::string_view::npos) break;
    start = space + 1;
    ++index;
  }
  return OkStatus();
}

RuntimeApi::RuntimeApi(RuntimeApiOptions options) : options_(std::move(options)) {}

StatusOr<std::string> RuntimeApi::Execute(std::string_view line) const {
  VISI_RETURN_IF_ERROR(CheckCommandLine(line));
  const std::string where = "HAProxy runtime API at " + options_.socket_path;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (options_.socket_path.empty() || options_.socket_path.size() >= sizeof(address.sun_path)) {
    return InvalidError(where + ": the socket path must hold 1-" + std::to_string(sizeof(address.sun_path) - 1) +
                        " bytes");
  }
  std::memcpy(address.sun_path, options_.socket_path.data(), options_.socket_path.size());
  const auto deadline = Clock::now() + options_.timeout;

  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return UnavailableError(where + ": socket: " + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return UnavailableError(where + " unreachable: " + std::strerror(errno));
    }
    if (!WaitFor(fd.get(), POLLOUT, deadline)) return UnavailableError(where + ": connect timed out");
    int error = 0;
    socklen_t length = sizeof(error);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return UnavailableError(where + " unreachable: " + std::strerror(error));
  }

  const std::string request = std::string(line) + "\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(fd.get(), POLLOUT, deadline)) return UnavailableError(where + ": sending timed out");
    } else {
      return UnavailableError(where + ": send: " + std::strerror(errno));
    }
  }

  // HAProxy closes the connection after the answer.
  std::string answer;
  char buffer[16384];
  while (true) {
    ssize_t n = ::recv(fd.get(), buffer, sizeof(buffer), 0);
    if (n > 0) {
      if (answer.size() + static_cast<size_t>(n) > options_.max_answer_bytes) {
        return TooLargeError(where + ": the answer to \"" + std::string(line) + "\" exceeds " +
                             std::to_string(options_.max_answer_bytes) + " bytes");
      }
      answer.append(buffer, static_cast<size_t>(n));
    } else if (n == 0) {
      // HAProxy answers every command with at least a newline.
      if (answer.empty()) return UnavailableError(where + " closed the connection without answering");
      return answer;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!WaitFor(fd.get(), POLLIN, deadline)) {
        return UnavailableError(where + ": no complete answer to \"" + std::string(line) + "\" within " +
                                std::to_string(options_.timeout.count()) + " ms");
      }
    } else {
      return UnavailableError(where + ": recv: " + std::strerror(errno));
    }
  }
}

Status RuntimeApi::Expect(const std::string& line, std::vector<std::string_view> success) const {
  VISI_ASSIGN_OR_RETURN(std::string answer, Execute(line));
  std::string_view trimmed = answer;
  while (!trimmed.empty() && (trimmed.front() == '\n' || trimmed.front() == '\r')) trimmed.remove_prefix(1);
  if (trimmed.empty()) return OkStatus();
  for (std::string_view prefix : success) {
    if (trimmed.substr(0, prefix.size()) == prefix) return OkStatus();
  }
  return ErrorFromAnswer(line, answer);
}

Status RuntimeApi::Ping() const {
  VISI_ASSIGN_OR_RETURN(std::string answer, Execute("show info"));
  if (answer.rfind("Name: HAProxy\n", 0) != 0) return ErrorFromAnswer("show info", answer);
  return OkStatus();
}

StatusOr<std::vector<MapEntry>> RuntimeApi::ShowMap(std::string_view map) const {
  VISI_RETURN_IF_ERROR(CheckToken(map, "map"));
  VISI_ASSIGN_OR_RETURN(std::string answer, Execute("show map " + std::string(map)));
  return ParseShowMap(answer);
}

Status RuntimeApi::AddMapEntry(std::string_view map, std::string_view key, std::string_view value) const {
  VISI_RETURN_IF_ERROR(CheckToken(map, "map"));
  VISI_RETURN_IF_ERROR(CheckToken(key, "map key"));
  VISI_RETURN_IF_ERROR(CheckToken(value, "map value"));
  return Expect("add map " + std::string(map) + " " + std::string(key) + " " + std::string(value), {});
}

Status RuntimeApi::SetMapEntry(std::string_view map, std::string_view key, std::string_view value) const {
  VISI_RETURN_IF_ERROR(CheckToken(map, "map"));
  VISI_RETURN_IF_ERROR(CheckToken(key, "map key"));
  VISI_RETURN_IF_ERROR(CheckToken(value, "map value"));
  return Expect("set map " + std::string(map) + " " + std::string(key) + " " + std::string(value), {});
}

Status RuntimeApi::DelMapEntry(std::string_view map, std::string_view key) const {
  VISI_RETURN_IF_ERROR(CheckToken(map, "map"));
  VISI_RETURN_IF_ERROR(CheckToken(key, "map key"));
  return Expect("del map " + std::string(map) + " " + std::string(key), {});
}

StatusOr<std::vector<ServerState>> RuntimeApi::ShowServersState(std::string_view backend) const {
  VISI_RETURN_IF_ERROR(CheckToken(backend, "backend"));
  VISI_ASSIGN_OR_RETURN(std::string answer, Execute("show servers state " + std::string(backend)));
  return ParseServersState(answer);
}

StatusOr<std::vector<ServerStat>> RuntimeApi::ShowServerStats(std::string_view backend) const {
  VISI_RETURN_IF_ERROR(CheckToken(backend, "backend"));
  // Type 4 selects the servers; -1 all of them.
  VISI_ASSIGN_OR_RETURN(std::string answer, Execute("show stat " + std::string(backend) + " 4 -1"));
  return ParseServerStats(answer);
}

namespace {
Status CheckServer(std::string_view backend, std::string_view server) {
  VISI_RETURN_IF_ERROR(CheckToken(backend, "backend"));
  VISI_RETURN_IF_ERROR(CheckToken(server, "server"));
  if (backend.find('/') != std::string_view::npos || server.find('/') != std::string_view::npos) {
    return InvalidError("refusing to send an unsafe runtime command argument",
                        {{backend.find('/') != std::string_view::npos ? "backend" : "server", "must not hold '/'"}});
  }
  return OkStatus();
}
std::string ServerPath(std::string_view backend, std::string_view server) {
  return std::string(backend) + "/" + std::string(server);
}
}  // namespace

Status RuntimeApi::AddServer(std::string_view backend, std::string_view server, const Ipv4Endpoint& address) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  VISI_RETURN_IF_ERROR(CheckToken(address.ToString(), "address"));
  return Expect("add server " + ServerPath(backend, server) + " " + address.ToString() + " weight 0",
                {"New server registered."});
}

Status RuntimeApi::EnableServer(std::string_view backend, std::string_view server) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  return Expect("enable server " + ServerPath(backend, server), {});
}

Status RuntimeApi::DisableServer(std::string_view backend, std::string_view server) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  return Expect("disable server " + ServerPath(backend, server), {});
}

Status RuntimeApi::SetServerAddress(std::string_view backend, std::string_view server,
                                    const Ipv4Endpoint& address) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  VISI_RETURN_IF_ERROR(CheckToken(address.ip, "address"));
  return Expect(
      "set server " + ServerPath(backend, server) + " addr " + address.ip + " port " + std::to_string(address.port),
      {"IP changed from", "no need to change the addr"});
}

Status RuntimeApi::ZeroServerWeight(std::string_view backend, std::string_view server) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  return Expect("set server " + ServerPath(backend, server) + " weight 0", {});
}

Status RuntimeApi::ShutdownServerSessions(std::string_view backend, std::string_view server) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  return Expect("shutdown sessions server " + ServerPath(backend, server), {});
}

Status RuntimeApi::DelServer(std::string_view backend, std::string_view server) const {
  VISI_RETURN_IF_ERROR(CheckServer(backend, server));
  return Expect("del server " + ServerPath(backend, server), {"Server deleted."});
}

}  // namespace visi
