#include "test/fakes/fake_container_runtime.h"

#include <algorithm>
#include <cstdio>

#include "controller/drivers/docker/docker_json.h"
#include "controller/drivers/docker/ipv4.h"

namespace visi::testing {
namespace {

// Docker takes any unambiguous id prefix; the fake wants 12 digits (what
// `docker ps` shows), so that short test names never match an id by chance.
constexpr size_t kMinIdPrefix = 12;

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

// "busybox" and "busybox:latest" are the same image.
std::string NormalizeImage(const std::string& image) {
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  if (image.find('@') != std::string::npos) return image;
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return image + ":latest";
  return image;
}

bool HasLabels(const Labels& have, const Labels& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

uint32_t HostMask(int prefix) { return prefix == 0 ? ~0u : (prefix >= 32 ? 0u : ~0u >> prefix); }

bool Overlaps(uint32_t a, int a_prefix, uint32_t b, int b_prefix) {
  const int p = std::min(a_prefix, b_prefix);
  return (a & ~HostMask(p)) == (b & ~HostMask(p));
}

Status CheckName(const std::string& name, const char* what) {
  if (IsDockerObjectName(name)) return OkStatus();
  return InvalidError(std::string(what) + " name or id " + Quote(name) + " must match [A-Za-z0-9][A-Za-z0-9_.-]+");
}

Status CheckPath(const std::string& path) {
  if (!path.empty() && path.front() == '/') return OkStatus();
  return InvalidError("container path " + Quote(path) + " must be absolute");
}

}  // namespace

FakeContainerRuntime::FakeContainerRuntime() {
  NetworkInfo bridge;
  bridge.name = "bridge";
  bridge.subnet = "172.17.0.0/16";
  const uint32_t base = *ParseIpv4("172.17.0.0");
  (void)AddNetwork(std::move(bridge), base, 16, base + 1, /*predefined=*/true);
}

Status FakeContainerRuntime::Enter(const char* method, int CallCounts::*counter) {
  ++(calls_.*counter);
  if (down_) return UnavailableError("fake docker daemon is down");
  auto it = failures_.find(method);
  if (it != failures_.end() && !it->second.empty()) {
    Status injected = std::move(it->second.front());
    it->second.pop_front();
    return injected;
  }
  return OkStatus();
}

std::string FakeContainerRuntime::NextId() {
  std::string id;
  for (int part = 0; part < 4; ++part) {
    uint64_t z = (next_id_ * 4 + static_cast<uint64_t>(part)) * 0x9e3779b97f4a7c15ull;  // splitmix64
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(z));
    id += buf;
  }
  ++next_id_;
  return id;
}

FakeContainerRuntime::Container* FakeContainerRuntime::FindContainer(const std::string& id_or_name) const {
  for (auto& c : containers_) {
    if (c->id == id_or_name || c->spec.name == id_or_name) return c.get();
  }
  if (id_or_name.size() < kMinIdPrefix) return nullptr;
  Container* found = nullptr;
  for (auto& c : containers_) {
    if (c->id.starts_with(id_or_name)) {
      if (found) return nullptr;  // ambiguous
      found = c.get();
    }
  }
  return found;
}

FakeContainerRuntime::Network* FakeContainerRuntime::FindNetwork(const std::string& id_or_name) {
  for (auto& n : networks_) {
    if (n.info.id == id_or_name || n.info.name == id_or_name) return &n;
  }
  if (id_or_name.size() < kMinIdPrefix) return nullptr;
  Network* found = nullptr;
  for (auto& n : networks_) {
    if (n.info.id.starts_with(id_or_name)) {
      if (found) return nullptr;
      found = &n;
    }
  }
  return found;
}

std::string FakeContainerRuntime::NetworkOf(const Container& c) const {
  return c.spec.network.empty() ? "bridge" : c.spec.network;
}

ContainerInfo FakeContainerRuntime::InfoOf(const Container& c) const {
  ContainerInfo info;
  info.id = c.id;
  info.name = c.spec.name;
  info.image = c.spec.image;
  info.state = c.state;
  info.exit_code = c.exit_code;
  info.labels = c.spec.labels;
  if (!c.ip.empty()) info.ips[NetworkOf(c)] = c.ip;
  return info;
}

Status FakeContainerRuntime::AddNetwork(NetworkInfo info, uint32_t base, int prefix, uint32_t gateway,
                                        bool predefined) {
  for (const Network& n : networks_) {
    if (Overlaps(n.base, n.prefix, base, prefix)) {
      return ConflictError("fake docker daemon refused create of network " + Quote(info.name) +
                           ": Pool overlaps with other one on this address space");
    }
  }
  info.id = NextId();
  networks_.push_back(Network{std::move(info), base, prefix, gateway, predefined});
  return OkStatus();
}

Status FakeContainerRuntime::Ping() {
  std::lock_guard lock(mu_);
  return Enter("Ping", &CallCounts::ping);
}

StatusOr<std::vector<ContainerInfo>> FakeContainerRuntime::ListContainers(const Labels& labels) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("ListContainers", &CallCounts::list_containers));
  std::vector<ContainerInfo> out;
  for (const auto& c : containers_) {
    if (HasLabels(c->spec.labels, labels)) out.push_back(InfoOf(*c));
  }
  return out;
}

