#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "controller/base/status.h"
#include "controller/base/statusor.h"
#include "controller/drivers/docker/container_runtime.h"

namespace visi {

class DockerHttp;
struct DockerResponse;

struct DockerClientOptions {
  // "unix:///path/to/socket" or "tcp://host:port" (then the three TLS files
  // are required: the daemon's CA, our client certificate and its key, PEM).
  std::string endpoint = "unix:///var/run/docker.sock";
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  // Bounds every call from connect to the last byte of the answer.
  std::chrono::milliseconds request_timeout{30000};
  // Bounds archive transfers and image imports instead.
  std::chrono::milliseconds transfer_timeout{600000};
  // Larger answers (archives mostly) are kTooLarge.
  size_t max_body_bytes = size_t{1} << 30;
};

// ContainerRuntime over the Docker Engine API v1.41 (docker.io 20.10), on the
// daemon's unix socket or over TCP with TLS client certificates. One
// connection per call; thread-safe. Never runs the docker CLI.
//
// Besides the ContainerRuntime errors, names that Docker could not accept (or
// that would not be safe in a URL) are kInvalid before any request is sent,
// and an answer larger than max_body_bytes is kTooLarge.
class DockerClient : public ContainerRuntime {
 public:
  // kInvalid naming the option when the endpoint or a TLS file is unusable.
  // Does not contact the daemon (see Ping).
  static StatusOr<std::unique_ptr<DockerClient>> Create(const DockerClientOptions& options);
  ~DockerClient() override;

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

  // Not part of ContainerRuntime: how tests and tools make images without a
  // registry. Imports `rootfs_tar` (a root file system) as `repo_tag`
  // ("name:tag"), applying Dockerfile `changes` such as "LABEL k=v".
  Status ImportImage(const std::string& rootfs_tar, const std::string& repo_tag,
                     const std::vector<std::string>& changes = {});
  // Untags and deletes the image (force); a missing image is kNotFound.
  Status RemoveImage(const std::string& image);

  const std::string& endpoint() const { return endpoint_; }

 private:
  DockerClient(std::unique_ptr<DockerHttp> http, DockerClientOptions options);

  StatusOr<DockerResponse> Call(const std::string& method, const std::string& target, std::string body = "",
                                std::string content_type = "", std::chrono::milliseconds timeout = {});

  std::unique_ptr<DockerHttp> http_;
  DockerClientOptions options_;
  std::string endpoint_;
  std::string where_;  // "docker daemon at <endpoint>", for messages
};

// The same as DockerClient::Create, as the interface.
StatusOr<std::unique_ptr<ContainerRuntime>> NewDockerClient(const DockerClientOptions& options);

}  // namespace visi
