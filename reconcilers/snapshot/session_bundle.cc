#include "reconcilers/snapshot/session_bundle.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include "controller/base/failpoint.h"
#include "controller/base/sha256.h"
#include "controller/drivers/docker/tar_archive.h"

namespace visi {
namespace {

constexpr char kManifestName[] = "manifest.json";
constexpr size_t kChunk = size_t{1} << 16;

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

bool IsSha256Hex(const std::string& s) {
  return s.size() == 64 &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// Splits "a/b/c" on '/'; "" gives one empty component.
std::vector<std::string> Components(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find('/', start);
    parts.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

// Relative, no empty, "." or ".." components.
bool IsSafeRelativeName(const std::string& name) {
  if (name.empty() || name.front() == '/') return false;
  for (const std::string& part : Components(name)) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return true;
}

Status CheckStatePath(const std::string& path) {
  if (path.size() < 2 || path.front() != '/' || !IsSafeRelativeName(path.substr(1))) {
    return InvalidError("state path " + Quote(path) + " must be absolute and normalized (no \".\", \"..\", "
                        "empty components or trailing '/') and not \"/\"");
  }
  return OkStatus();
}

std::string ParentOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseOf(const std::string& path) { return path.substr(path.rfind('/') + 1); }

bool IsComponentName(const std::string& c) {
  return !c.empty() && c.size() <= 63 &&
         std::all_of(c.begin(), c.end(), [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'; });
}

// The declared (component, path) pairs -> their container.
using Declared = std::map<std::pair<std::string, std::string>, std::string>;

StatusOr<Declared> CheckTargets(const std::vector<StateTarget>& targets) {
  Declared declared;
  std::set<std::string> components;
  for (const StateTarget& t : targets) {
    if (!IsComponentName(t.component)) {
      return InvalidError("state target component " + Quote(t.component) + " must be 1-63 of [a-z0-9-]");
    }
    if (!components.insert(t.component).second) {
      return InvalidError("state target component " + Quote(t.component) + " is given twice");
    }
    if (t.container.empty()) return InvalidError("state target " + Quote(t.component) + " names no container");
    for (size_t i = 0; i < t.paths.size(); ++i) {
      VISI_RETURN_IF_ERROR(CheckStatePath(t.paths[i]));
      if (!declared.emplace(std::make_pair(t.component, t.paths[i]), t.container).second) {
        return InvalidError("state path " + Quote(t.paths[i]) + " is given twice for " + Quote(t.component));
      }
    }
  }
  return declared;
}

// A Docker archive of `path`: every member is the path's last element or
// below it, so extracting it into the parent directory writes nowhere else.
// Members below a symlink of the same archive are refused as well.
Status CheckStateTar(std::string_view tar, const std::string& path, const std::string& where) {
  auto entries = ReadTarViews(tar);
  if (!entries.ok()) return InvalidError(where + ": not a tar: " + entries.status().message());
  const std::string base = BaseOf(path);
  if (entries->empty()) return InvalidError(where + ": the archive of " + Quote(path) + " is empty");
  std::vector<std::string> symlinks;
  for (const TarEntryView& e : *entries) {
    const bool inside = e.name == base || e.name.compare(0, base.size() + 1, base + "/") == 0;
    if (!inside || !IsSafeRelativeName(e.name)) {
      return InvalidError(where + ": member " + Quote(e.name) + " lies outside " + Quote(base));
    }
    for (const std::string& link : symlinks) {
      if (e.name.compare(0, link.size() + 1, link + "/") == 0) {
        return InvalidError(where + ": member " + Quote(e.name) + " lies below the symlink " + Quote(link));
      }
    }
    if (e.type == TarEntry::Type::kSymlink) symlinks.push_back(e.name);
  }
  return OkStatus();
}

StatusOr<std::string> Gzip(std::string_view data) {
  z_stream z{};
  // 15 + 16: a gzip wrapper with a zeroed header (no name, no time).
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    return InternalError("zlib: deflateInit2 failed");
  }
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, deflateEnd);
  std::string out;
  out.reserve(deflateBound(&z, static_cast<uLong>(data.size())));  // pages are touched only as written
  char buf[kChunk];
  size_t offset = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    const size_t n = std::min<size_t>(data.size() - offset, kChunk);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    z.avail_in = static_cast<uInt>(n);
    const int flush = offset + n == data.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      rc = deflate(&z, flush);
      if (rc == Z_STREAM_ERROR) return InternalError("zlib: deflate failed");
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
    offset += n;
  }
  return out;
}

// The unpacked size a gzip stream claims in its trailer (ISIZE, the size
// modulo 2^32), capped at `limit` + 1; only a hint for reserving memory.
size_t ClaimedSize(std::string_view data, int64_t limit) {
  if (data.size() < 18 || limit < 0) return 0;  // a 10-byte header and an 8-byte trailer
  const auto* t = reinterpret_cast<const unsigned char*>(data.data() + data.size() - 4);
  const uint32_t isize = uint32_t{t[0]} | uint32_t{t[1]} << 8 | uint32_t{t[2]} << 16 | uint32_t{t[3]} << 24;
  return static_cast<size_t>(std::min<int64_t>(isize, limit + 1));
}

// One gzip member, nothing after it, at most `limit` bytes unpacked. Inflates
// straight into the result, sized from the trailer and grown if it lied.
StatusOr<std::string> Gunzip(std::string_view data, int64_t limit) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 16) != Z_OK) return InternalError("zlib: inflateInit2 failed");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&z, inflateEnd);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());  // bounded by max_bundle_bytes (< 4 GiB)
  // One byte past the limit is room enough to see the limit exceeded.
  const size_t cap = static_cast<size_t>(std::max<int64_t>(limit, 0)) + 1;
  std::string out(std::max(ClaimedSize(data, limit), std::min(kChunk, cap)), '\0');
  size_t produced = 0;
  while (true) {
    if (produced == out.size()) out.resize(std::min(std::max(out.size() * 2, kChunk), cap));
    z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z.avail_out = static_cast<uInt>(std::min<size_t>(out.size() - produced, UINT32_MAX));
    const int rc = inflate(&z, Z_NO_FLUSH);
    produced = reinterpret_cast<char*>(z.next_out) - out.data();
    if (static_cast<int64_t>(produced) > limit) {
      return InvalidError("session bundle unpacks to more than " + std::to_string(limit) + " bytes");
    }
    if (rc == Z_STREAM_END) break;
    if (rc == Z_BUF_ERROR && z.avail_in == 0) return InvalidError("session bundle: truncated gzip stream");
    if (rc != Z_OK) {
      return InvalidError(std::string("session bundle: not a valid gzip stream: ") + (z.msg ? z.msg : "zlib error"));
    }
  }
  if (z.avail_in != 0) return InvalidError("session bundle: bytes after the end of the gzip stream");
  if (produced < out.size()) {  // the trailer claimed more: give the rest back
    out.resize(produced);
    out.shrink_to_fit();
  }
  return out;
}

