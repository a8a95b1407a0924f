#include "controller/cli/commands.h"

#include <algorithm>
#include <iostream>
#include <set>
#include <thread>

#include "controller/api/manifest_files.h"
#include "controller/api/yaml_codec.h"
#include "controller/cli/printers.h"
#include "controller/store/apply.h"

namespace visi {
namespace {

using SteadyClock = std::chrono::steady_clock;

int Fail(CliContext& c, const std::string& msg) {
  *c.err << "error: " << msg << "\n";
  return 1;
}

int FailStatus(CliContext& c, const Status& s, bool local = false) {
  *c.err << (local ? "error (" : "Error from server (") << CodeReason(s.code()) << "): " << s.message() << "\n";
  for (const auto& cause : s.causes()) *c.err << "  " << cause.field << ": " << cause.message << "\n";
  return 1;
}

// Resolves "KIND", "KIND NAME...", "KIND/NAME ..." into a kind and names.
StatusOr<std::pair<const KindInfo*, std::vector<std::string>>> Resolve(CliContext& c,
                                                                       const std::vector<std::string>& args) {
  if (args.empty()) return InvalidError("you must specify the type of resource, e.g. visisessions");
  const KindInfo* kind = nullptr;
  std::vector<std::string> names;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto slash = a.find('/');
    if (slash != std::string::npos) {
      const KindInfo* k = c.scheme->Resolve(a.substr(0, slash));
      if (!k) return InvalidError("the server doesn't have a resource type \"" + a.substr(0, slash) + "\"");
      if (kind && kind != k) return InvalidError("all arguments must be of one kind");
      kind = k;
      names.push_back(a.substr(slash + 1));
    } else if (i == 0) {
      kind = c.scheme->Resolve(a);
      if (!kind) return InvalidError("the server doesn't have a resource type \"" + a + "\"");
    } else {
      names.push_back(a);
    }
  }
  return std::make_pair(kind, names);
}

std::string Ns(const CliContext& c, const KindInfo& k) { return k.namespaced ? c.namespace_ : ""; }

// Objects of `kind` in the context's namespace (or all, with -A) that match.
StatusOr<ListResult> ListSelected(CliContext& c, const KindInfo& kind, const LabelSelector& labels) {
  ListOptions opts;
  opts.kind = kind.kind;
  opts.namespace_ = c.all_namespaces ? "" : Ns(c, kind);
  opts.labels = labels;
  return c.store->List(opts);
}

}  // namespace

int RunApply(CliContext& c, const std::vector<std::string>& paths, bool recursive) {
  if (paths.empty()) return Fail(c, "must specify -f FILE or directory");
  int rc = 0;
  for (const auto& path : paths) {
    auto files = ManifestFiles(path, recursive);
    if (!files.ok()) {
      rc = Fail(c, files.status().message());
      continue;
    }
    for (const auto& file : *files) {
      auto objs = ReadManifestFile(file);
      if (!objs.ok()) {
        rc = FailStatus(c, objs.status(), /*local=*/true);
        continue;
      }
      for (auto& m : *objs) {
        Object o = m.object;
        const KindInfo* k = c.scheme->ByKind(o.kind);
        if (!k) {
          rc = FailStatus(c, m.Locate(InvalidError("unknown kind \"" + o.kind + "\"")));
          continue;
        }
        if (k->namespaced && o.metadata.namespace_.empty()) o.metadata.namespace_ = c.namespace_;
        // Validate locally first, so errors point into the file.
        Object probe = o;
        if (Status s = c.scheme->ValidateAndDefault(&probe); !s.ok()) {
          rc = FailStatus(c, m.Locate(s), /*local=*/true);
          continue;
        }
        auto r = ApplyObject(*c.store, o);
        if (!r.ok()) {
          rc = FailStatus(c, m.Locate(r.status()));
          continue;
        }
        *c.out << QualifiedName(*k, o.metadata.name) << " " << ApplyResultName(*r) << "\n";
      }
    }
  }
  return rc;
}