StatusOr<ContainerInfo> FakeContainerRuntime::InspectContainer(const std::string& id_or_name) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("InspectContainer", &CallCounts::inspect_container));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  return InfoOf(*c);
}

StatusOr<std::string> FakeContainerRuntime::CreateContainer(const ContainerSpec& spec) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("CreateContainer", &CallCounts::create_container));
  VISI_RETURN_IF_ERROR(ContainerCreateBody(spec).status());  // the driver's own checks
  auto image = images_.find(NormalizeImage(spec.image));
  if (image == images_.end()) return NotFoundError("image " + Quote(spec.image) + " not found");
  for (const auto& c : containers_) {
    if (c->spec.name == spec.name) {
      return AlreadyExistsError("fake docker daemon refused create of container " + Quote(spec.name) +
                                ": the name is already in use by container " + Quote(c->id));
    }
  }
  auto c = std::make_unique<Container>();
  c->id = NextId();
  c->spec = spec;
  c->files = std::make_unique<FakeFileTree>(image->second);
  std::string id = c->id;
  containers_.push_back(std::move(c));
  return id;
}

Status FakeContainerRuntime::StartContainer(const std::string& id_or_name) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("StartContainer", &CallCounts::start_container));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("cannot start container " + Quote(id_or_name) + ": no such container");
  if (c->state == "running") return OkStatus();
  Network* n = FindNetwork(NetworkOf(*c));
  if (!n)
    return NotFoundError("cannot start container " + Quote(id_or_name) + ": network " + NetworkOf(*c) + " not found");
  // The lowest free host address that is not the gateway.
  const uint32_t broadcast = n->base | HostMask(n->prefix);
  for (uint32_t ip = n->base + 1; ip < broadcast; ++ip) {
    if (ip == n->gateway) continue;
    const std::string text = FormatIpv4(ip);
    bool used = false;
    for (const auto& other : containers_) used = used || (other->ip == text && NetworkOf(*other) == NetworkOf(*c));
    if (used) continue;
    c->ip = text;
    c->state = "running";
    c->exit_code = 0;
    return OkStatus();
  }
  return InternalError("fake docker daemon failed start of container " + Quote(id_or_name) +
                       ": no available IPv4 addresses on network " + n->info.name);
}

Status FakeContainerRuntime::StopContainer(const std::string& id_or_name, std::chrono::seconds) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("StopContainer", &CallCounts::stop_container));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  if (c->state == "running") {
    c->state = "exited";
    c->exit_code = 143;  // SIGTERM
    c->ip.clear();
  }
  return OkStatus();
}

Status FakeContainerRuntime::RemoveContainer(const std::string& id_or_name, std::chrono::seconds grace) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("RemoveContainer", &CallCounts::remove_container));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  std::erase_if(containers_, [&](const auto& p) { return p.get() == c; });
  return OkStatus();
}

StatusOr<std::vector<NetworkInfo>> FakeContainerRuntime::ListNetworks(const Labels& labels) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("ListNetworks", &CallCounts::list_networks));
  std::vector<NetworkInfo> out;
  for (const Network& n : networks_) {
    if (!HasLabels(n.info.labels, labels)) continue;
    NetworkInfo info = n.info;
    for (const auto& c : containers_) {
      if (!c->ip.empty() && NetworkOf(*c) == n.info.name) info.container_ids.push_back(c->id);
    }
    out.push_back(std::move(info));
  }
  return out;
}