// The store's Source over bytes in memory.
SnapshotStore::Source SourceOf(const std::string& bytes) {
  auto offset = std::make_shared<size_t>(0);
  return [&bytes, offset](char* buf, size_t capacity) -> StatusOr<size_t> {
    const size_t n = std::min(capacity, bytes.size() - *offset);
    std::memcpy(buf, bytes.data() + *offset, n);
    *offset += n;
    return n;
  };
}

// Makes sure directory `dir` exists in the container: a fresh container
// may lack the parents of a nested state path (/srv of /srv/work) that the
// captured one had made at run time. Restore calls it only when extracting
// into `dir` gave kNotFound, so an existing `dir` costs no extra round trip.
// Extracting an empty tar probes a directory without touching it; missing
// ones are created (root, 0755) below the deepest existing ancestor, which
// keeps its owner and mode.
Status EnsureDirectory(ContainerRuntime* rt, const std::string& container, const std::string& dir) {
  VISI_ASSIGN_OR_RETURN(const std::string empty, WriteTar({}));
  Status probe = rt->PutArchive(container, dir, empty);
  if (probe.code() != Code::kNotFound || dir == "/") return probe;
  std::string existing = dir;
  do {
    existing = ParentOf(existing);
    probe = rt->PutArchive(container, existing, empty);
    if (!probe.ok() && probe.code() != Code::kNotFound) return probe;
  } while (!probe.ok() && existing != "/");
  if (!probe.ok()) return probe;
  std::vector<TarEntry> chain;
  const std::string missing = dir.substr(existing == "/" ? 1 : existing.size() + 1);
  std::string name;
  for (const std::string& part : Components(missing)) {
    name += (name.empty() ? "" : "/") + part;
    TarEntry e;
    e.name = name;
    e.type = TarEntry::Type::kDirectory;
    e.mode = 0755;
    chain.push_back(std::move(e));
  }
  VISI_ASSIGN_OR_RETURN(const std::string tar, WriteTar(chain));
  return rt->PutArchive(container, existing, tar);
}