int RunGet(CliContext& c, const std::vector<std::string>& args, const std::string& selector,
           const std::string& output, bool watch) {
  auto resolved = Resolve(c, args);
  if (!resolved.ok()) return Fail(c, resolved.status().message());
  auto [kind, names] = *resolved;
  auto out = ParseOutput(output);
  if (!out.ok()) return Fail(c, out.status().message());
  auto labels = LabelSelector::Parse(selector);
  if (!labels.ok()) return Fail(c, labels.status().message());
  std::vector<ObjectPtr> objects;
  uint64_t rv = 0;
  if (!names.empty()) {
    for (const auto& n : names) {
      auto o = c.store->Get(kind->kind, Ns(c, *kind), n);
      if (!o.ok()) return FailStatus(c, o.status());
      objects.push_back(*o);
      rv = std::max(rv, (*o)->metadata.resource_version);
    }
  } else {
    auto list = ListSelected(c, *kind, *labels);
    if (!list.ok()) return FailStatus(c, list.status());
    objects = list->items;
    rv = list->resource_version;
  }
  bool all_ns = c.all_namespaces && names.empty();
  if (objects.empty() && !watch) {
    if (out->format == OutputFormat::kTable || out->format == OutputFormat::kWide) {
      *c.err << "No resources found" << (kind->namespaced && !all_ns ? " in " + c.namespace_ + " namespace" : "")
             << ".\n";
      return 0;
    }
  }
  if (!objects.empty() || (out->format != OutputFormat::kTable && out->format != OutputFormat::kWide)) {
    auto text = PrintObjects(*kind, objects, *out, all_ns, /*as_list=*/names.empty());
    if (!text.ok()) return Fail(c, text.status().message());
    *c.out << *text << std::flush;
  }
  if (!watch) return 0;
  WatchOptions w;
  w.kind = kind->kind;
  w.namespace_ = c.all_namespaces ? "" : Ns(c, *kind);
  w.labels = *labels;
  w.resource_version = rv;
  if (names.size() == 1) w.fields = *FieldSelector::Parse("metadata.name=" + names[0]);
  auto watcher = c.store->Watch(w);
  if (!watcher.ok()) return FailStatus(c, watcher.status());
  bool headers = objects.empty();
  while (true) {
    auto e = (*watcher)->Next(std::chrono::hours(24));
    if (!e) continue;
    if (e->type == EventType::kBookmark) continue;
    if (e->type == EventType::kError) return e->error.code() == Code::kGone ? 0 : FailStatus(c, e->error);
    auto text = PrintObjects(*kind, {e->object}, *out, all_ns, /*as_list=*/false, headers);
    headers = false;
    if (text.ok()) *c.out << *text << std::flush;
  }
}

