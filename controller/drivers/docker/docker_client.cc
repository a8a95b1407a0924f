#include "controller/drivers/docker/docker_client.h"

#include "controller/drivers/docker/docker_http.h"
#include "controller/drivers/docker/docker_json.h"

namespace visi {
namespace {

constexpr const char* kApi = "/v1.41";

std::string Quote(std::string_view s) { return "\"" + std::string(s.substr(0, 256)) + "\""; }

// How one call reads the daemon's error statuses. 304 is handled by callers.
struct ErrorMap {
  std::string not_found;         // "no such container \"x\""
  Code on_403 = Code::kInvalid;  // the daemon refused the operation
  Code on_404 = Code::kNotFound;
  Code on_409 = Code::kConflict;  // busy, unless a create says otherwise
};

// `where` names the daemon ("docker daemon at unix:///var/run/docker.sock"),
// as a farm has many.
Status ErrorFromAnswer(const std::string& where, const DockerResponse& answer, const std::string& request,
                       const ErrorMap& map) {
  const std::string daemon = DaemonMessage(answer.body);
  switch (answer.status) {
    case 400:
      return InvalidError(where + " refused " + request + ": " + daemon);
    case 403:
      return Status(map.on_403, where + " refused " + request + ": " + daemon);
    case 404:
      return Status(map.on_404, map.not_found + " (" + where + ": " + daemon + ")");
    case 409:
      return Status(map.on_409, where + " refused " + request + ": " + daemon);
    default:
      break;
  }
  if (answer.status >= 500) return InternalError(where + " failed " + request + ": " + daemon);
  return InternalError(where + " answered " + request + " with unexpected HTTP " + std::to_string(answer.status) +
                       ": " + daemon);
}

Status CheckName(const std::string& name, const char* what) {
  if (IsDockerObjectName(name)) return OkStatus();
  return InvalidError(std::string(what) + " name or id " + Quote(name) + " must match [A-Za-z0-9][A-Za-z0-9_.-]+");
}

Status CheckPath(const std::string& path) {
  if (!path.empty() && path.front() == '/' && path.size() <= 4096 && path.find('\0') == std::string::npos) {
    return OkStatus();
  }
  return InvalidError("container path " + Quote(path) + " must be absolute");
}

}  // namespace

StatusOr<std::unique_ptr<DockerClient>> DockerClient::Create(const DockerClientOptions& options) {
  VISI_ASSIGN_OR_RETURN(DockerEndpoint endpoint, ParseDockerEndpoint(options.endpoint, "endpoint"));
  if (options.request_timeout.count() <= 0) {
    return InvalidError("request_timeout must be positive", {{"request_timeout", "must be positive"}});
  }
  if (options.transfer_timeout.count() <= 0) {
    return InvalidError("transfer_timeout must be positive", {{"transfer_timeout", "must be positive"}});
  }
  DockerHttpOptions http_options;
  http_options.endpoint = endpoint;
  http_options.tls_ca_file = options.tls_ca_file;
  http_options.tls_cert_file = options.tls_cert_file;
  http_options.tls_key_file = options.tls_key_file;
  http_options.max_body_bytes = options.max_body_bytes;
  VISI_ASSIGN_OR_RETURN(std::unique_ptr<DockerHttp> http, DockerHttp::Create(std::move(http_options)));
  return std::unique_ptr<DockerClient>(new DockerClient(std::move(http), options));
}

StatusOr<std::unique_ptr<ContainerRuntime>> NewDockerClient(const DockerClientOptions& options) {
  VISI_ASSIGN_OR_RETURN(std::unique_ptr<DockerClient> client, DockerClient::Create(options));
  return std::unique_ptr<ContainerRuntime>(std::move(client));
}

DockerClient::DockerClient(std::unique_ptr<DockerHttp> http, DockerClientOptions options)
    : http_(std::move(http)),
      options_(std::move(options)),
      endpoint_(http_->endpoint().ToString()),
      where_("docker daemon at " + endpoint_) {}

DockerClient::~DockerClient() = default;

StatusOr<DockerResponse> DockerClient::Call(const std::string& method, const std::string& target, std::string body,
                                            std::string content_type, std::chrono::milliseconds timeout) {
  DockerRequest request;
  request.method = method;
  request.target = kApi + target;
  request.body = std::move(body);
  request.content_type = std::move(content_type);
  request.timeout = timeout.count() > 0 ? timeout : options_.request_timeout;
  return http_->RoundTrip(request);
}

Status DockerClient::Ping() {
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("GET", "/_ping"));
  if (answer.status == 200) return OkStatus();
  return ErrorFromAnswer(where_, answer, "GET /_ping", {"no /_ping endpoint"});
}

StatusOr<std::vector<ContainerInfo>> DockerClient::ListContainers(const Labels& labels) {
  std::string target = "/containers/json?all=true";
  if (std::string filters = LabelFilters(labels); !filters.empty()) target += "&filters=" + UrlEncode(filters);
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("GET", target));
  if (answer.status != 200)
    return ErrorFromAnswer(where_, answer, "the container list", {"no container list endpoint"});
  return ParseContainerList(answer.body);
}