// Turns `*tar` into `member`, a view into it, without a second buffer.
const std::string& TakeMember(std::string* tar, std::string_view member) {
  const size_t offset = static_cast<size_t>(member.data() - tar->data());
  const size_t size = member.size();
  tar->erase(0, offset);
  tar->resize(size);
  return *tar;
}

struct ManifestEntry {
  std::string component, path, file, sha256;
  int64_t size = 0;
};

StatusOr<std::vector<ManifestEntry>> ParseEntries(const Json& manifest, const Declared& declared,
                                                  const BundleLimits& limits, bool skip_undeclared) {
  if (!manifest.contains("entries") || !manifest["entries"].is_array()) {
    return InvalidError("session bundle manifest: entries must be an array");
  }
  const Json& list = manifest["entries"];
  if (list.size() > static_cast<size_t>(limits.max_entries)) {
    return InvalidError("session bundle manifest: more than " + std::to_string(limits.max_entries) + " entries");
  }
  std::vector<ManifestEntry> entries;
  std::set<std::pair<std::string, std::string>> pairs;
  std::set<std::string> files;
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& j = list[i];
    const std::string where = "session bundle manifest: entries[" + std::to_string(i) + "]";
    if (!j.is_object()) return InvalidError(where + " must be an object");
    for (const char* key : {"component", "path", "file", "sha256"}) {
      if (!j.contains(key) || !j[key].is_string()) return InvalidError(where + "." + key + " must be a string");
    }
    if (!j.contains("size") || !j["size"].is_number_integer() || j["size"].get<int64_t>() < 0) {
      return InvalidError(where + ".size must be a non-negative integer");
    }
    ManifestEntry e{j["component"], j["path"], j["file"], j["sha256"], j["size"].get<int64_t>()};
    if (!IsComponentName(e.component) || !CheckStatePath(e.path).ok()) {
      return InvalidError(where + ": " + Quote(e.component) + " " + Quote(e.path) + " is not a valid state path");
    }
    if (!skip_undeclared && !declared.count({e.component, e.path})) {
      return InvalidError(where + ": " + Quote(e.component) + " " + Quote(e.path) + " is not a declared state path");
    }
    if (!pairs.insert({e.component, e.path}).second) return InvalidError(where + ": listed twice");
    if (!IsSafeRelativeName(e.file) || e.file == kManifestName || e.file.compare(0, 6, "state/") != 0) {
      return InvalidError(where + ".file " + Quote(e.file) + " must be a relative name under state/");
    }
    if (!files.insert(e.file).second) return InvalidError(where + ".file " + Quote(e.file) + " is listed twice");
    if (!IsSha256Hex(e.sha256)) return InvalidError(where + ".sha256 must be 64 lower-case hex digits");
    entries.push_back(std::move(e));
  }
  return entries;
}

}  // namespace

