#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/statusor.h"

namespace visi {

// A Kubernetes label selector: comma-separated requirements, all of which
// must hold. "app=x", "app==x", "app!=x", "tier in (a,b)", "tier notin (a)",
// "app" (exists), "!app" (does not exist). The empty selector matches all.
class LabelSelector {
 public:
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kNotExists };
  struct Requirement {
    std::string key;
    Op op;
    std::vector<std::string> values;
  };

  static StatusOr<LabelSelector> Parse(std::string_view text);
  bool Matches(const std::map<std::string, std::string>& labels) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

// A field selector over the fields Visi indexes: metadata.name,
// metadata.namespace and status.phase, with =, == and !=.
class FieldSelector {
 public:
  struct Requirement {
    std::string field;
    bool equals;
    std::string value;
  };

  static StatusOr<FieldSelector> Parse(std::string_view text);
  bool Matches(const Object& o) const;
  bool empty() const { return reqs_.empty(); }
  const std::vector<Requirement>& requirements() const { return reqs_; }

 private:
  std::vector<Requirement> reqs_;
};

}  // namespace visi
