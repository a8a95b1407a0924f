#include "controller/api/yaml_codec.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <regex>

namespace visi {
namespace {

// YAML 1.2 core schema resolution for plain scalars.
Json ResolvePlain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex int_re("^[-+]?[0-9]+$");
  static const std::regex hex_re("^0x[0-9a-fA-F]+$");
  static const std::regex oct_re("^0o[0-7]+$");
  static const std::regex float_re(
      "^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
  if (s.size() > 64) return s;  // no number is that long; skip the regexes
  try {
    if (std::regex_match(s, int_re)) {
      size_t used = 0;
      long long v = std::stoll(s, &used, 10);
      if (used == s.size()) return v;
      return s;
    }
    if (std::regex_match(s, hex_re)) return static_cast<long long>(std::stoull(s.substr(2), nullptr, 16));
    if (std::regex_match(s, oct_re)) return static_cast<long long>(std::stoull(s.substr(2), nullptr, 8));
    if (std::regex_match(s, float_re)) return std::stod(s);
  } catch (const std::out_of_range&) {
    return s;  // an integer too large for int64 stays a string
  }
  if (s == ".inf" || s == ".Inf" || s == "+.inf") return s;  // JSON has no infinity
  return s;
}

class Converter {
 public:
  Converter(const YamlLimits& limits, Document* doc) : limits_(limits), doc_(doc) {}

  Status Convert(const YAML::Node& n, const std::string& path, int depth, Json* out) {
    if (++nodes_ > limits_.max_nodes) {
      return BadRequestError(Where(n) + ": document expands to more than " +
                             std::to_string(limits_.max_nodes) +
                             " nodes (alias expansion or a very large document)");
    }
    if (depth > limits_.max_depth) {
      return BadRequestError(Where(n) + ": nesting deeper than " + std::to_string(limits_.max_depth) +
                             " levels");
    }
    if (!path.empty() && !doc_->lines.count(path)) doc_->lines[path] = n.Mark().line + 1;
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = nullptr;
        return OkStatus();
      case YAML::NodeType::Scalar: {
        const std::string& s = n.Scalar();
        // yaml-cpp tags quoted scalars "!" and plain ones "?".
        if (n.Tag() == "!" || n.Tag() == "tag:yaml.org,2002:str" || n.Tag() == "!!str") {
          *out = s;
        } else {
          *out = ResolvePlain(s);
        }
        return OkStatus();
      }
      case YAML::NodeType::Sequence: {
        *out = Json::array();
        size_t i = 0;
        for (const auto& item : n) {
          Json v;
          VISI_RETURN_IF_ERROR(Convert(item, path + "[" + std::to_string(i++) + "]", depth + 1, &v));
          out->push_back(std::move(v));
        }
        return OkStatus();
      }
      case YAML::NodeType::Map: {
        *out = Json::object();
        for (const auto& kv : n) {
          if (!kv.first.IsScalar()) {
            return BadRequestError(Where(kv.first) + ": mapping keys must be scalars");
          }
          const std::string& key = kv.first.Scalar();
          if (out->contains(key)) {
            return BadRequestError(Where(kv.first) + ": duplicate key \"" + key.substr(0, 64) + "\"");
          }
          // Map-valued maps (labels) are addressed as a[key]; plain fields as a.b.
          std::string sub = path.empty() ? key : path + "." + key;
          // A field's line is its key's line.
          doc_->lines.emplace(sub, kv.first.Mark().line + 1);
          doc_->lines.emplace(path + "[" + key + "]", kv.first.Mark().line + 1);
          Json v;
          VISI_RETURN_IF_ERROR(Convert(kv.second, sub, depth + 1, &v));
          (*out)[key] = std::move(v);
        }
        return OkStatus();
      }
    }
    return OkStatus();
  }

 private:
  std::string Where(const YAML::Node& n) const {
    return doc_->file + ":" + std::to_string(n.Mark().line + 1);
  }
  const YamlLimits& limits_;
  Document* doc_;
  size_t nodes_ = 0;
};

}  // namespace

