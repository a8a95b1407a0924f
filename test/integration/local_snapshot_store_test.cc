// LocalSnapshotStore against real files in a temp directory: round trips,
// the on-disk layout, damage detection, hostile digests, failed writes
// leaving nothing behind, crash leftovers and concurrent writers.
#include "controller/drivers/snapshot/local_snapshot_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace visi::testing {
namespace {

namespace fs = std::filesystem;

constexpr size_t kMiB = size_t{1} << 20;
const std::string kEmptyDigest =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// Deterministic bytes that differ per `seed`.
std::string Bytes(size_t size, unsigned seed = 1) {
  std::string out(size, '\0');
  uint32_t x = 2463534242u ^ (seed * 2654435761u);
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

// Hands out `data` at most `step` bytes per call.
SnapshotStore::Source SourceOf(std::string data, size_t step = SIZE_MAX) {
  auto offset = std::make_shared<size_t>(0);
  return [data = std::move(data), step, offset](char* buf, size_t capacity) -> StatusOr<size_t> {
    size_t n = std::min({step, capacity, data.size() - *offset});
    std::copy_n(data.data() + *offset, n, buf);
    *offset += n;
    return n;
  };
}

StatusOr<std::string> ReadBack(SnapshotStore& store, const std::string& digest,
                               std::vector<size_t>* chunk_sizes = nullptr) {
  std::string out;
  Status status = store.Get(digest, [&](std::string_view chunk) {
    out.append(chunk);
    if (chunk_sizes) chunk_sizes->push_back(chunk.size());
    return OkStatus();
  });
  if (!status.ok()) return status;
  return out;
}

std::vector<std::string> RegularFilesUnder(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  return files;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string Sha256sumOf(const std::string& path) {
  std::string command = "sha256sum '" + path + "'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return "";
  char line[256] = {};
  std::string out = std::fgets(line, sizeof line, pipe) ? line : "";
  ::pclose(pipe);
  return out.substr(0, out.find(' '));
}

// Runs `body` in a forked child and returns its exit code (-1 when it died
// of a signal). The child may change limits and mounts without touching us.
int RunInChild(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class LocalSnapshotStoreTest : public ::testing::Test {
 protected:
  LocalSnapshotStoreTest() {
    char tmpl[] = "/tmp/visi-snapshot-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    root_ = dir_ + "/store";
  }
  ~LocalSnapshotStoreTest() override { fs::remove_all(dir_); }

  std::unique_ptr<LocalSnapshotStore> Open() {
    auto store = LocalSnapshotStore::Open(root_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string PathOf(const std::string& digest) {
    std::string hex = digest.substr(7);
    return root_ + "/sha256/" + hex.substr(0, 2) + "/" + hex;
  }
  void ExpectNothingStored() {
    EXPECT_TRUE(RegularFilesUnder(root_ + "/sha256").empty());
    EXPECT_TRUE(RegularFilesUnder(root_ + "/tmp").empty());
  }

  std::string dir_;
  std::string root_;
};

TEST_F(LocalSnapshotStoreTest, OpenRefusesEmptyAndRelativeRoots) {
  for (const std::string& root :
       std::vector<std::string>{"", "relative/dir", "./here", std::string("/a\0b", 4)}) {
    EXPECT_EQ(LocalSnapshotStore::Open(root).status().code(), Code::kInvalid) << root;
  }
}

TEST_F(LocalSnapshotStoreTest, OpenCreatesThePrivateTree) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(ModeOf(root_), 0700);
  EXPECT_EQ(ModeOf(root_ + "/sha256"), 0700);
  EXPECT_EQ(ModeOf(root_ + "/tmp"), 0700);
  EXPECT_TRUE((*store->List()).empty());
}

TEST_F(LocalSnapshotStoreTest, RoundTripsEmptyOneByteAndSeveralMiB) {
  auto store = Open();
  for (size_t size : {size_t{0}, size_t{1}, 3 * kMiB + kMiB / 2 + 7}) {
    std::string data = Bytes(size);
    auto blob = store->Put(SourceOf(data, 300 * 1000));  // odd steps: writes cross chunks
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    EXPECT_EQ(blob->size_bytes, static_cast<int64_t>(size));
    std::vector<size_t> chunks;
    auto back = ReadBack(*store, blob->digest, &chunks);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(*back == data) << "size " << size;
    for (size_t chunk : chunks) EXPECT_LE(chunk, kMiB);
    EXPECT_EQ(chunks.size(), (size + kMiB - 1) / kMiB);
    EXPECT_TRUE(store->Verify(blob->digest).ok());
  }
  EXPECT_EQ((*store->Put(SourceOf(""))).digest, kEmptyDigest);
}

TEST_F(LocalSnapshotStoreTest, FileSitsAtItsDigestWithPrivateModes) {
  auto store = Open();
  auto blob = *store->Put(SourceOf(Bytes(12345)));
  ASSERT_EQ(blob.digest.size(), 71u);
  std::string path = PathOf(blob.digest);
  EXPECT_EQ("sha256:" + Sha256sumOf(path), blob.digest);
  EXPECT_EQ(fs::file_size(path), 12345u);
  EXPECT_EQ(ModeOf(path), 0600);
  EXPECT_EQ(ModeOf(fs::path(path).parent_path()), 0700);
  EXPECT_EQ(RegularFilesUnder(root_), std::vector<std::string>{path});
}

TEST_F(LocalSnapshotStoreTest, SameContentTwiceIsOneFile) {
  auto store = Open();
  std::string data = Bytes(2 * kMiB + 3);
  auto first = *store->Put(SourceOf(data));
  auto second = *store->Put(SourceOf(data, 4096));
  EXPECT_EQ(first, second);
  EXPECT_EQ(RegularFilesUnder(root_), std::vector<std::string>{PathOf(first.digest)});
  EXPECT_EQ(*store->List(), std::vector<SnapshotBlob>{first});
}

TEST_F(LocalSnapshotStoreTest, SourceErrorLeavesNothingBehind) {
  auto store = Open();
  int calls = 0;
  auto failing_late = [&](char* buf, size_t capacity) -> StatusOr<size_t> {
    if (++calls > 3) return UnavailableError("pipe broke");
    std::fill_n(buf, capacity, 'x');
    return capacity;
  };
  Status late = store->Put(failing_late).status();
  EXPECT_EQ(late.code(), Code::kUnavailable);
  EXPECT_EQ(late.message(), "pipe broke");
  ExpectNothingStored();

  auto failing_early = [](char*, size_t) -> StatusOr<size_t> { return InternalError("no state"); };
  EXPECT_EQ(store->Put(failing_early).status().code(), Code::kInternal);
  auto overrunning = [](char*, size_t capacity) -> StatusOr<size_t> { return capacity + 1; };
  EXPECT_EQ(store->Put(overrunning).status().code(), Code::kInternal);
  ExpectNothingStored();
  EXPECT_TRUE((*store->List()).empty());
}

TEST_F(LocalSnapshotStoreTest, FlippedByteIsADigestMismatch) {
  auto store = Open();
  auto blob = *store->Put(SourceOf(Bytes(3 * kMiB)));
  {
    std::fstream file(PathOf(blob.digest), std::ios::in | std::ios::out | std::ios::binary);
    file.seekg(2 * kMiB + 5);
    char c = static_cast<char>(file.get());
    file.seekp(2 * kMiB + 5);
    file.put(static_cast<char>(c ^ 0x01));
  }
  Status get = ReadBack(*store, blob.digest).status();
  EXPECT_EQ(get.code(), Code::kInternal);
  EXPECT_EQ(get.message().rfind("digest mismatch", 0), 0u) << get.message();
  Status verify = store->Verify(blob.digest);
  EXPECT_EQ(verify.code(), Code::kInternal);
  EXPECT_EQ(verify.message().rfind("digest mismatch", 0), 0u) << verify.message();
}

TEST_F(LocalSnapshotStoreTest, TruncatedFileIsADigestMismatch) {
  auto store = Open();
  auto blob = *store->Put(SourceOf(Bytes(kMiB + 10)));
  fs::resize_file(PathOf(blob.digest), kMiB / 2);
  Status get = ReadBack(*store, blob.digest).status();
  EXPECT_EQ(get.code(), Code::kInternal);
  EXPECT_EQ(get.message().rfind("digest mismatch", 0), 0u) << get.message();
  Status verify = store->Verify(blob.digest);
  EXPECT_EQ(verify.code(), Code::kInternal);
  EXPECT_EQ(verify.message().rfind("digest mismatch", 0), 0u) << verify.message();
}

TEST_F(LocalSnapshotStoreTest, SinkErrorEndsTheRead) {
  auto store = Open();
  auto blob = *store->Put(SourceOf(Bytes(3 * kMiB)));
  int chunks = 0;
  Status status = store->Get(blob.digest, [&](std::string_view) {
    ++chunks;
    return UnavailableError("client went away");
  });
  EXPECT_EQ(status.code(), Code::kUnavailable);
  EXPECT_EQ(chunks, 1);
}

TEST_F(LocalSnapshotStoreTest, HostileDigestsAreRefusedBeforeTouchingTheDisk) {
  auto store = Open();
  const std::string hex = kEmptyDigest.substr(7);
  std::string with_nul = "sha256:" + hex;
  with_nul[40] = '\0';
  std::string upper = "sha256:" + hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(c));
  upper.replace(0, 7, "sha256:");
  const std::vector<std::string> hostile = {
      "",
      "sha256:",
      hex,                        // no prefix
      "sha512:" + hex,            // other algorithm
      "SHA256:" + hex,            // prefix case
      " sha256:" + hex,           // padding
      "sha256:" + hex.substr(1),  // 63 digits
      "sha256:" + hex + "0",      // 65 digits
      upper,                      // upper-case digits
      "sha256:../../../../../../../etc/passwd" + std::string(25, 'a'),
      "sha256:" + hex.substr(0, 60) + "/../",  // traversal inside the name
      "sha256:e3/" + hex.substr(3),            // a slash
      with_nul,
      "sha256:" + hex.substr(0, 63) + "g",  // not hex
  };
  // With the whole tree gone, anything that reached the disk would answer
  // kNotFound or kInternal, and could recreate directories.
  fs::remove_all(root_);
  for (const std::string& digest : hostile) {
    EXPECT_EQ(store->Get(digest, [](std::string_view) { return OkStatus(); }).code(),
              Code::kInvalid)
        << digest;
    EXPECT_EQ(store->Verify(digest).code(), Code::kInvalid) << digest;
    EXPECT_EQ(store->Delete(digest).code(), Code::kInvalid) << digest;
  }
  EXPECT_FALSE(fs::exists(root_));
  EXPECT_EQ(store->Verify(kEmptyDigest).code(), Code::kNotFound);  // a good digest does reach it
}

TEST_F(LocalSnapshotStoreTest, DeleteAndListIgnoringStrangers) {
  auto store = Open();
  std::vector<SnapshotBlob> blobs;
  for (unsigned seed = 1; seed <= 3; ++seed)
    blobs.push_back(*store->Put(SourceOf(Bytes(seed * 1000, seed))));
  std::sort(blobs.begin(), blobs.end(), [](auto& a, auto& b) { return a.digest < b.digest; });

  // Things in the tree that are not well-formed blobs are not listed.
  std::string other_hex = blobs[0].digest.substr(7);
  other_hex[0] = other_hex[0] == 'f' ? '0' : 'f';
  std::string wrong_fan_out = other_hex[1] == '0' ? "11" : "00";
  fs::create_directories(root_ + "/sha256/" + wrong_fan_out);
  std::ofstream(root_ + "/sha256/" + wrong_fan_out + "/" + other_hex) << "x";
  fs::create_directories(root_ + "/sha256/zz");
  std::ofstream(root_ + "/sha256/zz/README") << "x";
  std::set<std::string> used_fan_outs;
  for (const auto& blob : blobs) used_fan_outs.insert(blob.digest.substr(7, 2));
  std::string file_fan_out = "a0";
  while (used_fan_outs.count(file_fan_out)) ++file_fan_out[1];
  std::ofstream(root_ + "/sha256/" + file_fan_out) << "a file, not a fan-out dir";
  std::ofstream(root_ + "/sha256/README") << "x";
  std::string first_dir = fs::path(PathOf(blobs[0].digest)).parent_path();
  std::ofstream(first_dir + "/notes.txt") << "x";
  std::string upper_name = blobs[0].digest.substr(7);
  for (char& c : upper_name) c = static_cast<char>(std::toupper(c));
  std::ofstream(first_dir + "/" + upper_name) << "x";
  fs::create_directories(first_dir + "/" + first_dir.substr(first_dir.size() - 2) +
                         std::string(62, '0'));

  EXPECT_EQ(*store->List(), blobs);
  ASSERT_TRUE(store->Delete(blobs[1].digest).ok());
  EXPECT_FALSE(fs::exists(PathOf(blobs[1].digest)));
  EXPECT_EQ(store->Delete(blobs[1].digest).code(), Code::kNotFound);
  EXPECT_EQ(ReadBack(*store, blobs[1].digest).status().code(), Code::kNotFound);
  EXPECT_EQ(store->Verify(blobs[1].digest).code(), Code::kNotFound);
  EXPECT_EQ(*store->List(), (std::vector<SnapshotBlob>{blobs[0], blobs[2]}));
}

TEST_F(LocalSnapshotStoreTest, OpenRemovesLeftoversOfACrashedWriter) {
  SnapshotBlob kept;
  {
    auto store = Open();
    kept = *store->Put(SourceOf(Bytes(5000)));
  }
  std::ofstream(root_ + "/tmp/put-999-0") << "half a snapshot";
  std::ofstream(root_ + "/tmp/put-999-1") << "";
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
  EXPECT_EQ(*store->List(), std::vector<SnapshotBlob>{kept});
  EXPECT_TRUE(*ReadBack(*store, kept.digest) == Bytes(5000));
}

TEST_F(LocalSnapshotStoreTest, ConcurrentPutsOfSameAndDifferentContent) {
  auto store = Open();
  constexpr int kThreads = 8;
  const std::string shared = Bytes(kMiB + kMiB / 3, 100);
  std::vector<std::vector<SnapshotBlob>> shared_results(kThreads);
  std::vector<SnapshotBlob> own_results(kThreads);
  std::vector<Status> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 3; ++round) {
        auto blob = store->Put(SourceOf(shared, 70000 + t));
        if (!blob.ok())
          errors[t] = blob.status();
        else
          shared_results[t].push_back(*blob);
      }
      auto own = store->Put(SourceOf(Bytes(300000, t + 1)));
      if (!own.ok())
        errors[t] = own.status();
      else
        own_results[t] = *own;
    });
  }
  for (auto& thread : threads) thread.join();

