#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"

namespace visi {

// Kubernetes' name rules. Each returns an empty string when the value is
// valid, else a message that says what was expected.

// RFC 1123 subdomain: <= 253 chars, lowercase alphanumerics, '-' and '.',
// starting and ending with an alphanumeric. Object names.
std::string CheckDns1123Subdomain(std::string_view s);
// RFC 1123 label: <= 63 chars, lowercase alphanumerics and '-'. Namespaces.
std::string CheckDns1123Label(std::string_view s);
// A qualified name: [prefix/]name, prefix a DNS subdomain, name <= 63 chars of
// [A-Za-z0-9_.-] that starts and ends with an alphanumeric. Label and
// annotation keys, finalizers.
std::string CheckQualifiedName(std::string_view s);
// A label value: empty, or <= 63 chars as the name part above.
std::string CheckLabelValue(std::string_view s);

}  // namespace visi
