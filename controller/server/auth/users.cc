#include "controller/server/auth/users.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "controller/api/names.h"
#include "controller/api/yaml_codec.h"
#include "controller/server/auth/pki.h"

namespace visi {

StatusOr<Authenticator> Authenticator::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(Code::kNotFound, "cannot read users file " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  return Parse(buf.str(), path);
}

StatusOr<Authenticator> Authenticator::Parse(const std::string& text, const std::string& file) {
  YamlLimits limits;
  limits.max_bytes = 4 * 1024 * 1024;
  VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, file, limits));
  Authenticator a;
  if (docs.empty()) return a;
  const Document& d = docs[0];
  std::vector<FieldCause> causes;
  auto bad = [&](const std::string& field, const std::string& msg) {
    causes.push_back({d.Where(field) + ": " + field, msg});
  };
  if (docs.size() > 1 || !d.value.is_object()) {
    return InvalidError(file + ": expected one mapping with a users list");
  }
  for (auto& [k, v] : d.value.items()) {
    if (k != "users") bad(k, "unknown field; expected: users");
  }
  const Json users = d.value.value("users", Json::array());
  if (!users.is_array()) bad("users", "expected a list");
  std::map<std::string, bool> names;
  for (size_t i = 0; users.is_array() && i < users.size(); ++i) {
    std::string p = "users[" + std::to_string(i) + "]";
    const Json& u = users[i];
    if (!u.is_object()) {
      bad(p, "expected a mapping");
      continue;
    }
    for (auto& [k, v] : u.items()) {
      if (k != "name" && k != "tokenSHA256" && k != "admin" && k != "namespaces") {
        bad(p + "." + k, "unknown field; expected one of: admin, name, namespaces, tokenSHA256");
      }
    }
    UserInfo info;
    if (!u.contains("name") || !u["name"].is_string()) {
      bad(p + ".name", "required string");
    } else {
      info.name = u["name"];
      if (std::string e = CheckDns1123Subdomain(info.name); !e.empty()) bad(p + ".name", e);
      if (names[info.name]) bad(p + ".name", "duplicate user \"" + info.name + "\"");
      names[info.name] = true;
    }
    std::string hash;
    if (!u.contains("tokenSHA256") || !u["tokenSHA256"].is_string()) {
      bad(p + ".tokenSHA256", "required: the SHA-256 of the token, 64 hex digits");
    } else {
      hash = u["tokenSHA256"];
      bool hex = hash.size() == 64 &&
                 hash.find_first_not_of("0123456789abcdef") == std::string::npos;
      if (!hex) bad(p + ".tokenSHA256", "must be 64 lower-case hex digits");
      if (a.by_hash_.count(hash)) bad(p + ".tokenSHA256", "the same token is given to two users");
    }
    if (u.contains("admin")) {
      if (!u["admin"].is_boolean()) bad(p + ".admin", "expected true or false");
      else info.admin = u["admin"];
    }
    if (u.contains("namespaces")) {
      if (!u["namespaces"].is_array()) {
        bad(p + ".namespaces", "expected a list of namespaces");
      } else {
        for (size_t j = 0; j < u["namespaces"].size(); ++j) {
          const Json& ns = u["namespaces"][j];
          std::string np = p + ".namespaces[" + std::to_string(j) + "]";
          if (!ns.is_string()) {
            bad(np, "expected a string");
          } else if (std::string e = CheckDns1123Label(ns.get<std::string>()); !e.empty()) {
            bad(np, e);
          } else {
            info.namespaces.push_back(ns);
          }
        }
      }
    }
    if (!hash.empty()) a.by_hash_[hash] = std::move(info);
  }
  if (!causes.empty()) return InvalidError(file + ": invalid users file", std::move(causes));
  return a;
}

std::optional<UserInfo> Authenticator::Authenticate(const std::string& token) const {
  if (token.empty() || token.size() > 4096) return std::nullopt;
  auto it = by_hash_.find(Sha256Hex(token));
  if (it == by_hash_.end()) return std::nullopt;
  return it->second;
}

StatusOr<std::string> AddUser(const std::string& path, const std::string& name, bool admin,
                              const std::vector<std::string>& namespaces) {
  std::string existing;
  {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::stringstream buf;
      buf << in.rdbuf();
      existing = buf.str();
    }
  }
  Json users = Json::array();
  if (!existing.empty()) {
    VISI_RETURN_IF_ERROR(Authenticator::Parse(existing, path).status());
    VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(existing, path));
    if (!docs.empty()) users = docs[0].value.value("users", Json::array());
  }
  for (const auto& u : users) {
    if (u.value("name", "") == name) return AlreadyExistsError("user \"" + name + "\" already exists in " + path);
  }
  std::string token = RandomHex(32);
  Json entry = {{"name", name}, {"tokenSHA256", Sha256Hex(token)}};
  if (admin) entry["admin"] = true;
  if (!namespaces.empty()) entry["namespaces"] = namespaces;
  users.push_back(entry);
  std::string text = "# visid users. Tokens are stored only as SHA-256 hashes.\n" +
                     EmitYaml(Json{{"users", users}});
  VISI_RETURN_IF_ERROR(Authenticator::Parse(text, path).status());
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out.flush()) return InternalError("cannot write " + tmp);
  }
  ::chmod(tmp.c_str(), 0600);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return InternalError("cannot write " + path);
  return token;
}

}  // namespace visi
