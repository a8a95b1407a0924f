#pragma once

#include <string>

#include "controller/api/object.h"
#include "controller/api/scheme.h"
#include "controller/store/store.h"

namespace visi {

// The wire forms of the Kubernetes API, as JSON.

// A metav1.Status for an error (or success), with reason, code and causes.
Json StatusJson(const Status& s, const std::string& kind = "", const std::string& name = "");

// A {Kind}List with metadata.resourceVersion and metadata.continue.
Json ListJson(const KindInfo& kind, const ListResult& list);

// One watch event line ({"type": ..., "object": ...}) without the newline.
std::string WatchEventLine(const KindInfo& kind, const WatchEvent& e);

// Discovery documents.
Json ApiGroupListJson(const Scheme& scheme);
Json ApiGroupJson(const Scheme& scheme);
Json ApiResourceListJson(const Scheme& scheme);
Json ApiVersionsJson();
// OpenAPI v3 discovery (/openapi/v3) and the group's document: one schema
// per kind (from its CRD) and the operations, whose fieldValidation
// parameter tells kubectl that the server validates strictly.
Json OpenApiV3RootJson();
// An OpenAPI v2 document without definitions, in protobuf (what kubectl asks
// for) and in JSON. kubectl insists on fetching it before it writes; with no
// definitions it validates nothing itself and relies on the server's strict
// validation (fieldValidation, declared in the v3 document).
std::string OpenApiV2Protobuf();
Json OpenApiV2Json();
Json OpenApiV3GroupJson(const Scheme& scheme);
Json VersionJson();

}  // namespace visi
