#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"

namespace visi {

// Parsers for the answers of HAProxy's Runtime API (2.6). Pure functions:
// any answer, however garbled, becomes a value or an error, never a crash.

// One line of `show map <file>`: "0x55d1c2a0 KEY VALUE".
struct MapEntry {
  std::string ref;  // "0x55d1c2a0": the entry's id for `del map <file> #<ref>`
  std::string key;
  std::string value;
  bool operator==(const MapEntry&) const = default;
};

// One server of `show servers state <backend>`.
struct ServerState {
  std::string backend;
  std::string server;
  std::string address;  // "10.1.2.3"
  int port = 0;
  int operational_state = 0;  // 0 stopped, 1 starting, 2 running, 3 stopping
  int admin_state = 0;        // bit field; any of kAdminMaintenanceBits: in maintenance
  int weight = -1;            // srv_uweight; -1 when the answer has no such column
  bool in_maintenance() const;
  bool operator==(const ServerState&) const = default;
};
// SRV_ADMF_FMAINT (forced), IMAINT (inherited), CMAINT (configured), RMAINT
// (address resolution failed).
inline constexpr int kAdminMaintenanceBits = 0x01 | 0x02 | 0x04 | 0x20;

// One server row of `show stat` (CSV).
struct ServerStat {
  std::string backend;
  std::string server;
  std::string status;                 // "UP", "MAINT", "no check", ...
  std::string address;                // "10.1.2.3:8888"
  int64_t current_sessions = 0;       // scur
  int64_t last_session_seconds = -1;  // lastsess; -1 when never
  int64_t bytes_in = 0;               // bin
  int64_t bytes_out = 0;              // bout
  bool operator==(const ServerStat&) const = default;
};

// Errors: the answer is an error text (see ErrorFromAnswer), or kInternal
// when it has not the expected shape.
StatusOr<std::vector<MapEntry>> ParseShowMap(std::string_view answer);
StatusOr<std::vector<ServerState>> ParseServersState(std::string_view answer);
StatusOr<std::vector<ServerStat>> ParseServerStats(std::string_view answer);

// The Status an error answer of HAProxy stands for, e.g. "No such server."
// is kNotFound; text it does not know is kInternal. `what` starts the
// message ("del server sessions/alice:a"). The answer is quoted in the
// message, shortened and with control characters escaped.
Status ErrorFromAnswer(std::string_view what, std::string_view answer);

// `text` shortened to `max_bytes`, with every byte outside printable ASCII
// shown as \xNN: safe to put into a log line or a Status message.
std::string QuoteAnswer(std::string_view text, size_t max_bytes = 200);

}  // namespace visi
