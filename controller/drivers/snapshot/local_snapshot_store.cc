#include "controller/drivers/snapshot/local_snapshot_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <system_error>
#include <utility>

namespace visi {
namespace {

constexpr std::string_view kDigestPrefix = "sha256:";
constexpr size_t kHexDigits = 64;
constexpr size_t kChunkBytes = size_t{1} << 20;  // Put and Get move 1 MiB at a time

bool IsLowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool IsHexName(std::string_view name, size_t length) {
  return name.size() == length && std::all_of(name.begin(), name.end(), IsLowerHex);
}

// Runs before any path is built from `digest`: only "sha256:" + 64 lower-case
// hex digits get through, so no "/", "..", NUL or upper case reaches the disk.
Status ValidateDigest(const std::string& digest) {
  std::string_view view = digest;
  if (view.substr(0, kDigestPrefix.size()) != kDigestPrefix ||
      !IsHexName(view.substr(kDigestPrefix.size()), kHexDigits)) {
    return InvalidError("snapshot digest must be \"sha256:\" followed by 64 lower-case hex digits");
  }
  return OkStatus();
}

// Disk full, I/O errors and the like are worth a retry later; anything else
// (permissions, a broken tree) needs someone to look.
Status ErrnoError(const std::string& what, int err) {
  std::string message = what + ": " + std::generic_category().message(err);
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EIO:
    case EROFS:
    case EAGAIN:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
      return UnavailableError(std::move(message));
    default:
      return InternalError(std::move(message));
  }
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Closes now and reports the result (a late write error can show up here).
  int Close() { return ::close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

// Incremental SHA-256 over OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    // SHA-256 is always available; a failure is a broken libcrypto.
    if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) std::abort();
  }
  void Update(const char* data, size_t size) {
    if (EVP_DigestUpdate(ctx_.get(), data, size) != 1) std::abort();
  }
  // "sha256:" + 64 lower-case hex digits.
  std::string Digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), md, &length) != 1) std::abort();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(kDigestPrefix);
    for (unsigned int i = 0; i < length; ++i) {
      out.push_back(kHex[md[i] >> 4]);
      out.push_back(kHex[md[i] & 15]);
    }
    return out;
  }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx_;
};

Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write " + path, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return OkStatus();
}

// Fills `buf` as far as the file allows; returns the bytes read (short only at the end).
StatusOr<size_t> ReadFull(int fd, char* buf, size_t capacity, const std::string& path) {
  size_t filled = 0;
  while (filled < capacity) {
    ssize_t n = ::read(fd, buf + filled, capacity - filled);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read " + path, errno);
    }
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  return filled;
}

// Makes a rename, create or unlink inside `dir` durable.
Status FsyncDir(const std::string& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open " + dir, errno);
  if (::fsync(fd.get()) != 0) return ErrnoError("fsync " + dir, errno);
  return OkStatus();
}

// Returns true when it created `dir` (mode 0700), false when it was there.
StatusOr<bool> MakeDirIfMissing(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return true;
  if (errno != EEXIST) return ErrnoError("mkdir " + dir, errno);
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) return ErrnoError("stat " + dir, errno);
  if (!S_ISDIR(st.st_mode)) return InternalError(dir + " exists and is not a directory");
  return false;
}

// Creates `dir` and its missing parents, fsyncing each parent that gained an entry.
Status MakeDirs(const std::string& dir) {
  for (size_t slash = dir.find('/', 1);; slash = dir.find('/', slash + 1)) {
    std::string prefix = dir.substr(0, slash);
    VISI_ASSIGN_OR_RETURN(bool created, MakeDirIfMissing(prefix));
    if (created) {
      size_t parent_end = prefix.rfind('/');
      VISI_RETURN_IF_ERROR(FsyncDir(parent_end == 0 ? "/" : prefix.substr(0, parent_end)));
    }
    if (slash == std::string::npos) return OkStatus();
  }
}

