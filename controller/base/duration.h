#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace visi {

// Parses a duration as Go and kubectl write them: "90s", "1m30s", "500ms",
// "2h", or a bare number of seconds. At most 10 days; nothing negative.
std::optional<std::chrono::milliseconds> ParseDuration(const std::string& text);

// "1m30s", "500ms", "0s".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace visi
