#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "controller/drivers/docker/container_runtime.h"
#include "controller/drivers/docker/docker_client.h"

namespace visi {

class Informer;

// The Docker host of each machine: "local" (or "") is visid's own Docker
// host; any other name is a FarmMachine, reached at its spec.endpoint (with
// ca.pem, cert.pem and key.pem from spec.tlsSecretPath for tcp://). Clients
// are made on first use and kept, one per endpoint and TLS directory, so
// machines sharing a daemon (the local provider) share one. A machine that
// does not exist, has no endpoint yet, or whose TLS files are unusable gets
// a runtime whose every call fails with kUnavailable saying so. Thread-safe.
class MachineRuntimes {
 public:
  static constexpr char kLocal[] = "local";

  // `machines`: the FarmMachine informer. `local`: visid's own Docker host;
  // its timeouts and answer limit apply to every machine's client.
  MachineRuntimes(Informer* machines, ContainerRuntime* local, DockerClientOptions defaults);
  ~MachineRuntimes();

  ContainerRuntime* For(const std::string& machine);
  // The runtime for an endpoint and TLS directory (what For uses).
  ContainerRuntime* ForEndpoint(const std::string& endpoint, const std::string& tls_secret_path);

  RuntimeForMachine AsFunction() {
    return [this](const std::string& machine) { return For(machine); };
  }

 private:
  ContainerRuntime* Failing(const std::string& why);

  Informer* const machines_;
  ContainerRuntime* const local_;
  const DockerClientOptions defaults_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<ContainerRuntime>> clients_;  // GUARDED_BY(mu_)
  std::map<std::string, std::unique_ptr<ContainerRuntime>> failing_;  // GUARDED_BY(mu_): by message
};

}  // namespace visi
