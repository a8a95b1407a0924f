#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace visi {

// RFC 4648 base64 with padding, standard alphabet.
std::string Base64Encode(std::string_view in);
// nullopt when `in` is not valid base64.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace visi
