#include "controller/api/names.h"

namespace visi {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 80)) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\' ||
        static_cast<unsigned char>(c) >= 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > 80) out += "...";
  return out + "\"";
}

// The label part of a DNS-1123 name.
bool ValidDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

std::string CheckDns1123Subdomain(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 253) return "must be no more than 253 characters, got " + std::to_string(s.size());
  if (!IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) {
    return "a lowercase RFC 1123 subdomain must start and end with an alphanumeric character, got " +
           Quote(s);
  }
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-' && c != '.') {
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
             "'-' or '.', got " + Quote(s);
    }
  }
  return "";
}

std::string CheckDns1123Label(std::string_view s) {
  if (s.empty()) return "must not be empty";
  if (s.size() > 63) return "must be no more than 63 characters, got " + std::to_string(s.size());
  if (!ValidDnsLabel(s)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
           "and must start and end with an alphanumeric character, got " + Quote(s);
  }
  return "";
}

namespace {

std::string CheckNamePart(std::string_view s, const char* what) {
  if (s.empty()) return std::string(what) + " must not be empty";
  if (s.size() > 63) {
    return std::string(what) + " must be no more than 63 characters, got " +
           std::to_string(s.size());
  }
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) {
    return std::string(what) + " must start and end with an alphanumeric character, got " + Quote(s);
  }
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') {
      return std::string(what) +
             " must consist of alphanumeric characters, '-', '_' or '.', got " + Quote(s);
    }
  }
  return "";
}

}  // namespace

std::string CheckQualifiedName(std::string_view s) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return CheckNamePart(s, "name part");
  std::string_view prefix = s.substr(0, slash);
  std::string_view name = s.substr(slash + 1);
  if (prefix.empty()) return "prefix part must not be empty";
  if (std::string err = CheckDns1123Subdomain(prefix); !err.empty()) return "prefix part " + err;
  return CheckNamePart(name, "name part");
}

std::string CheckLabelValue(std::string_view s) {
  if (s.empty()) return "";
  return CheckNamePart(s, "a label value");
}

}  // namespace visi
