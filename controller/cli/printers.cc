#include "controller/cli/printers.h"

#include <algorithm>
#include <chrono>

#include "controller/api/yaml_codec.h"
#include "controller/base/clock.h"

namespace visi {
namespace {

// Splits ".a.b[0].c[*]" into steps: "a", "b", "[0]", "c", "[*]".
std::vector<std::string> Steps(const std::string& path) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '.') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c == '[') {
      if (!cur.empty()) out.push_back(cur);
      size_t end = path.find(']', i);
      if (end == std::string::npos) end = path.size() - 1;
      out.push_back(path.substr(i, end - i + 1));
      cur.clear();
      i = end;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

void Walk(const Json& node, const std::vector<std::string>& steps, size_t i, std::vector<const Json*>* out) {
  if (i == steps.size()) {
    out->push_back(&node);
    return;
  }
  const std::string& s = steps[i];
  if (s == "[*]") {
    if (node.is_array()) for (const auto& e : node) Walk(e, steps, i + 1, out);
    if (node.is_object()) for (const auto& [k, e] : node.items()) Walk(e, steps, i + 1, out);
    return;
  }
  if (s.front() == '[') {
    if (!node.is_array()) return;
    try {
      long idx = std::stol(s.substr(1, s.size() - 2));
      if (idx < 0) idx += static_cast<long>(node.size());
      if (idx >= 0 && static_cast<size_t>(idx) < node.size()) Walk(node[idx], steps, i + 1, out);
    } catch (const std::exception&) {
    }
    return;
  }
  if (node.is_object() && node.contains(s)) Walk(node[s], steps, i + 1, out);
}

std::string Scalar(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "";
  return j.dump();
}

}  // namespace

std::vector<std::string> JsonPathValues(const Json& root, const std::string& path) {
  std::vector<const Json*> found;
  Walk(root, Steps(path), 0, &found);
  std::vector<std::string> out;
  for (const Json* j : found) out.push_back(Scalar(*j));
  return out;
}

StatusOr<std::string> RenderJsonPathTemplate(const Json& root, const std::string& tmpl) {
  std::string out;
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t open = tmpl.find('{', i);
    if (open == std::string::npos) {
      out += tmpl.substr(i);
      break;
    }
    out += tmpl.substr(i, open - i);
    size_t close = tmpl.find('}', open);
    if (close == std::string::npos) {
      return InvalidError("jsonpath template: unclosed '{' at offset " + std::to_string(open));
    }
    std::string expr = tmpl.substr(open + 1, close - open - 1);
    if (expr.size() >= 2 && expr.front() == '"' && expr.back() == '"') {  // a literal: {"\n"}
      out += expr.substr(1, expr.size() - 2);
      i = close + 1;
      continue;
    }
    if (expr.empty() || expr[0] != '.') {
      return InvalidError("jsonpath template: \"{" + expr + "}\" must start with '.', e.g. {.status.phase}");
    }
    auto values = JsonPathValues(root, expr);
    for (size_t v = 0; v < values.size(); ++v) out += (v ? " " : "") + values[v];
    i = close + 1;
  }
  // kubectl's templates accept \n and \t escapes.
  std::string unescaped;
  for (size_t k = 0; k < out.size(); ++k) {
    if (out[k] == '\\' && k + 1 < out.size() && (out[k + 1] == 'n' || out[k + 1] == 't')) {
      unescaped += out[k + 1] == 'n' ? '\n' : '\t';
      ++k;
    } else {
      unescaped += out[k];
    }
  }
  return unescaped;
}

std::string HumanAge(const std::string& rfc3339) {
  auto t = ParseRfc3339(rfc3339);
  if (!t) return "<unknown>";
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *t).count();
  if (secs < 0) secs = 0;
  if (secs < 120) return std::to_string(secs) + "s";
  if (secs < 3600 * 2) return std::to_string(secs / 60) + "m";
  if (secs < 86400 * 2) return std::to_string(secs / 3600) + "h";
  return std::to_string(secs / 86400) + "d";
}

