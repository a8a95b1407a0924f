#pragma once

#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/api/scheme.h"

namespace visi {

// Evaluates a simple JSONPath: ".spec.user", ".items[0].metadata.name",
// ".items[*].metadata.name" (a wildcard yields every match). Strings are
// printed bare, other values as JSON.
std::vector<std::string> JsonPathValues(const Json& root, const std::string& path);

// Renders a kubectl-style JSONPath template: text with {PATH} parts, e.g.
// "{.status.phase}" or "{.items[*].metadata.name}". Errors name the part.
StatusOr<std::string> RenderJsonPathTemplate(const Json& root, const std::string& tmpl);

// "5s", "3m", "2h", "4d" since an RFC 3339 time, as kubectl's AGE column.
std::string HumanAge(const std::string& rfc3339);

enum class OutputFormat { kTable, kWide, kYaml, kJson, kName, kJsonPath };
struct Output {
  OutputFormat format = OutputFormat::kTable;
  std::string jsonpath;  // for kJsonPath
};
// Parses -o: "", wide, yaml, json, name, jsonpath=TEMPLATE.
StatusOr<Output> ParseOutput(const std::string& flag);

// Prints objects of one kind in the chosen format. `all_namespaces` adds a
// NAMESPACE column to tables; `as_list` prints yaml, json and jsonpath as a
// List even for one object (a listing rather than a named get).
StatusOr<std::string> PrintObjects(const KindInfo& kind, const std::vector<ObjectPtr>& objects,
                                   const Output& out, bool all_namespaces, bool as_list,
                                   bool headers = true);

// "visisession.visi.dev/notebook"
std::string QualifiedName(const KindInfo& kind, const std::string& name);

}  // namespace visi
