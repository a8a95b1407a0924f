// visid: the Visi daemon. Today it opens the embedded store, applies the
// manifests it is given and logs every change as a JSON line until stopped;
// the API server and reconcilers attach here as they land.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/yaml_codec.h"
#include "controller/store/apply.h"
#include "controller/store/sqlite/sqlite_store.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void Log(const char* level, const std::string& msg, const visi::Json& fields = visi::Json::object()) {
  visi::Json line = fields;
  line["ts"] = visi::FormatRfc3339(std::chrono::system_clock::now());
  line["level"] = level;
  line["msg"] = msg;
  std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, visi::Json::error_handler_t::replace).c_str());
}

void Usage() {
  std::puts(
      "Usage: visid --data-dir DIR [--apply PATH]... [--once]\n"
      "\n"
      "Runs the Visi control plane on an embedded SQLite store in DIR.\n"
      "\n"
      "  --data-dir DIR   where state lives (created if missing; mode 0700)\n"
      "  --apply PATH     apply a manifest file or every *.yaml/*.yml/*.json in a\n"
      "                   directory (create or update), repeatable\n"
      "  --once           exit after applying instead of running until SIGTERM\n"
      "  -h, --help       this help");
}

std::vector<std::string> ManifestFiles(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  if (fs::is_directory(path)) {
    for (const auto& e : fs::directory_iterator(path)) {
      auto ext = e.path().extension().string();
      if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
        out.push_back(e.path().string());
      }
    }
    std::sort(out.begin(), out.end());
  } else {
    out.push_back(path);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string data_dir;
  std::vector<std::string> apply;
  bool once = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "visid: %s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      Usage();
      return 0;
    } else if (a == "--data-dir") {
      data_dir = value("--data-dir");
    } else if (a == "--apply") {
      apply.push_back(value("--apply"));
    } else if (a == "--once") {
      once = true;
    } else {
      std::fprintf(stderr, "visid: unknown flag %s (see --help)\n", a.c_str());
      return 2;
    }
  }
  if (data_dir.empty()) {
    std::fprintf(stderr, "visid: --data-dir is required (see --help)\n");
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::fprintf(stderr, "visid: cannot create %s: %s\n", data_dir.c_str(), ec.message().c_str());
    return 1;
  }
  ::chmod(data_dir.c_str(), 0700);

  auto store = visi::OpenSqliteStore(data_dir + "/store.db", visi::Scheme::Builtin(),
                                     visi::SystemClock::Default());
  if (!store.ok()) {
    Log("error", "cannot open store", {{"error", store.status().ToString()}});
    return 1;
  }
  Log("info", "store open", {{"path", data_dir + "/store.db"},
                             {"revision", (*store)->CurrentRevision()}});
  int failures = 0;
  for (const auto& path : apply) {
    for (const auto& file : ManifestFiles(path)) {
      std::ifstream in(file, std::ios::binary);
      if (!in) {
        Log("error", "cannot read manifest", {{"file", file}});
        ++failures;
        continue;
      }
      std::stringstream buf;
      buf << in.rdbuf();
      auto objects = visi::DecodeManifest(buf.str(), file);
      if (!objects.ok()) {
        Log("error", "bad manifest", {{"file", file}, {"error", objects.status().ToString()}});
        ++failures;
        continue;
      }
      for (const auto& entry : *objects) {
        const visi::Object& o = entry.object;
        auto r = visi::ApplyObject(**store, o);
        std::string ref = o.kind + "/" + o.metadata.name;
        if (!r.ok()) {
          Log("error", "apply failed", {{"object", ref}, {"namespace", o.metadata.namespace_},
                                        {"error", entry.Locate(r.status()).ToString()}});
          ++failures;
        } else {
          Log("info", std::string("applied: ") + visi::ApplyResultName(*r),
              {{"object", ref}, {"namespace", o.metadata.namespace_}});
        }
      }
    }
  }
  if (once) return failures ? 1 : 0;

  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::vector<std::unique_ptr<visi::Watcher>> watchers;
  uint64_t from = (*store)->CurrentRevision();
  for (const auto& k : visi::Scheme::Builtin()->kinds()) {
    visi::WatchOptions w;
    w.kind = k.kind;
    w.resource_version = from;
    auto watcher = (*store)->Watch(w);
    if (watcher.ok()) watchers.push_back(std::move(*watcher));
  }
  Log("info", "running; stop with SIGTERM", {{"pid", ::getpid()}});
  while (!g_stop) {
    bool idle = true;
    for (auto& w : watchers) {
      while (auto e = w->Next(std::chrono::milliseconds(0))) {
        idle = false;
        if (e->type == visi::EventType::kError) break;
        Log("info", "change", {{"type", visi::EventTypeName(e->type)},
                               {"kind", e->object->kind},
                               {"namespace", e->object->metadata.namespace_},
                               {"name", e->object->metadata.name},
                               {"resourceVersion", e->resource_version}});
      }
    }
    if (idle) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  Log("info", "stopping");
  return 0;
}
