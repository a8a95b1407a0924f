#include "test/fakes/fake_file_tree.h"

namespace visi::testing {
namespace {

// "/a/b/" -> "/a/b"; "//" -> "/". Empty or relative: empty.
std::string Normalize(const std::string& path) {
  if (path.empty() || path.front() != '/') return "";
  std::string out;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    std::string_view part(path.data() + start, end - start);
    if (part == "..") return "";
    if (!part.empty() && part != ".") out += "/" + std::string(part);
    start = end + 1;
  }
  return out.empty() ? "/" : out;
}

std::string Join(const std::string& dir, const std::string& name) { return dir == "/" ? "/" + name : dir + "/" + name; }

TarEntry Directory() {
  TarEntry e;
  e.type = TarEntry::Type::kDirectory;
  e.mode = 0755;
  return e;
}

}  // namespace

FakeFileTree::FakeFileTree(const std::vector<TarEntry>& rootfs) {
  nodes_["/"] = Directory();
  for (const TarEntry& e : rootfs) {
    std::string path = Normalize("/" + e.name);
    if (!path.empty() && path != "/") Put(path, e);
  }
}

bool FakeFileTree::Exists(const std::string& path) const {
  std::string p = Normalize(path);
  return !p.empty() && nodes_.count(p) > 0;
}

void FakeFileTree::Put(const std::string& path, TarEntry entry) {
  // Parents appear as directories, as tar extraction creates them.
  for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) {
    nodes_.try_emplace(path.substr(0, slash), Directory());
  }
  entry.name.clear();
  nodes_[path] = std::move(entry);
}

StatusOr<std::string> FakeFileTree::Archive(const std::string& path) const {
  const std::string p = Normalize(path);
  auto it = p.empty() ? nodes_.end() : nodes_.find(p);
  if (it == nodes_.end()) return NotFoundError("Could not find the file " + path + " in container");
  const std::string base = p == "/" ? "." : p.substr(p.rfind('/') + 1);
  std::vector<TarEntry> out;
  TarEntry top = it->second;
  top.name = base;
  out.push_back(top);
  if (top.type == TarEntry::Type::kDirectory) {
    const std::string prefix = p == "/" ? "/" : p + "/";
    for (auto child = nodes_.lower_bound(prefix); child != nodes_.end() && child->first.starts_with(prefix); ++child) {
      if (child->first == p) continue;  // "/" is its own prefix
      TarEntry e = child->second;
      e.name = (base == "." ? "" : base + "/") + child->first.substr(prefix.size());
      out.push_back(std::move(e));
    }
  }
  return WriteTar(out);
}

Status FakeFileTree::Extract(const std::string& dir, std::string_view tar) {
  const std::string d = Normalize(dir);
  auto it = d.empty() ? nodes_.end() : nodes_.find(d);
  if (it == nodes_.end()) return NotFoundError("Could not find the file " + dir + " in container");
  if (it->second.type != TarEntry::Type::kDirectory) return InvalidError("extraction point is not a directory");
  auto entries = ReadTar(tar);
  if (!entries.ok()) return InvalidError("Error processing tar file: " + entries.status().message());
  // Check every member before touching the tree, as one failed extraction
  // should not leave half an archive behind.
  std::vector<std::pair<std::string, TarEntry>> staged;
  for (TarEntry& e : *entries) {
    std::string path = Normalize(Join(d, e.name));
    if (path.empty() || (path != d && !path.starts_with(d == "/" ? "/" : d + "/"))) {
      return InvalidError("Error processing tar file: \"" + e.name + "\" is outside of \"" + dir + "\"");
    }
    if (path != d) staged.emplace_back(std::move(path), std::move(e));
  }
  for (auto& [path, e] : staged) Put(path, std::move(e));
  return OkStatus();
}

}  // namespace visi::testing
