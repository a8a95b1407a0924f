#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace visi {

// `s` cut to at most `max_bytes` on a character boundary, each invalid UTF-8
// byte replaced by U+FFFD. Text that goes into a stored object must be valid
// UTF-8: the JSON encoder refuses anything else.
std::string CleanUtf8(std::string_view s, size_t max_bytes);

}  // namespace visi
