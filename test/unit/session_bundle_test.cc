#include "reconcilers/snapshot/session_bundle.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>

#include "controller/base/sha256.h"
#include "controller/drivers/docker/tar_archive.h"
#include "test/fakes/fake_container_runtime.h"
#include "test/fakes/memory_snapshot_store.h"

namespace visi::testing {
namespace {

using Type = TarEntry::Type;

TarEntry Dir(std::string name) {
  TarEntry e;
  e.name = std::move(name);
  e.type = Type::kDirectory;
  e.mode = 0755;
  return e;
}
TarEntry File(std::string name, std::string content) {
  TarEntry e;
  e.name = std::move(name);
  e.content = std::move(content);
  return e;
}
TarEntry Symlink(std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.type = Type::kSymlink;
  e.mode = 0777;
  e.link_target = std::move(target);
  return e;
}

std::string AllBytes() {
  std::string s;
  for (int round = 0; round < 3; ++round) {
    for (int c = 0; c < 256; ++c) s += static_cast<char>(c);
  }
  return s;
}

std::string Gzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = out.size();
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::string Gunzip(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = data.size();
  std::string out;
  char buf[4096];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof(buf) - z.avail_out);
  }
  EXPECT_EQ(rc, Z_STREAM_END);
  inflateEnd(&z);
  return out;
}

// Renames a member in a ustar archive in place (same length), fixing the
// header checksum: how a hostile bundle gets names WriteTar refuses.
std::string RenameMember(std::string tar, const std::string& from, const std::string& to) {
  EXPECT_EQ(from.size(), to.size());
  for (size_t off = 0; off + 512 <= tar.size(); off += 512) {
    if (tar.compare(off, from.size() + 1, from + std::string(1, '\0')) != 0) continue;
    tar.replace(off, to.size(), to);
    std::memset(tar.data() + off + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(tar[off + i]);
    char field[8];
    std::snprintf(field, sizeof(field), "%06o", sum);
    std::memcpy(tar.data() + off + 148, field, 7);
    return tar;
  }
  ADD_FAILURE() << "no member " << from;
  return tar;
}

class SessionBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rt_.AddImage("img", {Dir("data"), Dir("home"), Dir("home/jovyan"), Dir("etc"), File("etc/passwd", "root:x:0:0\n")});
    for (const char* name : {"fe-a", "master-a", "worker-a", "fe-b", "master-b", "worker-b"}) {
      ContainerSpec s;
      s.name = name;
      s.image = "img:latest";
      ASSERT_TRUE(rt_.CreateContainer(s).ok());
    }
    // The state of the first session.
    auto put = [&](const std::string& c, const std::string& dir, std::vector<TarEntry> entries) {
      auto tar = WriteTar(entries);
      ASSERT_TRUE(tar.ok());
      ASSERT_TRUE(rt_.PutArchive(c, dir, *tar).ok());
    };
    put("fe-a", "/", {File("data/notebook.ipynb", "{\"cells\": []}"), File("data/blob.bin", AllBytes()),
                      File("data/empty", ""), Dir("data/sub"), File("data/sub/deep.txt", "deep"),
                      Symlink("data/link", "sub/deep.txt")});
    put("fe-a", "/home/jovyan", {Dir("work"), File("work/a.py", "print(1)\n")});
    put("master-a", "/", {File("data/spark-events", std::string(100000, 'x'))});
    // worker-a's /data stays an empty directory.
  }

  static std::vector<StateTarget> Targets(const std::string& suffix) {
    return {{"frontend", "fe-" + suffix, {"/data", "/home/jovyan/work"}},
            {"master", "master-" + suffix, {"/data"}},
            {"worker-0", "worker-" + suffix, {"/data"}}};
  }

  Json Session() const {
    return {{"metadata", {{"name", "notebook"}, {"namespace", "alice"}, {"uid", "u-1"}}},
            {"spec", {{"suspend", true}, {"statePaths", {"/data"}}}},
            {"status", {{"phase", "Suspending"}}}};
  }

  std::string CaptureA() {
    auto blob = CaptureSession(&rt_, Targets("a"), Session(), &store_);
    EXPECT_TRUE(blob.ok()) << blob.status().ToString();
    return blob.ok() ? blob->digest : "";
  }

  std::string Bytes(const std::string& digest) {
    std::string bytes;
    EXPECT_TRUE(store_.Get(digest, [&](std::string_view c) { bytes.append(c); return OkStatus(); }).ok());
    return bytes;
  }

  std::string Store(const std::string& bytes) {
    auto blob = store_.Put([&, offset = size_t{0}](char* buf, size_t cap) mutable -> StatusOr<size_t> {
      const size_t n = std::min(cap, bytes.size() - offset);
      std::memcpy(buf, bytes.data() + offset, n);
      offset += n;
      return n;
    });
    EXPECT_TRUE(blob.ok());
    return blob->digest;
  }

  // A valid bundle's members, to tamper with.
  std::vector<TarEntry> Members() {
    auto members = ReadTar(Gunzip(Bytes(CaptureA())));
    EXPECT_TRUE(members.ok());
    return *members;
  }

  static Json ManifestOf(const std::vector<TarEntry>& members) { return Json::parse(members.at(0).content); }

  std::string StoreMembers(const std::vector<TarEntry>& members) {
    auto tar = WriteTar(members);
    EXPECT_TRUE(tar.ok()) << tar.status().ToString();
    return Store(Gzip(*tar));
  }

  // Restores into the "b" containers and expects a refusal with no
  // extraction at all.
  void ExpectRefused(const std::string& digest, Code code = Code::kInvalid, const BundleLimits& limits = {}) {
    rt_.ResetCalls();
    auto restored = RestoreSession(&rt_, &store_, digest, Targets("b"), limits);
    ASSERT_FALSE(restored.ok());
    EXPECT_EQ(restored.status().code(), code) << restored.status().ToString();
    EXPECT_EQ(rt_.calls().put_archive, 0) << restored.status().ToString();
    auto data = rt_.GetArchive("fe-b", "/data");
    ASSERT_TRUE(data.ok());
    EXPECT_EQ(ReadTar(*data)->size(), 1u) << "fe-b:/data must stay an empty directory";
  }

  FakeContainerRuntime rt_;
  MemorySnapshotStore store_;
};

