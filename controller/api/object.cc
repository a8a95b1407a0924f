#include "controller/api/object.h"

#include <algorithm>

namespace visi {

const char* JsonTypeName(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    case Json::value_t::number_float: return "number";
    default: return "integer";
  }
}

bool Object::HasFinalizer(const std::string& f) const {
  const auto& fs = metadata.finalizers;
  return std::find(fs.begin(), fs.end(), f) != fs.end();
}

namespace {

// Collects type errors while decoding, so one pass reports every bad field.
class Decoder {
 public:
  std::vector<FieldCause> causes;

  void Bad(const std::string& path, const std::string& msg) { causes.push_back({path, msg}); }

  static std::string TypeName(const Json& j) { return JsonTypeName(j); }

  void Str(const Json& j, const char* key, const std::string& path, std::string* out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (!it->is_string()) return Bad(path + "." + key, "expected string, got " + TypeName(*it));
    *out = it->get<std::string>();
  }

  void Bool(const Json& j, const char* key, const std::string& path, bool* out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (!it->is_boolean()) return Bad(path + "." + key, "expected boolean, got " + TypeName(*it));
    *out = it->get<bool>();
  }

  void StrMap(const Json& j, const char* key, const std::string& path,
              std::map<std::string, std::string>* out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (!it->is_object()) return Bad(path + "." + key, "expected object, got " + TypeName(*it));
    for (auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        Bad(path + "." + key + "[" + k + "]", "expected string, got " + TypeName(v));
        continue;
      }
      (*out)[k] = v.get<std::string>();
    }
  }

  void StrList(const Json& j, const char* key, const std::string& path,
               std::vector<std::string>* out) {
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return;
    if (!it->is_array()) return Bad(path + "." + key, "expected array, got " + TypeName(*it));
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& v = (*it)[i];
      if (!v.is_string()) {
        Bad(path + "." + key + "[" + std::to_string(i) + "]", "expected string, got " + TypeName(v));
        continue;
      }
      out->push_back(v.get<std::string>());
    }
  }
};

const char* kIgnoredMetaFields[] = {"managedFields", "selfLink", "clusterName",
                                    "deletionGracePeriodSeconds"};

void DecodeMeta(const Json& m, Decoder& d, ObjectMeta* meta) {
  const std::string p = "metadata";
  for (auto& [k, v] : m.items()) {
    static const char* known[] = {"name", "generateName", "namespace", "uid", "resourceVersion",
                                  "generation", "labels", "annotations", "finalizers",
                                  "ownerReferences", "creationTimestamp", "deletionTimestamp"};
    bool ok = std::find_if(std::begin(known), std::end(known),
                           [&](const char* s) { return k == s; }) != std::end(known) ||
              std::find_if(std::begin(kIgnoredMetaFields), std::end(kIgnoredMetaFields),
                           [&](const char* s) { return k == s; }) != std::end(kIgnoredMetaFields);
    if (!ok) d.Bad(p + "." + k, "unknown field");
  }
  d.Str(m, "name", p, &meta->name);
  d.Str(m, "generateName", p, &meta->generate_name);
  d.Str(m, "namespace", p, &meta->namespace_);
  d.Str(m, "uid", p, &meta->uid);
  if (auto it = m.find("resourceVersion"); it != m.end() && !it->is_null()) {
    if (!it->is_string()) {
      d.Bad(p + ".resourceVersion", "expected string, got " + Decoder::TypeName(*it));
    } else {
      const std::string s = it->get<std::string>();
      uint64_t v = 0;
      bool digits = !s.empty() && s.size() <= 19;
      for (char c : s) {
        if (c < '0' || c > '9') digits = false;
        else v = v * 10 + (c - '0');
      }
      if (!s.empty() && !digits) {
        d.Bad(p + ".resourceVersion", "expected a decimal resource version, got \"" +
                                          s.substr(0, 32) + "\"");
      }
      meta->resource_version = v;
    }
  }
  if (auto it = m.find("generation"); it != m.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      d.Bad(p + ".generation", "expected integer, got " + Decoder::TypeName(*it));
    } else {
      meta->generation = it->get<int64_t>();
    }
  }
  d.StrMap(m, "labels", p, &meta->labels);
  d.StrMap(m, "annotations", p, &meta->annotations);
  d.StrList(m, "finalizers", p, &meta->finalizers);
  d.Str(m, "creationTimestamp", p, &meta->creation_timestamp);
  if (auto it = m.find("deletionTimestamp"); it != m.end() && !it->is_null()) {
    std::string ts;
    d.Str(m, "deletionTimestamp", p, &ts);
    if (it->is_string()) meta->deletion_timestamp = ts;
  }
  if (auto it = m.find("ownerReferences"); it != m.end() && !it->is_null()) {
    if (!it->is_array()) {
      d.Bad(p + ".ownerReferences", "expected array, got " + Decoder::TypeName(*it));
    } else {
      for (size_t i = 0; i < it->size(); ++i) {
        const Json& r = (*it)[i];
        std::string rp = p + ".ownerReferences[" + std::to_string(i) + "]";
        if (!r.is_object()) {
          d.Bad(rp, "expected object, got " + Decoder::TypeName(r));
          continue;
        }
        OwnerReference ref;
        d.Str(r, "apiVersion", rp, &ref.api_version);
        d.Str(r, "kind", rp, &ref.kind);
        d.Str(r, "name", rp, &ref.name);
        d.Str(r, "uid", rp, &ref.uid);
        d.Bool(r, "controller", rp, &ref.controller);
        d.Bool(r, "blockOwnerDeletion", rp, &ref.block_owner_deletion);
        meta->owner_references.push_back(std::move(ref));
      }
    }
  }
}

}  // namespace