  std::set<std::string> digests;
  const SnapshotBlob expected_shared = shared_results[0].at(0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_TRUE(errors[t].ok()) << errors[t].ToString();
    for (const auto& blob : shared_results[t]) EXPECT_EQ(blob, expected_shared);
    digests.insert(own_results[t].digest);
    EXPECT_TRUE(*ReadBack(*store, own_results[t].digest) == Bytes(300000, t + 1));
  }
  digests.insert(expected_shared.digest);
  EXPECT_EQ(digests.size(), size_t{kThreads + 1});
  EXPECT_TRUE(*ReadBack(*store, expected_shared.digest) == shared);
  EXPECT_EQ((*store->List()).size(), size_t{kThreads + 1});
  EXPECT_EQ(RegularFilesUnder(root_ + "/sha256").size(), size_t{kThreads + 1});
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
}

// Exit codes of the write-failure children: 0 as expected, 77 cannot set up.
int PutIntoFullStorage(const std::string& root, const std::string& expected_errno_text) {
  auto store = LocalSnapshotStore::Open(root);
  if (!store.ok()) return 77;
  Status status = (*store)->Put(SourceOf(Bytes(2 * kMiB))).status();
  std::fprintf(stderr, "put: %s\n", status.ToString().c_str());
  if (status.code() != Code::kUnavailable) return 1;
  if (status.message().find(expected_errno_text) == std::string::npos) return 2;
  if (!RegularFilesUnder(root + "/sha256").empty() || !RegularFilesUnder(root + "/tmp").empty())
    return 3;
  auto small = (*store)->Put(SourceOf("fits"));  // and it works again once there is room
  if (!small.ok()) return 4;
  return 0;
}