std::string Document::Where(const std::string& field_path) const {
  std::string p = field_path;
  while (!p.empty()) {
    if (auto it = lines.find(p); it != lines.end()) return file + ":" + std::to_string(it->second);
    size_t cut = p.find_last_of(".[");
    if (cut == std::string::npos) break;
    p.resize(cut);
  }
  return file + ":" + std::to_string(line);
}

StatusOr<std::vector<Document>> ParseYamlDocuments(std::string_view text, const std::string& file,
                                                   const YamlLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return TooLargeError(file + ": " + std::to_string(text.size()) + " bytes, limit is " +
                         std::to_string(limits.max_bytes));
  }
  std::vector<Document> docs;
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    for (const auto& n : nodes) {
      if (n.IsNull() || !n.IsDefined()) continue;
      Document d;
      d.file = file;
      d.line = n.Mark().line + 1;
      Converter conv(limits, &d);
      VISI_RETURN_IF_ERROR(conv.Convert(n, "", 0, &d.value));
      docs.push_back(std::move(d));
    }
  } catch (const YAML::DeepRecursion& e) {
    return BadRequestError(file + ":" + std::to_string(e.mark.line + 1) + ": nesting too deep");
  } catch (const YAML::Exception& e) {
    return BadRequestError(file + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": malformed YAML: " + e.msg);
  } catch (const std::exception& e) {
    return BadRequestError(file + ": malformed YAML: " + e.what());
  }
  return docs;
}

Status LocateCauses(const Status& s, const Document& doc) {
  if (s.ok()) return s;
  std::vector<FieldCause> causes;
  for (const auto& c : s.causes()) causes.push_back({doc.Where(c.field) + ": " + c.field, c.message});
  return Status(s.code(), doc.Where("") + ": " + s.message(), std::move(causes));
}

StatusOr<std::vector<Object>> DecodeManifest(std::string_view text, const std::string& file) {
  VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, file));
  std::vector<Object> out;
  for (const auto& d : docs) {
    // A List (kind: List, or FooList) holds its objects under items.
    if (d.value.is_object() && d.value.contains("items") && d.value.value("kind", "").ends_with("List")) {
      const Json& items = d.value["items"];
      if (!items.is_array()) return InvalidError(d.Where("items") + ": items must be a list");
      for (size_t i = 0; i < items.size(); ++i) {
        auto o = ObjectFromJson(items[i]);
        if (!o.ok()) return LocateCauses(o.status(), d);
        out.push_back(std::move(*o));
      }
      continue;
    }
    auto o = ObjectFromJson(d.value);
    if (!o.ok()) return LocateCauses(o.status(), d);
    out.push_back(std::move(*o));
  }
  return out;
}

namespace {

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  Json resolved = ResolvePlain(s);
  if (!resolved.is_string()) return true;
  return false;
}

void Emit(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::null: out << YAML::Null; break;
    case Json::value_t::boolean: out << v.get<bool>(); break;
    case Json::value_t::number_integer: out << v.get<int64_t>(); break;
    case Json::value_t::number_unsigned: out << v.get<uint64_t>(); break;
    case Json::value_t::number_float: out << YAML::Precision(17) << v.get<double>(); break;
    case Json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case Json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        break;
      }
      out << YAML::BeginSeq;
      for (const auto& e : v) Emit(out, e);
      out << YAML::EndSeq;
      break;
    case Json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        break;
      }
      out << YAML::BeginMap;
      for (auto& [k, e] : v.items()) {
        out << YAML::Key;
        if (NeedsQuotes(k)) out << YAML::DoubleQuoted;
        out << k << YAML::Value;
        Emit(out, e);
      }
      out << YAML::EndMap;
      break;
    default: out << YAML::Null; break;
  }
}

}  // namespace

std::string EmitYaml(const Json& value) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, value);
  std::string s = out.c_str();
  if (!s.empty() && s.back() != '\n') s += '\n';
  return s;
}

}  // namespace visi
