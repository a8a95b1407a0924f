#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "controller/drivers/docker/docker_client.h"
#include "controller/drivers/docker/docker_http.h"

// An HTTP upstream for benchmarks: busybox httpd serving one small file in a
// container, plus the probes around it.
namespace visi::bench {

// One GET on a new connection (HTTP/1.1, 2 s timeouts): the status code and
// the answer's head.
struct HttpAnswer {
  int status = 0;
  std::string head;
};
inline StatusOr<HttpAnswer> HttpGet(const std::string& ip, int port, const std::string& path,
                                    const std::string& cookie) {
  const std::string where = "GET http://" + ip + ":" + std::to_string(port) + path;
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return UnavailableError(where + ": socket: " + std::strerror(errno));
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: bench\r\n";
  if (!cookie.empty()) request += "Cookie: JSESSIONID=" + cookie + "\r\n";
  request += "\r\n";
  std::string answer;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    ssize_t got;
    while (answer.find("\r\n\r\n") == std::string::npos && (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0) {
      answer.append(buffer, static_cast<size_t>(got));
    }
  }
  const int error = errno;
  ::close(fd);
  if (answer.rfind("HTTP/1.", 0) != 0 || answer.size() < 12) {
    return UnavailableError(where + ": no HTTP answer (" + std::strerror(error) + ")");
  }
  return HttpAnswer{std::atoi(answer.c_str() + 9), answer.substr(0, answer.find("\r\n\r\n"))};
}

// A TcpExt counter ("ListenDrops", "TCPSynRetrans") of the network
// namespace of process `pid`; -1 when unreadable.
inline int64_t TcpExtCounter(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/netstat");
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    for (std::string a, b; n >> a && v >> b;) {
      if (a == name) return std::atoll(b.c_str());
    }
  }
  return -1;
}

// busybox httpd (one process forked per connection, "Connection: close" on
// every answer) in a container of the local image visi/busybox, on a bridge
// network of its own, serving "ok\n" at `path` on ports 8080, 8081, ...
// The container and the network carry `labels` and are removed by them.
//
// Several ports, because every request opens a connection and the side that
// closes first (the client here) keeps it in TIME_WAIT for 60 s: a few
// seconds at thousands of requests per second use up most of the client's
// ephemeral ports towards one address and port, and later runs against the
// same port slow down. A fresh port per run starts clean.
class BusyboxUpstream {
 public:
  static constexpr int kPort = 8080;

  explicit BusyboxUpstream(Labels labels) : labels_(std::move(labels)) {}
  ~BusyboxUpstream() { Remove(); }
  BusyboxUpstream(const BusyboxUpstream&) = delete;
  BusyboxUpstream& operator=(const BusyboxUpstream&) = delete;

  // Creates network and container `name`, httpd listening on `ports` ports
  // from kPort up, and returns once each answers 200 (kUnavailable when one
  // does not within 10 s, or when `give_up` says so).
  Status Start(const std::string& name, const std::string& path, int ports, const std::function<bool()>& give_up) {
    VISI_ASSIGN_OR_RETURN(docker_, NewDockerClient({}));
    VISI_RETURN_IF_ERROR(docker_->Ping());
    VISI_ASSIGN_OR_RETURN(bool image, docker_->ImageExists("visi/busybox:latest"));
    if (!image) return NotFoundError("image visi/busybox:latest is missing: run hack/images.sh");
    VISI_RETURN_IF_ERROR(docker_->CreateNetwork({name, "", "", "bridge", labels_}).status());
    ContainerSpec c;
    c.name = name;
    c.image = "visi/busybox:latest";
    // As uid 65534: /tmp is the writable place.
    const std::string file = "/tmp/w" + path;
    std::string script = "mkdir -p " + file.substr(0, file.rfind('/')) + " && echo ok > " + file;
    for (int p = kPort + 1; p < kPort + ports; ++p) script += " && httpd -p " + std::to_string(p) + " -h /tmp/w";
    script += " && exec httpd -f -p " + std::to_string(kPort) + " -h /tmp/w";
    c.command = {"/bin/sh", "-c", script};
    c.labels = labels_;
    c.network = name;
    for (int p = kPort; p < kPort + ports; ++p) c.exposed_ports.push_back(p);
    VISI_RETURN_IF_ERROR(docker_->CreateContainer(c).status());
    VISI_RETURN_IF_ERROR(docker_->StartContainer(name));
    VISI_ASSIGN_OR_RETURN(ContainerInfo info, docker_->InspectContainer(name));
    if (!info.ips.count(name)) return InternalError("container " + name + " has no address on its network");
    ip_ = info.ips[name];
    // Its pid (ContainerInfo has none), to read its namespace's counters.
    DockerHttpOptions http_options;
    VISI_ASSIGN_OR_RETURN(http_options.endpoint, ParseDockerEndpoint("unix:///var/run/docker.sock"));
    VISI_ASSIGN_OR_RETURN(std::unique_ptr<DockerHttp> http, DockerHttp::Create(http_options));
    VISI_ASSIGN_OR_RETURN(DockerResponse inspect, http->RoundTrip({"GET", "/containers/" + name + "/json", "", ""}));
    const nlohmann::json j = nlohmann::json::parse(inspect.body, nullptr, false);
    if (j.is_object() && j.contains("State") && j["State"].is_object()) pid_ = j["State"].value("Pid", 0);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int p = kPort; p < kPort + ports;) {
      auto answer = HttpGet(ip_, p, path, "");
      if (answer.ok() && answer->status == 200) {
        ++p;
        continue;
      }
      if (give_up() || std::chrono::steady_clock::now() >= until) {
        return UnavailableError("httpd in container " + name + " does not answer 200 on port " + std::to_string(p) +
                                " " + path);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return OkStatus();
  }

  // Removes every container and network carrying the labels. Idempotent.
  void Remove() {
    if (!docker_) return;
    if (auto cs = docker_->ListContainers(labels_); cs.ok()) {
      for (const ContainerInfo& c : *cs) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
    if (auto ns = docker_->ListNetworks(labels_); ns.ok()) {
      for (const NetworkInfo& n : *ns) (void)docker_->RemoveNetwork(n.id);
    }
    docker_.reset();
  }

  const std::string& ip() const { return ip_; }
  pid_t pid() const { return pid_; }  // 0: unknown

 private:
  Labels labels_;
  std::unique_ptr<ContainerRuntime> docker_;
  std::string ip_;
  pid_t pid_ = 0;
};

}  // namespace visi::bench