TEST_F(SessionBundleTest, RoundTripRestoresEveryPathOfEveryComponent) {
  const std::string digest = CaptureA();
  auto restored = RestoreSession(&rt_, &store_, digest, Targets("b"));
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, Session());

  for (const auto& [a, b, path] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"fe-a", "fe-b", "/data"}, {"fe-a", "fe-b", "/home/jovyan/work"},
           {"master-a", "master-b", "/data"}, {"worker-a", "worker-b", "/data"}}) {
    auto want = ReadTar(*rt_.GetArchive(a, path));
    auto got = ReadTar(*rt_.GetArchive(b, path));
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(*got, *want) << b << ":" << path;
  }
  auto data = ReadTar(*rt_.GetArchive("fe-b", "/data"));
  auto find = [&](const std::string& name) -> const TarEntry* {
    for (const TarEntry& e : *data) {
      if (e.name == name) return &e;
    }
    return nullptr;
  };
  ASSERT_NE(find("data/blob.bin"), nullptr);
  EXPECT_EQ(find("data/blob.bin")->content, AllBytes());
  ASSERT_NE(find("data/empty"), nullptr);
  EXPECT_EQ(find("data/empty")->content, "");
  ASSERT_NE(find("data/link"), nullptr);
  EXPECT_EQ(find("data/link")->link_target, "sub/deep.txt");
  // Nothing outside the state paths was written.
  EXPECT_EQ(ReadTar(*rt_.GetArchive("fe-b", "/etc/passwd"))->at(0).content, "root:x:0:0\n");
}

