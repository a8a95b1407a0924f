#include "controller/api/scheme.h"

#include <algorithm>
#include <cctype>

#include "controller/api/names.h"
#include "controller/api/yaml_codec.h"

namespace visi {

// Defined in the generated crds_embedded.cc.
const std::vector<std::pair<std::string, std::string>>& EmbeddedCrds();

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

StatusOr<KindInfo> ParseCrd(const Json& crd, const std::string& file) {
  auto bad = [&](const std::string& msg) { return InvalidError(file + ": " + msg); };
  if (crd.value("kind", "") != "CustomResourceDefinition") return bad("not a CustomResourceDefinition");
  const Json& spec = crd.value("spec", Json::object());
  KindInfo k;
  k.group = spec.value("group", "");
  const Json& names = spec.value("names", Json::object());
  k.kind = names.value("kind", "");
  k.plural = names.value("plural", "");
  k.singular = names.value("singular", Lower(k.kind));
  k.list_kind = names.value("listKind", k.kind + "List");
  for (const auto& s : names.value("shortNames", Json::array())) k.short_names.push_back(s.get<std::string>());
  k.namespaced = spec.value("scope", "") == "Namespaced";
  const Json& versions = spec.value("versions", Json::array());
  if (k.kind.empty() || k.plural.empty() || k.group.empty() || versions.size() != 1) {
    return bad("needs group, names.kind, names.plural and exactly one version");
  }
  const Json& v = versions[0];
  k.version = v.value("name", "");
  k.has_status = v.contains("subresources") && v["subresources"].contains("status");
  for (const auto& c : v.value("additionalPrinterColumns", Json::array())) {
    k.columns.push_back({c.value("name", ""), c.value("type", "string"), c.value("jsonPath", ""),
                         c.value("description", ""), c.value("priority", 0)});
  }
  const Json* schema = nullptr;
  if (v.contains("schema") && v["schema"].contains("openAPIV3Schema")) schema = &v["schema"]["openAPIV3Schema"];
  if (!schema) return bad("missing schema.openAPIV3Schema");
  auto root = Schema::Compile(*schema);
  if (!root.ok()) return bad(root.status().message());
  k.root = *root;
  k.spec = k.root->Property("spec");
  k.status = k.root->Property("status");
  k.crd = crd;
  return k;
}

}  // namespace

StatusOr<std::shared_ptr<const Scheme>> Scheme::FromCrdTexts(
    const std::vector<std::pair<std::string, std::string>>& name_and_text) {
  auto scheme = std::make_shared<Scheme>();
  for (const auto& [name, text] : name_and_text) {
    VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, name));
    for (const auto& d : docs) {
      VISI_ASSIGN_OR_RETURN(auto info, ParseCrd(d.value, name));
      scheme->kinds_.push_back(std::move(info));
    }
  }
  return std::shared_ptr<const Scheme>(std::move(scheme));
}

std::shared_ptr<const Scheme> Scheme::Builtin() {
  static std::shared_ptr<const Scheme> builtin = [] {
    auto s = FromCrdTexts(EmbeddedCrds());
    if (!s.ok()) {
      // The CRDs ship inside the binary: a bad one is a build defect.
      fprintf(stderr, "visi: embedded CRDs are invalid: %s\n", s.status().ToString().c_str());
      std::abort();
    }
    return *s;
  }();
  return builtin;
}

const KindInfo* Scheme::ByKind(std::string_view kind) const {
  for (const auto& k : kinds_) {
    if (k.kind == kind) return &k;
  }
  return nullptr;
}

const KindInfo* Scheme::Resolve(std::string_view name) const {
  std::string n = Lower(name);
  const std::string suffix = ".visi.dev";
  if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0) {
    n.resize(n.size() - suffix.size());
  }
  for (const auto& k : kinds_) {
    if (Lower(k.kind) == n || k.plural == n || k.singular == n ||
        std::find(k.short_names.begin(), k.short_names.end(), n) != k.short_names.end()) {
      return &k;
    }
  }
  return nullptr;
}

