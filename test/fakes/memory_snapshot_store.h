#pragma once

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "controller/base/sha256.h"
#include "controller/drivers/snapshot/snapshot_store.h"

namespace visi::testing {

// The in-memory twin of LocalSnapshotStore: the same contract, including the
// digest check on Get and Verify, plus test controls (corrupt a stored file,
// make reads fail for a while). Header only. Thread-safe.
class MemorySnapshotStore final : public SnapshotStore {
 public:
  StatusOr<SnapshotBlob> Put(const Source& source) override {
    std::string bytes;
    std::vector<char> buf(4096);
    while (true) {
      StatusOr<size_t> n = source(buf.data(), buf.size());
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      bytes.append(buf.data(), *n);
    }
    SnapshotBlob blob{"sha256:" + Sha256Hex(bytes), static_cast<int64_t>(bytes.size())};
    std::lock_guard lock(mu_);
    files_.emplace(blob.digest, std::move(bytes));  // already there: a no-op
    return blob;
  }

  Status Get(const std::string& digest, const Sink& sink) override {
    VISI_RETURN_IF_ERROR(CheckReadable(digest));
    std::string bytes;
    VISI_RETURN_IF_ERROR(Find(digest, &bytes));
    // Chunks go out before the check, as the contract allows.
    for (size_t offset = 0; offset < bytes.size(); offset += kChunk) {
      VISI_RETURN_IF_ERROR(sink(std::string_view(bytes).substr(offset, kChunk)));
    }
    return Check(digest, bytes);
  }

  Status Verify(const std::string& digest) override {
    VISI_RETURN_IF_ERROR(CheckReadable(digest));
    std::string bytes;
    VISI_RETURN_IF_ERROR(Find(digest, &bytes));
    return Check(digest, bytes);
  }

  Status Delete(const std::string& digest) override {
    VISI_RETURN_IF_ERROR(CheckDigest(digest));
    std::lock_guard lock(mu_);
    if (files_.erase(digest) == 0) return NotFoundError("no snapshot file " + digest);
    return OkStatus();
  }

  std::string Location(const std::string& digest) const override { return "memory:" + digest; }

  StatusOr<std::vector<SnapshotBlob>> List() override {
    std::lock_guard lock(mu_);
    std::vector<SnapshotBlob> blobs;
    for (const auto& [digest, bytes] : files_) blobs.push_back({digest, static_cast<int64_t>(bytes.size())});
    return blobs;  // std::map keeps them sorted by digest
  }

  // --- Test controls ---

  // Replaces the stored bytes of `digest` (which must exist) without
  // changing its name: a corrupted file.
  void Corrupt(const std::string& digest, std::string bytes) {
    std::lock_guard lock(mu_);
    files_.at(digest) = std::move(bytes);
  }

  // While set, Get and Verify fail kUnavailable (a disk that cannot be read
  // for now); everything else works.
  void SetUnreadable(bool unreadable) {
    std::lock_guard lock(mu_);
    unreadable_ = unreadable;
  }

  bool Contains(const std::string& digest) const {
    std::lock_guard lock(mu_);
    return files_.count(digest) > 0;
  }

 private:
  static constexpr size_t kChunk = 1000;

  static Status CheckDigest(const std::string& digest) {
    const bool ok = digest.size() == 71 && digest.compare(0, 7, "sha256:") == 0 &&
                    std::all_of(digest.begin() + 7, digest.end(),
                                [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
    if (!ok) return InvalidError("snapshot digest \"" + digest + "\" must be sha256: and 64 lower-case hex digits");
    return OkStatus();
  }

  Status CheckReadable(const std::string& digest) const {
    std::lock_guard lock(mu_);
    if (unreadable_) return UnavailableError("snapshot store unreadable (test): " + digest);
    return OkStatus();
  }

  Status Find(const std::string& digest, std::string* bytes) const {
    VISI_RETURN_IF_ERROR(CheckDigest(digest));
    std::lock_guard lock(mu_);
    auto it = files_.find(digest);
    if (it == files_.end()) return NotFoundError("no snapshot file " + digest);
    *bytes = it->second;
    return OkStatus();
  }

  static Status Check(const std::string& digest, const std::string& bytes) {
    if ("sha256:" + Sha256Hex(bytes) != digest) return InternalError("digest mismatch: snapshot file " + digest);
    return OkStatus();
  }

  mutable std::mutex mu_;
  std::map<std::string, std::string> files_;  // GUARDED_BY(mu_), digest -> bytes
  bool unreadable_ = false;                   // GUARDED_BY(mu_)
};

}  // namespace visi::testing
