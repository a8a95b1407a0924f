#pragma once

#include <string>
#include <string_view>

namespace visi {

// SHA-256 of `data` (OpenSSL) as 64 lower-case hex digits. The one place
// the project hashes bytes in one go: user tokens, login tickets and
// cookies (CookieHash is its upper-case form), snapshot bundle members.
std::string Sha256Hex(std::string_view data);

}  // namespace visi
