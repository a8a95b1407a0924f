#include "reconcilers/farm/machine_runtimes.h"

#include "controller/runtime/informer.h"
#include "reconcilers/farm/farm_objects.h"

namespace visi {
namespace {

// Every call fails with the same kUnavailable error.
class FailingRuntime : public ContainerRuntime {
 public:
  explicit FailingRuntime(std::string why) : why_(UnavailableError(std::move(why))) {}
  Status Ping() override { return why_; }
  StatusOr<std::vector<ContainerInfo>> ListContainers(const Labels&) override { return why_; }
  StatusOr<ContainerInfo> InspectContainer(const std::string&) override { return why_; }
  StatusOr<std::string> CreateContainer(const ContainerSpec&) override { return why_; }
  Status StartContainer(const std::string&) override { return why_; }
  Status StopContainer(const std::string&, std::chrono::seconds) override { return why_; }
  Status RemoveContainer(const std::string&, std::chrono::seconds) override { return why_; }
  StatusOr<std::vector<NetworkInfo>> ListNetworks(const Labels&) override { return why_; }
  StatusOr<std::string> CreateNetwork(const NetworkSpec&) override { return why_; }
  Status RemoveNetwork(const std::string&) override { return why_; }
  StatusOr<bool> ImageExists(const std::string&) override { return why_; }
  StatusOr<std::string> GetArchive(const std::string&, const std::string&) override { return why_; }
  Status PutArchive(const std::string&, const std::string&, const std::string&) override { return why_; }

 private:
  const Status why_;
};

}  // namespace

MachineRuntimes::MachineRuntimes(Informer* machines, ContainerRuntime* local, DockerClientOptions defaults)
    : machines_(machines), local_(local), defaults_(std::move(defaults)) {}

MachineRuntimes::~MachineRuntimes() = default;

ContainerRuntime* MachineRuntimes::Failing(const std::string& why) {
  std::lock_guard lock(mu_);
  auto& r = failing_[why];
  if (!r) r = std::make_unique<FailingRuntime>(why);
  return r.get();
}

ContainerRuntime* MachineRuntimes::For(const std::string& machine) {
  if (machine.empty() || machine == kLocal) return local_;
  ObjectPtr m = machines_ ? machines_->Get("", machine) : nullptr;
  if (!m) return Failing("machine " + machine + " does not exist");
  const std::string endpoint = StringField(m->spec, "endpoint");
  if (endpoint.empty()) return Failing("machine " + machine + " has no Docker endpoint yet (still provisioning)");
  return ForEndpoint(endpoint, StringField(m->spec, "tlsSecretPath"));
}

ContainerRuntime* MachineRuntimes::ForEndpoint(const std::string& endpoint, const std::string& tls_secret_path) {
  if (endpoint == defaults_.endpoint && tls_secret_path.empty()) return local_;
  const std::string key = endpoint + "\n" + tls_secret_path;
  {
    std::lock_guard lock(mu_);
    if (auto it = clients_.find(key); it != clients_.end()) return it->second.get();
  }
  DockerClientOptions o = defaults_;
  o.endpoint = endpoint;
  o.tls_ca_file = o.tls_cert_file = o.tls_key_file = "";
  if (!tls_secret_path.empty()) {
    o.tls_ca_file = tls_secret_path + "/ca.pem";
    o.tls_cert_file = tls_secret_path + "/cert.pem";
    o.tls_key_file = tls_secret_path + "/key.pem";
  }
  auto client = NewDockerClient(o);
  // Not kept: the files may be fixed, and the next call tries again.
  if (!client.ok()) return Failing("Docker endpoint " + endpoint + ": " + client.status().message());
  std::lock_guard lock(mu_);
  auto& slot = clients_[key];
  if (!slot) slot = std::move(*client);
  return slot.get();
}

}  // namespace visi
