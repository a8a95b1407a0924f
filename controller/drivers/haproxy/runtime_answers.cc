#include "controller/drivers/haproxy/runtime_answers.h"

#include <charconv>
#include <map>
#include <optional>

namespace visi {
namespace {

// Splits on `sep`, keeping empty fields.
std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t at = text.find(sep, start);
    if (at == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, at - start));
    start = at + 1;
  }
}

// The non-empty lines of an answer (HAProxy ends each answer with a blank
// line).
std::vector<std::string_view> Lines(std::string_view answer) {
  std::vector<std::string_view> out;
  for (std::string_view line : Split(answer, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// Splits on runs of spaces.
std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  if (text.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

Status Unexpected(std::string_view what, std::string_view answer) {
  return InternalError("unexpected answer to " + std::string(what) + ": " + QuoteAnswer(answer));
}

// Column positions by name, from a header such as "# pxname,svname,...".
using Columns = std::map<std::string, size_t, std::less<>>;

Columns ColumnsOf(const std::vector<std::string_view>& names) {
  Columns out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (!names[i].empty()) out.emplace(std::string(names[i]), i);
  }
  return out;
}

}  // namespace

bool ServerState::in_maintenance() const { return (admin_state & kAdminMaintenanceBits) != 0; }

std::string QuoteAnswer(std::string_view text, size_t max_bytes) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string out = "\"";
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (text.size() > max_bytes) out += "...";
  return out + "\"";
}

Status ErrorFromAnswer(std::string_view what, std::string_view answer) {
  struct Known {
    std::string_view text;
    Code code;
  };
  // The texts of HAProxy 2.6 (src/cli.c, src/map.c, src/server.c, src/stats.c).
  static constexpr Known kKnown[] = {
      {"No such backend", Code::kNotFound},
      {"No such server", Code::kNotFound},
      {"No such proxy", Code::kNotFound},
      {"Can't find backend", Code::kNotFound},
      {"Unknown map identifier", Code::kNotFound},
      {"Key not found", Code::kNotFound},
      {"entry not found", Code::kNotFound},
      {"Already exists", Code::kAlreadyExists},
      {"still has connections attached", Code::kUnavailable},
      {"Invalid addr", Code::kInvalid},
      {"invalid port", Code::kInvalid},
      {"invalid address", Code::kInvalid},
      {"Require 'backend/server'", Code::kInvalid},
      {"Permission denied", Code::kInternal},
      {"Unknown command", Code::kInternal},
  };
  std::string message = std::string(what) + ": HAProxy answered " + QuoteAnswer(answer);
  for (const Known& known : kKnown) {
    if (answer.find(known.text) != std::string_view::npos) return Status(known.code, std::move(message));
  }
  return InternalError(std::move(message));
}

StatusOr<std::vector<MapEntry>> ParseShowMap(std::string_view answer) {
  std::vector<MapEntry> out;
  for (std::string_view line : Lines(answer)) {
    std::vector<std::string_view> words = Words(line);
    if (words.size() < 3 || words[0].size() < 3 || words[0].substr(0, 2) != "0x") {
      if (out.empty()) return ErrorFromAnswer("show map", answer);
      return Unexpected("show map", line);
    }
    // The value is the rest of the line after the key (it may hold spaces).
    std::string_view value = line.substr(static_cast<size_t>(words[2].data() - line.data()));
    out.push_back({std::string(words[0]), std::string(words[1]), std::string(value)});
  }
  return out;
}

StatusOr<std::vector<ServerState>> ParseServersState(std::string_view answer) {
  std::vector<std::string_view> lines = Lines(answer);
  // "1" (the format version), then "# be_id be_name srv_id srv_name ...".
  if (lines.size() < 2 || lines[0] != "1" || lines[1].substr(0, 2) != "# ") {
    return ErrorFromAnswer("show servers state", answer);
  }
  std::vector<std::string_view> names = Words(lines[1].substr(2));
  Columns columns = ColumnsOf(names);
  for (const char* needed : {"be_name", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_port"}) {
    if (!columns.count(needed)) return Unexpected("show servers state", lines[1]);
  }
  std::vector<ServerState> out;
  for (size_t i = 2; i < lines.size(); ++i) {
    std::vector<std::string_view> words = Words(lines[i]);
    if (words.size() != names.size()) return Unexpected("show servers state", lines[i]);
    auto op = ParseInt(words[columns.at("srv_op_state")]);
    auto admin = ParseInt(words[columns.at("srv_admin_state")]);
    auto port = ParseInt(words[columns.at("srv_port")]);
    if (!op || !admin || !port || *port < 0 || *port > 65535 || *op < 0 || *op > 3 || *admin < 0 || *admin > 0xffff) {
      return Unexpected("show servers state", lines[i]);
    }
    out.push_back({std::string(words[columns.at("be_name")]), std::string(words[columns.at("srv_name")]),
                   std::string(words[columns.at("srv_addr")]), static_cast<int>(*port), static_cast<int>(*op),
                   static_cast<int>(*admin)});
    if (columns.count("srv_uweight")) {
      auto weight = ParseInt(words[columns.at("srv_uweight")]);
      if (!weight || *weight < 0 || *weight > 256) return Unexpected("show servers state", lines[i]);
      out.back().weight = static_cast<int>(*weight);
    }
  }
  return out;
}

StatusOr<std::vector<ServerStat>> ParseServerStats(std::string_view answer) {
  std::vector<std::string_view> lines = Lines(answer);
  if (lines.empty() || lines[0].substr(0, 2) != "# ") return ErrorFromAnswer("show stat", answer);
  std::vector<std::string_view> names = Split(lines[0].substr(2), ',');
  Columns columns = ColumnsOf(names);
  for (const char* needed : {"pxname", "svname", "scur", "bin", "bout", "lastsess", "type", "status", "addr"}) {
    if (!columns.count(needed)) return Unexpected("show stat", lines[0]);
  }
  std::vector<ServerStat> out;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string_view> fields = Split(lines[i], ',');
    if (fields.size() != names.size()) return Unexpected("show stat", lines[i]);
    auto field = [&](const char* name) { return fields[columns.at(name)]; };
    // Type 2 is a server; frontends (0), backends (1) and listeners (3) are skipped.
    if (field("type") != "2") continue;
    auto number = [&](const char* name, int64_t if_empty) -> std::optional<int64_t> {
      std::string_view text = field(name);
      if (text.empty()) return if_empty;
      auto value = ParseInt(text);
      if (!value || *value < -1) return std::nullopt;
      return value;
    };
    auto scur = number("scur", 0);
    auto lastsess = number("lastsess", -1);
    auto bin = number("bin", 0);
    auto bout = number("bout", 0);
    if (!scur || !lastsess || !bin || !bout || *scur < 0 || *bin < 0 || *bout < 0) {
      return Unexpected("show stat", lines[i]);
    }
    out.push_back({std::string(field("pxname")), std::string(field("svname")), std::string(field("status")),
                   std::string(field("addr")), *scur, *lastsess, *bin, *bout});
  }
  return out;
}

}  // namespace visi
