// Session snapshot benchmark (not a test): CaptureSession and RestoreSession
// of one container's /data against plain tar of the same data, in the same
// run, for 1 MiB, 100 MiB and 1 GiB of state.
//   State: /data in a busybox container (`sleep 600`), filled untimed through
//     PutArchive in 64 MiB chunks: files of 1 MiB (512 KiB for the 1 MiB
//     size), alternating random bytes (incompressible) and repetitive text.
//   Suspend: CaptureSession into a LocalSnapshotStore in a temp dir
//     (GetArchive, outer tar, sha256, gzip level 6 in memory, write, fsync,
//     rename, fsync dir). Baseline: `docker exec -u 0 C tar -czf - -C / data
//     > FILE && sync FILE`: busybox tar + gzip -6 inside the container, the
//     stream copied out by the docker CLI, the file fsynced.
//   Resume: a fresh running container each round; RestoreSession (Verify,
//     read, gunzip, validate, PutArchive). Baseline: `docker exec -i -u 0 C
//     tar -xzf - -C / < FILE`. Both checked untimed: GetArchive of the
//     restored /data must hold the same members (names, types, modes, owners,
//     contents) as the original; Visi's must also be the same bytes.
//   Rounds interleave (visi, baseline, visi, baseline): 2 for 1 MiB and
//   100 MiB, 1 for 1 GiB. ratio = baseline seconds / visi seconds (>= 0.8 is
//   the target: Visi at least 0.8x as fast as plain tar). Each Visi round
//   prints the peak RSS of the call (VmHWM, reset before it).
//   Breakdown, once per size and not in the ratios: the steps of capture and
//   restore done one at a time in this process (GetArchive, sha256, outer
//   tar, gzip -6, write + fsync; read + sha256, gunzip, ReadTar, PutArchive).
// Usage: snapshot_bench [--no-1g] [--budget SECONDS]
// 1 GiB is skipped (with a message) without --no-1g when MemAvailable is
// below 4 GiB or /tmp has less than 3 GiB free: the bundle is built in
// memory. Since a 1 GiB /data is a little more than 1 GiB of tar, the run
// raises BundleLimits and the client's body limit to 2 GiB (the defaults,
// 1 GiB, refuse it). Bounded: steps stop starting after the budget (480 s);
// a watchdog ends the process 90 s after it. Containers carry
// visi.dev/bench=snapshot-<pid> and are removed with the temp dir at the end,
// also after SIGINT or SIGTERM.
#include <csignal>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/drivers/docker/docker_client.h"
#include "test/bench/test_data.h"
#include "controller/drivers/docker/tar_archive.h"
#include "controller/drivers/snapshot/local_snapshot_store.h"
#include "reconcilers/snapshot/session_bundle.h"

namespace visi::bench {
namespace {

using Steady = std::chrono::steady_clock;

constexpr char kImage[] = "visi/busybox:latest";
constexpr char kLabel[] = "visi.dev/bench";
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kChunkBytes = 64 * kMiB; // per PutArchive while filling
constexpr int64_t kLimitBytes = int64_t{2} << 30;

volatile std::sig_atomic_t g_interrupted = 0;
Steady::time_point g_deadline;
std::atomic<pid_t> g_child{
    0}; // the running baseline shell, its own process group
bool OutOfTime() { return g_interrupted != 0 || Steady::now() >= g_deadline; }

double Seconds(Steady::duration d) {
  return std::chrono::duration<double>(d).count();
}

std::string Sha256Hex(const void *data, size_t size) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data, size, md, &n, EVP_sha256(), nullptr);
  std::string hex;
  char buf[3];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02x", md[i]);
    hex += buf;
  }
  return hex;
}

// What a restore must reproduce: each member's name, type, mode, owner and
// content (the archive's mtimes and header fields are not compared).
std::string MembersDigest(const std::string &tar) {
  auto entries = ReadTar(tar);
  if (!entries.ok())
    return "unreadable: " + entries.status().ToString();
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  for (const TarEntry &e : *entries) {
    std::string head = e.name + '\0' +
                       std::to_string(static_cast<int>(e.type)) + ' ' +
                       std::to_string(e.mode) + ' ' + std::to_string(e.uid) +
                       ' ' + std::to_string(e.gid) + ' ' + e.link_target +
                       '\0' + std::to_string(e.content.size()) + '\0';
    EVP_DigestUpdate(ctx, head.data(), head.size());
    EVP_DigestUpdate(ctx, e.content.data(), e.content.size());
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx, md, &n);
  EVP_MD_CTX_free(ctx);
  return Sha256Hex(md, n) + " (" + std::to_string(entries->size()) +
         " members)";
}

