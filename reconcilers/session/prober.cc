#include "reconcilers/session/prober.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace visi {
namespace {

using Clock = std::chrono::steady_clock;

int RemainingMs(Clock::time_point deadline) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return ms < 0 ? 0 : static_cast<int>(ms);
}

// A connected non-blocking socket, or an error naming the address.
StatusOr<int> Connect(const std::string& ip, int port, Clock::time_point deadline) {
  const std::string where = ip + ":" + std::to_string(port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (port <= 0 || port > 65535 || ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return InvalidError("bad probe address " + where);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    int e = errno;
    ::close(fd);
    return UnavailableError("connect " + where + ": " + std::strerror(e));
  }
  pollfd p{fd, POLLOUT, 0};
  int n = ::poll(&p, 1, RemainingMs(deadline));
  int err = 0;
  socklen_t len = sizeof err;
  if (n == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (n != 1 || err != 0) {
    ::close(fd);
    return UnavailableError("connect " + where + ": " + (n == 1 ? std::strerror(err) : "timed out"));
  }
  return fd;
}

}  // namespace

Status SocketProber::Tcp(const std::string& ip, int port, std::chrono::milliseconds timeout) {
  auto fd = Connect(ip, port, Clock::now() + timeout);
  if (!fd.ok()) return fd.status();
  ::close(*fd);
  return OkStatus();
}

Status SocketProber::Http(const std::string& ip, int port, const std::string& path,
                          std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto fd = Connect(ip, port, deadline);
  if (!fd.ok()) return fd.status();
  const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\nUser-Agent: visid-probe\r\n\r\n";
  std::string head;
  Status result = UnavailableError("GET http://" + ip + ":" + std::to_string(port) + path + ": no answer");
  if (::send(*fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[512];
    while (head.find("\r\n") == std::string::npos && head.size() < 4096) {
      pollfd p{*fd, POLLIN, 0};
      if (::poll(&p, 1, RemainingMs(deadline)) != 1) break;
      ssize_t n = ::recv(*fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    // "HTTP/1.x NNN reason"
    if (head.rfind("HTTP/1.", 0) == 0 && head.size() >= 12) {
      int code = std::atoi(head.c_str() + 9);
      if (code >= 200 && code < 400) {
        result = OkStatus();
      } else {
        result = UnavailableError("GET http://" + ip + ":" + std::to_string(port) + path + " answered " +
                                  std::to_string(code));
      }
    }
  }
  ::close(*fd);
  return result;
}

}  // namespace visi
