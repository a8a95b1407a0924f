#include "controller/server/request.h"

#include <algorithm>

namespace visi {

bool UserInfo::Reaches(const std::string& ns) const {
  return admin || std::find(namespaces.begin(), namespaces.end(), ns) != namespaces.end();
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

}  // namespace visi