// Runs `command` with /bin/sh in its own process group; its exit status, or
// -1 when it could not run or was killed at the deadline.
int RunShell(const std::string &command) {
  pid_t pid = ::fork();
  if (pid < 0)
    return -1;
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sh", "sh", "-c", command.c_str(),
            static_cast<char *>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  g_child = pid;
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t MemAvailableBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:")
      return kb * 1024;
  }
  return 0;
}

int64_t FreeBytes(const std::string &path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0)
    return 0;
  return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
}

// Peak resident set of this process since the last ResetPeakRss (VmHWM).
int64_t PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0)
      return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Figures {
  std::vector<double> visi, baseline;
  static double Mean(const std::vector<double> &v) {
    double sum = 0;
    for (double x : v)
      sum += x;
    return v.empty() ? 0 : sum / v.size();
  }
};

class SnapshotBench {
public:
  SnapshotBench(std::unique_ptr<DockerClient> docker, std::string dir)
      : docker_(std::move(docker)), dir_(std::move(dir)),
        label_("snapshot-" + std::to_string(::getpid())) {}
  ~SnapshotBench() { Cleanup(); }

  // One state size end to end; false when it stopped early or failed.
  bool RunSize(int64_t bytes, int rounds);
  void Cleanup();

private:
  StatusOr<std::string> NewContainer();
  Status Fill(const std::string &container, int64_t bytes);
  bool Capture(const std::string &source, int rounds, int64_t state_bytes,
               std::string *digest);
  // The steps of capture and restore done one by one, each timed, to show
  // where the time goes (not part of the ratios).
  void Breakdown(const std::string &source, int64_t state_bytes);
  bool Restore(const std::string &digest, int rounds, int64_t state_bytes,
               const std::string &want_bytes, const std::string &want_members);

  std::unique_ptr<DockerClient> docker_;
  std::string dir_;
  std::string label_;
  std::unique_ptr<LocalSnapshotStore> store_;
  int next_container_ = 0;
  BundleLimits limits_{kLimitBytes, kLimitBytes};
};

