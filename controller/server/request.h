#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace visi {

// Who made a request, as the authenticator resolved it.
struct UserInfo {
  std::string name;
  bool admin = false;
  std::vector<std::string> namespaces;  // reachable namespaces (admin: all)
  bool Reaches(const std::string& ns) const;
};

// An HTTP request, independent of the HTTP library.
struct HttpRequest {
  std::string method;                         // GET, POST, PUT, PATCH, DELETE
  std::string path;                           // decoded path, no query
  std::map<std::string, std::string> query;   // decoded query parameters
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;
  std::optional<UserInfo> user;               // set once authenticated

  std::string Header(const std::string& lower_name) const;
};

// Writes one chunk of a streamed response; false once the client is gone or
// too far behind, and the stream must end.
using ChunkWriter = std::function<bool(const std::string& chunk)>;

struct HttpResponse {
  int code = 200;
  std::string content_type = "application/json";
  std::string body;
  // Set for streamed responses (watch): called on a thread of its own; the
  // response ends when it returns.
  std::function<void(const ChunkWriter& write)> stream;
  // Extra response headers (Location, Set-Cookie, Cache-Control ...).
  std::vector<std::pair<std::string, std::string>> headers;
};

// What an HttpServer serves: the API, or the router's wake-up endpoint.
class RequestHandler {
 public:
  virtual ~RequestHandler() = default;
  // REQUIRES: req.user is set unless the path is public or the server runs
  // without an authenticator.
  virtual HttpResponse Handle(const HttpRequest& req) = 0;
  // Paths served without a token.
  virtual bool IsPublicPath(const std::string& path) const = 0;
};

}  // namespace visi
