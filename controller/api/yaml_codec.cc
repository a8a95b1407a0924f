#include "controller/api/yaml_codec.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <sstream>
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

// Builds JSON straight from the parser's events, so that every limit is
// enforced while parsing: node count (aliases count what they expand to),
// depth and number of documents. yaml-cpp's own LoadAll offers none of these
// and can loop forever on some malformed input.
class JsonBuilder final : public YAML::EventHandler {
 public:
  struct Abort {
    Status status;
  };

  JsonBuilder(const YamlLimits& limits, const std::string& file, std::vector<Document>* docs)
      : limits_(limits), file_(file), docs_(docs) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (docs_->size() >= kMaxDocuments) {
      Fail(mark, "more than " + std::to_string(kMaxDocuments) + " documents");
    }
    doc_ = Document();
    doc_.file = file_;
    doc_.line = mark.line + 1;
    nodes_ = 0;
    bytes_ = 0;
    anchors_.clear();
    has_root_ = false;
  }

  void OnDocumentEnd() override {
    if (has_root_ && !doc_.value.is_null()) docs_->push_back(std::move(doc_));
  }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (ExpectingKey()) Fail(mark, "mapping keys must be strings, got null");
    Add(mark, nullptr, 1, anchor);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) Fail(mark, "alias to an anchor that is not complete");
    if (ExpectingKey()) Fail(mark, "mapping keys must not be aliases");
    Charge(mark, it->second.bytes);
    Add(mark, it->second.value, it->second.nodes, 0);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    if (ExpectingKey()) {
      Frame& f = stack_.back();
      if (value.size() > limits_.max_key_bytes) {
        Fail(mark, "a mapping key longer than " + std::to_string(limits_.max_key_bytes) + " bytes");
      }
      if (f.value.contains(value)) Fail(mark, "duplicate key \"" + value.substr(0, 64) + "\"");
      f.key = value;
      f.has_key = true;
      std::string sub = f.path.empty() ? value : f.path + "." + value;
      Charge(mark, value.size() + sub.size() * 2 + 2);
      doc_.lines.emplace(sub, mark.line + 1);  // a field's line is its key's line
      doc_.lines.emplace(f.path + "[" + value + "]", mark.line + 1);
      return;
    }
    Charge(mark, value.size());
    // Quoted scalars carry the tag "!", plain ones "?"; explicit !!str too.
    bool is_string = tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "!!str";
    Add(mark, is_string ? Json(value) : ResolvePlain(value), 1, anchor);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(mark, Json::array(), anchor);
  }
  void OnSequenceEnd() override { Close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(mark, Json::object(), anchor);
  }
  void OnMapEnd() override { Close(); }

  static constexpr size_t kMaxDocuments = 1000;

 private:
  struct Frame {
    Json value;
    std::string path;
    YAML::anchor_t anchor = 0;
    size_t start_nodes = 0;
    size_t start_bytes = 0;
    std::string key;
    bool has_key = false;
  };
  struct Anchored {
    Json value;
    size_t nodes = 0;
    size_t bytes = 0;
  };

  [[noreturn]] void Fail(const YAML::Mark& mark, const std::string& msg) {
    throw Abort{BadRequestError(file_ + ":" + std::to_string(mark.line + 1) + ": " + msg)};
  }

  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().has_key;
  }

  // The path of the next value in the current container.
  std::string ChildPath() const {
    if (stack_.empty()) return "";
    const Frame& f = stack_.back();
    if (f.value.is_array()) return f.path + "[" + std::to_string(f.value.size()) + "]";
    return f.path.empty() ? f.key : f.path + "." + f.key;
  }

  void Charge(const YAML::Mark& mark, size_t n) {
    bytes_ += n;
    if (bytes_ > limits_.max_expanded_bytes) {
      Fail(mark, "document expands to more than " + std::to_string(limits_.max_expanded_bytes) +
                     " bytes (alias expansion or a very large document)");
    }
  }

  void Count(const YAML::Mark& mark, size_t n) {
    nodes_ += n;
    if (nodes_ > limits_.max_nodes) {
      Fail(mark, "document expands to more than " + std::to_string(limits_.max_nodes) +
                     " nodes (alias expansion or a very large document)");
    }
  }

  void Open(const YAML::Mark& mark, Json value, YAML::anchor_t anchor) {
    if (ExpectingKey()) Fail(mark, "mapping keys must be scalars");
    if (static_cast<int>(stack_.size()) >= limits_.max_depth) {
      Fail(mark, "nesting deeper than " + std::to_string(limits_.max_depth) + " levels");
    }
    Count(mark, 1);
    std::string path = ChildPath();
    Charge(mark, path.size());
    if (!path.empty()) doc_.lines.emplace(path, mark.line + 1);
    stack_.push_back({std::move(value), std::move(path), anchor, nodes_ - 1, bytes_, "", false});
  }

  void Close() {
    Frame f = std::move(stack_.back());
    stack_.pop_back();
    size_t count = nodes_ - f.start_nodes;
    if (f.anchor) anchors_[f.anchor] = {f.value, count, bytes_ - f.start_bytes};
    Place(std::move(f.value));
  }

  void Add(const YAML::Mark& mark, Json value, size_t count, YAML::anchor_t anchor) {
    Count(mark, count);
    std::string path = ChildPath();
    Charge(mark, path.size());
    if (!path.empty()) doc_.lines.emplace(path, mark.line + 1);
    if (anchor) anchors_[anchor] = {value, count, value.is_string() ? value.get_ref<const std::string&>().size() : 8};
    Place(std::move(value));
  }

  void Place(Json value) {
    if (stack_.empty()) {
      doc_.value = std::move(value);
      has_root_ = true;
      return;
    }
    Frame& f = stack_.back();
    if (f.value.is_array()) {
      f.value.push_back(std::move(value));
    } else {
      f.value[f.key] = std::move(value);
      f.has_key = false;
    }
  }

  const YamlLimits& limits_;
  const std::string& file_;
  std::vector<Document>* docs_;
  Document doc_;
  bool has_root_ = false;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, Anchored> anchors_;
  size_t nodes_ = 0;
  size_t bytes_ = 0;
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
    std::string copy(text);
    std::istringstream in(copy);
    YAML::Parser parser(in);
    JsonBuilder builder(limits, file, &docs);
    // Bounded: on some malformed input yaml-cpp reports documents forever.
    size_t rounds = 0;
    while (parser.HandleNextDocument(builder)) {
      if (++rounds > JsonBuilder::kMaxDocuments) {
        return BadRequestError(file + ": more than " + std::to_string(JsonBuilder::kMaxDocuments) +
                               " documents, or malformed YAML the parser cannot get past");
      }
    }
  } catch (const JsonBuilder::Abort& a) {
    return a.status;
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

Status LocateCauses(const Status& s, const Document& doc, const std::string& prefix) {
  if (s.ok()) return s;
  std::vector<FieldCause> causes;
  for (const auto& c : s.causes()) {
    causes.push_back({doc.Where(prefix + c.field) + ": " + c.field, c.message});
  }
  std::string where = prefix.empty() ? doc.Where("") : doc.Where(prefix.substr(0, prefix.size() - 1));
  return Status(s.code(), where + ": " + s.message(), std::move(causes));
}

Status ManifestObject::Locate(const Status& s) const {
  return doc ? LocateCauses(s, *doc, path_prefix) : s;
}

StatusOr<std::vector<ManifestObject>> DecodeManifest(std::string_view text, const std::string& file) {
  VISI_ASSIGN_OR_RETURN(auto docs, ParseYamlDocuments(text, file));
  std::vector<ManifestObject> out;
  for (auto& parsed : docs) {
    auto d = std::make_shared<const Document>(std::move(parsed));
    const Json& v = d->value;
    // A List (kind: List, or FooList) holds its objects under items.
    if (v.is_object() && v.contains("items") && v.value("kind", "").ends_with("List")) {
      const Json& items = v["items"];
      if (!items.is_array()) return InvalidError(d->Where("items") + ": items must be a list");
      for (size_t i = 0; i < items.size(); ++i) {
        std::string prefix = "items[" + std::to_string(i) + "].";
        auto o = ObjectFromJson(items[i]);
        if (!o.ok()) return LocateCauses(o.status(), *d, prefix);
        out.push_back({std::move(*o), d, prefix});
      }
      continue;
    }
    auto o = ObjectFromJson(v);
    if (!o.ok()) return LocateCauses(o.status(), *d);
    out.push_back({std::move(*o), d, ""});
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