void SnapshotBench::Cleanup() {
  auto list = docker_->ListContainers({{kLabel, label_}});
  if (list.ok()) {
    for (const ContainerInfo &c : *list)
      (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

StatusOr<std::string> SnapshotBench::NewContainer() {
  ContainerSpec s;
  s.name = "visi-bench-" + label_ + "-" + std::to_string(next_container_++);
  s.image = kImage;
  s.command = {"sleep", "600"};
  s.labels = {{kLabel, label_}};
  VISI_RETURN_IF_ERROR(docker_->CreateContainer(s).status());
  VISI_RETURN_IF_ERROR(docker_->StartContainer(s.name));
  return s.name;
}

Status SnapshotBench::Fill(const std::string &container, int64_t bytes) {
  const int64_t file_bytes = bytes < 2 * kMiB ? bytes / 2 : kMiB;
  const int64_t files = bytes / file_bytes;
  uint64_t rng = 0x5eed;
  int64_t next = 0;
  while (next < files) {
    std::vector<TarEntry> entries;
    if (next == 0) {
      TarEntry dir;
      dir.name = "data";
      dir.type = TarEntry::Type::kDirectory;
      dir.mode = 0755;
      entries.push_back(std::move(dir));
    }
    for (int64_t in_chunk = 0; in_chunk < kChunkBytes && next < files;
         in_chunk += file_bytes, ++next) {
      TarEntry e;
      char name[32];
      std::snprintf(name, sizeof name, "data/f%05lld.%s",
                    static_cast<long long>(next), next % 2 ? "txt" : "bin");
      e.name = name;
      e.content = next % 2 ? RepetitiveText(file_bytes, static_cast<int>(next))
                           : RandomBytes(file_bytes, rng);
      entries.push_back(std::move(e));
    }
    VISI_ASSIGN_OR_RETURN(std::string tar, WriteTar(entries));
    VISI_RETURN_IF_ERROR(docker_->PutArchive(container, "/", tar));
    if (OutOfTime())
      return Status(Code::kDeadlineExceeded, "out of time while filling");
  }
  return OkStatus();
}

void PrintRound(const char *side, const char *who, int round, double seconds,
                int64_t state_bytes, const std::string &extra) {
  std::printf("  %-7s round %d  %-8s %8.3f s  %8.1f MB/s  %s\n", side, round,
              who, seconds, state_bytes / 1e6 / seconds, extra.c_str());
  std::fflush(stdout);
}

void PrintSummary(const char *side, const Figures &f, int64_t state_bytes) {
  const double visi = Figures::Mean(f.visi), base = Figures::Mean(f.baseline);
  if (f.visi.empty() || f.baseline.empty())
    return;
  std::printf("  %-7s mean     visi %8.3f s %7.1f MB/s | tar %8.3f s %7.1f "
              "MB/s | ratio tar/visi %.2f %s\n",
              side, visi, state_bytes / 1e6 / visi, base,
              state_bytes / 1e6 / base, base / visi,
              base / visi >= 0.8 ? "(meets >= 0.8)" : "(BELOW 0.8)");
}

bool SnapshotBench::Capture(const std::string &source, int rounds,
                            int64_t state_bytes, std::string *digest) {
  const std::vector<StateTarget> targets = {{"frontend", source, {"/data"}}};
  const Json session = {
      {"metadata", {{"name", "bench"}, {"namespace", "bench"}}}};
  const std::string file = dir_ + "/baseline.tar.gz";
  Figures f;
  for (int r = 1; r <= rounds && !OutOfTime(); ++r) {
    ResetPeakRss();
    auto start = Steady::now();
    auto blob =
        CaptureSession(docker_.get(), targets, session, store_.get(), limits_);
    double s = Seconds(Steady::now() - start);
    if (!blob.ok()) {
      std::fprintf(stderr, "CaptureSession: %s\n",
                   blob.status().ToString().c_str());
      return false;
    }
    *digest = blob->digest;
    f.visi.push_back(s);
    char extra[96];
    std::snprintf(extra, sizeof extra,
                  "bundle %.1f MB (%.2fx smaller), peak RSS %.0f MB",
                  blob->size_bytes / 1e6,
                  static_cast<double>(state_bytes) / blob->size_bytes,
                  PeakRssBytes() / 1e6);
    PrintRound("suspend", "visi", r, s, state_bytes, extra);
    if (OutOfTime())
      break;

    std::filesystem::remove(file);
    start = Steady::now();
    int rc = RunShell("docker exec -u 0 " + source +
                      " tar -czf - -C / data > " + file + " && sync " + file);
    s = Seconds(Steady::now() - start);
    if (rc != 0) {
      std::fprintf(stderr, "baseline tar -czf exited with %d\n", rc);
      return false;
    }
    f.baseline.push_back(s);
    std::snprintf(extra, sizeof extra, "file %.1f MB",
                  std::filesystem::file_size(file) / 1e6);
    PrintRound("suspend", "tar", r, s, state_bytes, extra);
  }
  PrintSummary("suspend", f, state_bytes);
  return !f.visi.empty() && !f.baseline.empty();
}

bool SnapshotBench::Restore(const std::string &digest, int rounds,
                            int64_t state_bytes, const std::string &want_bytes,
                            const std::string &want_members) {
  const std::string file = dir_ + "/baseline.tar.gz";
  Figures f;
  bool all_equal = true;
  auto check = [&](const std::string &container,
                   bool want_same_bytes) -> std::string {
    auto tar = docker_->GetArchive(container, "/data");
    if (!tar.ok())
      return "CHECK FAILED: " + tar.status().ToString();
    const bool same_members = MembersDigest(*tar) == want_members;
    const bool same_bytes = Sha256Hex(tar->data(), tar->size()) == want_bytes;
    all_equal = all_equal && same_members && (same_bytes || !want_same_bytes);
    if (!same_members)
      return "CHECK FAILED: members differ";
    return same_bytes ? "restored: same members, same archive bytes"
                      : "restored: same members (archive bytes differ)";
  };
  for (int r = 1; r <= rounds && !OutOfTime(); ++r) {
    auto fresh = NewContainer();
    if (!fresh.ok())
      return false;
    ResetPeakRss();
    auto start = Steady::now();
    auto restored = RestoreSession(docker_.get(), store_.get(), digest,
                                   {{"frontend", *fresh, {"/data"}}}, limits_);
    double s = Seconds(Steady::now() - start);
    if (!restored.ok()) {
      std::fprintf(stderr, "RestoreSession: %s\n",
                   restored.status().ToString().c_str());
      return false;
    }
    f.visi.push_back(s);
    const double peak_mb = PeakRssBytes() / 1e6;
    PrintRound("resume", "visi", r, s, state_bytes,
               check(*fresh, true) + ", peak RSS " +
                   std::to_string(static_cast<int>(peak_mb)) + " MB");
    (void)docker_->RemoveContainer(*fresh, std::chrono::seconds(0));
    if (OutOfTime())
      break;

    fresh = NewContainer();
    if (!fresh.ok())
      return false;
    start = Steady::now();
    int rc = RunShell("docker exec -i -u 0 " + *fresh + " tar -xzf - -C / < " +
                      file);
    s = Seconds(Steady::now() - start);
    if (rc != 0) {
      std::fprintf(stderr, "baseline tar -xzf exited with %d\n", rc);
      return false;
    }
    f.baseline.push_back(s);
    PrintRound("resume", "tar", r, s, state_bytes, check(*fresh, false));
    (void)docker_->RemoveContainer(*fresh, std::chrono::seconds(0));
  }
  PrintSummary("resume", f, state_bytes);
  return all_equal && !f.visi.empty() && !f.baseline.empty();
}

// Level 6, gzip wrapper, 64 KiB out chunks: what session_bundle.cc does.
std::string Gzip6(const std::string &data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
               Z_DEFAULT_STRATEGY);
  std::string out;
  std::vector<char> buf(64 * 1024);
  z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef *>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    rc = deflate(&z, Z_FINISH);
    if (rc == Z_STREAM_ERROR)
      break;
    out.append(buf.data(), buf.size() - z.avail_out);
  }
  deflateEnd(&z);
  return out;
}

std::string Gunzip(const std::string &data) {
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  std::string out;
  std::vector<char> buf(64 * 1024);
  z.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef *>(buf.data());
    z.avail_out = static_cast<uInt>(buf.size());
    rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf.data(), buf.size() - z.avail_out);
  }
  inflateEnd(&z);
  return out;
}

