#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"
#include "controller/drivers/docker/tar_archive.h"

namespace visi::testing {

// The file system of one fake container, with the semantics of Docker's
// archive API: GET streams a path (file, symlink or directory tree) as a tar
// whose members are named after the path's last component; PUT extracts a
// tar into an existing directory, creating parents as tar does. Not
// thread-safe: the owner locks.
class FakeFileTree {
 public:
  // Just "/", plus `rootfs` (members relative to "/", as a root file system
  // tar holds them).
  explicit FakeFileTree(const std::vector<TarEntry>& rootfs = {});

  // kNotFound when `path` does not exist.
  StatusOr<std::string> Archive(const std::string& path) const;
  // kNotFound when `dir` does not exist, kInvalid when it is not a directory,
  // when `tar` is malformed, or when a member would land outside `dir`.
  Status Extract(const std::string& dir, std::string_view tar);

  bool Exists(const std::string& path) const;

 private:
  void Put(const std::string& path, TarEntry entry);

  std::map<std::string, TarEntry> nodes_;  // absolute path -> entry (name unused)
};

}  // namespace visi::testing