StatusOr<Object> ObjectFromJson(const Json& j) {
  if (!j.is_object()) {
    return InvalidError("an object must be a JSON/YAML mapping, got " + Decoder::TypeName(j));
  }
  Decoder d;
  Object o;
  o.api_version.clear();
  d.Str(j, "apiVersion", "", &o.api_version);
  d.Str(j, "kind", "", &o.kind);
  for (auto& c : d.causes) c.field = c.field.substr(1);  // drop the leading "."
  if (auto it = j.find("metadata"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      d.Bad("metadata", "expected object, got " + Decoder::TypeName(*it));
    } else {
      DecodeMeta(*it, d, &o.metadata);
    }
  }
  for (auto& [k, v] : j.items()) {
    if (k == "spec") o.spec = v;
    else if (k == "status") o.status = v;
    else if (k != "apiVersion" && k != "kind" && k != "metadata") d.Bad(k, "unknown field");
  }
  if (!d.causes.empty()) {
    std::string msg = "malformed object";
    if (!o.kind.empty()) msg = o.kind + " \"" + o.metadata.name + "\" is malformed";
    return InvalidError(msg, std::move(d.causes));
  }
  return o;
}

Json MetaToJson(const ObjectMeta& m) {
  Json j = Json::object();
  if (!m.name.empty()) j["name"] = m.name;
  if (!m.generate_name.empty()) j["generateName"] = m.generate_name;
  if (!m.namespace_.empty()) j["namespace"] = m.namespace_;
  if (!m.uid.empty()) j["uid"] = m.uid;
  if (m.resource_version != 0) j["resourceVersion"] = std::to_string(m.resource_version);
  if (m.generation != 0) j["generation"] = m.generation;
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  if (!m.finalizers.empty()) j["finalizers"] = m.finalizers;
  if (!m.owner_references.empty()) {
    Json refs = Json::array();
    for (const auto& r : m.owner_references) {
      Json jr = {{"apiVersion", r.api_version}, {"kind", r.kind}, {"name", r.name}, {"uid", r.uid}};
      if (r.controller) jr["controller"] = true;
      if (r.block_owner_deletion) jr["blockOwnerDeletion"] = true;
      refs.push_back(std::move(jr));
    }
    j["ownerReferences"] = std::move(refs);
  }
  if (!m.creation_timestamp.empty()) j["creationTimestamp"] = m.creation_timestamp;
  if (m.deletion_timestamp) j["deletionTimestamp"] = *m.deletion_timestamp;
  return j;
}

Json ObjectToJson(const Object& o) {
  Json j = {{"apiVersion", o.api_version}, {"kind", o.kind}, {"metadata", MetaToJson(o.metadata)}};
  if (!o.spec.is_null()) j["spec"] = o.spec;
  if (!o.status.is_null()) j["status"] = o.status;
  return j;
}

std::string ObjectToJsonText(const Object& o) {
  return ObjectToJson(o).dump(-1, ' ', false, Json::error_handler_t::replace);
}

StatusOr<Json> ParseJson(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return TooLargeError("JSON body is " + std::to_string(text.size()) + " bytes, limit is " +
                         std::to_string(max_bytes));
  }
  bool too_deep = false;
  Json::parser_callback_t guard = [&](int depth, Json::parse_event_t, Json&) {
    if (depth > kMaxJsonDepth) {
      too_deep = true;
      return false;
    }
    return true;
  };
  try {
    Json j = Json::parse(text.begin(), text.end(), guard, /*allow_exceptions=*/true);
    if (too_deep) {
      return BadRequestError("JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return j;
  } catch (const Json::parse_error& e) {
    if (too_deep) {
      return BadRequestError("JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    return BadRequestError(std::string("malformed JSON at byte ") + std::to_string(e.byte) + ": " +
                           e.what());
  } catch (const std::exception& e) {
    return BadRequestError(std::string("malformed JSON: ") + e.what());
  }
}

}  // namespace visi
