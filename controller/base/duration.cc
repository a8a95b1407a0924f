#include "controller/base/duration.h"

#include <cctype>
#include <cstdint>

namespace visi {

std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text) {
  constexpr int64_t kMaxMs = int64_t{10} * 24 * 3600 * 1000;
  if (text.empty() || text.size() > 32) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() > 7) return std::nullopt;
    return std::chrono::seconds(std::stoll(text));
  }
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start || i - start > 9) return std::nullopt;
    int64_t n = std::stoll(text.substr(start, i - start));
    int64_t unit_ms;
    if (text.compare(i, 2, "ms") == 0) {
      unit_ms = 1;
      i += 2;
    } else if (i < text.size() && text[i] == 'h') {
      unit_ms = 3600 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 'm') {
      unit_ms = 60 * 1000;
      ++i;
    } else if (i < text.size() && text[i] == 's') {
      unit_ms = 1000;
      ++i;
    } else {
      return std::nullopt;
    }
    total += n * unit_ms;
    if (total > kMaxMs) return std::nullopt;
  }
  return std::chrono::milliseconds(total);
}

std::string FormatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms <= 0) return "0s";
  std::string out;
  int64_t s = ms / 1000;
  if (s >= 3600) out += std::to_string(s / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  if (s % 60) out += std::to_string(s % 60) + "s";
  if (ms % 1000) out += std::to_string(ms % 1000) + "ms";
  return out;
}

}  // namespace visi
