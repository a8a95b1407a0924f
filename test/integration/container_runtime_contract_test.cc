// The ContainerRuntime contract, run against the real dockerd and against the
// in-memory twin, so that the twin stays honest.

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

#include "controller/drivers/docker/docker_client.h"
#include "controller/drivers/docker/ipv4.h"
#include "test/fakes/fake_container_runtime.h"
#include "test/integration/docker_test_support.h"

namespace visi::testing {
namespace {

TarEntry TarDir(const std::string& name) {
  TarEntry e;
  e.name = name;
  e.type = TarEntry::Type::kDirectory;
  e.mode = 0755;
  return e;
}

TarEntry TarFile(const std::string& name, const std::string& content, uint32_t mode = 0644) {
  TarEntry e;
  e.name = name;
  e.content = content;
  e.mode = mode;
  return e;
}

class ContainerRuntimeContractTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "docker") {
      auto docker = DockerClient::Create(DockerClientOptions{});
      ASSERT_TRUE(docker.ok()) << docker.status().ToString();
      Status ping = (*docker)->Ping();
      ASSERT_TRUE(ping.ok()) << "these tests need dockerd at unix:///var/run/docker.sock: " << ping.ToString();
      Status image = DockerTestImage::Ensure(**docker);
      ASSERT_TRUE(image.ok()) << image.ToString();
      runtime_ = std::move(*docker);
    } else {
      auto fake = std::make_unique<FakeContainerRuntime>();
      fake->AddImage(DockerTestImage::Name(), BusyboxRootfs());
      runtime_ = std::move(fake);
    }
    image_ = DockerTestImage::Name();
  }
  void TearDown() override {
    if (runtime_) RemoveEverythingLabeled(*runtime_, RunLabels());
  }

  // "vt-<run>-<suffix>": unique across concurrent test processes.
  static std::string Name(const std::string& suffix) { return "vt-" + RunId() + "-" + suffix; }

  NetworkSpec Network(const std::string& suffix) {
    NetworkSpec n;
    n.name = Name(suffix);
    n.labels = RunLabels();
    n.labels["visi.dev/role"] = "net";
    return n;
  }
  ContainerSpec Container(const std::string& suffix, const std::string& network) {
    ContainerSpec c;
    c.name = Name(suffix);
    c.image = image_;
    c.command = {"/bin/sleep", "600"};
    c.env = {"PATH=/bin"};
    c.labels = RunLabels();
    c.network = network;
    c.aliases = {suffix};
    c.memory_bytes = 64 << 20;
    c.nano_cpus = 250000000;
    c.pids_limit = 64;
    c.exposed_ports = {8080};
    return c;
  }
  // A network on a free subnet; its spec (subnet filled in) in *spec.
  std::string MakeNetwork(const std::string& suffix, NetworkSpec* spec = nullptr) {
    NetworkSpec n = Network(suffix);
    auto id = CreateNetworkOnFreeSubnet(*runtime_, &n);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (spec) *spec = n;
    return id.ok() ? *id : "";
  }

  std::unique_ptr<ContainerRuntime> runtime_;
  std::string image_;
};

TEST_P(ContainerRuntimeContractTest, PingAnswers) { EXPECT_TRUE(runtime_->Ping().ok()); }

TEST_P(ContainerRuntimeContractTest, NetworksAreCreatedListedByLabelAndRemoved) {
  NetworkSpec spec;
  std::string id = MakeNetwork("n1", &spec);
  ASSERT_FALSE(id.empty());

  auto listed = runtime_->ListNetworks(RunLabels());
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, id);
  EXPECT_EQ((*listed)[0].name, spec.name);
  EXPECT_EQ((*listed)[0].subnet, spec.subnet);
  EXPECT_EQ((*listed)[0].labels.at("visi.dev/role"), "net");
  EXPECT_TRUE((*listed)[0].container_ids.empty());

  auto other_run = runtime_->ListNetworks({{kTestRunLabel, RunId() + "-other"}});
  ASSERT_TRUE(other_run.ok());
  EXPECT_TRUE(other_run->empty());

  NetworkSpec again = spec;
  auto dup = runtime_->CreateNetwork(again);
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists) << dup.status().ToString();

  NetworkSpec overlapping = Network("n2");
  overlapping.subnet = spec.subnet;
  EXPECT_EQ(runtime_->CreateNetwork(overlapping).status().code(), Code::kConflict);

  EXPECT_TRUE(runtime_->RemoveNetwork(spec.name).ok());
  Status gone = runtime_->RemoveNetwork(id);
  EXPECT_EQ(gone.code(), Code::kNotFound) << gone.ToString();
  EXPECT_NE(gone.message().find("no such network"), std::string::npos) << gone.message();
  EXPECT_TRUE(runtime_->ListNetworks(RunLabels())->empty());
}

