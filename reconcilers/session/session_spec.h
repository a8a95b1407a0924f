#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/base/statusor.h"

namespace visi {

// Limits of one container, parsed from a spec's `resources`.
struct ContainerLimits {
  int64_t memory_bytes = 0;
  int64_t nano_cpus = 0;
  int64_t pids = 0;
  bool operator==(const ContainerLimits&) const = default;
};

// A VisiSession's spec as typed values: parsed once at the edge, trusted by
// the planner. The schema has already defaulted and range-checked it; this
// adds what a schema cannot say (quantities, duplicate env names).
struct SessionSpec {
  std::string user;
  std::string pool;
  std::string frontend_image;
  int frontend_port = 8080;
  std::vector<std::string> frontend_command;
  std::string readiness_path = "/healthz";
  ContainerLimits frontend_limits;
  std::string master_image;
  std::string worker_image;
  std::vector<std::string> master_command;  // default: the stand-in image's ["master"]
  std::vector<std::string> worker_command;  // default: ["worker"]
  int workers = 0;
  int master_port = 7077;
  ContainerLimits spark_limits;
  std::vector<std::string> state_paths;        // the front end's (spec.statePaths)
  std::vector<std::string> spark_state_paths;  // the master's and each worker's (spec.spark.statePaths)
  int snapshot_retain = 3;                     // spec.snapshots.retain
  bool keep_on_delete = false;                 // spec.snapshots.keepOnDelete
  std::string restore_from;                    // spec.snapshots.restoreFrom
  int idle_timeout_seconds = 1800;             // 0: never idle
  std::vector<std::string> env;  // NAME=value, in spec order
  bool suspend = false;
  int start_timeout_seconds = 300;
};

// Errors are kInvalid with the field path (spec.frontEnd.resources.memory).
StatusOr<SessionSpec> ParseSessionSpec(const Object& session);

}  // namespace visi