TEST_F(LocalSnapshotStoreTest, DiskFullIsUnavailableAndLeavesNothing) {
  int code = RunInChild([&] {
    // A private mount namespace with a 256 KiB tmpfs over the test dir.
    if (::unshare(CLONE_NEWNS) != 0) return 77;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=256k,mode=0700") != 0) return 77;
    return PutIntoFullStorage(root_, "No space left on device");
  });
  if (code == 77) GTEST_SKIP() << "cannot mount a small tmpfs here (needs CAP_SYS_ADMIN)";
  EXPECT_EQ(code, 0);
}

TEST_F(LocalSnapshotStoreTest, FileSizeLimitIsUnavailableAndLeavesNothing) {
  int code = RunInChild([&] {
    std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{256 * 1024, 256 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return 77;
    return PutIntoFullStorage(root_, "File too large");
  });
  ASSERT_NE(code, 77);
  EXPECT_EQ(code, 0);
  // Only the small Put the child made after the failure is there.
  auto store = Open();
  auto listed = *store->List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].size_bytes, 4);
  EXPECT_EQ(RegularFilesUnder(root_ + "/sha256"),
            std::vector<std::string>{PathOf(listed[0].digest)});
  EXPECT_TRUE(fs::is_empty(root_ + "/tmp"));
}

}  // namespace
}  // namespace visi::testing
