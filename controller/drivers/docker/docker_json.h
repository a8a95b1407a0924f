#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"
#include "controller/drivers/docker/container_runtime.h"

namespace visi {

// The Docker Engine API v1.41 bodies Visi sends and reads, as plain strings so
// that no JSON library leaks out of the driver. Requests are checked before
// they leave (kInvalid naming the field); answers that do not have the shape
// of the API are kInternal ("docker daemon answered ..."), never a crash.

// True for names Docker accepts for containers and that are safe in a URL
// path: [A-Za-z0-9][A-Za-z0-9_.-]+. Also holds for every id Docker issues.
bool IsDockerObjectName(std::string_view name);
// True for image references: [A-Za-z0-9][A-Za-z0-9_.:/@-]* without "..".
bool IsImageReference(std::string_view image);

// POST /containers/create?name=... body. Always adds CapDrop ALL,
// no-new-privileges, Privileged false and RestartPolicy "no".
StatusOr<std::string> ContainerCreateBody(const ContainerSpec& spec);
// POST /networks/create body (CheckDuplicate, IPAM config from subnet/gateway).
StatusOr<std::string> NetworkCreateBody(const NetworkSpec& spec);
// The `filters` query value selecting objects that carry all `labels`:
// {"label":["k=v",...]}; empty when `labels` is empty (no filter).
std::string LabelFilters(const Labels& labels);

// {"Id":"..."} from a create call.
StatusOr<std::string> ParseCreatedId(std::string_view body);
// GET /containers/{id}/json.
StatusOr<ContainerInfo> ParseContainerInspect(std::string_view body);
// GET /containers/json?all=true. The exit code comes from the Status text
// ("Exited (137) 2 minutes ago").
StatusOr<std::vector<ContainerInfo>> ParseContainerList(std::string_view body);
// GET /networks/{id} (with container ids) and GET /networks (without).
StatusOr<NetworkInfo> ParseNetworkInspect(std::string_view body);
StatusOr<std::vector<NetworkInfo>> ParseNetworkList(std::string_view body);
// The progress stream of POST /images/create: one JSON object per line; the
// first {"error": ...} is kInternal with its text.
Status ParseImportProgress(std::string_view body);

// The daemon's {"message": ...} of an error answer, else the start of the
// body; never longer than 1 KiB, control characters replaced.
std::string DaemonMessage(std::string_view body);

}  // namespace visi
