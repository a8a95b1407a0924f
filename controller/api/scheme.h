#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/object.h"
#include "controller/api/schema.h"

namespace visi {

struct PrinterColumn {
  std::string name;
  std::string type;  // string, integer, number, boolean, date
  std::string json_path;
  std::string description;
  int priority = 0;
};

// One kind, read from its CustomResourceDefinition.
struct KindInfo {
  std::string group;
  std::string version;
  std::string kind;
  std::string list_kind;
  std::string plural;
  std::string singular;
  std::vector<std::string> short_names;
  bool namespaced = false;
  bool has_status = false;
  std::vector<PrinterColumn> columns;
  std::shared_ptr<const Schema> root;    // the whole openAPIV3Schema
  const Schema* spec = nullptr;          // root's "spec", or null
  const Schema* status = nullptr;        // root's "status", or null
  Json crd;                              // the CRD as JSON
  std::string ApiVersion() const { return group + "/" + version; }
};

// The set of kinds the system serves, built from CRD documents (crds/ is
// compiled into every binary). Validates and defaults objects against them.
// Immutable after construction; safe to share between threads.
class Scheme {
 public:
  // Parses CRD YAML texts. Fails, naming the file, on a malformed CRD.
  static StatusOr<std::shared_ptr<const Scheme>> FromCrdTexts(
      const std::vector<std::pair<std::string, std::string>>& name_and_text);
  // The scheme of Visi's own CRDs (crds/*.yaml, embedded at build time).
  static std::shared_ptr<const Scheme> Builtin();

  const KindInfo* ByKind(std::string_view kind) const;
  // Resolves what users type: kind, plural, singular or short name, any case,
  // optionally suffixed with ".visi.dev" ("visisessions", "vs", "VisiSession").
  const KindInfo* Resolve(std::string_view name) const;
  const std::vector<KindInfo>& kinds() const { return kinds_; }

  // Everything a create or update checks before the store accepts an object:
  // apiVersion and kind known, metadata well-formed (names, labels,
  // annotations, finalizers, owner references, namespace by scope), spec and
  // status against the schema with defaults filled in. Returns every bad field.
  Status ValidateAndDefault(Object* o) const;
  // Validation of status alone (a status-subresource write).
  Status ValidateStatus(Object* o) const;

 private:
  Status CheckKind(const Object& o, const KindInfo** info) const;
  std::vector<KindInfo> kinds_;
};

// Checks metadata the way Kubernetes' ObjectMeta validation does.
void ValidateObjectMeta(const ObjectMeta& m, bool namespaced, std::vector<FieldCause>* causes);

}  // namespace visi