int RunDescribe(CliContext& c, const std::vector<std::string>& args) {
  auto resolved = Resolve(c, args);
  if (!resolved.ok()) return Fail(c, resolved.status().message());
  auto [kind, names] = *resolved;
  std::vector<ObjectPtr> objects;
  if (names.empty()) {
    ListOptions opts;
    opts.kind = kind->kind;
    opts.namespace_ = Ns(c, *kind);
    auto list = c.store->List(opts);
    if (!list.ok()) return FailStatus(c, list.status());
    objects = list->items;
  }
  for (const auto& n : names) {
    auto o = c.store->Get(kind->kind, Ns(c, *kind), n);
    if (!o.ok()) return FailStatus(c, o.status());
    objects.push_back(*o);
  }
  auto indent = [](const std::string& text, const std::string& pad) {
    std::string s;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      s += pad + text.substr(start, end - start) + "\n";
      start = end + 1;
    }
    return s;
  };
  for (size_t i = 0; i < objects.size(); ++i) {
    const Object& o = *objects[i];
    std::ostream& out = *c.out;
    if (i) out << "\n\n";
    out << "Name:         " << o.metadata.name << "\n";
    if (kind->namespaced) out << "Namespace:    " << o.metadata.namespace_ << "\n";
    out << "Labels:       ";
    if (o.metadata.labels.empty()) out << "<none>\n";
    for (auto it = o.metadata.labels.begin(); it != o.metadata.labels.end(); ++it) {
      out << (it == o.metadata.labels.begin() ? "" : "              ") << it->first << "=" << it->second << "\n";
    }
    out << "Annotations:  ";
    if (o.metadata.annotations.empty()) out << "<none>\n";
    for (auto it = o.metadata.annotations.begin(); it != o.metadata.annotations.end(); ++it) {
      out << (it == o.metadata.annotations.begin() ? "" : "              ") << it->first << ": "
          << it->second.substr(0, 200) << "\n";
    }
    out << "API Version:  " << o.api_version << "\nKind:         " << o.kind << "\n";
    out << "Metadata:\n  Creation Timestamp:  " << o.metadata.creation_timestamp << "\n"
        << "  Generation:          " << o.metadata.generation << "\n"
        << "  Resource Version:    " << o.metadata.resource_version << "\n"
        << "  UID:                 " << o.metadata.uid << "\n";
    if (o.metadata.deletion_timestamp) out << "  Deletion Timestamp:  " << *o.metadata.deletion_timestamp << "\n";
    if (!o.metadata.finalizers.empty()) {
      out << "  Finalizers:\n";
      for (const auto& f : o.metadata.finalizers) out << "    " << f << "\n";
    }
    for (const auto& r : o.metadata.owner_references) {
      out << "  Owner:               " << r.kind << "/" << r.name << (r.controller ? " (controller)" : "") << "\n";
    }
    if (!o.spec.is_null()) out << "Spec:\n" << indent(EmitYaml(o.spec), "  ");
    if (o.status.is_object()) {
      Json rest = o.status;
      Json conditions = rest.contains("conditions") ? rest["conditions"] : Json::array();
      rest.erase("conditions");
      out << "Status:\n";
      if (!rest.empty()) out << indent(EmitYaml(rest), "  ");
      if (!conditions.empty()) {
        out << "  Conditions:\n    Type              Status   Reason                  Age    Message\n";
        for (const auto& cond : conditions) {
          char line[512];
          std::snprintf(line, sizeof line, "    %-17s %-8s %-23s %-6s %s\n", cond.value("type", "").c_str(),
                        cond.value("status", "").c_str(), cond.value("reason", "").c_str(),
                        HumanAge(cond.value("lastTransitionTime", "")).c_str(),
                        cond.value("message", "").substr(0, 200).c_str());
          out << line;
        }
      }
    }
    // Recent events about the object.
    out << "Events:";
    ListOptions ev;
    ev.kind = "Event";
    ev.namespace_ = o.metadata.namespace_.empty() ? "default" : o.metadata.namespace_;
    auto events = c.store->List(ev);
    std::vector<ObjectPtr> mine;
    if (events.ok()) {
      for (const auto& e : events->items) {
        const Json& io = e->spec.value("involvedObject", Json::object());
        // An event of an earlier object of the same name is not this one's.
        std::string uid = io.value("uid", "");
        if (io.value("kind", "") == o.kind && io.value("name", "") == o.metadata.name &&
            (uid.empty() || uid == o.metadata.uid)) {
          mine.push_back(e);
        }
      }
    }
    // Oldest first, as kubectl shows them; the newest are the last lines.
    auto last_seen = [](const ObjectPtr& e) { return e->spec.value("lastTimestamp", e->metadata.creation_timestamp); };
    std::stable_sort(mine.begin(), mine.end(),
                     [&](const ObjectPtr& a, const ObjectPtr& b) { return last_seen(a) < last_seen(b); });
    if (mine.empty()) {
      out << "  <none>\n";
    } else {
      out << "\n  Type     Reason            Age              Message\n";
      for (const auto& e : mine) {
        std::string age = HumanAge(last_seen(e));
        int64_t count = e->spec.value("count", int64_t{1});
        if (count > 1) {
          age += " (x" + std::to_string(count) + " over " +
                 HumanAge(e->spec.value("firstTimestamp", e->metadata.creation_timestamp)) + ")";
        }
        char line[512];
        std::snprintf(line, sizeof line, "  %-8s %-17s %-16s %s\n", e->spec.value("type", "Normal").c_str(),
                      e->spec.value("reason", "").c_str(), age.c_str(),
                      e->spec.value("message", "").substr(0, 300).c_str());
        out << line;
      }
    }
  }
  return 0;
}

