#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"
#include "controller/drivers/snapshot/snapshot_store.h"

namespace visi {

// A SnapshotStore in a directory of the local file system
// (docs/snapshots.md, "On-disk layout"):
//   ROOT/sha256/ab/ab0123...   one file per blob, named by its 64 hex digits,
//                              fanned out by the first two (dirs 0700, files 0600)
//   ROOT/tmp/                  writes in progress; emptied by Open
// A Put writes a temp file, fsyncs it, renames it into place and fsyncs the
// directory, so after a crash a blob is either absent or whole.
//
// Thread-safe. One process per ROOT: Open removes whatever is in ROOT/tmp,
// which would include another live process's writes in progress.
class LocalSnapshotStore final : public SnapshotStore {
 public:
  // Creates ROOT, ROOT/sha256 and ROOT/tmp (mode 0700) as needed and deletes
  // the leftovers of writers that crashed from ROOT/tmp.
  // kInvalid for an empty or relative `root`; kUnavailable/kInternal when the
  // directories cannot be created.
  static StatusOr<std::unique_ptr<LocalSnapshotStore>> Open(const std::string& root);

  StatusOr<SnapshotBlob> Put(const Source& source) override;
  Status Get(const std::string& digest, const Sink& sink) override;
  Status Verify(const std::string& digest) override;
  Status Delete(const std::string& digest) override;
  StatusOr<std::vector<SnapshotBlob>> List() override;
  // ROOT/sha256/ab/ab0123...
  std::string Location(const std::string& digest) const override;

  const std::string& root() const { return root_; }

 private:
  explicit LocalSnapshotStore(std::string root);

  // ROOT/sha256/ab/ab... for a validated digest.
  std::string BlobPath(const std::string& digest) const;
  // Creates ROOT/sha256/<fan_out> if missing, fsyncing ROOT/sha256 when it
  // does; returns its path.
  StatusOr<std::string> EnsureFanOutDir(const std::string& fan_out);
  // Writes `source` to a new file in ROOT/tmp; returns its path, digest, size.
  struct TempFile {
    std::string path;
    SnapshotBlob blob;
  };
  StatusOr<TempFile> WriteTemp(const Source& source);

  const std::string root_;
  std::atomic<uint64_t> next_temp_{0};
  // Held while a fan-out dir is created and its parent fsynced, so no writer
  // renames into a dir whose own entry is not durable yet.
  std::mutex fan_out_mu_;
};

}  // namespace visi