void ValidateObjectMeta(const ObjectMeta& m, bool namespaced, std::vector<FieldCause>* causes) {
  if (m.name.empty()) {
    causes->push_back({"metadata.name", "name or generateName is required"});
  } else if (std::string e = CheckDns1123Subdomain(m.name); !e.empty()) {
    causes->push_back({"metadata.name", e});
  }
  if (namespaced) {
    if (m.namespace_.empty()) {
      causes->push_back({"metadata.namespace", "required for a namespaced kind"});
    } else if (std::string e = CheckDns1123Label(m.namespace_); !e.empty()) {
      causes->push_back({"metadata.namespace", e});
    }
  } else if (!m.namespace_.empty()) {
    causes->push_back({"metadata.namespace", "must be empty for a cluster-scoped kind, got \"" +
                                                 m.namespace_.substr(0, 63) + "\""});
  }
  for (const auto& [k, v] : m.labels) {
    std::string field = "metadata.labels[" + k.substr(0, 64) + "]";
    if (std::string e = CheckQualifiedName(k); !e.empty()) causes->push_back({field, "invalid key: " + e});
    if (std::string e = CheckLabelValue(v); !e.empty()) causes->push_back({field, e});
  }
  size_t annotation_bytes = 0;
  for (const auto& [k, v] : m.annotations) {
    annotation_bytes += k.size() + v.size();
    if (std::string e = CheckQualifiedName(k); !e.empty()) {
      causes->push_back({"metadata.annotations[" + k.substr(0, 64) + "]", "invalid key: " + e});
    }
  }
  if (annotation_bytes > 256 * 1024) {
    causes->push_back({"metadata.annotations", "must have at most 262144 bytes, got " +
                                                   std::to_string(annotation_bytes)});
  }
  if (m.finalizers.size() > 32) {
    causes->push_back({"metadata.finalizers", "must have at most 32 items"});
  }
  for (size_t i = 0; i < m.finalizers.size() && i < 32; ++i) {
    if (std::string e = CheckQualifiedName(m.finalizers[i]); !e.empty()) {
      causes->push_back({"metadata.finalizers[" + std::to_string(i) + "]", e});
    }
  }
  int controllers = 0;
  for (size_t i = 0; i < m.owner_references.size(); ++i) {
    const auto& r = m.owner_references[i];
    std::string p = "metadata.ownerReferences[" + std::to_string(i) + "]";
    if (r.api_version.empty()) causes->push_back({p + ".apiVersion", "required"});
    if (r.kind.empty()) causes->push_back({p + ".kind", "required"});
    if (r.name.empty()) causes->push_back({p + ".name", "required"});
    if (r.uid.empty()) causes->push_back({p + ".uid", "required"});
    if (r.controller) ++controllers;
  }
  if (controllers > 1) {
    causes->push_back({"metadata.ownerReferences", "only one reference can have controller set to true"});
  }
}

Status Scheme::CheckKind(const Object& o, const KindInfo** info) const {
  if (o.kind.empty()) return InvalidError("kind is required", {{"kind", "required"}});
  const KindInfo* k = ByKind(o.kind);
  if (!k) {
    std::string known;
    for (const auto& kk : kinds_) known += (known.empty() ? "" : ", ") + kk.kind;
    return InvalidError("unknown kind \"" + o.kind.substr(0, 64) + "\"",
                        {{"kind", "unsupported value; supported values: " + known}});
  }
  if (o.api_version != k->ApiVersion()) {
    return InvalidError("unknown apiVersion \"" + o.api_version.substr(0, 64) + "\" for kind " + k->kind,
                        {{"apiVersion", "expected \"" + k->ApiVersion() + "\""}});
  }
  *info = k;
  return OkStatus();
}

Status Scheme::ValidateAndDefault(Object* o) const {
  const KindInfo* k = nullptr;
  VISI_RETURN_IF_ERROR(CheckKind(*o, &k));
  std::vector<FieldCause> causes;
  ValidateObjectMeta(o->metadata, k->namespaced, &causes);
  if (k->spec) {
    // The root schema says whether spec may be omitted.
    Json probe = Json::object();
    if (!o->spec.is_null()) probe["spec"] = o->spec;
    if (!o->status.is_null() && k->status) probe["status"] = o->status;
    probe["apiVersion"] = o->api_version;
    probe["kind"] = o->kind;
    probe["metadata"] = Json::object();
    k->root->DefaultAndValidate(&probe, "", &causes);
    if (probe.contains("spec")) o->spec = probe["spec"];
    if (probe.contains("status")) o->status = probe["status"];
  } else if (!o->spec.is_null()) {
    causes.push_back({"spec", "kind " + k->kind + " has no spec"});
  }
  if (!o->status.is_null() && !k->status) {
    causes.push_back({"status", "kind " + k->kind + " has no status"});
  }
  if (!causes.empty()) {
    return InvalidError(k->kind + " \"" + o->metadata.name.substr(0, 253) + "\" is invalid",
                        std::move(causes));
  }
  return OkStatus();
}

Status Scheme::ValidateStatus(Object* o) const {
  const KindInfo* k = nullptr;
  VISI_RETURN_IF_ERROR(CheckKind(*o, &k));
  if (!k->status) return InvalidError("kind " + k->kind + " has no status subresource");
  if (o->status.is_null()) return OkStatus();
  std::vector<FieldCause> causes;
  k->status->DefaultAndValidate(&o->status, "status", &causes);
  if (!causes.empty()) {
    return InvalidError(k->kind + " \"" + o->metadata.name + "\" status is invalid", std::move(causes));
  }
  return OkStatus();
}

}  // namespace visi
