#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"

namespace visi {

// What Visi asks of one Docker host: containers and networks found by label,
// created, started and removed. The real implementation speaks the Docker
// Engine API (docker_client.h); tests of reconciler logic use the in-memory
// twin (test/fakes/fake_container_runtime.h).
//
// Errors, the same on every implementation:
//   kUnavailable        the daemon cannot be reached or timed out: retry later
//   kNotFound           no such container / network / image (the message says which)
//   kAlreadyExists      a container or network of that name exists already
//   kInvalid            the daemon refused the spec (bad port, bad limits ...)
//   kConflict           the object is busy (e.g. a network still has endpoints)
//   kInternal           anything else the daemon answered with a 5xx

using Labels = std::map<std::string, std::string>;

struct ContainerSpec {
  std::string name;                  // deterministic; unique on the host
  std::string image;                 // must exist locally (see ImageExists)
  std::vector<std::string> command;  // empty: the image's default
  std::vector<std::string> env;      // "NAME=value"
  Labels labels;
  std::string network;                // the only network it joins (by name)
  std::vector<std::string> aliases;   // DNS names on that network
  std::string hostname;
  std::string user = "65534:65534";   // unprivileged unless told otherwise
  int64_t memory_bytes = 0;           // 0: unlimited
  int64_t nano_cpus = 0;              // 1e9 = one cpu; 0: unlimited
  int64_t pids_limit = 0;             // 0: unlimited
  std::vector<int> exposed_ports;     // tcp ports the container listens on
  // Always applied: CapDrop ALL, no-new-privileges, not privileged.
};

struct ContainerInfo {
  std::string id;
  std::string name;   // without the leading '/'
  std::string image;  // as given at create
  std::string state;  // "created", "running", "exited", "restarting", "dead", ...
  int exit_code = 0;
  Labels labels;
  std::map<std::string, std::string> ips;  // network name -> IPv4 address
  bool running() const { return state == "running"; }
};

struct NetworkSpec {
  std::string name;
  std::string subnet;   // CIDR, e.g. "10.213.4.0/24"
  std::string gateway;  // empty: the daemon picks the first host address
  std::string driver = "bridge";
  Labels labels;
};

struct NetworkInfo {
  std::string id;
  std::string name;
  std::string subnet;
  Labels labels;
  std::vector<std::string> container_ids;  // endpoints attached right now
};

class ContainerRuntime {
 public:
  virtual ~ContainerRuntime() = default;

  // OK when the daemon answers.
  virtual Status Ping() = 0;

  // Every container (running or not) that carries all of `labels`.
  virtual StatusOr<std::vector<ContainerInfo>> ListContainers(const Labels& labels) = 0;
  virtual StatusOr<ContainerInfo> InspectContainer(const std::string& id_or_name) = 0;
  // Creates (does not start) the container; returns its id.
  virtual StatusOr<std::string> CreateContainer(const ContainerSpec& spec) = 0;
  // Starting a running container is OK.
  virtual Status StartContainer(const std::string& id_or_name) = 0;
  // SIGTERM, then SIGKILL after `grace`; the container stays (state
  // "exited"). Stopping a stopped container is OK; a missing one is NotFound.
  virtual Status StopContainer(const std::string& id_or_name, std::chrono::seconds grace) = 0;
  // Stops with `grace` before SIGKILL, then removes; removing a missing one is NotFound.
  virtual Status RemoveContainer(const std::string& id_or_name, std::chrono::seconds grace) = 0;

  virtual StatusOr<std::vector<NetworkInfo>> ListNetworks(const Labels& labels) = 0;
  virtual StatusOr<std::string> CreateNetwork(const NetworkSpec& spec) = 0;
  // A network with endpoints attached is kConflict; a missing one is NotFound.
  virtual Status RemoveNetwork(const std::string& id_or_name) = 0;

  virtual StatusOr<bool> ImageExists(const std::string& image) = 0;

  // The tar of `path` inside the container (running or stopped), and back.
  virtual StatusOr<std::string> GetArchive(const std::string& id_or_name, const std::string& path) = 0;
  virtual Status PutArchive(const std::string& id_or_name, const std::string& path, const std::string& tar) = 0;
};

// The Docker host of a machine (the seam for FarmPool placement).
using RuntimeForMachine = std::function<ContainerRuntime*(const std::string& machine)>;

}  // namespace visi
