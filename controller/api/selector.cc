#include "controller/api/selector.h"

#include <algorithm>

#include "controller/api/names.h"

namespace visi {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits on commas that are not inside parentheses.
StatusOr<std::vector<std::string_view>> SplitTerms(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || (text[i] == ',' && depth == 0)) {
      out.push_back(Trim(text.substr(start, i - start)));
      start = i + 1;
    } else if (text[i] == '(') {
      if (++depth > 1) return BadRequestError("label selector: nested '(' at offset " + std::to_string(i));
    } else if (text[i] == ')') {
      if (--depth < 0) return BadRequestError("label selector: unbalanced ')' at offset " + std::to_string(i));
    }
  }
  if (depth != 0) return BadRequestError("label selector: unclosed '('");
  return out;
}

Status CheckKey(std::string_view key, std::string_view term) {
  if (std::string err = CheckQualifiedName(key); !err.empty()) {
    return BadRequestError("label selector term \"" + std::string(term) + "\": invalid key: " + err);
  }
  return OkStatus();
}

Status CheckValue(std::string_view value, std::string_view term) {
  if (std::string err = CheckLabelValue(value); !err.empty()) {
    return BadRequestError("label selector term \"" + std::string(term) + "\": invalid value: " + err);
  }
  return OkStatus();
}

}  // namespace

StatusOr<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector sel;
  if (text.size() > 4096) return BadRequestError("label selector longer than 4096 characters");
  if (Trim(text).empty()) return sel;
  VISI_ASSIGN_OR_RETURN(auto terms, SplitTerms(text));
  for (std::string_view term : terms) {
    if (term.empty()) return BadRequestError("label selector: empty term in \"" + std::string(text) + "\"");
    Requirement r;
    if (term.front() == '!') {
      r.key = std::string(Trim(term.substr(1)));
      r.op = Op::kNotExists;
      VISI_RETURN_IF_ERROR(CheckKey(r.key, term));
    } else if (auto p = term.find("!="); p != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, p)));
      r.op = Op::kNotEquals;
      r.values.emplace_back(Trim(term.substr(p + 2)));
    } else if (auto p2 = term.find("=="); p2 != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, p2)));
      r.op = Op::kEquals;
      r.values.emplace_back(Trim(term.substr(p2 + 2)));
    } else if (auto p3 = term.find('='); p3 != std::string_view::npos) {
      r.key = std::string(Trim(term.substr(0, p3)));
      r.op = Op::kEquals;
      r.values.emplace_back(Trim(term.substr(p3 + 1)));
    } else if (auto paren = term.find('('); paren != std::string_view::npos) {
      std::string_view head = Trim(term.substr(0, paren));
      if (term.back() != ')') {
        return BadRequestError("label selector term \"" + std::string(term) + "\": expected ')' at the end");
      }
      auto space = head.find_last_of(" \t");
      if (space == std::string_view::npos) {
        return BadRequestError("label selector term \"" + std::string(term) +
                               "\": expected \"KEY in (...)\" or \"KEY notin (...)\"");
      }
      std::string_view op = head.substr(space + 1);
      r.key = std::string(Trim(head.substr(0, space)));
      if (op == "in") r.op = Op::kIn;
      else if (op == "notin") r.op = Op::kNotIn;
      else return BadRequestError("label selector term \"" + std::string(term) + "\": unknown operator \"" + std::string(op) + "\", expected in or notin");
      std::string_view inner = term.substr(paren + 1, term.size() - paren - 2);
      size_t start = 0;
      for (size_t i = 0; i <= inner.size(); ++i) {
        if (i == inner.size() || inner[i] == ',') {
          r.values.emplace_back(Trim(inner.substr(start, i - start)));
          start = i + 1;
        }
      }
      if (r.values.size() == 1 && r.values[0].empty()) {
        return BadRequestError("label selector term \"" + std::string(term) + "\": needs at least one value");
      }
    } else {
      r.key = std::string(term);
      r.op = Op::kExists;
    }
    VISI_RETURN_IF_ERROR(CheckKey(r.key, term));
    for (const auto& v : r.values) VISI_RETURN_IF_ERROR(CheckValue(v, term));
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& r : reqs_) {
    auto it = labels.find(r.key);
    bool has = it != labels.end();
    auto in_values = [&] {
      return has && std::find(r.values.begin(), r.values.end(), it->second) != r.values.end();
    };
    switch (r.op) {
      case Op::kEquals:
      case Op::kIn:
        if (!in_values()) return false;
        break;
      case Op::kNotEquals:
      case Op::kNotIn:
        if (in_values()) return false;
        break;
      case Op::kExists:
        if (!has) return false;
        break;
      case Op::kNotExists:
        if (has) return false;
        break;
    }
  }
  return true;
}

StatusOr<FieldSelector> FieldSelector::Parse(std::string_view text) {
  FieldSelector sel;
  if (text.size() > 4096) return BadRequestError("field selector longer than 4096 characters");
  if (Trim(text).empty()) return sel;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i != text.size() && text[i] != ',') continue;
    std::string_view term = Trim(text.substr(start, i - start));
    start = i + 1;
    Requirement r;
    size_t op_len = 0;
    size_t p = term.find("!=");
    if (p != std::string_view::npos) {
      r.equals = false;
      op_len = 2;
    } else if ((p = term.find("==")) != std::string_view::npos) {
      r.equals = true;
      op_len = 2;
    } else if ((p = term.find('=')) != std::string_view::npos) {
      r.equals = true;
      op_len = 1;
    } else {
      return BadRequestError("field selector term \"" + std::string(term) +
                             "\": expected FIELD=VALUE, FIELD==VALUE or FIELD!=VALUE");
    }
    r.field = std::string(Trim(term.substr(0, p)));
    r.value = std::string(Trim(term.substr(p + op_len)));
    if (r.field != "metadata.name" && r.field != "metadata.namespace" && r.field != "status.phase") {
      return BadRequestError("field selector: field \"" + r.field +
                             "\" is not supported; supported: metadata.name, metadata.namespace, status.phase");
    }
    sel.reqs_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::Matches(const Object& o) const {
  for (const auto& r : reqs_) {
    std::string actual;
    if (r.field == "metadata.name") {
      actual = o.metadata.name;
    } else if (r.field == "metadata.namespace") {
      actual = o.metadata.namespace_;
    } else if (o.status.is_object()) {
      auto it = o.status.find("phase");
      if (it != o.status.end() && it->is_string()) actual = it->get<std::string>();
    }
    if ((actual == r.value) != r.equals) return false;
  }
  return true;
}

}  // namespace visi
