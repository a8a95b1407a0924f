#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"

namespace visi {

// A stored snapshot file: its content address and size.
struct SnapshotBlob {
  std::string digest;  // "sha256:" + 64 lower-case hex digits of the file's bytes
  int64_t size_bytes = 0;
  bool operator==(const SnapshotBlob&) const = default;
};

// Where snapshot files live, content-addressed by SHA-256 (docs/snapshots.md).
// A file is written atomically: it is either absent or whole and verified
// against its digest. Thread-safe.
//
// Errors, the same on every implementation:
//   kInvalid      a digest that is not "sha256:" + 64 lower-case hex digits
//   kNotFound     no file with that digest
//   kDataLoss*    the file's bytes no longer match its digest (corrupted):
//                 reported as kInternal with a message that starts with
//                 "digest mismatch" (there is no kDataLoss code)
//   kUnavailable  the storage cannot be written or read right now (disk full, I/O)
class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;

  // Produces the bytes to store: called repeatedly with a buffer; returns how
  // many bytes it put there, 0 at the end, or an error (which aborts the
  // write and leaves nothing behind).
  using Source = std::function<StatusOr<size_t>(char* buf, size_t capacity)>;
  // Takes the bytes read back, chunk by chunk.
  using Sink = std::function<Status(std::string_view chunk)>;

  // Stores the bytes `source` produces and returns their digest and size.
  // Storing bytes that are already there is a no-op with the same answer.
  virtual StatusOr<SnapshotBlob> Put(const Source& source) = 0;

  // Reads the file back into `sink`. The digest is checked over the bytes as
  // they are read; on a mismatch the read ends with the "digest mismatch"
  // error after some chunks went to the sink: a caller that must not act
  // on bad bytes stages them (or calls Verify first).
  virtual Status Get(const std::string& digest, const Sink& sink) = 0;

  // Reads the whole file and checks it against its digest.
  virtual Status Verify(const std::string& digest) = 0;

  // kNotFound when absent.
  virtual Status Delete(const std::string& digest) = 0;

  // Every stored file, sorted by digest.
  virtual StatusOr<std::vector<SnapshotBlob>> List() = 0;

  // Where the file of a valid digest is (or would be), for people: a path
  // or a URI. "" for an invalid digest.
  virtual std::string Location(const std::string& digest) const = 0;
};

}  // namespace visi
