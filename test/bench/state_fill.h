#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "test/bench/test_data.h"
#include "controller/drivers/docker/tar_archive.h"
#include "test/e2e/visid_process.h"

// The state of suspend_bench.cc: the same bytes written into /data of
// several front ends, and a digest of what /data holds.
namespace visi::bench {

// Writes `bytes` of files into /data of every container in `frontends`
// through the archive API, 64 MiB per call: files of 1 MiB (512 KiB under
// 2 MiB), alternating random bytes and repetitive text, owned by the front
// end's user (65534). `stop` is asked after each call.
inline Status FillState(ContainerRuntime* rt, const std::vector<std::string>& frontends, int64_t bytes,
                        const std::function<bool()>& stop) {
  constexpr int64_t kMiB = int64_t{1} << 20, kChunkBytes = 64 * kMiB;
  const int64_t file_bytes = bytes < 2 * kMiB ? bytes / 2 : kMiB;
  const int64_t files = bytes / file_bytes;
  uint64_t rng = 0x5eed;
  for (int64_t next = 0; next < files;) {
    std::vector<TarEntry> entries;
    for (int64_t in_chunk = 0; in_chunk < kChunkBytes && next < files; in_chunk += file_bytes, ++next) {
      TarEntry e;
      char name[32];
      std::snprintf(name, sizeof name, "data/f%05lld.%s", static_cast<long long>(next), next % 2 ? "txt" : "bin");
      e.name = name;
      e.uid = e.gid = 65534;
      e.content = next % 2 ? RepetitiveText(file_bytes, next) : RandomBytes(file_bytes, rng);
      entries.push_back(std::move(e));
    }
    VISI_ASSIGN_OR_RETURN(std::string tar, WriteTar(entries));
    for (const auto& c : frontends) VISI_RETURN_IF_ERROR(rt->PutArchive(c, "/", tar));
    if (stop()) return Status(Code::kDeadlineExceeded, "stopped while filling");
  }
  return OkStatus();
}

// What a resume must bring back: a digest of each file's name and content
// under /data (busybox in the container), and the owner and mode of the
// first file ("uid:gid mode"), reported but not required.
struct StateCheck {
  std::string digest, owner;
  bool operator==(const StateCheck& o) const { return digest == o.digest; }
};

inline StateCheck CheckState(const std::string& container) {
  auto [rc, out] =
      testing::RunCommand("docker exec " + container +
                          " sh -c 'cd /data && find . -type f | sort | xargs -r sha256sum | sha256sum | cut -c1-64 &&"
                          " stat -c \"%u:%g %a\" f00000.bin' 2>&1");
  StateCheck c;
  if (rc != 0) {
    c.digest = "unreadable: " + out;
    return c;
  }
  const size_t nl = out.find('\n');
  c.digest = out.substr(0, nl);
  c.owner = nl == std::string::npos ? "" : out.substr(nl + 1);
  while (!c.owner.empty() && c.owner.back() == '\n') c.owner.pop_back();
  return c;
}

}  // namespace visi::bench
