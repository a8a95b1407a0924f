#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/statusor.h"
#include "controller/server/request.h"

namespace visi {

// Who may call the API, loaded from a YAML file:
//
//   users:
//     - name: admin
//       tokenSHA256: <64 hex digits>   # tokens are stored only as hashes
//       admin: true
//     - name: alice
//       tokenSHA256: <64 hex digits>
//       namespaces: [alice]
//
// Immutable after Load; safe to share between threads.
class Authenticator {
 public:
  // Errors name the file, line and field.
  static StatusOr<Authenticator> Load(const std::string& path);
  static StatusOr<Authenticator> Parse(const std::string& text, const std::string& file);

  // The user a bearer token belongs to, or nullopt.
  std::optional<UserInfo> Authenticate(const std::string& token) const;
  size_t size() const { return by_hash_.size(); }

 private:
  std::map<std::string, UserInfo> by_hash_;
};

// Adds a user with a fresh random token to the users file (creating it),
// and returns the token. Fails if the name exists.
StatusOr<std::string> AddUser(const std::string& path, const std::string& name, bool admin,
                              const std::vector<std::string>& namespaces);

}  // namespace visi