TEST_F(SessionBundleTest, RestoreCreatesMissingParentsOfNestedPaths) {
  auto tar = WriteTar({Dir("srv"), Dir("srv/state"), Dir("srv/state/work"), File("srv/state/work/f", "f")});
  ASSERT_TRUE(rt_.PutArchive("fe-a", "/", *tar).ok());
  std::vector<StateTarget> a = {{"frontend", "fe-a", {"/srv/state/work", "/home/jovyan"}}};
  std::vector<StateTarget> b = {{"frontend", "fe-b", {"/srv/state/work", "/home/jovyan"}}};
  auto blob = CaptureSession(&rt_, a, Session(), &store_);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  ASSERT_EQ(rt_.GetArchive("fe-b", "/srv").status().code(), Code::kNotFound);
  auto restored = RestoreSession(&rt_, &store_, blob->digest, b);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*ReadTar(*rt_.GetArchive("fe-b", "/srv/state/work")), *ReadTar(*rt_.GetArchive("fe-a", "/srv/state/work")));
  EXPECT_EQ(*ReadTar(*rt_.GetArchive("fe-b", "/home/jovyan")), *ReadTar(*rt_.GetArchive("fe-a", "/home/jovyan")));
}

TEST_F(SessionBundleTest, BundleIsGzipOfManifestThenOneTarPerPath) {
  const std::vector<TarEntry> members = Members();
  ASSERT_EQ(members.size(), 5u);
  EXPECT_EQ(members[0].name, "manifest.json");
  const Json manifest = ManifestOf(members);
  EXPECT_EQ(manifest["format"], "visi.dev/session-bundle/v1");
  EXPECT_EQ(manifest["session"], Session());
  ASSERT_EQ(manifest["entries"].size(), 4u);
  const Json& e = manifest["entries"][1];
  EXPECT_EQ(e["component"], "frontend");
  EXPECT_EQ(e["path"], "/home/jovyan/work");
  EXPECT_EQ(e["file"], "state/frontend/1.tar");
  EXPECT_EQ(members[2].name, "state/frontend/1.tar");
  EXPECT_EQ(e["size"], members[2].content.size());
  EXPECT_EQ(e["sha256"], Sha256Hex(members[2].content));
  EXPECT_EQ(members[2].content, *rt_.GetArchive("fe-a", "/home/jovyan/work"));
}

TEST_F(SessionBundleTest, CapturingUnchangedStateGivesTheSameDigest) {
  const std::string first = CaptureA();
  EXPECT_EQ(CaptureA(), first);
  EXPECT_EQ(store_.List()->size(), 1u);
}

TEST_F(SessionBundleTest, MissingPathIsNotFoundNamingComponentAndPath) {
  auto targets = Targets("a");
  targets[1].paths.push_back("/var/lib/spark");
  auto blob = CaptureSession(&rt_, targets, Session(), &store_);
  ASSERT_EQ(blob.status().code(), Code::kNotFound);
  EXPECT_NE(blob.status().message().find("\"master\""), std::string::npos) << blob.status().message();
  EXPECT_NE(blob.status().message().find("\"/var/lib/spark\""), std::string::npos) << blob.status().message();
  EXPECT_TRUE(store_.List()->empty());
}

TEST_F(SessionBundleTest, BadTargetsAreInvalid) {
  for (const char* path : {"data", "/", "/data/", "/a/../etc", "/a//b", "/./data"}) {
    std::vector<StateTarget> targets = {{"frontend", "fe-a", {path}}};
    EXPECT_EQ(CaptureSession(&rt_, targets, Session(), &store_).status().code(), Code::kInvalid) << path;
  }
  std::vector<StateTarget> twice = {{"frontend", "fe-a", {"/data"}}, {"frontend", "fe-b", {"/data"}}};
  EXPECT_EQ(CaptureSession(&rt_, twice, Session(), &store_).status().code(), Code::kInvalid);
  std::vector<StateTarget> slash = {{"front/end", "fe-a", {"/data"}}};
  EXPECT_EQ(CaptureSession(&rt_, slash, Session(), &store_).status().code(), Code::kInvalid);
}