StatusOr<SnapshotBlob> CaptureSession(ContainerRuntime* rt, const std::vector<StateTarget>& targets,
                                      const Json& session, SnapshotStore* store, const BundleLimits& limits,
                                      Json* entries_out) {
  VISI_RETURN_IF_ERROR(CheckTargets(targets).status());
  if (!session.is_object()) return InvalidError("the session to capture must be a JSON object");
  Json entries = Json::array();
  std::vector<TarEntry> members(1);  // the manifest goes first, written last
  int64_t unpacked = 0;
  for (const StateTarget& t : targets) {
    for (size_t i = 0; i < t.paths.size(); ++i) {
      auto tar = rt->GetArchive(t.container, t.paths[i]);
      if (!tar.ok()) {
        const std::string what = "state path " + Quote(t.paths[i]) + " of component " + Quote(t.component) +
                                 " (container " + Quote(t.container) + ")";
        if (tar.status().code() == Code::kNotFound) {
          return NotFoundError(what + " not found: " + tar.status().message());
        }
        return Status(tar.status().code(), "reading " + what + ": " + tar.status().message());
      }
      TarEntry member;
      member.name = "state/" + t.component + "/" + std::to_string(i) + ".tar";
      member.content = std::move(*tar);
      unpacked += static_cast<int64_t>(member.content.size()) + 1024;
      if (unpacked > limits.max_unpacked_bytes) {
        return TooLargeError("session state is larger than " + std::to_string(limits.max_unpacked_bytes) + " bytes");
      }
      entries.push_back({{"component", t.component},
                         {"path", t.paths[i]},
                         {"file", member.name},
                         {"size", member.content.size()},
                         {"sha256", Sha256Hex(member.content)}});
      members.push_back(std::move(member));
    }
  }
  members[0].name = kManifestName;
  members[0].content = Json{{"format", kSessionBundleFormat}, {"session", session}, {"entries", entries}}.dump();
  if (static_cast<int64_t>(members[0].content.size()) > limits.max_manifest_bytes) {
    return TooLargeError("session bundle manifest is larger than " + std::to_string(limits.max_manifest_bytes) +
                         " bytes");
  }
  if (entries_out) *entries_out = entries;
  VISI_ASSIGN_OR_RETURN(std::string tar, WriteTar(members));
  members.clear();
  if (static_cast<int64_t>(tar.size()) > limits.max_unpacked_bytes) {
    return TooLargeError("session state is larger than " + std::to_string(limits.max_unpacked_bytes) + " bytes");
  }
  VISI_ASSIGN_OR_RETURN(std::string bundle, Gzip(tar));
  std::string().swap(tar);  // frees it before the store reads the bundle
  if (static_cast<int64_t>(bundle.size()) > limits.max_bundle_bytes) {
    return TooLargeError("session bundle is larger than " + std::to_string(limits.max_bundle_bytes) + " bytes");
  }
  return store->Put(SourceOf(bundle));
}