StatusOr<ContainerInfo> DockerClient::InspectContainer(const std::string& id_or_name) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("GET", "/containers/" + id_or_name + "/json"));
  if (answer.status != 200) {
    return ErrorFromAnswer(where_, answer, "inspect of container " + Quote(id_or_name),
                           {"no such container " + Quote(id_or_name)});
  }
  return ParseContainerInspect(answer.body);
}

StatusOr<std::string> DockerClient::CreateContainer(const ContainerSpec& spec) {
  VISI_ASSIGN_OR_RETURN(std::string body, ContainerCreateBody(spec));
  VISI_ASSIGN_OR_RETURN(DockerResponse answer,
                        Call("POST", "/containers/create?name=" + UrlEncode(spec.name), body, "application/json"));
  if (answer.status != 201) {
    ErrorMap map{"image " + Quote(spec.image) + " not found"};
    map.on_409 = Code::kAlreadyExists;
    return ErrorFromAnswer(where_, answer, "create of container " + Quote(spec.name), map);
  }
  return ParseCreatedId(answer.body);
}

Status DockerClient::StartContainer(const std::string& id_or_name) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("POST", "/containers/" + id_or_name + "/start"));
  if (answer.status == 204 || answer.status == 304) return OkStatus();  // 304: already running
  // A 404 here is the container itself or the network it names.
  return ErrorFromAnswer(where_, answer, "start of container " + Quote(id_or_name),
                         {"cannot start container " + Quote(id_or_name) + ": it or its network is missing"});
}

Status DockerClient::StopContainer(const std::string& id_or_name, std::chrono::seconds grace) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  const int64_t t = std::max<int64_t>(0, grace.count());
  VISI_ASSIGN_OR_RETURN(DockerResponse stop, Call("POST", "/containers/" + id_or_name + "/stop?t=" + std::to_string(t),
                                                  "", "", options_.request_timeout + std::chrono::seconds(t)));
  if (stop.status == 204 || stop.status == 304) return OkStatus();  // 304: it was not running
  return ErrorFromAnswer(where_, stop, "stop of container " + Quote(id_or_name),
                         {"no such container " + Quote(id_or_name)});
}

Status DockerClient::RemoveContainer(const std::string& id_or_name, std::chrono::seconds grace) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  const ErrorMap map{"no such container " + Quote(id_or_name)};
  const int64_t t = std::max<int64_t>(0, grace.count());
  // The daemon answers the stop only after the grace period.
  const auto stop_timeout = options_.request_timeout + std::chrono::seconds(t);
  VISI_ASSIGN_OR_RETURN(DockerResponse stop, Call("POST", "/containers/" + id_or_name + "/stop?t=" + std::to_string(t),
                                                  "", "", stop_timeout));
  // 304: not running; 409: cannot be stopped (e.g. restarting): the forced
  // delete below kills it anyway.
  if (stop.status != 204 && stop.status != 304 && stop.status != 409) {
    return ErrorFromAnswer(where_, stop, "stop of container " + Quote(id_or_name), map);
  }
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("DELETE", "/containers/" + id_or_name + "?force=true&v=true"));
  if (answer.status == 204) return OkStatus();
  return ErrorFromAnswer(where_, answer, "removal of container " + Quote(id_or_name), map);
}

StatusOr<std::vector<NetworkInfo>> DockerClient::ListNetworks(const Labels& labels) {
  std::string target = "/networks";
  if (std::string filters = LabelFilters(labels); !filters.empty()) target += "?filters=" + UrlEncode(filters);
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("GET", target));
  if (answer.status != 200) return ErrorFromAnswer(where_, answer, "the network list", {"no network list endpoint"});
  VISI_ASSIGN_OR_RETURN(std::vector<NetworkInfo> listed, ParseNetworkList(answer.body));
  // The list leaves Containers empty; each network's own answer fills it.
  std::vector<NetworkInfo> out;
  for (const NetworkInfo& n : listed) {
    VISI_RETURN_IF_ERROR(CheckName(n.id, "network"));
    VISI_ASSIGN_OR_RETURN(DockerResponse one, Call("GET", "/networks/" + n.id));
    if (one.status == 404) continue;  // removed since the list
    if (one.status != 200)
      return ErrorFromAnswer(where_, one, "inspect of network " + Quote(n.name), {"no such network " + Quote(n.name)});
    VISI_ASSIGN_OR_RETURN(NetworkInfo full, ParseNetworkInspect(one.body));
    out.push_back(std::move(full));
  }
  return out;
}