TEST_F(SessionBundleTest, StoreErrorsRestoreNothing) {
  const std::string digest = CaptureA();
  ExpectRefused("sha256:" + std::string(64, '0'), Code::kNotFound);
  ExpectRefused("md5:abc", Code::kInvalid);
  std::string bytes = Bytes(digest);
  bytes[bytes.size() / 2] ^= 1;
  store_.Corrupt(digest, bytes);
  rt_.ResetCalls();
  auto restored = RestoreSession(&rt_, &store_, digest, Targets("b"));
  EXPECT_EQ(restored.status().code(), Code::kInternal);
  EXPECT_EQ(restored.status().message().rfind("digest mismatch", 0), 0u) << restored.status().message();
  EXPECT_EQ(rt_.calls().put_archive, 0);
}

TEST_F(SessionBundleTest, RefusesWhatIsNotAGzipStream) {
  ExpectRefused(Store("this is not gzip at all"));
  ExpectRefused(Store(""));
  const std::string bytes = Bytes(CaptureA());
  ExpectRefused(Store(bytes.substr(0, bytes.size() / 2)));  // truncated
  ExpectRefused(Store(bytes.substr(0, bytes.size() - 4)));  // truncated in the trailer
  ExpectRefused(Store(bytes + "trailing"));
  ExpectRefused(Store(Gzip("not a tar, just text that is long enough to fill something")));
}

TEST_F(SessionBundleTest, RefusesABadManifest) {
  auto members = Members();
  {
    auto m = members;
    m.erase(m.begin());
    ExpectRefused(StoreMembers(m));  // missing
  }
  {
    auto m = members;
    std::swap(m[0], m[1]);
    ExpectRefused(StoreMembers(m));  // not first
  }
  for (const std::string& text :
       {std::string("{\"format\": \"visi.dev/session-bundle/v1\", "), std::string("[]"), std::string("")}) {
    auto m = members;
    m[0].content = text;
    ExpectRefused(StoreMembers(m));  // garbled
  }
  for (const Json& format : {Json("visi.dev/session-bundle/v2"), Json(1), Json(nullptr)}) {
    auto m = members;
    Json manifest = ManifestOf(m);
    manifest["format"] = format;
    m[0].content = manifest.dump();
    ExpectRefused(StoreMembers(m));
  }
  {
    auto m = members;
    Json manifest = ManifestOf(m);
    manifest.erase("session");
    m[0].content = manifest.dump();
    ExpectRefused(StoreMembers(m));
  }
  for (const char* key : {"component", "path", "file", "size", "sha256"}) {
    auto m = members;
    Json manifest = ManifestOf(m);
    manifest["entries"][0].erase(key);
    m[0].content = manifest.dump();
    ExpectRefused(StoreMembers(m));
  }
}

TEST_F(SessionBundleTest, RefusesMissingMismatchedAndUnlistedMembers) {
  auto members = Members();
  {
    auto m = members;
    m.erase(m.begin() + 3);
    ExpectRefused(StoreMembers(m));  // listed but missing
  }
  {
    auto m = members;
    m[1].content[600] ^= 0x20;  // same size, other bytes
    ExpectRefused(StoreMembers(m));
  }
  {
    auto m = members;
    Json manifest = ManifestOf(m);
    manifest["entries"][0]["size"] = members[1].content.size() + 1;
    m[0].content = manifest.dump();
    ExpectRefused(StoreMembers(m));
  }
  {
    auto m = members;
    m.push_back(File("state/frontend/9.tar", m[1].content));  // not in the manifest
    ExpectRefused(StoreMembers(m));
  }
  {
    auto m = members;
    m.push_back(m[1]);  // the same member twice
    ExpectRefused(StoreMembers(m));
  }
  {
    auto m = members;
    Json manifest = ManifestOf(m);
    manifest["entries"].push_back(manifest["entries"][0]);  // listed twice
    m[0].content = manifest.dump();
    ExpectRefused(StoreMembers(m));
  }
}