StatusOr<Json> RestoreSession(ContainerRuntime* rt, SnapshotStore* store, const std::string& digest,
                              const std::vector<StateTarget>& targets, const BundleLimits& limits,
                              bool skip_undeclared) {
  VISI_ASSIGN_OR_RETURN(Declared declared, CheckTargets(targets));
  VISI_RETURN_IF_ERROR(store->Verify(digest));
  std::string bundle;
  VISI_RETURN_IF_ERROR(store->Get(digest, [&](std::string_view chunk) -> Status {
    if (static_cast<int64_t>(bundle.size() + chunk.size()) > limits.max_bundle_bytes) {
      return InvalidError("session bundle is larger than " + std::to_string(limits.max_bundle_bytes) + " bytes");
    }
    bundle.append(chunk);
    return OkStatus();
  }));
  VISI_ASSIGN_OR_RETURN(std::string tar, Gunzip(bundle, limits.max_unpacked_bytes));
  std::string().swap(bundle);  // frees it; from here on members are views into `tar`
  auto members = ReadTarViews(tar);
  if (!members.ok()) return InvalidError("session bundle: not a tar: " + members.status().message());

  // The manifest, first.
  if (members->empty() || (*members)[0].name != kManifestName || (*members)[0].type != TarEntry::Type::kFile) {
    return InvalidError("session bundle: the first member must be manifest.json");
  }
  const std::string_view text = (*members)[0].content;
  if (static_cast<int64_t>(text.size()) > limits.max_manifest_bytes) {
    return InvalidError("session bundle: manifest.json is larger than " + std::to_string(limits.max_manifest_bytes) +
                        " bytes");
  }
  Json manifest = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded() || !manifest.is_object()) {
    return InvalidError("session bundle: manifest.json is not a JSON object");
  }
  if (!manifest.contains("format") || manifest["format"] != kSessionBundleFormat) {
    return InvalidError(std::string("session bundle: manifest format must be \"") + kSessionBundleFormat + "\"");
  }
  if (!manifest.contains("session") || !manifest["session"].is_object()) {
    return InvalidError("session bundle: manifest session must be an object");
  }
  VISI_ASSIGN_OR_RETURN(std::vector<ManifestEntry> entries, ParseEntries(manifest, declared, limits, skip_undeclared));

  // Every other member is a regular file listed once, matching its entry.
  std::map<std::string, const TarEntryView*> by_name;
  for (size_t i = 1; i < members->size(); ++i) {
    const TarEntryView& m = (*members)[i];
    if (!IsSafeRelativeName(m.name)) return InvalidError("session bundle: unsafe member name " + Quote(m.name));
    if (m.type != TarEntry::Type::kFile || !by_name.emplace(m.name, &m).second) {
      return InvalidError("session bundle: member " + Quote(m.name) + " is not a single regular file");
    }
  }
  std::vector<const TarEntryView*> chosen;
  for (const ManifestEntry& e : entries) {
    auto it = by_name.find(e.file);
    if (it == by_name.end()) return InvalidError("session bundle: member " + Quote(e.file) + " is missing");
    const std::string_view content = it->second->content;
    if (static_cast<int64_t>(content.size()) != e.size || Sha256Hex(content) != e.sha256) {
      return InvalidError("session bundle: member " + Quote(e.file) + " does not match its size and sha256");
    }
    VISI_RETURN_IF_ERROR(CheckStateTar(content, e.path, "session bundle: member " + Quote(e.file)));
    chosen.push_back(it->second);
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    return InvalidError("session bundle: member " + Quote(by_name.begin()->first) + " is not in the manifest");
  }

  // Valid: only now touch the containers, for the declared entries.
  // PutArchive takes a std::string, so each member but the last is copied
  // out of `tar` in turn; the last one is moved to the front of `tar` in
  // place, which ends the views into it.
  {
    std::vector<ManifestEntry> kept;
    std::vector<const TarEntryView*> kept_members;
    for (size_t i = 0; i < entries.size(); ++i) {
      if (!declared.count({entries[i].component, entries[i].path})) continue;
      kept.push_back(std::move(entries[i]));
      kept_members.push_back(chosen[i]);
    }
    entries = std::move(kept);
    chosen = std::move(kept_members);
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i == 1) Failpoint("resume-after-first-put");
    const ManifestEntry& e = entries[i];
    const std::string& container = declared.at({e.component, e.path});
    const std::string parent = ParentOf(e.path);
    std::string copy;
    if (i + 1 < entries.size()) copy.assign(chosen[i]->content);
    const std::string& content = i + 1 < entries.size() ? copy : TakeMember(&tar, chosen[i]->content);
    Status put = rt->PutArchive(container, parent, content);
    if (put.code() == Code::kNotFound) {  // the parent may be missing: make it, then try again
      put = EnsureDirectory(rt, container, parent);
      if (put.ok()) put = rt->PutArchive(container, parent, content);
    }
    if (!put.ok()) {
      return Status(put.code(), "restoring " + Quote(e.path) + " of component " + Quote(e.component) +
                                    " (container " + Quote(container) + "): " + put.message());
    }
  }
  return manifest["session"];
}

}  // namespace visi