// The entries of `dir` other than "." and "..".
StatusOr<std::vector<std::string>> ReadDirNames(const std::string& dir) {
  struct CloseDir {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, CloseDir> handle(::opendir(dir.c_str()));
  if (handle == nullptr) return ErrnoError("opendir " + dir, errno);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(handle.get());
    if (entry == nullptr) {
      if (errno != 0) return ErrnoError("readdir " + dir, errno);
      return names;
    }
    std::string_view name = entry->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
}

}  // namespace

LocalSnapshotStore::LocalSnapshotStore(std::string root) : root_(std::move(root)) {}

StatusOr<std::unique_ptr<LocalSnapshotStore>> LocalSnapshotStore::Open(const std::string& root) {
  if (root.empty() || root.front() != '/' || root.find('\0') != std::string::npos) {
    return InvalidError("snapshot store root must be an absolute path, got \"" + root + "\"");
  }
  std::string trimmed = root;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  std::unique_ptr<LocalSnapshotStore> store(new LocalSnapshotStore(trimmed));
  const std::string base = trimmed == "/" ? "" : trimmed;
  VISI_RETURN_IF_ERROR(MakeDirs(base + "/sha256"));
  const std::string tmp = base + "/tmp";
  VISI_RETURN_IF_ERROR(MakeDirs(tmp));

  // Whatever is in tmp/ belongs to a writer that crashed: no Put of ours is running yet.
  VISI_ASSIGN_OR_RETURN(std::vector<std::string> leftovers, ReadDirNames(tmp));
  for (const std::string& name : leftovers) {
    std::string path = tmp + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT && errno != EISDIR) {
      return ErrnoError("remove leftover " + path, errno);
    }
  }
  return store;
}

std::string LocalSnapshotStore::BlobPath(const std::string& digest) const {
  std::string hex = digest.substr(kDigestPrefix.size());
  return root_ + "/sha256/" + hex.substr(0, 2) + "/" + hex;
}

std::string LocalSnapshotStore::Location(const std::string& digest) const {
  return ValidateDigest(digest).ok() ? BlobPath(digest) : "";
}

StatusOr<std::string> LocalSnapshotStore::EnsureFanOutDir(const std::string& fan_out) {
  std::string dir = root_ + "/sha256/" + fan_out;
  std::lock_guard<std::mutex> lock(fan_out_mu_);
  VISI_ASSIGN_OR_RETURN(bool created, MakeDirIfMissing(dir));
  if (created) VISI_RETURN_IF_ERROR(FsyncDir(root_ + "/sha256"));
  return dir;
}

StatusOr<LocalSnapshotStore::TempFile> LocalSnapshotStore::WriteTemp(const Source& source) {
  std::string path;
  int raw_fd = -1;
  while (raw_fd < 0) {
    path = root_ + "/tmp/put-" + std::to_string(::getpid()) + "-" + std::to_string(next_temp_++);
    raw_fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (raw_fd < 0 && errno != EEXIST) return ErrnoError("create " + path, errno);
  }
  Fd fd(raw_fd);
  auto fail = [&path](Status status) {
    ::unlink(path.c_str());
    return status;
  };

  Sha256 hash;
  std::vector<char> buf(kChunkBytes);
  int64_t size = 0;
  for (;;) {
    StatusOr<size_t> n = source(buf.data(), buf.size());
    if (!n.ok()) return fail(n.status());
    if (*n == 0) break;
    if (*n > buf.size()) return fail(InternalError("snapshot source overran its buffer"));
    hash.Update(buf.data(), *n);
    Status written = WriteAll(fd.get(), buf.data(), *n, path);
    if (!written.ok()) return fail(written);
    size += static_cast<int64_t>(*n);
  }
  if (::fsync(fd.get()) != 0) return fail(ErrnoError("fsync " + path, errno));
  if (fd.Close() != 0) return fail(ErrnoError("close " + path, errno));
  return TempFile{path, SnapshotBlob{hash.Digest(), size}};
}

