#pragma once

#include <string>

#include "controller/api/object.h"

namespace visi::testing {

// A valid VisiSession, as a user would write it.
inline Object Session(const std::string& ns, const std::string& name,
                      const std::string& user = "alice") {
  Object o;
  o.kind = "VisiSession";
  o.metadata.namespace_ = ns;
  o.metadata.name = name;
  o.spec = {{"user", user}, {"spark", {{"workers", 2}}}};
  return o;
}

// A valid cluster-scoped FarmPool.
inline Object Pool(const std::string& name) {
  Object o;
  o.kind = "FarmPool";
  o.metadata.name = name;
  o.spec = Json::object();
  return o;
}

}  // namespace visi::testing
