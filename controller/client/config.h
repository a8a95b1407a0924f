#pragma once

#include <string>

#include "controller/base/statusor.h"

namespace visi {

// Where a client connects and as whom: one context of a kubeconfig-format
// file (the format kubectl reads, so one file serves visictl and kubectl).
struct ClientConfig {
  std::string server;                 // https://127.0.0.1:6443
  std::string certificate_authority;  // CA file path ("" for plain HTTP)
  std::string token;
  std::string namespace_ = "default";
  std::string context;
};

// Reads `path` and picks `context` (empty: current-context). Errors name the
// file, line and field.
StatusOr<ClientConfig> LoadClientConfig(const std::string& path, const std::string& context = "");

// Writes a kubeconfig with one cluster, user and context named "visi"
// (mode 0600: it holds a token).
Status WriteClientConfig(const std::string& path, const ClientConfig& c);

// The config file to use: `flag` if set, else $VISICONFIG, else
// ~/.visi/config.
std::string DefaultConfigPath(const std::string& flag);

}  // namespace visi
