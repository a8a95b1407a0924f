#include "test/fakes/fake_container_runtime.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>

namespace visi::testing {
namespace {

class FakeContainerRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake_.AddImage("img");
    NetworkSpec n;
    n.name = "net1";
    n.subnet = "10.9.0.0/24";
    n.gateway = "10.9.0.2";
    ASSERT_TRUE(fake_.CreateNetwork(n).ok());
  }
  std::string Run(const std::string& name, const std::string& network = "net1") {
    ContainerSpec s;
    s.name = name;
    s.image = "img:latest";
    s.network = network;
    auto id = fake_.CreateContainer(s);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    EXPECT_TRUE(fake_.StartContainer(name).ok());
    return id.ok() ? *id : "";
  }
  FakeContainerRuntime fake_;
};

TEST_F(FakeContainerRuntimeTest, DownMakesEveryCallUnavailableAndStillCountsIt) {
  fake_.ResetCalls();
  fake_.SetDown(true);
  EXPECT_EQ(fake_.Ping().code(), Code::kUnavailable);
  EXPECT_EQ(fake_.ListContainers({}).status().code(), Code::kUnavailable);
  EXPECT_EQ(fake_.ListNetworks({}).status().code(), Code::kUnavailable);
  EXPECT_EQ(fake_.ImageExists("img").status().code(), Code::kUnavailable);
  EXPECT_EQ(fake_.RemoveNetwork("net1").code(), Code::kUnavailable);
  EXPECT_EQ(fake_.calls().ping, 1);
  EXPECT_EQ(fake_.calls().remove_network, 1);
  fake_.SetDown(false);
  EXPECT_TRUE(fake_.Ping().ok());
  EXPECT_EQ(fake_.calls().ping, 2);
}

TEST_F(FakeContainerRuntimeTest, FailNextInjectsOneErrorPerQueuedStatus) {
  fake_.FailNext("CreateContainer", InternalError("disk full"));
  ContainerSpec s;
  s.name = "c1";
  s.image = "img";
  auto first = fake_.CreateContainer(s);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().message(), "disk full");
  EXPECT_TRUE(fake_.CreateContainer(s).ok());
  EXPECT_EQ(fake_.calls().create_container, 2);
}

TEST_F(FakeContainerRuntimeTest, AddressesAreTheLowestFreeSkippingTheGateway) {
  Run("c1");
  Run("c2");
  EXPECT_EQ(fake_.InspectContainer("c1")->ips.at("net1"), "10.9.0.1");
  EXPECT_EQ(fake_.InspectContainer("c2")->ips.at("net1"), "10.9.0.3");  // .2 is the gateway
  ASSERT_TRUE(fake_.RemoveContainer("c1", std::chrono::seconds(0)).ok());
  Run("c3");
  EXPECT_EQ(fake_.InspectContainer("c3")->ips.at("net1"), "10.9.0.1");
}

TEST_F(FakeContainerRuntimeTest, ExitedContainersLeaveTheirNetwork) {
  Run("c1");
  EXPECT_EQ(fake_.RemoveNetwork("net1").code(), Code::kConflict);
  ASSERT_TRUE(fake_.ExitContainer("c1", 137).ok());
  auto info = fake_.InspectContainer("c1");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->state, "exited");
  EXPECT_EQ(info->exit_code, 137);
  EXPECT_TRUE(info->ips.empty());
  EXPECT_TRUE(fake_.RemoveNetwork("net1").ok());
  // Docker semantics: restarting needs the network back.
  EXPECT_EQ(fake_.StartContainer("c1").code(), Code::kNotFound);
  EXPECT_EQ(fake_.ExitContainer("nope", 1).code(), Code::kNotFound);
}

TEST_F(FakeContainerRuntimeTest, ContainersWithoutNetworkUseTheBridge) {
  Run("c1", "");
  EXPECT_EQ(fake_.InspectContainer("c1")->ips.at("bridge"), "172.17.0.2");
  EXPECT_EQ(fake_.RemoveNetwork("bridge").code(), Code::kConflict);
}

TEST_F(FakeContainerRuntimeTest, SpecOfReturnsWhatWasCreated) {
  ContainerSpec s;
  s.name = "c1";
  s.image = "img";
  s.memory_bytes = 1 << 30;
  s.env = {"A=1"};
  ASSERT_TRUE(fake_.CreateContainer(s).ok());
  auto got = fake_.SpecOf("c1");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->memory_bytes, 1 << 30);
  EXPECT_EQ(got->env, s.env);
  EXPECT_EQ(fake_.SpecOf("c2").status().code(), Code::kNotFound);
}

TEST_F(FakeContainerRuntimeTest, IdPrefixesFindObjectsLikeDocker) {
  std::string id = Run("c1");
  ASSERT_EQ(id.size(), 64u);
  auto info = fake_.InspectContainer(id.substr(0, 12));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->name, "c1");
}

TEST_F(FakeContainerRuntimeTest, ConcurrentCallersGetDistinctContainers) {
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ContainerSpec s;
        s.name = "c-" + std::to_string(t) + "-" + std::to_string(i);
        s.image = "img";
        s.network = "net1";
        auto id = fake_.CreateContainer(s);
        ASSERT_TRUE(id.ok());
        ASSERT_TRUE(fake_.StartContainer(*id).ok());
        std::lock_guard lock(mu);
        ids.insert(*id);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ids.size(), 200u);
  auto containers = fake_.ListContainers({});
  ASSERT_TRUE(containers.ok());
  std::set<std::string> ips;
  for (const auto& c : *containers) ips.insert(c.ips.at("net1"));
  EXPECT_EQ(ips.size(), 200u);  // no address handed out twice
}

}  // namespace
}  // namespace visi::testing
