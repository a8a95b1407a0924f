#include <cctype>

#include "controller/store/etcd/etcd_store.h"

namespace visi {

StatusOr<std::vector<std::string>> ParseEtcdStoreUrl(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return InvalidError("--store \"" + url.substr(0, 200) + "\": " + why +
                        "; expected etcd://HOST:PORT[,HOST:PORT...] or etcd+https://...");
  };
  std::string scheme, rest;
  if (url.rfind("etcd://", 0) == 0) {
    scheme = "http://";
    rest = url.substr(7);
  } else if (url.rfind("etcd+https://", 0) == 0) {
    scheme = "https://";
    rest = url.substr(13);
  } else {
    return bad("not an etcd URL");
  }
  if (rest.empty()) return bad("no members");
  std::vector<std::string> endpoints;
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t comma = rest.find(',', pos);
    std::string member =
        rest.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? rest.size() + 1 : comma + 1;
    if (member.empty()) return bad("an empty member");
    // HOST:PORT, or [IPv6]:PORT.
    size_t colon = member.rfind(':');
    if (colon == std::string::npos || colon == 0)
      return bad("member \"" + member + "\" has no HOST:PORT");
    std::string host = member.substr(0, colon), port = member.substr(colon + 1);
    bool bracketed = host.front() == '[' && host.back() == ']' && host.size() > 2;
    for (char c : bracketed ? host.substr(1, host.size() - 2) : host) {
      bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                (bracketed && c == ':');
      if (!ok) return bad("member \"" + member + "\" has a malformed host");
    }
    if (port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
        std::stoi(port) > 65535) {
      return bad("member \"" + member + "\" has a malformed port");
    }
    endpoints.push_back(scheme + member);
  }
  return endpoints;
}

}  // namespace visi