StatusOr<Output> ParseOutput(const std::string& flag) {
  Output o;
  if (flag.empty()) return o;
  if (flag == "wide") o.format = OutputFormat::kWide;
  else if (flag == "yaml") o.format = OutputFormat::kYaml;
  else if (flag == "json") o.format = OutputFormat::kJson;
  else if (flag == "name") o.format = OutputFormat::kName;
  else if (flag.rfind("jsonpath=", 0) == 0) {
    o.format = OutputFormat::kJsonPath;
    o.jsonpath = flag.substr(9);
  } else {
    return InvalidError("unknown output format \"" + flag +
                        "\": expected one of wide, yaml, json, name, jsonpath=TEMPLATE");
  }
  return o;
}

std::string QualifiedName(const KindInfo& kind, const std::string& name) {
  return kind.singular + "." + kind.group + "/" + name;
}

StatusOr<std::string> PrintObjects(const KindInfo& kind, const std::vector<ObjectPtr>& objects,
                                   const Output& out, bool all_namespaces, bool as_list,
                                   bool headers) {
  auto list_json = [&] {
    Json items = Json::array();
    for (const auto& o : objects) items.push_back(ObjectToJson(*o));
    return Json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}, {"metadata", {{"resourceVersion", ""}}}};
  };
  bool single = objects.size() == 1 && !as_list;
  switch (out.format) {
    case OutputFormat::kYaml:
      return EmitYaml(single ? ObjectToJson(*objects[0]) : list_json());
    case OutputFormat::kJson:
      return (single ? ObjectToJson(*objects[0]) : list_json()).dump(4) + "\n";
    case OutputFormat::kName: {
      std::string s;
      for (const auto& o : objects) s += QualifiedName(kind, o->metadata.name) + "\n";
      return s;
    }
    case OutputFormat::kJsonPath:
      return RenderJsonPathTemplate(single ? ObjectToJson(*objects[0]) : list_json(), out.jsonpath);
    default:
      break;
  }
  // A table from the CRD's printer columns (priority 0; all with -o wide).
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> head;
  if (all_namespaces && kind.namespaced) head.push_back("NAMESPACE");
  head.push_back("NAME");
  std::vector<const PrinterColumn*> cols;
  for (const auto& c : kind.columns) {
    if (c.priority == 0 || out.format == OutputFormat::kWide) cols.push_back(&c);
  }
  for (const auto* c : cols) {
    std::string h = c->name;
    std::transform(h.begin(), h.end(), h.begin(), ::toupper);
    head.push_back(h);
  }
  bool has_age = std::any_of(cols.begin(), cols.end(), [](const PrinterColumn* c) { return c->type == "date"; });
  if (!has_age) head.push_back("AGE");
  rows.push_back(head);
  for (const auto& o : objects) {
    Json j = ObjectToJson(*o);
    std::vector<std::string> row;
    if (all_namespaces && kind.namespaced) row.push_back(o->metadata.namespace_);
    row.push_back(o->metadata.name);
    for (const auto* c : cols) {
      auto v = JsonPathValues(j, c->json_path);
      std::string cell = v.empty() ? "<none>" : v[0];
      if (c->type == "date" && !v.empty()) cell = HumanAge(v[0]);
      row.push_back(cell);
    }
    if (!has_age) row.push_back(HumanAge(o->metadata.creation_timestamp));
    rows.push_back(row);
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string s;
  for (size_t r = headers ? 0 : 1; r < rows.size(); ++r) {
    for (size_t i = 0; i < rows[r].size(); ++i) {
      s += rows[r][i];
      if (i + 1 < rows[r].size()) s += std::string(width[i] - rows[r][i].size() + 3, ' ');
    }
    s += "\n";
  }
  return s;
}

}  // namespace visi
