#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"
#include "controller/drivers/haproxy/route_format.h"
#include "controller/drivers/haproxy/runtime_answers.h"

namespace visi {

struct RuntimeApiOptions {
  std::string socket_path;                  // the `stats socket` (level admin)
  std::chrono::milliseconds timeout{5000};  // one command, connect to last byte
  size_t max_answer_bytes = size_t{64} << 20;
};

// A client of HAProxy's Runtime API on its unix stats socket: one command
// per connection (HAProxy answers and closes). Thread-safe: calls share
// nothing.
//
// Every argument is checked before it is sent: a command is one line of
// tokens made only of A-Z a-z 0-9 and . _ ~ : / + = , - so that nothing can
// end the command or start a second one (newline, ';'), split an argument
// (space) or be read as a reference ('#', '@'). A bad argument is kInvalid
// with a cause naming it, and nothing is sent.
//
// Errors of every call:
//   kUnavailable  the socket is missing, refuses, closes early or `timeout`
//                 passed; also "server still has connections" (retry)
//   kTooLarge     the answer is longer than max_answer_bytes
//   kInvalid      an argument is not a safe token, or HAProxy refused a value
//   kNotFound     no such backend, server, map or map key
//   kAlreadyExists a server of that name exists
//   kInternal     any other answer (quoted in the message)
class RuntimeApi {
 public:
  explicit RuntimeApi(RuntimeApiOptions options);

  // The raw answer to one command line. The line must pass the token rules
  // (see CheckCommandLine); `Execute("show info")`.
  StatusOr<std::string> Execute(std::string_view line) const;

  // OK when the socket answers `show info` as HAProxy.
  Status Ping() const;

  StatusOr<std::vector<MapEntry>> ShowMap(std::string_view map) const;
  // `add map` adds a duplicate when the key exists: callers check first.
  Status AddMapEntry(std::string_view map, std::string_view key, std::string_view value) const;
  Status SetMapEntry(std::string_view map, std::string_view key, std::string_view value) const;
  // Deletes every entry of `key`; kNotFound when there is none.
  Status DelMapEntry(std::string_view map, std::string_view key) const;

  StatusOr<std::vector<ServerState>> ShowServersState(std::string_view backend) const;
  StatusOr<std::vector<ServerStat>> ShowServerStats(std::string_view backend) const;

  // A dynamic server with weight 0 (never chosen by load balancing, only by
  // name); it starts in maintenance until EnableServer.
  Status AddServer(std::string_view backend, std::string_view server, const Ipv4Endpoint& address) const;
  Status EnableServer(std::string_view backend, std::string_view server) const;
  Status DisableServer(std::string_view backend, std::string_view server) const;
  Status SetServerAddress(std::string_view backend, std::string_view server, const Ipv4Endpoint& address) const;
  // `set server ... weight 0`: back to never chosen by load balancing.
  Status ZeroServerWeight(std::string_view backend, std::string_view server) const;
  // Cuts every stream of the server (asynchronously).
  Status ShutdownServerSessions(std::string_view backend, std::string_view server) const;
  // Requires maintenance and no connections (kUnavailable while some remain).
  Status DelServer(std::string_view backend, std::string_view server) const;

  const RuntimeApiOptions& options() const { return options_; }

 private:
  // Runs `line` and expects an answer that is empty or starts with one of
  // `success`; anything else becomes ErrorFromAnswer.
  Status Expect(const std::string& line, std::vector<std::string_view> success) const;

  RuntimeApiOptions options_;
};

// OK when `value` is a safe token; kInvalid naming `field` otherwise.
Status CheckToken(std::string_view value, std::string_view field);
// OK when every space-separated word of `line` is a safe token.
Status CheckCommandLine(std::string_view line);

}  // namespace visi
