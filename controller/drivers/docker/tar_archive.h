#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/statusor.h"

namespace visi {

// One member of a tar archive: what the Docker archive API streams in and out
// of a container (GET/PUT /containers/{id}/archive).
struct TarEntry {
  enum class Type { kFile, kDirectory, kSymlink };

  std::string name;  // relative path, e.g. "bin/busybox" or "tmp" (no trailing '/')
  Type type = Type::kFile;
  uint32_t mode = 0644;
  std::string content;      // kFile only
  std::string link_target;  // kSymlink only
  uint32_t uid = 0;
  uint32_t gid = 0;

  bool operator==(const TarEntry&) const = default;
};

// The ustar encoding of `entries`, ending with the two zero blocks; names
// and link targets too long for ustar get a pax header, as GNU tar writes.
// Absolute names and names with a ".." component are kInvalid.
StatusOr<std::string> WriteTar(const std::vector<TarEntry>& entries);

// The members of a ustar / pax / GNU tar archive, in order. Hard links become
// files with empty content; other special members (devices, fifos) are
// skipped. A truncated or corrupt archive, or one whose members claim more
// bytes than it has, is kInvalid; nothing in the input can make it crash.
StatusOr<std::vector<TarEntry>> ReadTar(std::string_view tar);

// A member as ReadTar reads it, with the content left in the archive: valid
// only while the string viewed by ReadTarViews' argument lives unchanged.
struct TarEntryView {
  std::string name;
  TarEntry::Type type = TarEntry::Type::kFile;
  uint32_t mode = 0644;
  std::string_view content;  // kFile only; points into the archive
  std::string link_target;   // kSymlink only
  uint32_t uid = 0;
  uint32_t gid = 0;
};

// ReadTar without copying file contents: the same members, order and errors.
StatusOr<std::vector<TarEntryView>> ReadTarViews(std::string_view tar);

}  // namespace visi