StatusOr<std::string> FakeContainerRuntime::CreateNetwork(const NetworkSpec& spec) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("CreateNetwork", &CallCounts::create_network));
  VISI_RETURN_IF_ERROR(NetworkCreateBody(spec).status());  // the driver's own checks
  if (spec.driver != "bridge") return InvalidError("network driver " + Quote(spec.driver) + " not found");
  for (const Network& n : networks_) {
    if (n.info.name == spec.name) {
      return AlreadyExistsError("fake docker daemon refused create of network " + Quote(spec.name) +
                                ": network with name " + spec.name + " already exists");
    }
  }
  NetworkInfo info;
  info.name = spec.name;
  info.labels = spec.labels;
  Ipv4Cidr cidr;
  if (!spec.subnet.empty()) {
    cidr = *ParseIpv4Cidr(spec.subnet);
  } else {  // like the daemon's default pools: the first free 172.N.0.0/16
    bool found = false;
    for (uint32_t second = 18; second < 32 && !found; ++second) {
      cidr = Ipv4Cidr{(172u << 24) | (second << 16), 16};
      found = std::none_of(networks_.begin(), networks_.end(),
                           [&](const Network& n) { return Overlaps(n.base, n.prefix, cidr.base, 16); });
    }
    if (!found) return ConflictError("fake docker daemon has no free address pool for network " + Quote(spec.name));
  }
  info.subnet = FormatIpv4(cidr.base) + "/" + std::to_string(cidr.prefix);
  const uint32_t gateway = spec.gateway.empty() ? cidr.base + 1 : *ParseIpv4(spec.gateway);
  VISI_RETURN_IF_ERROR(AddNetwork(std::move(info), cidr.base, cidr.prefix, gateway, /*predefined=*/false));
  return networks_.back().info.id;
}

Status FakeContainerRuntime::RemoveNetwork(const std::string& id_or_name) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("RemoveNetwork", &CallCounts::remove_network));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "network"));
  Network* n = FindNetwork(id_or_name);
  if (!n) return NotFoundError("no such network " + Quote(id_or_name));
  if (n->predefined) {
    return ConflictError(n->info.name + " is a pre-defined network and cannot be removed");
  }
  for (const auto& c : containers_) {
    if (!c->ip.empty() && NetworkOf(*c) == n->info.name) {
      return ConflictError("fake docker daemon refused removal of network " + Quote(id_or_name) +
                           ": network has active endpoints");
    }
  }
  std::erase_if(networks_, [&](const Network& other) { return &other == n; });
  return OkStatus();
}

StatusOr<bool> FakeContainerRuntime::ImageExists(const std::string& image) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("ImageExists", &CallCounts::image_exists));
  if (!IsImageReference(image)) return InvalidError("image " + Quote(image) + " is not an image reference");
  return images_.count(NormalizeImage(image)) > 0;
}

StatusOr<std::string> FakeContainerRuntime::GetArchive(const std::string& id_or_name, const std::string& path) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("GetArchive", &CallCounts::get_archive));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  VISI_RETURN_IF_ERROR(CheckPath(path));
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  return c->files->Archive(path);
}

Status FakeContainerRuntime::PutArchive(const std::string& id_or_name, const std::string& path,
                                        const std::string& tar) {
  std::lock_guard lock(mu_);
  VISI_RETURN_IF_ERROR(Enter("PutArchive", &CallCounts::put_archive));
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  VISI_RETURN_IF_ERROR(CheckPath(path));
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  return c->files->Extract(path, tar);
}

void FakeContainerRuntime::AddImage(const std::string& image, std::vector<TarEntry> rootfs) {
  std::lock_guard lock(mu_);
  images_[NormalizeImage(image)] = std::move(rootfs);
}

void FakeContainerRuntime::SetDown(bool down) {
  std::lock_guard lock(mu_);
  down_ = down;
}

void FakeContainerRuntime::FailNext(const std::string& method, Status status) {
  std::lock_guard lock(mu_);
  failures_[method].push_back(std::move(status));
}

Status FakeContainerRuntime::ExitContainer(const std::string& id_or_name, int exit_code) {
  std::lock_guard lock(mu_);
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  c->state = "exited";
  c->exit_code = exit_code;
  c->ip.clear();
  return OkStatus();
}

StatusOr<ContainerSpec> FakeContainerRuntime::SpecOf(const std::string& id_or_name) const {
  std::lock_guard lock(mu_);
  Container* c = FindContainer(id_or_name);
  if (!c) return NotFoundError("no such container " + Quote(id_or_name));
  return c->spec;
}

FakeContainerRuntime::CallCounts FakeContainerRuntime::calls() const {
  std::lock_guard lock(mu_);
  return calls_;
}

void FakeContainerRuntime::ResetCalls() {
  std::lock_guard lock(mu_);
  calls_ = CallCounts{};
}

}  // namespace visi::testing