StatusOr<std::string> DockerClient::CreateNetwork(const NetworkSpec& spec) {
  VISI_ASSIGN_OR_RETURN(std::string body, NetworkCreateBody(spec));
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("POST", "/networks/create", body, "application/json"));
  if (answer.status != 201) {
    ErrorMap map{"network driver " + Quote(spec.driver) + " not found"};
    map.on_404 = Code::kInvalid;   // a missing driver plugin: the spec must change
    map.on_403 = Code::kConflict;  // the subnet overlaps another network's
    map.on_409 = Code::kAlreadyExists;
    return ErrorFromAnswer(where_, answer, "create of network " + Quote(spec.name), map);
  }
  return ParseCreatedId(answer.body);
}

Status DockerClient::RemoveNetwork(const std::string& id_or_name) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "network"));
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("DELETE", "/networks/" + id_or_name));
  if (answer.status == 204) return OkStatus();
  ErrorMap map{"no such network " + Quote(id_or_name)};
  map.on_403 = Code::kConflict;  // "has active endpoints" (also: a predefined network)
  return ErrorFromAnswer(where_, answer, "removal of network " + Quote(id_or_name), map);
}

StatusOr<bool> DockerClient::ImageExists(const std::string& image) {
  if (!IsImageReference(image)) return InvalidError("image " + Quote(image) + " is not an image reference");
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("GET", "/images/" + image + "/json"));
  if (answer.status == 200) return true;
  if (answer.status == 404) return false;
  return ErrorFromAnswer(where_, answer, "inspect of image " + Quote(image), {"image " + Quote(image) + " not found"});
}

StatusOr<std::string> DockerClient::GetArchive(const std::string& id_or_name, const std::string& path) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  VISI_RETURN_IF_ERROR(CheckPath(path));
  VISI_ASSIGN_OR_RETURN(
      DockerResponse answer,
      Call("GET", "/containers/" + id_or_name + "/archive?path=" + UrlEncode(path), "", "", options_.transfer_timeout));
  if (answer.status == 200) return std::move(answer.body);
  return ErrorFromAnswer(where_, answer, "archive of " + Quote(path) + " in container " + Quote(id_or_name),
                         {"no such container " + Quote(id_or_name) + " or no " + Quote(path) + " in it"});
}

Status DockerClient::PutArchive(const std::string& id_or_name, const std::string& path, const std::string& tar) {
  VISI_RETURN_IF_ERROR(CheckName(id_or_name, "container"));
  VISI_RETURN_IF_ERROR(CheckPath(path));
  VISI_ASSIGN_OR_RETURN(DockerResponse answer,
                        Call("PUT", "/containers/" + id_or_name + "/archive?path=" + UrlEncode(path), tar,
                             "application/x-tar", options_.transfer_timeout));
  if (answer.status == 200) return OkStatus();
  const std::string request = "extraction into " + Quote(path) + " of container " + Quote(id_or_name);
  // The daemon reports a bad extraction point or a bad tar as a 500; both are
  // the caller's to fix.
  const std::string daemon = DaemonMessage(answer.body);
  if (answer.status == 500 && (daemon.find("not a directory") != std::string::npos ||
                               daemon.find("Error processing tar file") != std::string::npos)) {
    return InvalidError(where_ + " refused " + request + ": " + daemon);
  }
  return ErrorFromAnswer(where_, answer, request,
                         {"no such container " + Quote(id_or_name) + " or no directory " + Quote(path) + " in it"});
}

Status DockerClient::ImportImage(const std::string& rootfs_tar, const std::string& repo_tag,
                                 const std::vector<std::string>& changes) {
  const size_t slash = repo_tag.rfind('/');
  const size_t colon = repo_tag.rfind(':');
  if (!IsImageReference(repo_tag) || colon == std::string::npos || (slash != std::string::npos && colon < slash) ||
      repo_tag.find('@') != std::string::npos) {
    return InvalidError("image " + Quote(repo_tag) + " must be name:tag");
  }
  std::string target = "/images/create?fromSrc=-&repo=" + UrlEncode(repo_tag.substr(0, colon)) +
                       "&tag=" + UrlEncode(repo_tag.substr(colon + 1));
  for (const std::string& change : changes) target += "&changes=" + UrlEncode(change);
  VISI_ASSIGN_OR_RETURN(DockerResponse answer,
                        Call("POST", target, rootfs_tar, "application/x-tar", options_.transfer_timeout));
  if (answer.status != 200)
    return ErrorFromAnswer(where_, answer, "import of image " + Quote(repo_tag), {"no image import endpoint"});
  return ParseImportProgress(answer.body);
}

Status DockerClient::RemoveImage(const std::string& image) {
  if (!IsImageReference(image)) return InvalidError("image " + Quote(image) + " is not an image reference");
  VISI_ASSIGN_OR_RETURN(DockerResponse answer, Call("DELETE", "/images/" + image + "?force=true"));
  if (answer.status == 200) return OkStatus();
  return ErrorFromAnswer(where_, answer, "removal of image " + Quote(image), {"image " + Quote(image) + " not found"});
}

}  // namespace visi
