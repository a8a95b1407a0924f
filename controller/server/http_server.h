#pragma once

#include <memory>
#include <string>

#include "controller/base/statusor.h"
#include "controller/server/api_handler.h"
#include "controller/server/auth/users.h"

namespace visi {

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;               // 0: pick a free port
  bool tls = true;            // plain HTTP only when asked for, and only on loopback
  std::string cert_file, key_file;
  size_t max_body_bytes = 3 * 1024 * 1024;
  size_t max_header_bytes = 64 * 1024;         // all header names and values together
  size_t max_stream_buffer = 8 * 1024 * 1024;  // unread watch bytes before the watch ends
  size_t write_threads = 64;  // threads that wait on durable commits for write requests
  // Every request (GETs too) runs on those threads, never on cpprestsdk's
  // shared pool: for handlers that block (the wake-up endpoint waits for
  // HAProxy; every read of the etcd store waits for etcd, whose answers
  // cpprestsdk's pool threads deliver), so that they cannot stall the pool.
  bool all_on_write_threads = false;
};

// Serves an ApiHandler over HTTP(S) with cpprestsdk: authenticates bearer
// tokens, enforces body limits and streams watches. The cpprestsdk headers
// stay inside http_server.cc.
// Sizes cpprestsdk's shared thread pool. Call once, before any HTTP use.
void InitHttpThreads(size_t threads);

class HttpServer {
 public:
  // `auth` null: no bearer tokens, every path is served to anyone (the
  // router's wake-up endpoint, which checks its own credentials).
  static StatusOr<std::unique_ptr<HttpServer>> Start(HttpServerOptions opts, RequestHandler* handler,
                                                     const Authenticator* auth);
  virtual ~HttpServer() = default;
  // Ends open watches and stops listening.
  virtual void Stop() = 0;
  // "https://127.0.0.1:PORT"
  virtual std::string url() const = 0;
  virtual int port() const = 0;
};

}  // namespace visi
