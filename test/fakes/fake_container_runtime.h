#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/docker/tar_archive.h"
#include "test/fakes/fake_file_tree.h"

namespace visi::testing {

// The in-memory twin of DockerClient: the same contract, checked by the same
// contract tests (test/integration/container_runtime_contract_test.cc).
// Specs are validated by the driver's own code (docker_json.h), so a spec the
// fake accepts is one the driver would send.
//
// Behaviour copied from Docker 20.10:
//   - create needs the image, not the network; start needs the network
//   - a container holds an address on its network only while running
//     (the lowest free one in the subnet, skipping the gateway)
//   - a network with a running container attached cannot be removed
//   - "bridge" exists from the start (172.17.0.0/16) and serves containers
//     created without a network; it cannot be removed
//   - ids are 64 hex digits; an unambiguous id prefix finds the object
//     (the fake wants at least 12 digits, so short names never match an id)
//   - archives: see FakeFileTree
//
// Thread-safe.
class FakeContainerRuntime : public ContainerRuntime {
 public:
  // Calls made so far, failed ones included.
  struct CallCounts {
    int ping = 0;
    int list_containers = 0;
    int inspect_container = 0;
    int create_container = 0;
    int start_container = 0;
    int stop_container = 0;
    int remove_container = 0;
    int list_networks = 0;
    int create_network = 0;
    int remove_network = 0;
    int image_exists = 0;
    int get_archive = 0;
    int put_archive = 0;
  };

  FakeContainerRuntime();

  Status Ping() override;
  StatusOr<std::vector<ContainerInfo>> ListContainers(const Labels& labels) override;
  StatusOr<ContainerInfo> InspectContainer(const std::string& id_or_name) override;
  StatusOr<std::string> CreateContainer(const ContainerSpec& spec) override;
  Status StartContainer(const std::string& id_or_name) override;
  Status StopContainer(const std::string& id_or_name, std::chrono::seconds grace) override;
  Status RemoveContainer(const std::string& id_or_name, std::chrono::seconds grace) override;
  StatusOr<std::vector<NetworkInfo>> ListNetworks(const Labels& labels) override;
  StatusOr<std::string> CreateNetwork(const NetworkSpec& spec) override;
  Status RemoveNetwork(const std::string& id_or_name) override;
  StatusOr<bool> ImageExists(const std::string& image) override;
  StatusOr<std::string> GetArchive(const std::string& id_or_name, const std::string& path) override;
  Status PutArchive(const std::string& id_or_name, const std::string& path, const std::string& tar) override;

  // --- Test controls ---

  // Makes `image` ("name" means "name:latest") available; new containers of
  // it start with `rootfs` as their files.
  void AddImage(const std::string& image, std::vector<TarEntry> rootfs = {});
  // While down, every call is kUnavailable (and still counted).
  void SetDown(bool down);
  // The next call of `method` ("CreateContainer", "StartContainer", ...)
  // fails with `status` instead of running. Queued per method.
  void FailNext(const std::string& method, Status status);
  // The container's process ended: state "exited" with `exit_code`, and it
  // leaves its network address. kNotFound when there is no such container.
  Status ExitContainer(const std::string& id_or_name, int exit_code);
  // The spec a container was created from; kNotFound when there is none.
  StatusOr<ContainerSpec> SpecOf(const std::string& id_or_name) const;

  CallCounts calls() const;
  void ResetCalls();

 private:
  struct Container {
    std::string id;
    ContainerSpec spec;
    std::string state = "created";
    int exit_code = 0;
    std::string ip;  // while running
    std::unique_ptr<FakeFileTree> files;
  };
  struct Network {
    NetworkInfo info;  // container_ids unused: derived from containers_
    uint32_t base = 0;
    int prefix = 0;
    uint32_t gateway = 0;
    bool predefined = false;
  };

  // REQUIRES: mu_ held. Counts the call, then applies SetDown and FailNext.
  Status Enter(const char* method, int CallCounts::*counter);
  Container* FindContainer(const std::string& id_or_name) const;
  Network* FindNetwork(const std::string& id_or_name);
  std::string NetworkOf(const Container& c) const;
  ContainerInfo InfoOf(const Container& c) const;
  std::string NextId();
  Status AddNetwork(NetworkInfo info, uint32_t base, int prefix, uint32_t gateway, bool predefined);

  mutable std::mutex mu_;
  std::map<std::string, std::vector<TarEntry>> images_;  // GUARDED_BY(mu_), normalized name -> rootfs
  std::vector<std::unique_ptr<Container>> containers_;   // GUARDED_BY(mu_), in creation order
  std::vector<Network> networks_;                        // GUARDED_BY(mu_), in creation order
  std::map<std::string, std::deque<Status>> failures_;   // GUARDED_BY(mu_)
  bool down_ = false;                                    // GUARDED_BY(mu_)
  CallCounts calls_;                                     // GUARDED_BY(mu_)
  uint64_t next_id_ = 1;                                 // GUARDED_BY(mu_)
};

}  // namespace visi::testing