void SnapshotBench::Breakdown(const std::string &source, int64_t state_bytes) {
  std::vector<std::pair<std::string, double>> steps;
  auto timed = [&](const char *name, auto &&fn) {
    auto start = Steady::now();
    fn();
    steps.emplace_back(name, Seconds(Steady::now() - start));
  };
  std::string tar, outer, gz, back, raw;
  timed("GetArchive /data", [&] {
    auto got = docker_->GetArchive(source, "/data");
    if (got.ok())
      tar = std::move(*got);
  });
  timed("sha256 of it", [&] { (void)Sha256Hex(tar.data(), tar.size()); });
  timed("WriteTar (outer tar)", [&] {
    TarEntry member;
    member.name = "state/frontend/0.tar";
    member.content = std::move(tar); // CaptureSession moves it too
    auto written = WriteTar({member});
    if (written.ok())
      outer = std::move(*written);
  });
  timed("gzip level 6 (zlib, 1 thread)", [&] { gz = Gzip6(outer); });
  const std::string file = dir_ + "/breakdown.gz";
  timed("write + fsync", [&] {
    int fd =
        ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    for (size_t off = 0; fd >= 0 && off < gz.size();) {
      ssize_t n = ::write(fd, gz.data() + off,
                          std::min<size_t>(gz.size() - off, 1 << 20));
      if (n <= 0)
        break;
      off += static_cast<size_t>(n);
    }
    if (fd >= 0)
      ::fsync(fd), ::close(fd);
  });
  const size_t capture_steps = steps.size();
  outer.clear();
  outer.shrink_to_fit();
  gz.clear();
  gz.shrink_to_fit();
  timed("read file + sha256 (Verify)", [&] {
    std::error_code size_ec;
    back.resize(std::filesystem::file_size(file, size_ec));
    std::ifstream(file, std::ios::binary)
        .read(back.data(), static_cast<std::streamsize>(back.size()));
    (void)Sha256Hex(back.data(), back.size());
  });
  timed("gunzip (zlib)", [&] { raw = Gunzip(back); });
  back.clear();
  back.shrink_to_fit();
  timed("ReadTar outer + inner (validate)", [&] {
    auto outer_entries = ReadTar(raw);
    if (outer_entries.ok() && !outer_entries->empty()) {
      tar = std::move(outer_entries->back().content);
      (void)ReadTar(tar);
    }
  });
  auto fresh = NewContainer();
  if (fresh.ok()) {
    timed("PutArchive / into a fresh container",
          [&] { (void)docker_->PutArchive(*fresh, "/", tar); });
    (void)docker_->RemoveContainer(*fresh, std::chrono::seconds(0));
  }
  std::error_code ec;
  std::filesystem::remove(file, ec);
  std::printf("  where the time goes (each step alone, once, in this process; "
              "not part of the ratios):\n");
  for (size_t i = 0; i < steps.size(); ++i) {
    std::printf("    %-7s %-38s %8.3f s  %8.1f MB/s\n",
                i < capture_steps ? "suspend" : "resume",
                steps[i].first.c_str(), steps[i].second,
                state_bytes / 1e6 / steps[i].second);
  }
}

