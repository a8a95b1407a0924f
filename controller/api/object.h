#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "controller/base/statusor.h"

namespace visi {

using Json = nlohmann::json;

inline constexpr char kGroup[] = "visi.dev";
inline constexpr char kVersion[] = "v1alpha1";
inline constexpr char kApiVersion[] = "visi.dev/v1alpha1";
// Kubernetes' limit on a stored object (etcd's request limit).
inline constexpr size_t kMaxObjectBytes = 1536 * 1024;

struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;
  bool operator==(const OwnerReference&) const = default;
};

// Kubernetes ObjectMeta: the fields Visi keeps. resourceVersion travels as a
// decimal string on the wire, as in Kubernetes, and is an integer here.
struct ObjectMeta {
  std::string name;
  std::string generate_name;
  std::string namespace_;
  std::string uid;
  uint64_t resource_version = 0;
  int64_t generation = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> finalizers;
  std::vector<OwnerReference> owner_references;
  std::string creation_timestamp;                 // RFC 3339, empty before create
  std::optional<std::string> deletion_timestamp;  // set when deletion is requested
  bool operator==(const ObjectMeta&) const = default;
};

// One resource: typed metadata and JSON spec and status. The kind's schema
// (crds/) validates spec and status; typed views of them live in api/types.
struct Object {
  std::string api_version = kApiVersion;
  std::string kind;
  ObjectMeta metadata;
  Json spec;    // null when the kind has no spec
  Json status;  // null until a controller writes it

  bool operator==(const Object&) const = default;
  bool HasFinalizer(const std::string& f) const;
};

using ObjectPtr = std::shared_ptr<const Object>;

// JSON <-> Object. Decoding is strict about types (every wrong field is named
// by path) and ignores the server-managed metadata fields Kubernetes clients
// echo back (managedFields, selfLink).
StatusOr<Object> ObjectFromJson(const Json& j);
Json ObjectToJson(const Object& o);
Json MetaToJson(const ObjectMeta& m);

// Parses JSON text with a nesting limit and a size limit; a syntax error names
// the byte offset. Never throws.
StatusOr<Json> ParseJson(std::string_view text, size_t max_bytes = 3 * kMaxObjectBytes);
inline constexpr int kMaxJsonDepth = 64;

// "null", "boolean", "string", "array", "object", "number" or "integer":
// how error messages name what they got.
const char* JsonTypeName(const Json& j);

// Compact, stable (sorted keys) JSON text of an object.
std::string ObjectToJsonText(const Object& o);

}  // namespace visi
