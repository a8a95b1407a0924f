// The session snapshot bundle against the real dockerd: state written into
// one set of containers is captured, the containers are removed, and a fresh
// set gets it back through the archive API.

#include "reconcilers/snapshot/session_bundle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "controller/drivers/docker/docker_client.h"
#include "test/e2e/main_docker.h"
#include "controller/drivers/docker/tar_archive.h"
#include "test/fakes/memory_snapshot_store.h"

namespace visi::testing {
namespace {

using Type = TarEntry::Type;

constexpr char kImage[] = "visi/busybox:latest";  // built by hack/images.sh
constexpr char kTestLabel[] = "visi.dev/test";

TarEntry Entry(std::string name, Type type, uint32_t mode, std::string content = "", std::string link = "") {
  TarEntry e;
  e.name = std::move(name);
  e.type = type;
  e.mode = mode;
  e.content = std::move(content);
  e.link_target = std::move(link);
  return e;
}

std::string AllBytes() {
  std::string s;
  for (int c = 0; c < 256 * 64; ++c) s += static_cast<char>(c * 7 + c / 256);
  return s;
}

class SessionBundleDockerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ConnectMainDocker(&docker_);
    if (HasFatalFailure()) return;
    auto has_image = docker_->ImageExists(kImage);
    ASSERT_TRUE(has_image.ok() && *has_image) << kImage << " is missing: run hack/images.sh";
    label_ = "bundle-" + std::to_string(getpid());
    RemoveAll();
  }
  void TearDown() override { RemoveAll(); }

  void RemoveAll() {
    if (!docker_) return;
    auto list = docker_->ListContainers({{kTestLabel, label_}});
    ASSERT_TRUE(list.ok()) << list.status().ToString();
    for (const ContainerInfo& c : *list) {
      Status removed = docker_->RemoveContainer(c.id, std::chrono::seconds(0));
      EXPECT_TRUE(removed.ok() || removed.code() == Code::kNotFound) << removed.ToString();
    }
  }

  std::string Create(const std::string& part, bool start) {
    ContainerSpec s;
    s.name = "visi-test-" + label_ + "-" + part;
    s.image = kImage;
    s.command = {"sleep", "300"};
    s.labels = {{kTestLabel, label_}};
    auto id = docker_->CreateContainer(s);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (start) {
      EXPECT_TRUE(docker_->StartContainer(s.name).ok());
    }
    return s.name;
  }

  void Put(const std::string& container, const std::vector<TarEntry>& entries) {
    auto tar = WriteTar(entries);
    ASSERT_TRUE(tar.ok()) << tar.status().ToString();
    Status put = docker_->PutArchive(container, "/", *tar);
    ASSERT_TRUE(put.ok()) << put.ToString();
  }

  std::vector<TarEntry> Read(const std::string& container, const std::string& path) {
    auto tar = docker_->GetArchive(container, path);
    EXPECT_TRUE(tar.ok()) << tar.status().ToString();
    if (!tar.ok()) return {};
    auto entries = ReadTar(*tar);
    EXPECT_TRUE(entries.ok()) << entries.status().ToString();
    return entries.ok() ? *entries : std::vector<TarEntry>{};
  }

  std::unique_ptr<ContainerRuntime> docker_;
  std::string label_;
};

TEST_F(SessionBundleDockerTest, CapturedStateComesBackInFreshContainers) {
  const std::string fe_a = Create("fe-a", true);
  const std::string master_a = Create("master-a", true);
  Put(fe_a, {Entry("data", Type::kDirectory, 0755), Entry("data/notebook.ipynb", Type::kFile, 0644, "{\"cells\":[]}"),
             Entry("data/blob.bin", Type::kFile, 0600, AllBytes()), Entry("data/empty", Type::kFile, 0644),
             Entry("data/sub", Type::kDirectory, 0700), Entry("data/sub/deep.txt", Type::kFile, 0644, "deep\n"),
             Entry("data/link", Type::kSymlink, 0777, "", "sub/deep.txt"), Entry("srv", Type::kDirectory, 0755),
             Entry("srv/work", Type::kDirectory, 0755), Entry("srv/work/a.py", Type::kFile, 0755, "print(1)\n")});
  Put(master_a, {Entry("data", Type::kDirectory, 0755),
                 Entry("data/events.log", Type::kFile, 0644, std::string(300000, 'e'))});

  const Json session = {{"metadata", {{"name", "notebook"}, {"namespace", "alice"}, {"uid", label_}}},
                        {"spec", {{"statePaths", {"/data"}}}},
                        {"status", {{"phase", "Suspended"}}}};
  std::vector<StateTarget> targets_a = {{"frontend", fe_a, {"/data", "/srv/work"}}, {"master", master_a, {"/data"}}};
  MemorySnapshotStore store;
  auto blob = CaptureSession(docker_.get(), targets_a, session, &store);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();

  const std::vector<TarEntry> want_fe_data = Read(fe_a, "/data");
  const std::vector<TarEntry> want_fe_work = Read(fe_a, "/srv/work");
  const std::vector<TarEntry> want_master = Read(master_a, "/data");
  ASSERT_EQ(want_fe_data.size(), 7u);
  RemoveAll();

  // Resume: fresh containers, restored before they start (as resume does),
  // and one running.
  const std::string fe_b = Create("fe-b", false);
  const std::string master_b = Create("master-b", true);
  std::vector<StateTarget> targets_b = {{"frontend", fe_b, {"/data", "/srv/work"}}, {"master", master_b, {"/data"}}};
  ASSERT_EQ(docker_->GetArchive(fe_b, "/data").status().code(), Code::kNotFound);
  auto restored = RestoreSession(docker_.get(), &store, blob->digest, targets_b);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(*restored, session);
  ASSERT_TRUE(docker_->StartContainer(fe_b).ok());

  EXPECT_EQ(Read(fe_b, "/data"), want_fe_data);
  EXPECT_EQ(Read(fe_b, "/srv/work"), want_fe_work);
  EXPECT_EQ(Read(master_b, "/data"), want_master);
  bool saw_blob = false;
  for (const TarEntry& e : Read(fe_b, "/data/blob.bin")) {
    if (e.name == "blob.bin") saw_blob = e.content == AllBytes() && e.mode == 0600;
  }
  EXPECT_TRUE(saw_blob);
}

TEST_F(SessionBundleDockerTest, MissingStatePathIsNotFound) {
  const std::string fe = Create("fe", true);
  MemorySnapshotStore store;
  auto blob = CaptureSession(docker_.get(), {{"frontend", fe, {"/data"}}}, Json::object(), &store);
  ASSERT_EQ(blob.status().code(), Code::kNotFound) << blob.status().ToString();
  EXPECT_NE(blob.status().message().find("\"frontend\""), std::string::npos);
  EXPECT_NE(blob.status().message().find("\"/data\""), std::string::npos);
}

}  // namespace
}  // namespace visi::testing
