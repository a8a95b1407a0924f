#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// A closed-loop HTTP/1.1 load generator for benchmarks, timing each request
// the way a browser waits for it: from the start of its connect (when the
// previous answer closed the connection) or of its write, to the last byte of
// the answer. A cross-check of wrk, which starts its clock after connecting.
namespace visi::bench {

struct HttpLoadOptions {
  std::string ip;  // IPv4
  int port = 0;
  std::string path;
  std::vector<std::string> headers;  // "Name: value"
  int connections = 16;              // one thread each
  int seconds = 5;
};

struct HttpLoadResult {
  std::vector<double> ms;  // one per answered request, sorted
  int64_t errors = 0;      // failed connects, timeouts (2 s), answers that are not 200
  double seconds = 0;      // measured
  double PerSecond() const { return seconds > 0 ? ms.size() / seconds : 0; }
  double Mean() const {
    double sum = 0;
    for (double m : ms) sum += m;
    return ms.empty() ? 0 : sum / ms.size();
  }
  double Percentile(double p) const {  // nearest rank
    if (ms.empty()) return 0;
    const size_t rank = static_cast<size_t>(p / 100.0 * ms.size() + 0.999999);
    return ms[std::clamp<size_t>(rank, 1, ms.size()) - 1];
  }
  int64_t AtLeast(double limit_ms) const { return ms.end() - std::lower_bound(ms.begin(), ms.end(), limit_ms); }
};

namespace http_load_internal {

using Clock = std::chrono::steady_clock;

// Connected socket with 2 s timeouts, or -1.
inline int Connect(const HttpLoadOptions& o) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(o.port));
  ::inet_pton(AF_INET, o.ip.c_str(), &a.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends `request` on `fd` and reads one answer. OK: status 200 and the whole
// body (Content-Length) read; `keep` says whether the connection stays open.
inline bool Exchange(int fd, const std::string& request, bool* keep) {
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return false;
  std::string in;
  char buffer[4096];
  size_t head_end;
  while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    in.append(buffer, static_cast<size_t>(n));
  }
  std::string head = in.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t length_at = head.find("\r\ncontent-length:");
  if (head.rfind("http/1.1 200", 0) != 0 || length_at == std::string::npos) return false;
  const size_t length = std::strtoul(head.c_str() + length_at + 17, nullptr, 10);
  while (in.size() < head_end + 4 + length) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    in.append(buffer, static_cast<size_t>(n));
  }
  *keep = head.find("\r\nconnection: close") == std::string::npos;
  return true;
}

}  // namespace http_load_internal

// Runs `o.connections` clients back to back for `o.seconds` (or until `stop`
// says so) and returns every request's time.
inline HttpLoadResult RunHttpLoad(const HttpLoadOptions& o, const std::function<bool()>& stop) {
  using http_load_internal::Clock;
  std::string request = "GET " + o.path + " HTTP/1.1\r\nHost: bench\r\n";
  for (const std::string& h : o.headers) request += h + "\r\n";
  request += "\r\n";
  HttpLoadResult result;
  std::mutex mu;
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(o.seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < o.connections; ++i) {
    threads.emplace_back([&] {
      std::vector<double> ms;
      int64_t errors = 0;
      int fd = -1;
      while (Clock::now() < end && !stop()) {
        const auto t0 = Clock::now();
        if (fd < 0) fd = http_load_internal::Connect(o);
        bool keep = false;
        if (fd >= 0 && http_load_internal::Exchange(fd, request, &keep)) {
          ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        } else {
          ++errors;
        }
        if (!keep && fd >= 0) {
          ::close(fd);
          fd = -1;
        }
      }
      if (fd >= 0) ::close(fd);
      std::lock_guard<std::mutex> lock(mu);
      result.ms.insert(result.ms.end(), ms.begin(), ms.end());
      result.errors += errors;
    });
  }
  for (std::thread& t : threads) t.join();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(result.ms.begin(), result.ms.end());
  return result;
}

}  // namespace visi::bench
