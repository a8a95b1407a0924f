#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "controller/base/status.h"
#include "controller/base/statusor.h"

namespace visi {

// Where a Docker daemon listens: "unix:///var/run/docker.sock" or
// "tcp://host:port" (TLS with client certificates).
struct DockerEndpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string socket_path;  // kUnix: absolute path
  std::string host;         // kTcp: name or IP literal (IPv6 without brackets)
  uint16_t port = 0;        // kTcp

  // The URL form it was parsed from.
  std::string ToString() const;
};

// kInvalid, naming `field`, when `text` is neither form.
StatusOr<DockerEndpoint> ParseDockerEndpoint(std::string_view text, std::string_view field = "endpoint");

struct DockerRequest {
  std::string method;  // "GET", "POST", "PUT", "DELETE"
  std::string target;  // origin form: "/v1.41/containers/json?all=true"
  std::string body;
  std::string content_type;                  // empty: no body header
  std::chrono::milliseconds timeout{30000};  // the whole exchange, connect to last byte
};

struct DockerResponse {
  int status = 0;
  std::string body;
};

struct DockerHttpOptions {
  DockerEndpoint endpoint;
  // PEM files; all three are required for a kTcp endpoint, ignored for kUnix.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  size_t max_body_bytes = size_t{1} << 30;
};

// HTTP/1.1 to one Docker daemon, one connection per request. Thread-safe:
// every call owns its connection and I/O context, so calls never wait on
// each other.
class DockerHttp {
 public:
  // kInvalid when a TLS file is missing or unreadable (the message names the
  // option and the file).
  static StatusOr<std::unique_ptr<DockerHttp>> Create(DockerHttpOptions options);
  ~DockerHttp();
  DockerHttp(const DockerHttp&) = delete;
  DockerHttp& operator=(const DockerHttp&) = delete;

  // The daemon's answer, whatever its HTTP status (chunked bodies decoded).
  // Errors:
  //   kUnavailable  cannot connect, TLS handshake failed, the connection
  //                 closed early, or `request.timeout` passed
  //   kTooLarge     the body is larger than max_body_bytes
  //   kInternal     the peer does not speak HTTP
  StatusOr<DockerResponse> RoundTrip(const DockerRequest& request) const;

  const DockerEndpoint& endpoint() const;

 private:
  struct Impl;
  explicit DockerHttp(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// RFC 3986 percent-encoding of everything but the unreserved characters.
std::string UrlEncode(std::string_view text);

}  // namespace visi