namespace {

// Waits until `key` is gone or `deadline` passes.
bool WaitGone(CliContext& c, const KindInfo& kind, const std::string& name, SteadyClock::time_point deadline) {
  while (SteadyClock::now() < deadline) {
    auto o = c.store->Get(kind.kind, Ns(c, kind), name);
    if (!o.ok() && o.status().code() == Code::kNotFound) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

}  // namespace

int RunDelete(CliContext& c, const std::vector<std::string>& args, const std::vector<std::string>& files,
              const std::string& selector, bool wait, std::chrono::seconds timeout) {
  std::vector<std::pair<const KindInfo*, std::pair<std::string, std::string>>> targets;  // kind, ns, name
  for (const auto& path : files) {
    auto list = ManifestFiles(path, false);
    if (!list.ok()) return Fail(c, list.status().message());
    for (const auto& f : *list) {
      auto objs = ReadManifestFile(f);
      if (!objs.ok()) return FailStatus(c, objs.status());
      for (const auto& m : *objs) {
        const KindInfo* k = c.scheme->ByKind(m.object.kind);
        if (!k) return Fail(c, "unknown kind \"" + m.object.kind + "\" in " + f);
        std::string ns = k->namespaced ? (m.object.metadata.namespace_.empty() ? c.namespace_ : m.object.metadata.namespace_) : "";
        targets.push_back({k, {ns, m.object.metadata.name}});
      }
    }
  }
  if (!args.empty()) {
    auto resolved = Resolve(c, args);
    if (!resolved.ok()) return Fail(c, resolved.status().message());
    auto [kind, names] = *resolved;
    if (names.empty() && selector.empty()) {
      return Fail(c, "resource(s) were provided, but no name was specified (give names, -l SELECTOR or -f FILE)");
    }
    for (const auto& n : names) targets.push_back({kind, {Ns(c, *kind), n}});
    if (!selector.empty()) {
      auto labels = LabelSelector::Parse(selector);
      if (!labels.ok()) return Fail(c, labels.status().message());
      auto list = ListSelected(c, *kind, *labels);
      if (!list.ok()) return FailStatus(c, list.status());
      for (const auto& o : list->items) targets.push_back({kind, {o->metadata.namespace_, o->metadata.name}});
      if (list->items.empty()) *c.err << "No resources found\n";
    }
  } else if (files.empty()) {
    return Fail(c, "you must specify the type of resource to delete, or -f FILE");
  }
  int rc = 0;
  auto deadline = SteadyClock::now() + timeout;
  for (const auto& [kind, where] : targets) {
    auto d = c.store->Delete(kind->kind, where.first, where.second);
    if (!d.ok()) {
      rc = FailStatus(c, d.status());
      continue;
    }
    *c.out << kind->singular << "." << kind->group << " \"" << where.second << "\" deleted\n" << std::flush;
    if (wait) {
      CliContext scoped = c;
      scoped.namespace_ = where.first;
      if (!WaitGone(scoped, *kind, where.second, deadline)) {
        rc = Fail(c, "timed out waiting for " + kind->singular + "/" + where.second +
                         " to be deleted (finalizers: see visictl describe)");
      }
    }
  }
  return rc;
}

int RunWait(CliContext& c, const std::vector<std::string>& args, const std::string& for_spec,
            std::chrono::seconds timeout) {
  auto resolved = Resolve(c, args);
  if (!resolved.ok()) return Fail(c, resolved.status().message());
  auto [kind, names] = *resolved;
  if (names.empty()) return Fail(c, "wait needs a name: KIND/NAME or KIND NAME");
  // Parse --for.
  enum { kCondition, kDelete, kJsonPath } mode;
  std::string cond_type, want = "true", path;
  if (for_spec == "delete") {
    mode = kDelete;
  } else if (for_spec.rfind("condition=", 0) == 0) {
    mode = kCondition;
    cond_type = for_spec.substr(10);
    if (auto eq = cond_type.find('='); eq != std::string::npos) {
      want = cond_type.substr(eq + 1);
      cond_type.resize(eq);
    }
    std::transform(want.begin(), want.end(), want.begin(), ::tolower);
    if (cond_type.empty() || (want != "true" && want != "false" && want != "unknown")) {
      return Fail(c, "--for=condition=TYPE[=true|false]: got \"" + for_spec + "\"");
    }
  } else if (for_spec.rfind("jsonpath=", 0) == 0) {
    mode = kJsonPath;
    std::string rest = for_spec.substr(9);
    auto close = rest.find('}');
    if (rest.empty() || rest[0] != '{' || close == std::string::npos || close + 1 >= rest.size() ||
        rest[close + 1] != '=') {
      return Fail(c, "--for=jsonpath={PATH}=VALUE: got \"" + for_spec + "\"");
    }
    path = rest.substr(1, close - 1);
    want = rest.substr(close + 2);
  } else {
    return Fail(c, "--for must be condition=TYPE[=VALUE], delete, or jsonpath={PATH}=VALUE; got \"" + for_spec + "\"");
  }
  auto start = SteadyClock::now();
  auto deadline = start + timeout;
  int rc = 0;
  for (const auto& name : names) {
    std::string ref = kind->singular + "/" + name;
    auto last_progress = SteadyClock::now();
    std::string now_state = "not found yet";
    bool met = false;
    while (SteadyClock::now() < deadline) {
      auto o = c.store->Get(kind->kind, Ns(c, *kind), name);
      if (mode == kDelete) {
        if (!o.ok() && o.status().code() == Code::kNotFound) {
          met = true;
          break;
        }
        now_state = "still exists";
      } else if (o.ok()) {
        Json j = ObjectToJson(**o);
        if (mode == kJsonPath) {
          auto v = JsonPathValues(j, path);
          now_state = v.empty() ? "<none>" : v[0];
          met = !v.empty() && v[0] == want;
        } else {
          now_state = "condition " + cond_type + " not reported";
          const Json& status = j.contains("status") && j["status"].is_object() ? j["status"] : Json::object();
          const Json conds = status.value("conditions", Json::array());
          for (const auto& cond : conds.is_array() ? conds : Json::array()) {
            if (!cond.is_object()) continue;
            if (cond.value("type", "") != cond_type) continue;
            std::string status = cond.value("status", "");
            std::string lower = status;
            std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
            now_state = cond_type + "=" + status + (cond.contains("reason") ? " (" + cond.value("reason", "") + ")" : "");
            met = lower == want;
          }
        }
        if (met) break;
      } else if (o.status().code() != Code::kNotFound) {
        return FailStatus(c, o.status());
      }
      if (SteadyClock::now() - last_progress >= std::chrono::seconds(2)) {
        auto waited = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - start).count();
        *c.err << "waiting for " << ref << ": " << now_state << " (" << waited << "s of " << timeout.count()
               << "s)\n" << std::flush;
        last_progress = SteadyClock::now();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    if (!met) {
      rc = Fail(c, "timed out waiting for the condition on " + kind->plural + "/" + name + " (last seen: " +
                       now_state + ")");
      continue;
    }
    *c.out << kind->singular << "." << kind->group << "/" << name << " condition met\n";
  }
  return rc;
}

}  // namespace visi