TEST_P(ContainerRuntimeContractTest, ContainerLifecycle) {
  NetworkSpec net;
  ASSERT_FALSE(MakeNetwork("n1", &net).empty());
  ContainerSpec spec = Container("c1", net.name);
  auto id = runtime_->CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  auto created = runtime_->InspectContainer(spec.name);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->id, *id);
  EXPECT_EQ(created->name, spec.name);
  EXPECT_EQ(created->image, image_);
  EXPECT_EQ(created->state, "created");
  EXPECT_EQ(created->labels, spec.labels);
  EXPECT_TRUE(created->ips.empty());

  ASSERT_TRUE(runtime_->StartContainer(*id).ok());
  EXPECT_TRUE(runtime_->StartContainer(spec.name).ok()) << "starting a running container is OK";

  auto running = runtime_->InspectContainer(*id);
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_TRUE(running->running()) << running->state;
  ASSERT_EQ(running->ips.count(net.name), 1u);
  auto ip = ParseIpv4(running->ips.at(net.name));
  ASSERT_TRUE(ip.has_value()) << running->ips.at(net.name);
  EXPECT_TRUE(ParseIpv4Cidr(net.subnet)->Contains(*ip)) << running->ips.at(net.name) << " not in " << net.subnet;

  auto listed = runtime_->ListContainers(RunLabels());
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].id, *id);
  EXPECT_EQ((*listed)[0].name, spec.name);
  EXPECT_TRUE((*listed)[0].running());
  EXPECT_EQ((*listed)[0].ips, running->ips);

  auto networks = runtime_->ListNetworks(RunLabels());
  ASSERT_TRUE(networks.ok());
  ASSERT_EQ(networks->size(), 1u);
  EXPECT_EQ((*networks)[0].container_ids, std::vector<std::string>{*id});

  EXPECT_TRUE(runtime_->RemoveContainer(spec.name, std::chrono::seconds(1)).ok());
  auto gone = runtime_->InspectContainer(*id);
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.status().message().find("no such container"), std::string::npos) << gone.status().message();
  EXPECT_EQ(runtime_->RemoveContainer(*id, std::chrono::seconds(1)).code(), Code::kNotFound);
  EXPECT_EQ(runtime_->StartContainer(*id).code(), Code::kNotFound);
  EXPECT_TRUE(runtime_->ListContainers(RunLabels())->empty());
}

TEST_P(ContainerRuntimeContractTest, ListingMatchesAllLabels) {
  ContainerSpec a = Container("a", "");
  a.aliases.clear();
  a.labels["visi.dev/role"] = "a";
  ContainerSpec b = Container("b", "");
  b.aliases.clear();
  b.labels["visi.dev/role"] = "b";
  ASSERT_TRUE(runtime_->CreateContainer(a).ok());
  ASSERT_TRUE(runtime_->CreateContainer(b).ok());
  Labels want = RunLabels();
  want["visi.dev/role"] = "b";
  auto listed = runtime_->ListContainers(want);
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, b.name);
  EXPECT_EQ((*listed)[0].state, "created");
  EXPECT_EQ(runtime_->ListContainers(RunLabels())->size(), 2u);
}

TEST_P(ContainerRuntimeContractTest, DuplicateNameIsAlreadyExists) {
  ContainerSpec spec = Container("c1", "");
  spec.aliases.clear();
  ASSERT_TRUE(runtime_->CreateContainer(spec).ok());
  auto dup = runtime_->CreateContainer(spec);
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists) << dup.status().ToString();
}

TEST_P(ContainerRuntimeContractTest, MissingImageIsNotFound) {
  const std::string missing = "visi-test/missing:" + RunId();
  auto exists = runtime_->ImageExists(missing);
  ASSERT_TRUE(exists.ok()) << exists.status().ToString();
  EXPECT_FALSE(*exists);
  auto present = runtime_->ImageExists(image_);
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  EXPECT_TRUE(*present);

  ContainerSpec spec = Container("c1", "");
  spec.aliases.clear();
  spec.image = missing;
  auto id = runtime_->CreateContainer(spec);
  EXPECT_EQ(id.status().code(), Code::kNotFound) << id.status().ToString();
  EXPECT_NE(id.status().message().find("image"), std::string::npos) << id.status().message();
}

TEST_P(ContainerRuntimeContractTest, NetworkWithARunningContainerIsConflict) {
  NetworkSpec net;
  ASSERT_FALSE(MakeNetwork("n1", &net).empty());
  auto id = runtime_->CreateContainer(Container("c1", net.name));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(runtime_->StartContainer(*id).ok());
  Status busy = runtime_->RemoveNetwork(net.name);
  EXPECT_EQ(busy.code(), Code::kConflict) << busy.ToString();
  ASSERT_TRUE(runtime_->RemoveContainer(*id, std::chrono::seconds(0)).ok());
  EXPECT_TRUE(runtime_->RemoveNetwork(net.name).ok());
}