TEST_F(SessionBundleTest, RefusesEntriesForUndeclaredComponentsOrPaths) {
  for (const auto& [component, path] : std::vector<std::pair<std::string, std::string>>{
           {"intruder", "/data"}, {"frontend", "/etc"}, {"worker-1", "/data"}}) {
    auto m = Members();
    Json manifest = ManifestOf(m);
    Json extra = manifest["entries"][0];
    extra["component"] = component;
    extra["path"] = path;
    extra["file"] = "state/extra/0.tar";
    manifest["entries"].push_back(extra);
    m[0].content = manifest.dump();
    m.push_back(File("state/extra/0.tar", m[1].content));
    ExpectRefused(StoreMembers(m));
  }
}

// A resume into some containers only (fewer workers than at the capture, or
// the ones it created): the other entries are validated, not extracted.
TEST_F(SessionBundleTest, SkipUndeclaredRestoresOnlyTheGivenTargets) {
  Json entries;
  auto blob = CaptureSession(&rt_, Targets("a"), Session(), &store_, {}, &entries);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  ASSERT_EQ(entries.size(), 4u) << "one per (component, path)";
  EXPECT_EQ(entries[0]["component"], "frontend");
  EXPECT_EQ(entries[0]["path"], "/data");
  EXPECT_EQ(entries[0]["sha256"].get<std::string>().size(), 64u);

  const std::vector<StateTarget> front_only = {{"frontend", "fe-b", {"/data", "/home/jovyan/work"}}};
  EXPECT_EQ(RestoreSession(&rt_, &store_, blob->digest, front_only).status().code(), Code::kInvalid)
      << "without skip_undeclared the master's and worker's entries are undeclared";
  auto restored = RestoreSession(&rt_, &store_, blob->digest, front_only, {}, /*skip_undeclared=*/true);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*ReadTar(*rt_.GetArchive("fe-b", "/data")), *ReadTar(*rt_.GetArchive("fe-a", "/data")));
  auto master_b = ReadTar(*rt_.GetArchive("master-b", "/data"));
  ASSERT_TRUE(master_b.ok());
  EXPECT_EQ(master_b->size(), 1u) << "master-b's /data stays the empty directory it was";
}

// Skipped entries are still checked: a hostile member for a component the
// resume does not restore still refuses the whole bundle.
TEST_F(SessionBundleTest, SkipUndeclaredStillValidatesEveryEntry) {
  auto m = Members();
  Json manifest = ManifestOf(m);
  Json extra = manifest["entries"][0];
  extra["component"] = "worker-7";
  extra["path"] = "/data";
  extra["file"] = "state/worker-7/0.tar";
  manifest["entries"].push_back(extra);
  m[0].content = manifest.dump();
  auto evil = WriteTar({File("etc/passwd", "owned")});
  ASSERT_TRUE(evil.ok());
  m.push_back(File("state/worker-7/0.tar", *evil));
  // Its size and sha256 do not match the entry copied from the first one:
  // fix them so only the path check can refuse it.
  manifest["entries"].back()["size"] = evil->size();
  manifest["entries"].back()["sha256"] = Sha256Hex(*evil);
  m[0].content = manifest.dump();
  const std::string digest = StoreMembers(m);
  auto r = RestoreSession(&rt_, &store_, digest, Targets("b"), {}, /*skip_undeclared=*/true);
  EXPECT_EQ(r.status().code(), Code::kInvalid);
  EXPECT_NE(r.status().message().find("outside"), std::string::npos) << r.status().message();
  EXPECT_EQ(ReadTar(*rt_.GetArchive("fe-b", "/etc/passwd"))->at(0).content, "root:x:0:0\n");
}

