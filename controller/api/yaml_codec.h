#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/statusor.h"

namespace visi {

// One document of a (multi-document) YAML or JSON manifest.
struct Document {
  Json value;
  std::string file;
  int line = 0;  // 1-based line where the document starts
  // 1-based line of each field, keyed by field path ("spec.spark.workers",
  // "spec.env[0].name"), so validation errors can point into the file.
  std::map<std::string, int> lines;

  // "file:line" of a field path, falling back to its nearest parent.
  std::string Where(const std::string& field_path) const;
};

struct YamlLimits {
  size_t max_bytes = 8 * 1024 * 1024;  // whole input
  size_t max_nodes = 200000;           // per document, after alias expansion
  int max_depth = 64;
  // Bytes a document may amount to once aliases are expanded, counting
  // scalars, keys and the field paths kept for line numbers.
  size_t max_expanded_bytes = 16 * 1024 * 1024;
  size_t max_key_bytes = 1024;
};

// Parses YAML 1.2 (core schema: plain null/true/false/ints/floats are typed,
// quoted scalars are strings) or JSON. Empty documents are skipped. Errors
// name the file and line. Alias bombs and deep nesting are refused, never
// expanded or recursed into without bound. Never throws.
StatusOr<std::vector<Document>> ParseYamlDocuments(std::string_view text, const std::string& file,
                                                   const YamlLimits& limits = {});

// One object of a manifest, with where it came from.
struct ManifestObject {
  Object object;
  std::shared_ptr<const Document> doc;
  std::string path_prefix;  // "items[3]." for the objects of a List

  // `s` with each cause rewritten as "file:line: field: message".
  Status Locate(const Status& s) const;
};

// Decodes manifest documents (objects, or Lists of them under `items`); a
// malformed object's error names file and line of each bad field.
StatusOr<std::vector<ManifestObject>> DecodeManifest(std::string_view text, const std::string& file);

// YAML text of a JSON value (block style; strings that would read back as
// another type are quoted, so a round trip is exact).
std::string EmitYaml(const Json& value);

// Rewrites each cause of `s` as "file:line: field: message" using `doc`;
// `prefix` is prepended to field paths to find them in the document.
Status LocateCauses(const Status& s, const Document& doc, const std::string& prefix = "");

}  // namespace visi
