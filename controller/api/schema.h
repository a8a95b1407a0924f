#pragma once

#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/statusor.h"

namespace visi {

// A compiled structural OpenAPI v3 schema, as found in a CRD's
// openAPIV3Schema. Supports the keywords Visi's CRDs use: type, properties,
// required, additionalProperties, items, enum, pattern, minLength, maxLength,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum, minItems, maxItems,
// format (int32, int64, date-time), default, nullable, description,
// x-kubernetes-preserve-unknown-fields and x-kubernetes-int-or-string.
// Unknown fields are rejected, not pruned. Immutable after Compile and safe to
// share between threads.
class Schema {
 public:
  // REQUIRES: `openapi` is a schema node. Fails, naming the node, when the
  // schema uses a keyword this validator does not support or is not structural.
  static StatusOr<std::shared_ptr<const Schema>> Compile(const Json& openapi,
                                                         const std::string& where = "");

  // Fills in defaults (in place), then appends one cause per violation, with
  // `path` as the prefix of every field path. Null values of non-nullable
  // fields are dropped, as in Kubernetes.
  void DefaultAndValidate(Json* value, const std::string& path,
                          std::vector<FieldCause>* causes) const;

  const Schema* Property(const std::string& name) const;
  const std::string& description() const { return description_; }
  const std::string& type() const { return type_; }

 private:
  Schema() = default;
  void Validate(Json* value, const std::string& path, std::vector<FieldCause>* causes) const;
  void ValidateObject(Json* value, const std::string& path, std::vector<FieldCause>* causes) const;
  void ValidateScalar(const Json& value, const std::string& path,
                      std::vector<FieldCause>* causes) const;

  std::string type_;  // "" only with int-or-string or preserve-unknown
  std::string description_;
  std::map<std::string, std::shared_ptr<const Schema>> properties_;
  std::vector<std::string> required_;
  std::shared_ptr<const Schema> additional_;  // map values
  std::shared_ptr<const Schema> items_;
  std::vector<Json> enum_;
  std::optional<std::regex> pattern_;
  std::string pattern_source_;
  std::optional<int64_t> min_length_, max_length_, min_items_, max_items_;
  std::optional<double> minimum_, maximum_;
  bool exclusive_minimum_ = false, exclusive_maximum_ = false;
  std::string format_;
  std::optional<Json> default_;
  bool nullable_ = false;
  bool preserve_unknown_ = false;
  bool int_or_string_ = false;
};

}  // namespace visi