bool SnapshotBench::RunSize(int64_t bytes, int rounds) {
  std::printf("\n## %lld MiB of state, %d round(s) each way\n",
              static_cast<long long>(bytes / kMiB), rounds);
  ResetPeakRss();
  if (!store_) {
    auto store = LocalSnapshotStore::Open(dir_ + "/store");
    if (!store.ok()) {
      std::fprintf(stderr, "store: %s\n", store.status().ToString().c_str());
      return false;
    }
    store_ = std::move(*store);
  }
  auto source = NewContainer();
  if (!source.ok()) {
    std::fprintf(stderr, "container: %s\n", source.status().ToString().c_str());
    return false;
  }
  auto fill_start = Steady::now();
  if (Status filled = Fill(*source, bytes); !filled.ok()) {
    std::fprintf(stderr, "fill: %s\n", filled.ToString().c_str());
    return false;
  }
  std::string want_bytes, want_members;
  {
    auto tar = docker_->GetArchive(*source, "/data");
    if (!tar.ok()) {
      std::fprintf(stderr, "GetArchive: %s\n", tar.status().ToString().c_str());
      return false;
    }
    want_bytes = Sha256Hex(tar->data(), tar->size());
    want_members = MembersDigest(*tar);
    std::printf("  state: /data tar %.1f MB,%s; filled in %.1f s (untimed)\n",
                tar->size() / 1e6, want_members.substr(64).c_str(),
                Seconds(Steady::now() - fill_start));
  }
  std::string digest;
  bool ok = Capture(*source, rounds, bytes, &digest);
  if (ok && !OutOfTime())
    Breakdown(*source, bytes);
  (void)docker_->RemoveContainer(*source, std::chrono::seconds(0));
  ok = ok && Restore(digest, rounds, bytes, want_bytes, want_members);
  if (!digest.empty())
    (void)store_->Delete(digest);
  std::error_code ec;
  std::filesystem::remove(dir_ + "/baseline.tar.gz", ec);
  std::printf("  peak RSS of this process during this size: %.0f MB (VmHWM)\n",
              PeakRssBytes() / 1e6);
  return ok;
}

void OnSignal(int) { g_interrupted = 1; }

