#include "controller/api/manifest_files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace visi {

StatusOr<std::vector<std::string>> ManifestFiles(const std::string& path, bool recursive) {
  namespace fs = std::filesystem;
  if (path == "-") return std::vector<std::string>{"-"};
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFoundError("the path \"" + path + "\" does not exist");
  if (!fs::is_directory(path, ec)) return std::vector<std::string>{path};
  std::vector<std::string> out;
  auto take = [&](const fs::directory_entry& e) {
    auto ext = e.path().extension().string();
    if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) {
      out.push_back(e.path().string());
    }
  };
  if (recursive) {
    for (const auto& e : fs::recursive_directory_iterator(path, ec)) take(e);
  } else {
    for (const auto& e : fs::directory_iterator(path, ec)) take(e);
  }
  if (ec) return UnavailableError("cannot read " + path + ": " + ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

StatusOr<std::vector<ManifestObject>> ReadManifestFile(const std::string& file) {
  std::stringstream buf;
  if (file == "-") {
    buf << std::cin.rdbuf();
    return DecodeManifest(buf.str(), "<stdin>");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return NotFoundError("cannot read " + file);
  buf << in.rdbuf();
  return DecodeManifest(buf.str(), file);
}

}  // namespace visi
