#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "controller/api/object.h"
#include "controller/client/config.h"

namespace visi {

struct ApiResponse {
  int code = 0;  // 0: no response (connection failed; see body)
  std::string body;
  bool ok() const { return code >= 200 && code < 300; }
  // The error a non-2xx response carries (from its Status body).
  Status ToStatus() const;
};

// A client of the Visi API (HTTPS with the config's CA and bearer token).
// The cpprestsdk headers stay inside api_client.cc. Thread-safe.
class ApiClient {
 public:
  explicit ApiClient(ClientConfig config, std::chrono::seconds timeout = std::chrono::seconds(30));
  ~ApiClient();

  // `target` is a path with an optional query ("/apis/...?...").
  ApiResponse Request(const std::string& method, const std::string& target,
                      const std::string& body = "",
                      const std::string& content_type = "application/json");

  // Streams a watch, calling `on_event` for each event until it returns
  // false, the server ends the stream, or `timeout` passes.
  Status Watch(const std::string& target, const std::function<bool(const Json&)>& on_event,
               std::chrono::seconds timeout);

  const ClientConfig& config() const { return config_; }

 private:
  struct Impl;
  ClientConfig config_;
  std::unique_ptr<Impl> impl_;
};

// Percent-encodes a query parameter value.
std::string UrlEncode(const std::string& s);

// The path of a resource: /apis/visi.dev/v1alpha1/[namespaces/NS/]PLURAL[/NAME].
std::string ResourcePath(const std::string& plural, const std::string& ns, const std::string& name = "");

}  // namespace visi
