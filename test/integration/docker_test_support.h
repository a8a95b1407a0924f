#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/docker/docker_client.h"
#include "controller/drivers/docker/tar_archive.h"

namespace visi::testing {

// Everything a test makes in Docker carries this label with the run's id, so
// TearDown (and a human) can find and remove it.
inline constexpr const char* kTestRunLabel = "visi.dev/test-run";

// Random per process (ctest runs each case in its own process).
inline const std::string& RunId() {
  static const std::string id = [] {
    std::random_device rd;
    std::string out;
    for (int i = 0; i < 10; ++i) out += "0123456789abcdef"[rd() % 16];
    return out;
  }();
  return id;
}

inline Labels RunLabels() { return {{kTestRunLabel, RunId()}}; }

// A root file system with a static busybox: bin/ (busybox and the applets
// the tests use), tmp/ (world-writable, for the unprivileged user), etc/.
inline std::vector<TarEntry> BusyboxRootfs() {
  std::ifstream in("/bin/busybox", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::vector<TarEntry> rootfs;
  auto dir = [&](const char* name, uint32_t mode) {
    TarEntry e;
    e.name = name;
    e.type = TarEntry::Type::kDirectory;
    e.mode = mode;
    rootfs.push_back(e);
  };
  dir("bin", 0755);
  dir("etc", 0755);
  dir("tmp", 01777);
  TarEntry busybox;
  busybox.name = "bin/busybox";
  busybox.mode = 0755;
  busybox.content = bytes.str();
  rootfs.push_back(busybox);
  for (const char* applet : {"sh", "id", "sleep", "cat", "echo", "ls", "touch", "true"}) {
    TarEntry link;
    link.name = std::string("bin/") + applet;
    link.type = TarEntry::Type::kSymlink;
    link.link_target = "busybox";
    link.mode = 0777;
    rootfs.push_back(link);
  }
  return rootfs;
}

// Imports the busybox image into the daemon once per process, labelled with
// the run, and removes it when the tests end.
class DockerTestImage : public ::testing::Environment {
 public:
  static std::string Name() { return "visi-test/busybox:" + RunId(); }

  // The image exists on `docker` after this (imported on first use).
  static Status Ensure(DockerClient& docker) {
    if (imported_) return OkStatus();
    auto tar = WriteTar(BusyboxRootfs());
    if (!tar.ok()) return tar.status();
    VISI_RETURN_IF_ERROR(docker.ImportImage(*tar, Name(), {std::string("LABEL ") + kTestRunLabel + "=" + RunId()}));
    imported_ = true;
    return OkStatus();
  }

  void TearDown() override {
    if (!imported_) return;
    auto docker = DockerClient::Create(DockerClientOptions{});
    if (docker.ok()) (void)(*docker)->RemoveImage(Name());
  }

 private:
  static inline bool imported_ = false;
};

// Registered once per test binary (an inline variable), before main runs.
inline ::testing::Environment* const kDockerTestImageEnvironment =
    ::testing::AddGlobalTestEnvironment(new DockerTestImage);

// Creates `spec` on the first free 10.251.X.0/24 (X from a random start), as
// concurrent test processes may hold some of them. Sets spec->subnet.
inline StatusOr<std::string> CreateNetworkOnFreeSubnet(ContainerRuntime& runtime, NetworkSpec* spec) {
  std::random_device rd;
  const unsigned start = rd() % 256;
  Status last;
  for (unsigned i = 0; i < 256; ++i) {
    spec->subnet = "10.251." + std::to_string((start + i) % 256) + ".0/24";
    auto id = runtime.CreateNetwork(*spec);
    if (id.ok() || id.status().code() != Code::kConflict) return id;
    last = id.status();
  }
  return last;
}

// Removes every container, then every network, that carries `labels`.
inline void RemoveEverythingLabeled(ContainerRuntime& runtime, const Labels& labels) {
  if (auto containers = runtime.ListContainers(labels); containers.ok()) {
    for (const ContainerInfo& c : *containers) {
      Status s = runtime.RemoveContainer(c.id, std::chrono::seconds(0));
      EXPECT_TRUE(s.ok() || s.code() == Code::kNotFound) << s.ToString();
    }
  } else {
    ADD_FAILURE() << "cleanup could not list containers: " << containers.status().ToString();
  }
  if (auto networks = runtime.ListNetworks(labels); networks.ok()) {
    for (const NetworkInfo& n : *networks) {
      Status s = runtime.RemoveNetwork(n.id);
      EXPECT_TRUE(s.ok() || s.code() == Code::kNotFound) << s.ToString();
    }
  } else {
    ADD_FAILURE() << "cleanup could not list networks: " << networks.status().ToString();
  }
}

// Reads the single member of a GetArchive answer for a file.
inline StatusOr<std::string> FileFromArchive(const std::string& tar) {
  auto entries = ReadTar(tar);
  if (!entries.ok()) return entries.status();
  if (entries->size() != 1 || (*entries)[0].type != TarEntry::Type::kFile) {
    return InternalError("archive does not hold exactly one file");
  }
  return (*entries)[0].content;
}

}  // namespace visi::testing
