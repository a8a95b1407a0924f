#pragma once

#include <chrono>
#include <cstdint>

namespace visi {

// Deadlines for the TCP connections visid accepts. cpprestsdk's listener has
// neither a request timeout nor an idle timeout, so conn_guard.cc watches
// the sockets themselves (see there).
struct ConnectionDeadlines {
  // From the first byte of a request to the first byte of its response:
  // a client that sends its request slowly (slowloris) or a handler that
  // never answers loses the connection.
  std::chrono::milliseconds request{std::chrono::seconds(60)};
  // No byte in either direction for this long closes the connection. Watch
  // streams send a heartbeat every few seconds and so stay open.
  std::chrono::milliseconds idle{std::chrono::seconds(120)};
  // Bytes received for one request (headers, body and TLS framing) before
  // its response starts. cpprestsdk buffers headers without a bound; past
  // this the connection is shut down at once. 0: no limit.
  int64_t max_request_bytes = 0;
};

struct ConnectionGuardCounts {
  uint64_t request_timeouts = 0;
  uint64_t idle_timeouts = 0;
  uint64_t oversized_requests = 0;
};

// Starts the watchdog thread, once. Only a binary that links conn_guard.cc
// (visid) has the guard; the wrappers there do nothing until this is called.
void StartConnectionGuard(ConnectionDeadlines deadlines);
void StopConnectionGuard();
ConnectionGuardCounts ConnectionGuardTotals();

}  // namespace visi
