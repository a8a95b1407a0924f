#include "controller/api/schema.h"

#include <cmath>
#include <set>

#include "controller/base/clock.h"

namespace visi {
namespace {

// Longest string a pattern is matched against: std::regex recurses per
// character, so unbounded input could exhaust the stack.
constexpr size_t kMaxPatternInput = 4096;

std::string TypeOf(const Json& j) { return JsonTypeName(j); }

std::string Short(const Json& j) {
  std::string s = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

std::string FormatNumber(double d) {
  if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  return std::to_string(d);
}

const std::set<std::string> kKeywords = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "pattern",
    "minLength", "maxLength", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minItems", "maxItems", "format", "default", "nullable", "description",
    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string", "example", "title"};

std::string Join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

}  // namespace

StatusOr<std::shared_ptr<const Schema>> Schema::Compile(const Json& j, const std::string& where) {
  const std::string at = where.empty() ? "<root>" : where;
  if (!j.is_object()) return InvalidError("schema " + at + ": expected a mapping");
  auto s = std::shared_ptr<Schema>(new Schema());
  for (auto& [k, v] : j.items()) {
    if (!kKeywords.count(k)) {
      return InvalidError("schema " + at + ": unsupported keyword \"" + k + "\"");
    }
  }
  auto get_int = [&](const char* key, std::optional<int64_t>* out) -> Status {
    if (auto it = j.find(key); it != j.end()) {
      if (!it->is_number_integer()) return InvalidError("schema " + at + ": " + key + " must be an integer");
      *out = it->get<int64_t>();
    }
    return OkStatus();
  };
  if (auto it = j.find("type"); it != j.end()) {
    if (!it->is_string()) return InvalidError("schema " + at + ": type must be a string");
    s->type_ = it->get<std::string>();
    static const std::set<std::string> types = {"object", "array", "string", "integer", "number", "boolean"};
    if (!types.count(s->type_)) return InvalidError("schema " + at + ": unknown type \"" + s->type_ + "\"");
  }
  s->description_ = j.value("description", "");
  s->nullable_ = j.value("nullable", false);
  s->preserve_unknown_ = j.value("x-kubernetes-preserve-unknown-fields", false);
  s->int_or_string_ = j.value("x-kubernetes-int-or-string", false);
  s->format_ = j.value("format", "");
  if (s->type_.empty() && !s->int_or_string_ && !s->preserve_unknown_) {
    return InvalidError("schema " + at + ": not structural: type is required");
  }
  if (auto it = j.find("properties"); it != j.end()) {
    if (s->type_ != "object" || !it->is_object()) {
      return InvalidError("schema " + at + ": properties need type object");
    }
    for (auto& [name, sub] : it->items()) {
      VISI_ASSIGN_OR_RETURN(s->properties_[name], Compile(sub, Join(where, name)));
    }
  }
  if (auto it = j.find("additionalProperties"); it != j.end()) {
    if (s->type_ != "object" || !s->properties_.empty() || !it->is_object()) {
      return InvalidError("schema " + at +
                          ": additionalProperties must be a schema on an object without properties");
    }
    VISI_ASSIGN_OR_RETURN(s->additional_, Compile(*it, where + "[*]"));
  }
  if (auto it = j.find("items"); it != j.end()) {
    VISI_ASSIGN_OR_RETURN(s->items_, Compile(*it, where + "[*]"));
  } else if (s->type_ == "array") {
    return InvalidError("schema " + at + ": not structural: an array needs items");
  }
  if (auto it = j.find("required"); it != j.end()) {
    if (!it->is_array()) return InvalidError("schema " + at + ": required must be a list");
    for (const auto& r : *it) {
      if (!r.is_string()) return InvalidError("schema " + at + ": required entries must be strings");
      if (!s->properties_.count(r.get<std::string>())) {
        return InvalidError("schema " + at + ": required field \"" + r.get<std::string>() +
                            "\" is not among the properties");
      }
      s->required_.push_back(r.get<std::string>());
    }
  }
  if (auto it = j.find("enum"); it != j.end()) {
    if (!it->is_array() || it->empty()) return InvalidError("schema " + at + ": enum must be a non-empty list");
    s->enum_.assign(it->begin(), it->end());
  }
  if (auto it = j.find("pattern"); it != j.end()) {
    if (!it->is_string()) return InvalidError("schema " + at + ": pattern must be a string");
    s->pattern_source_ = it->get<std::string>();
    try {
      s->pattern_.emplace(s->pattern_source_, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error& e) {
      return InvalidError("schema " + at + ": bad pattern: " + e.what());
    }
  }
  VISI_RETURN_IF_ERROR(get_int("minLength", &s->min_length_));
  VISI_RETURN_IF_ERROR(get_int("maxLength", &s->max_length_));
  VISI_RETURN_IF_ERROR(get_int("minItems", &s->min_items_));
  VISI_RETURN_IF_ERROR(get_int("maxItems", &s->max_items_));
  if (auto it = j.find("minimum"); it != j.end() && it->is_number()) s->minimum_ = it->get<double>();
  if (auto it = j.find("maximum"); it != j.end() && it->is_number()) s->maximum_ = it->get<double>();
  s->exclusive_minimum_ = j.value("exclusiveMinimum", false);
  s->exclusive_maximum_ = j.value("exclusiveMaximum", false);
  if (auto it = j.find("default"); it != j.end()) {
    // A default must itself be valid: checked once here, not per object.
    Json d = *it;
    std::vector<FieldCause> causes;
    s->Validate(&d, "default", &causes);
    if (!causes.empty()) {
      return InvalidError("schema " + at + ": invalid default: " + causes[0].field + ": " +
                          causes[0].message);
    }
    s->default_ = d;
  }
  return std::shared_ptr<const Schema>(std::move(s));
}

const Schema* Schema::Property(const std::string& name) const {
  auto it = properties_.find(name);
  return it == properties_.end() ? nullptr : it->second.get();
}

void Schema::DefaultAndValidate(Json* value, const std::string& path,
                                std::vector<FieldCause>* causes) const {
  Validate(value, path, causes);
}

void Schema::Validate(Json* v, const std::string& path, std::vector<FieldCause>* causes) const {
  if (v->is_null()) {
    if (!nullable_) causes->push_back({path, "must not be null"});
    return;
  }
  if (int_or_string_) {
    if (!v->is_number_integer() && !v->is_string()) {
      causes->push_back({path, "expected integer or string, got " + TypeOf(*v)});
      return;
    }
    ValidateScalar(*v, path, causes);
    return;
  }
  if (type_.empty()) return;  // preserve-unknown without a type: anything goes
  if (type_ == "object") {
    if (!v->is_object()) {
      causes->push_back({path, "expected object, got " + TypeOf(*v)});
      return;
    }
    ValidateObject(v, path, causes);
    return;
  }
  if (type_ == "array") {
    if (!v->is_array()) {
      causes->push_back({path, "expected array, got " + TypeOf(*v)});
      return;
    }
    int64_t n = static_cast<int64_t>(v->size());
    if (min_items_ && n < *min_items_) {
      causes->push_back({path, "must have at least " + std::to_string(*min_items_) + " items, got " + std::to_string(n)});
    }
    if (max_items_ && n > *max_items_) {
      causes->push_back({path, "must have at most " + std::to_string(*max_items_) + " items, got " + std::to_string(n)});
      return;  // do not walk a hostile number of items
    }
    for (size_t i = 0; i < v->size(); ++i) {
      items_->Validate(&(*v)[i], path + "[" + std::to_string(i) + "]", causes);
    }
    return;
  }
  if (type_ == "integer") {
    if (v->is_number_float()) {
      double d = v->get<double>();
      if (std::floor(d) == d && std::fabs(d) < 9.2e18) *v = static_cast<int64_t>(d);
    }
    if (!v->is_number_integer()) {
      causes->push_back({path, "expected integer, got " + TypeOf(*v)});
      return;
    }
  } else if (type_ == "number") {
    if (!v->is_number()) {
      causes->push_back({path, "expected number, got " + TypeOf(*v)});
      return;
    }
  } else if (type_ == "string") {
    if (!v->is_string()) {
      causes->push_back({path, "expected string, got " + TypeOf(*v)});
      return;
    }
  } else if (type_ == "boolean") {
    if (!v->is_boolean()) {
      causes->push_back({path, "expected boolean, got " + TypeOf(*v)});
      return;
    }
  }
  ValidateScalar(*v, path, causes);
}

void Schema::ValidateObject(Json* v, const std::string& path, std::vector<FieldCause>* causes) const {
  if (!properties_.empty() || !preserve_unknown_) {
    // Null fields count as absent (and are dropped) unless nullable.
    for (auto it = v->begin(); it != v->end();) {
      const Schema* p = Property(it.key());
      const Schema* sub = p ? p : additional_.get();
      if (it->is_null() && sub && !sub->nullable_) {
        it = v->erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& [name, sub] : properties_) {
    if (!v->contains(name) && sub->default_) (*v)[name] = *sub->default_;
  }
  for (const auto& r : required_) {
    if (!v->contains(r)) causes->push_back({Join(path, r), "required field is missing"});
  }
  for (auto& [key, val] : v->items()) {
    if (const Schema* p = Property(key)) {
      p->Validate(&val, Join(path, key), causes);
    } else if (additional_) {
      additional_->Validate(&val, path + "[" + key + "]", causes);
    } else if (!preserve_unknown_) {
      std::string known;
      for (const auto& [n, s] : properties_) known += (known.empty() ? "" : ", ") + n;
      causes->push_back({Join(path, key), "unknown field; expected one of: " + known});
    }
  }
}

void Schema::ValidateScalar(const Json& v, const std::string& path,
                            std::vector<FieldCause>* causes) const {
  if (!enum_.empty()) {
    bool found = false;
    for (const auto& e : enum_) found = found || e == v;
    if (!found) {
      std::string allowed;
      for (const auto& e : enum_) allowed += (allowed.empty() ? "" : ", ") + Short(e);
      causes->push_back({path, "unsupported value " + Short(v) + ": supported values: " + allowed});
      return;
    }
  }
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    int64_t n = static_cast<int64_t>(s.size());
    if (min_length_ && n < *min_length_) {
      causes->push_back({path, "must be at least " + std::to_string(*min_length_) + " characters long, got " + std::to_string(n)});
    }
    if (max_length_ && n > *max_length_) {
      causes->push_back({path, "must be at most " + std::to_string(*max_length_) + " characters long, got " + std::to_string(n)});
      return;
    }
    if (pattern_) {
      if (s.size() > kMaxPatternInput) {
        causes->push_back({path, "too long to check against pattern " + pattern_source_});
      } else if (!std::regex_search(s, *pattern_)) {
        causes->push_back({path, "must match pattern " + pattern_source_ + ", got " + Short(v)});
      }
    }
    if (format_ == "date-time" && !ParseRfc3339(s)) {
      causes->push_back({path, "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z, got " + Short(v)});
    }
    return;
  }
  if (v.is_number()) {
    double d = v.get<double>();
    if (minimum_ && (d < *minimum_ || (exclusive_minimum_ && d == *minimum_))) {
      causes->push_back({path, std::string("must be ") + (exclusive_minimum_ ? "> " : ">= ") +
                                   FormatNumber(*minimum_) + ", got " + Short(v)});
    }
    if (maximum_ && (d > *maximum_ || (exclusive_maximum_ && d == *maximum_))) {
      causes->push_back({path, std::string("must be ") + (exclusive_maximum_ ? "< " : "<= ") +
                                   FormatNumber(*maximum_) + ", got " + Short(v)});
    }
    if (format_ == "int32" && v.is_number_integer() &&
        (d < -2147483648.0 || d > 2147483647.0)) {
      causes->push_back({path, "must fit in a 32-bit integer, got " + Short(v)});
    }
  }
}

}  // namespace visi
