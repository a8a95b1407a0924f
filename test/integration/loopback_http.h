#pragma once

// Stand-ins for session front ends and a raw HTTP client, on loopback
// sockets inside the test process (no Docker needed).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace visi::testing {

// An HTTP/1.1 server on 127.0.0.1:<free port> that answers every request
// with "body=<name> path=<path> route=<X-Visi-Route>\n" (keep-alive). A path
// ending in "/slow" gets its headers and half of its body at once and the
// rest only after ReleaseSlow(): a request held in flight for as long as a
// test wants, without sleeping.
class LoopbackHttpServer {
 public:
  explicit LoopbackHttpServer(std::string name) : name_(std::move(name)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || ::listen(listen_fd_, 64) != 0) {
      std::abort();
    }
    socklen_t length = sizeof(sa);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &length);
    port_ = ntohs(sa.sin_port);
    if (::pipe2(wake_, O_CLOEXEC) != 0) std::abort();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~LoopbackHttpServer() {
    stopping_ = true;
    ReleaseSlow();
    (void)!::write(wake_[1], "x", 1);
    accept_thread_.join();
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : workers_) t.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int requests() const { return requests_; }

  // Lets every held "/slow" response finish.
  void ReleaseSlow() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN)) continue;
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string buffer;
    char chunk[4096];
    while (true) {
      size_t end = buffer.find("\r\n\r\n");
      if (end == std::string::npos) {
        ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) break;
        buffer.append(chunk, static_cast<size_t>(n));
        continue;
      }
      std::string head = buffer.substr(0, end);
      buffer.erase(0, end + 4);  // GET requests only: no body
      ++requests_;
      size_t sp1 = head.find(' ');
      size_t sp2 = head.find(' ', sp1 + 1);
      std::string path = head.substr(sp1 + 1, sp2 - sp1 - 1);
      std::string route = "-";
      size_t h = head.find("\r\nx-visi-route: ");
      if (h == std::string::npos) h = head.find("\r\nX-Visi-Route: ");
      if (h != std::string::npos) {
        size_t start = h + 16;
        route = head.substr(start, head.find("\r\n", start) - start);
      }
      std::string body = "body=" + name_ + " path=" + path + " route=" + route + "\n";
      std::string headers = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
      const bool slow = path.size() >= 5 && path.substr(path.size() - 5) == "/slow";
      if (!slow) {
        if (!SendAll(fd, headers + body)) break;
        continue;
      }
      if (!SendAll(fd, headers + body.substr(0, body.size() / 2))) break;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return released_; });
      }
      if (!SendAll(fd, body.substr(body.size() / 2))) break;
    }
    ::close(fd);
    std::lock_guard<std::mutex> lock(mu_);
    std::erase(connections_, fd);
  }

  static bool SendAll(int fd, const std::string& data) {
    size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<size_t>(n);
    }
    return true;
  }

  std::string name_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::thread accept_thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<int> connections_;
  std::vector<std::thread> workers_;
};

struct HttpAnswer {
  int status = 0;  // 0: the connection failed or closed
  std::string body;
};

// One keep-alive HTTP/1.1 client connection to 127.0.0.1:port. Every read
// is bounded by a 20 s socket timeout, so a broken server fails the test
// instead of hanging it.
class HttpConnection {
 public:
  explicit HttpConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{20, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  ~HttpConnection() { ::close(fd_); }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends a GET with the given extra header lines ("Cookie: ...").
  bool Send(const std::string& path, const std::vector<std::string>& headers = {}) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: visi.test\r\n";
    for (const std::string& h : headers) request += h + "\r\n";
    request += "\r\n";
    return connected_ && ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size());
  }

  // Reads the status line and headers, then `body_bytes` of the body (all
  // of it when -1).
  HttpAnswer Receive(long body_bytes = -1) {
    HttpAnswer answer;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return answer;
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return answer;
    answer.status = std::atoi(head.c_str() + 9);
    size_t length = 0;
    for (const char* name : {"\r\ncontent-length: ", "\r\nContent-Length: "}) {
      size_t at = head.find(name);
      if (at != std::string::npos) length = std::strtoul(head.c_str() + at + 18, nullptr, 10);
    }
    remaining_ = length;
    answer.body = ReadBody(body_bytes < 0 ? length : static_cast<size_t>(body_bytes));
    return answer;
  }

  // The rest of a body that Receive left partly unread.
  std::string ReadRest() { return ReadBody(remaining_); }

  // True once the server closed or reset the connection (not merely timed
  // out).
  bool closed() const { return closed_; }

  HttpAnswer Get(const std::string& path, const std::vector<std::string>& headers = {}) {
    if (!Send(path, headers)) return {};
    return Receive();
  }

 private:
  bool Fill() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) closed_ = true;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  std::string ReadBody(size_t bytes) {
    while (buffer_.size() < bytes) {
      if (!Fill()) break;
    }
    std::string out = buffer_.substr(0, std::min(bytes, buffer_.size()));
    buffer_.erase(0, out.size());
    remaining_ -= std::min(remaining_, out.size());
    return out;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string buffer_;
  size_t remaining_ = 0;
};

// One request on a fresh connection.
inline HttpAnswer HttpGet(int port, const std::string& path, const std::vector<std::string>& headers = {}) {
  HttpConnection c(port);
  return c.Get(path, headers);
}

inline std::string CookieHeader(const std::string& secret) { return "Cookie: JSESSIONID=" + secret; }

}  // namespace visi::testing
