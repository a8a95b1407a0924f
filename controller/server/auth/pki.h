#pragma once

#include "controller/base/sha256.h"  // Sha256Hex, used with these

#include <string>
#include <vector>

#include "controller/base/status.h"

namespace visi {

// The serving identity of visid, created on first start in `dir`:
//   ca.crt, ca.key          a self-signed CA (EC P-256, 10 years)
//   server.crt, server.key  a serving certificate signed by it, valid for
//                           localhost, 127.0.0.1, ::1 and `extra_hosts`
// Later starts reuse the files. Keys are written mode 0600.
struct PkiPaths {
  std::string ca_cert, ca_key, server_cert, server_key;
};
Status EnsurePki(const std::string& dir, const std::vector<std::string>& extra_hosts, PkiPaths* out);

// `bytes` random bytes from the OS CSPRNG, as lower-case hex.
std::string RandomHex(size_t bytes);

}  // namespace visi
