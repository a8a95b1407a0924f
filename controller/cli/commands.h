#pragma once

#include <chrono>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "controller/api/scheme.h"
#include "controller/store/store.h"

namespace visi {

// What every visictl command works with. Commands return the process exit
// code: 0 success, 1 an operation failed (the error is printed).
struct CliContext {
  Store* store;
  std::shared_ptr<const Scheme> scheme;
  std::string namespace_;  // -n, or the config's default
  bool all_namespaces = false;
  std::ostream* out;
  std::ostream* err;
};

int RunApply(CliContext& c, const std::vector<std::string>& files, bool recursive);
int RunGet(CliContext& c, const std::vector<std::string>& args, const std::string& selector,
           const std::string& output, bool watch);
int RunDescribe(CliContext& c, const std::vector<std::string>& args);
int RunDelete(CliContext& c, const std::vector<std::string>& args, const std::vector<std::string>& files,
              const std::string& selector, bool wait, std::chrono::seconds timeout);
// `for_spec`: condition=TYPE[=true|false], delete, or jsonpath={PATH}=VALUE.
int RunWait(CliContext& c, const std::vector<std::string>& args, const std::string& for_spec,
            std::chrono::seconds timeout);

}  // namespace visi