StatusOr<SnapshotBlob> LocalSnapshotStore::Put(const Source& source) {
  VISI_ASSIGN_OR_RETURN(TempFile temp, WriteTemp(source));
  auto fail = [&temp](Status status) {
    ::unlink(temp.path.c_str());
    return status;
  };
  std::string hex = temp.blob.digest.substr(kDigestPrefix.size());
  StatusOr<std::string> dir = EnsureFanOutDir(hex.substr(0, 2));
  if (!dir.ok()) return fail(dir.status());
  std::string target = *dir + "/" + hex;

  struct stat st;
  if (::lstat(target.c_str(), &st) == 0) {
    // Same name, same content: keep the file that is there. Its writer may
    // not have synced the directory yet, so this Put does before answering.
    ::unlink(temp.path.c_str());
  } else if (errno != ENOENT) {
    return fail(ErrnoError("stat " + target, errno));
  } else if (::rename(temp.path.c_str(), target.c_str()) != 0) {
    // A concurrent Put of the same bytes may rename over us: harmless, same content.
    return fail(ErrnoError("rename " + temp.path + " to " + target, errno));
  }
  VISI_RETURN_IF_ERROR(FsyncDir(*dir));
  return temp.blob;
}

Status LocalSnapshotStore::Get(const std::string& digest, const Sink& sink) {
  VISI_RETURN_IF_ERROR(ValidateDigest(digest));
  std::string path = BlobPath(digest);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFoundError("no snapshot " + digest);
    return ErrnoError("open " + path, errno);
  }
  Sha256 hash;
  std::vector<char> buf(kChunkBytes);
  for (;;) {
    VISI_ASSIGN_OR_RETURN(size_t n, ReadFull(fd.get(), buf.data(), buf.size(), path));
    if (n == 0) break;
    hash.Update(buf.data(), n);
    VISI_RETURN_IF_ERROR(sink(std::string_view(buf.data(), n)));
    if (n < buf.size()) break;
  }
  std::string actual = hash.Digest();
  if (actual != digest) {
    return InternalError("digest mismatch: " + path + " hashes to " + actual + " (corrupted)");
  }
  return OkStatus();
}

Status LocalSnapshotStore::Verify(const std::string& digest) {
  return Get(digest, [](std::string_view) { return OkStatus(); });
}

Status LocalSnapshotStore::Delete(const std::string& digest) {
  VISI_RETURN_IF_ERROR(ValidateDigest(digest));
  std::string path = BlobPath(digest);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return NotFoundError("no snapshot " + digest);
    return ErrnoError("remove " + path, errno);
  }
  return FsyncDir(path.substr(0, path.rfind('/')));
}

StatusOr<std::vector<SnapshotBlob>> LocalSnapshotStore::List() {
  const std::string top = root_ + "/sha256";
  VISI_ASSIGN_OR_RETURN(std::vector<std::string> fan_outs, ReadDirNames(top));
  std::vector<SnapshotBlob> blobs;
  for (const std::string& fan_out : fan_outs) {
    if (!IsHexName(fan_out, 2)) continue;
    const std::string dir = top + "/" + fan_out;
    struct stat dir_st;
    if (::lstat(dir.c_str(), &dir_st) != 0) return ErrnoError("stat " + dir, errno);
    if (!S_ISDIR(dir_st.st_mode)) continue;  // not a fan-out dir: not ours
    VISI_ASSIGN_OR_RETURN(std::vector<std::string> names, ReadDirNames(dir));
    for (const std::string& name : names) {
      if (!IsHexName(name, kHexDigits) || name.compare(0, 2, fan_out) != 0) continue;
      struct stat st;
      if (::lstat((dir + "/" + name).c_str(), &st) != 0) {
        if (errno == ENOENT) continue;  // deleted while we walked
        return ErrnoError("stat " + dir + "/" + name, errno);
      }
      if (!S_ISREG(st.st_mode)) continue;
      blobs.push_back(SnapshotBlob{std::string(kDigestPrefix) + name, st.st_size});
    }
  }
  std::sort(blobs.begin(), blobs.end(),
            [](const SnapshotBlob& a, const SnapshotBlob& b) { return a.digest < b.digest; });
  return blobs;
}

}  // namespace visi
