#pragma once

#include <string>
#include <vector>

#include "controller/api/yaml_codec.h"

namespace visi {

// The manifest files a path names: the file itself, or the *.yaml, *.yml and
// *.json files of a directory (with `recursive`, of its subdirectories too),
// sorted. "-" is standard input.
StatusOr<std::vector<std::string>> ManifestFiles(const std::string& path, bool recursive);

// Reads and decodes one manifest file ("-": standard input).
StatusOr<std::vector<ManifestObject>> ReadManifestFile(const std::string& file);

}  // namespace visi