int Main(int argc, char **argv) {
  bool with_1g = true;
  int budget_s = 480;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--no-1g") {
      with_1g = false;
    } else if (a == "--budget" && i + 1 < argc) {
      budget_s = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: snapshot_bench [--no-1g] [--budget SECONDS]\n");
      return 2;
    }
  }
  g_deadline = Steady::now() + std::chrono::seconds(budget_s);
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  for (int sig : {SIGINT, SIGTERM, SIGHUP})
    ::sigaction(sig, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  DockerClientOptions options;
  options.max_body_bytes = static_cast<size_t>(kLimitBytes);
  auto docker = DockerClient::Create(options);
  if (!docker.ok() || !(*docker)->Ping().ok()) {
    std::fprintf(
        stderr,
        "snapshot_bench needs a Docker daemon at /var/run/docker.sock\n");
    return 1;
  }
  auto has_image = (*docker)->ImageExists(kImage);
  if (!has_image.ok() || !*has_image) {
    std::fprintf(stderr, "%s is missing: run hack/images.sh\n", kImage);
    return 1;
  }
  char tmpl[] = "/tmp/visi-snapshot-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string dir = tmpl;
  const std::string label = "snapshot-" + std::to_string(::getpid());
  SnapshotBench bench(std::move(*docker), dir);

  // Last resort when a call hangs past the budget: stop the baseline shell,
  // remove what the run made through a client of its own, and exit.
  std::thread([dir, label] {
    while (Steady::now() < g_deadline + std::chrono::seconds(90))
      std::this_thread::sleep_for(std::chrono::seconds(1));
    if (pid_t child = g_child; child > 0)
      ::kill(-child, SIGKILL);
    std::fprintf(
        stderr,
        "snapshot_bench: 90 s past its budget; cleaning up and exiting\n");
    if (auto d = DockerClient::Create({}); d.ok()) {
      if (auto list = (*d)->ListContainers({{kLabel, label}}); list.ok()) {
        for (const ContainerInfo &c : *list)
          (void)(*d)->RemoveContainer(c.id, std::chrono::seconds(0));
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    std::_Exit(3);
  }).detach();

  double load[3] = {0, 0, 0};
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::printf("# snapshot_bench: %u cores, load average %.2f %.2f %.2f, "
              "MemAvailable %.1f GiB, /tmp free %.1f GiB\n",
              std::thread::hardware_concurrency(), load[0], load[1], load[2],
              MemAvailableBytes() / 1073741824.0,
              FreeBytes("/tmp") / 1073741824.0);
  std::printf("# visi: CaptureSession into LocalSnapshotStore (%s) / "
              "RestoreSession from it\n",
              dir.c_str());
  std::printf("# tar:  suspend `docker exec -u 0 C tar -czf - -C / data > FILE "
              "&& sync FILE`,\n"
              "#       resume  `docker exec -i -u 0 C tar -xzf - -C / < FILE` "
              "(busybox tar + gzip -6 in the container)\n");
  std::printf("# state: half random, half repetitive text, files of 1 MiB; MB "
              "= 10^6 bytes of state per second\n");

  bool ok = true;
  struct Size {
    int64_t bytes;
    int rounds;
  };
  for (Size size : {Size{kMiB, 2}, Size{100 * kMiB, 2}, Size{1024 * kMiB, 1}}) {
    if (OutOfTime())
      break;
    if (size.bytes == 1024 * kMiB) {
      const int64_t mem = MemAvailableBytes(), disk = FreeBytes("/tmp");
      if (!with_1g) {
        std::printf("\n## 1024 MiB skipped (--no-1g)\n");
        continue;
      }
      if (mem < 4 * 1024 * kMiB || disk < 3 * 1024 * kMiB) {
        std::printf("\n## 1024 MiB skipped: MemAvailable %.1f GiB (needs 4), "
                    "/tmp free %.1f GiB (needs 3)\n",
                    mem / 1073741824.0, disk / 1073741824.0);
        continue;
      }
    }
    ok = bench.RunSize(size.bytes, size.rounds) && ok;
  }
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  std::printf("\n# peak RSS of the whole run (getrusage ru_maxrss): %.0f MB\n",
              ru.ru_maxrss * 1024 / 1e6);
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::printf("# load average at the end %.2f %.2f %.2f\n", load[0], load[1],
              load[2]);
  const bool stopped_early = OutOfTime();
  if (stopped_early)
    std::printf("# the run stopped early (its time limit or a signal); missing "
                "figures were skipped\n");
  bench.Cleanup();
  return ok && !stopped_early ? 0 : 1;
}

} // namespace
} // namespace visi::bench

int main(int argc, char **argv) { return visi::bench::Main(argc, argv); }