TEST_F(SessionBundleTest, RefusesUnsafeMemberNames) {
  for (const std::string& bad : {std::string("state/../../x.tar"), std::string("/state/frontend/0.tar"),
                                 std::string("state/./frontend.tar")}) {
    auto m = Members();
    const std::string placeholder = "state/" + std::string(bad.size() - 6, 'p');
    Json manifest = ManifestOf(m);
    manifest["entries"][0]["file"] = bad;
    m[0].content = manifest.dump();
    m[1].name = placeholder;
    auto tar = WriteTar(m);
    ASSERT_TRUE(tar.ok());
    ExpectRefused(Store(Gzip(RenameMember(*tar, placeholder, bad))));
  }
  // Unsafe names of unlisted members too.
  for (const std::string& bad : {std::string("../../state.tar"), std::string("/etc/evil.tar")}) {
    auto m = Members();
    const std::string placeholder = "state/" + std::string(bad.size() - 6, 'p');
    m.push_back(File(placeholder, "x"));
    auto tar = WriteTar(m);
    ASSERT_TRUE(tar.ok());
    rt_.ResetCalls();
    auto restored = RestoreSession(&rt_, &store_, Store(Gzip(RenameMember(*tar, placeholder, bad))), Targets("b"));
    EXPECT_EQ(restored.status().code(), Code::kInvalid);
    EXPECT_NE(restored.status().message().find("unsafe member name"), std::string::npos) << restored.status().message();
    EXPECT_EQ(rt_.calls().put_archive, 0);
  }
}

TEST_F(SessionBundleTest, RefusesStateTarsThatReachOutsideTheirPath) {
  std::vector<std::vector<TarEntry>> hostile = {
      {Dir("data"), File("etc/passwd", "evil::0:0\n")},
      {File("database", "not below data/")},
      {Symlink("data", "/etc"),
       File("data/passwd", "evil::0:0\n")},
      {},
  };
  for (const auto& entries : hostile) {
    auto m = Members();
    auto inner = WriteTar(entries);
    ASSERT_TRUE(inner.ok());
    m[1].content = *inner;
    Json manifest = ManifestOf(m);
    manifest["entries"][0]["size"] = inner->size();
    manifest["entries"][0]["sha256"] = Sha256Hex(*inner);
    m[0].content = manifest.dump();
    ExpectRefused(StoreMembers(m));
  }
  rt_.ResetCalls();
  EXPECT_EQ(ReadTar(*rt_.GetArchive("fe-b", "/etc/passwd"))->at(0).content, "root:x:0:0\n");
}

TEST_F(SessionBundleTest, RefusesOversizedBundles) {
  const std::string digest = CaptureA();
  ExpectRefused(digest, Code::kInvalid, BundleLimits{.max_bundle_bytes = 100});
  ExpectRefused(digest, Code::kInvalid, BundleLimits{.max_unpacked_bytes = 50000});
  ExpectRefused(digest, Code::kInvalid, BundleLimits{.max_manifest_bytes = 100});
  ExpectRefused(digest, Code::kInvalid, BundleLimits{.max_entries = 3});
  // A gzip bomb: 64 MiB of zeros that packs into a few dozen KiB.
  auto m = Members();
  m.push_back(File("state/bomb.tar", std::string(size_t{64} << 20, '\0')));
  ExpectRefused(StoreMembers(m), Code::kInvalid, BundleLimits{.max_unpacked_bytes = 8 << 20});
  // Capture refuses what restore with the same limits would refuse.
  EXPECT_EQ(CaptureSession(&rt_, Targets("a"), Session(), &store_, BundleLimits{.max_unpacked_bytes = 50000})
                .status()
                .code(),
            Code::kTooLarge);
}

}  // namespace
}  // namespace visi::testing
