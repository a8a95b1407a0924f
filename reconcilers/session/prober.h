#pragma once

#include <chrono>
#include <string>

#include "controller/base/statusor.h"

namespace visi {

// Readiness probes from visid to a container's address: the host reaches
// every session network (HAProxy routes the same way).
class Prober {
 public:
  virtual ~Prober() = default;
  // OK when a TCP connection to ip:port opens within `timeout`.
  virtual Status Tcp(const std::string& ip, int port, std::chrono::milliseconds timeout) = 0;
  // OK when GET http://ip:port{path} answers 2xx or 3xx within `timeout`.
  virtual Status Http(const std::string& ip, int port, const std::string& path, std::chrono::milliseconds timeout) = 0;
};

// Plain sockets with deadlines; no HTTP library (a probe reads one status line).
class SocketProber : public Prober {
 public:
  Status Tcp(const std::string& ip, int port, std::chrono::milliseconds timeout) override;
  Status Http(const std::string& ip, int port, const std::string& path, std::chrono::milliseconds timeout) override;
};

}  // namespace visi