TEST_P(ContainerRuntimeContractTest, StartNeedsTheNetworkCreateDoesNot) {
  auto id = runtime_->CreateContainer(Container("c1", Name("no-such-net")));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  Status start = runtime_->StartContainer(*id);
  EXPECT_EQ(start.code(), Code::kNotFound) << start.ToString();
}

TEST_P(ContainerRuntimeContractTest, BadSpecsAreInvalid) {
  ContainerSpec bad = Container("c1", "");
  bad.aliases.clear();
  bad.exposed_ports = {70000};
  EXPECT_EQ(runtime_->CreateContainer(bad).status().code(), Code::kInvalid);
  NetworkSpec net = Network("n1");
  net.subnet = "10.251.0.0/99";
  EXPECT_EQ(runtime_->CreateNetwork(net).status().code(), Code::kInvalid);
  EXPECT_EQ(runtime_->InspectContainer("bad/name").status().code(), Code::kInvalid);
}

TEST_P(ContainerRuntimeContractTest, ArchivesRoundTrip) {
  ContainerSpec spec = Container("c1", "");
  spec.aliases.clear();
  auto id = runtime_->CreateContainer(spec);  // archives work on stopped containers too
  ASSERT_TRUE(id.ok()) << id.status().ToString();

  TarEntry dir = TarDir("state");
  TarEntry file = TarFile("state/notebook.json", "{\"cells\":[]}\n", 0600);
  auto tar = WriteTar({dir, file});
  ASSERT_TRUE(tar.ok());
  Status put = runtime_->PutArchive(*id, "/tmp", *tar);
  ASSERT_TRUE(put.ok()) << put.ToString();

  auto one = runtime_->GetArchive(*id, "/tmp/state/notebook.json");
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  auto content = FileFromArchive(*one);
  ASSERT_TRUE(content.ok()) << content.status().ToString();
  EXPECT_EQ(*content, file.content);

  auto tree = runtime_->GetArchive(*id, "/tmp/state");
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  auto entries = ReadTar(*tree);
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].name, "state");
  EXPECT_EQ((*entries)[0].type, TarEntry::Type::kDirectory);
  EXPECT_EQ((*entries)[1].name, "state/notebook.json");
  EXPECT_EQ((*entries)[1].content, file.content);
  EXPECT_EQ((*entries)[1].mode, 0600u);

  // Put back into a running container, then read again.
  ASSERT_TRUE(runtime_->StartContainer(*id).ok());
  file.content = "changed";
  ASSERT_TRUE(runtime_->PutArchive(*id, "/tmp", *WriteTar({dir, file})).ok());
  EXPECT_EQ(*FileFromArchive(*runtime_->GetArchive(*id, "/tmp/state/notebook.json")), "changed");
}

TEST_P(ContainerRuntimeContractTest, ArchiveErrors) {
  ContainerSpec spec = Container("c1", "");
  spec.aliases.clear();
  auto id = runtime_->CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  TarEntry file = TarFile("f", "x");
  const std::string tar = *WriteTar({file});

  EXPECT_EQ(runtime_->GetArchive(*id, "/tmp/nothing-here").status().code(), Code::kNotFound);
  EXPECT_EQ(runtime_->GetArchive(Name("no-such-container"), "/tmp").status().code(), Code::kNotFound);
  EXPECT_EQ(runtime_->PutArchive(*id, "/no-such-dir", tar).code(), Code::kNotFound);
  ASSERT_TRUE(runtime_->PutArchive(*id, "/tmp", tar).ok());
  Status into_file = runtime_->PutArchive(*id, "/tmp/f", tar);
  EXPECT_EQ(into_file.code(), Code::kInvalid) << into_file.ToString();
  Status garbage = runtime_->PutArchive(*id, "/tmp", std::string(3000, 'g'));
  EXPECT_EQ(garbage.code(), Code::kInvalid) << garbage.ToString();
  // A member that climbs out of the target directory is refused.
  std::string escaping = tar;
  std::memcpy(&escaping[0], "../x", 4);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(escaping[i]);
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%06o", sum);
  std::memcpy(&escaping[148], buf, 7);
  Status escape = runtime_->PutArchive(*id, "/tmp", escaping);
  EXPECT_EQ(escape.code(), Code::kInvalid) << escape.ToString();
}

INSTANTIATE_TEST_SUITE_P(Runtimes, ContainerRuntimeContractTest, ::testing::Values("fake", "docker"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace visi::testing
