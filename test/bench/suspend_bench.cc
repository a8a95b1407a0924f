// Suspend and resume benchmark (not a test): a VisiSession with 2 workers
// suspended and resumed through a visid this benchmark starts, against the
// same containers suspended and resumed by hand with plain tar
// (plain_tar_session.h), in one run, for 1 MiB, 100 MiB and 1 GiB of state.
//   State: the front end's /data (the session's only state path), filled
//     untimed through the archive API with the same bytes on both sides
//     (state_fill.h): half random, half repetitive text.
//   Visi suspend: from just before the PATCH of spec.suspend=true to the
//     watch event with status.phase Suspended (containers stopped, Snapshot
//     captured and verified, containers, network and subnet claim gone).
//   Visi resume: from just before the PATCH of spec.suspend=false to the
//     watch event with phase Running and Ready=True (new network, containers
//     created, the snapshot restored, started, probed).
//   Every resume is checked untimed, on both sides: the digest of every
//     file's name and content under /data in the new front end must equal
//     the one taken before the first suspend.
//   REPS rounds per size (default 3): both suspends, then both resumes; the
//   side that goes first alternates from round to round. Figures are
//   medians; ratio = plain tar seconds / Visi seconds (>= 0.8 is the target:
//   Visi at least 0.8x as fast as plain tar).
// Usage: suspend_bench [--sizes 1M,100M,1G] [--reps N] [--budget SECONDS]
//                      [--instance NAME] [--work-dir DIR] [--baseline-only]
// Sizes take K, M or G (binary units). --work-dir: where the plain tar files
// go (default: a temp dir; removed at the end either way). --baseline-only runs the plain tar
// side alone (no visid; the spec defaulted by the built-in CRD schema).
// 1 GiB and more is skipped (with a message) when MemAvailable is below
// 6 GiB or /tmp has less than 4 GiB free.
// Bounded: no round starts after the budget (default 450 s) and every wait
// has a limit; visid is stopped by pid; every container and network of the
// run (labels visi.dev/instance=NAME and NAME-d) and the temp dir are
// removed at the end, also after SIGINT or SIGTERM.
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/scheme.h"
#include "controller/drivers/docker/docker_client.h"
#include "reconcilers/session/cidr.h"
#include "test/bench/bench_budget.h"
#include "test/bench/plain_tar_session.h"
#include "test/bench/state_fill.h"
#include "test/bench/suspend_visi_side.h"
#include "test/e2e/visid_process.h"

namespace visi::bench {
namespace {

constexpr double kTarget = 0.8;
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr auto kStepLimit = std::chrono::seconds(300);  // one suspend or resume

bool OutOfTime() { return Interrupted() || Steady::now() >= g_deadline; }
// A step may run past the budget (it is never cut short), not past this.
Steady::time_point StepLimit(std::chrono::seconds limit) { return Steady::now() + limit; }

double Seconds(Steady::duration d) { return std::chrono::duration<double>(d).count(); }

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

std::string SizeName(int64_t bytes) {
  if (bytes < kMiB) return std::to_string(bytes / 1024) + " KiB";
  if (bytes % (1024 * kMiB) == 0) return std::to_string(bytes / (1024 * kMiB)) + " GiB";
  return std::to_string(bytes / kMiB) + " MiB";
}

// "1M,100M,1G": commas or spaces between sizes; K, M or G (binary units),
// MiB without a suffix.
std::optional<std::vector<int64_t>> ParseSizes(std::string text) {
  std::replace(text.begin(), text.end(), ',', ' ');
  std::istringstream in(text);
  std::vector<int64_t> out;
  std::string token;
  while (in >> token) {
    char* rest = nullptr;
    const double n = std::strtod(token.c_str(), &rest);
    const std::string unit = rest;
    int64_t scale = 0;
    if (unit.empty() || unit == "M" || unit == "m") scale = kMiB;
    if (unit == "K" || unit == "k") scale = 1024;
    if (unit == "G" || unit == "g") scale = 1024 * kMiB;
    if (n <= 0 || scale == 0) return std::nullopt;
    out.push_back(std::max<int64_t>(2048, static_cast<int64_t>(n * scale) / 1024 * 1024));
  }
  if (out.empty()) return std::nullopt;
  return out;
}

int64_t MemAvailableBytes() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kb = 0;
  while (in >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

int64_t FreeBytes(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.f_bavail) * static_cast<int64_t>(st.f_frsize);
}

// The spec the API server would give `{user: bench, spark: {workers: 2}}`:
// the built-in CRD schema's defaults (for --baseline-only, without visid).
StatusOr<SessionSpec> DefaultedSpec() {
  Object o;
  o.kind = "VisiSession";
  o.metadata.name = "defaults";
  o.metadata.namespace_ = VisiSide::kNamespace;
  o.spec = {{"user", VisiSide::kNamespace}, {"spark", {{"workers", 2}}}};
  VISI_RETURN_IF_ERROR(Scheme::Builtin()->ValidateAndDefault(&o));
  return ParseSessionSpec(o);
}

// The figures of one state size.
struct SizeFigures {
  int64_t bytes = 0;
  std::vector<double> visi_suspend, tar_suspend, visi_resume, tar_resume;
  int64_t bundle_bytes = 0, tar_file_bytes = 0;
};

class SuspendBench {
 public:
  // `dir`: where the plain tar files go (empty: a temp dir of its own).
  SuspendBench(std::string instance, int reps, bool baseline_only, std::string dir)
      : instance_(std::move(instance)), reps_(reps), baseline_only_(baseline_only), dir_(std::move(dir)) {}
  ~SuspendBench() { Cleanup(); }

  bool Setup();
  // One size end to end; false when a step failed or a check did not pass.
  bool RunSize(int64_t bytes);
  void Report() const;
  void Cleanup();
  // Some rounds or sizes were left out (the budget or a signal).
  bool skipped() const { return skipped_; }
  void Skip() { skipped_ = true; }

 private:
  bool Round(int r, PlainTarSession* tar, const std::string& name, const StateCheck& want, SizeFigures* f);
  // Runs the Visi step (when there is a Visi side) and the plain tar step,
  // in the round's order; false when either failed.
  // " ratio R  visi S s (phases; extra)", or "" without a Visi side.
  std::string VisiFigure(const Timed& t, double ratio, const std::string& extra) const;
  bool Pair(int r, const std::function<Timed()>& visi, const std::function<Status()>& tar, Timed* v, double* t);

  const std::string instance_;
  const int reps_;
  const bool baseline_only_;
  std::string dir_;  // the baseline's files
  Cidr visi_pool_, direct_pool_;
  testing::VisidProcess visid_;
  std::unique_ptr<ContainerRuntime> docker_;
  SocketProber prober_;
  std::unique_ptr<VisiSide> visi_;  // null with --baseline-only
  std::vector<SizeFigures> figures_;
  std::vector<std::string> findings_;  // where Visi differs from the contract
  bool skipped_ = false;
};

bool SuspendBench::Setup() {
  auto d = NewDockerClient({});
  if (!d.ok() || !(*d)->Ping().ok()) {
    std::fprintf(stderr, "no Docker daemon at /var/run/docker.sock (hack/bench-suspend.sh starts one)\n");
    return false;
  }
  docker_ = std::move(*d);
  for (const char* image : {"visi/spark:latest", "visi/frontend:latest"}) {
    auto e = docker_->ImageExists(image);
    if (!e.ok() || !*e) {
      std::fprintf(stderr, "image %s is missing: run hack/images.sh\n", image);
      return false;
    }
  }
  // A /19 of 10.176.0.0/12 that no network on the host overlaps: its first
  // /20 is visid's subnet pool, the second the plain tar sessions'.
  auto taken = docker_->ListNetworks({});
  if (!taken.ok()) return false;
  std::mt19937_64 rng{std::random_device{}()};
  for (int attempt = 0; attempt < 64 && visi_pool_.prefix == 0; ++attempt) {
    const uint32_t r = rng() % 128;
    Cidr pair{(10u << 24) | ((176 + r / 8) << 16) | ((r % 8 * 32) << 8), 19};
    bool free = true;
    for (const auto& n : *taken) {
      auto c = ParseCidr(n.subnet, "network");
      if (c.ok() && c->Overlaps(pair)) free = false;
    }
    if (!free) continue;
    visi_pool_ = Cidr{pair.base, 20};
    direct_pool_ = Cidr{pair.base + (16u << 8), 20};
  }
  if (visi_pool_.prefix == 0) {
    std::fprintf(stderr, "no free /19 in 10.176.0.0/12\n");
    return false;
  }
  if (dir_.empty()) {
    char tmpl[] = "/tmp/visi-suspend-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return false;
    dir_ = tmpl;
  }
  if (baseline_only_) return true;
  if (!visid_.Start(
          {"--controllers", "*,-visiroute", "--instance", instance_, "--subnet-pool", visi_pool_.ToString()})) {
    std::fprintf(stderr, "visid did not start (log: %s)\n", visid_.log_path().c_str());
    return false;
  }
  visi_ = std::make_unique<VisiSide>(visid_.AdminConfig(), docker_.get(), instance_, Interrupted);
  return true;
}

void SuspendBench::Cleanup() {
  visi_.reset();
  visid_.Stop();
  if (!docker_) return;
  for (const std::string& instance : {instance_, instance_ + "-d"}) {
    auto cs = docker_->ListContainers({{"visi.dev/instance", instance}});
    if (cs.ok()) {
      for (const auto& c : *cs) (void)docker_->RemoveContainer(c.id, std::chrono::seconds(0));
    }
    auto ns = docker_->ListNetworks({{"visi.dev/instance", instance}});
    if (ns.ok()) {
      for (const auto& n : *ns) (void)docker_->RemoveNetwork(n.id);
    }
  }
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

bool SuspendBench::RunSize(int64_t bytes) {
  const std::string name = "s" + std::to_string(figures_.size());
  std::printf("\n## %s of state, %d round(s)\n", SizeName(bytes).c_str(), reps_);
  std::fflush(stdout);
  // The plain tar session is built from the spec the API server defaulted,
  // by the reconciler's own function: the same images, commands, limits and
  // labels, but a uid and an instance (NAME-d) of its own, so that visid
  // never counts its containers as the session's.
  StatusOr<SessionSpec> spec = DefaultedSpec();
  if (visi_) {
    auto created = visi_->Create(name, StepLimit(std::chrono::seconds(120)));
    if (!created.ok()) {
      std::fprintf(stderr, "visi session: %s (visid log: %s)\n", created.status().ToString().c_str(),
                   visid_.log_path().c_str());
      return false;
    }
    spec = created->spec;
  }
  if (!spec.ok()) {
    std::fprintf(stderr, "spec: %s\n", spec.status().ToString().c_str());
    return false;
  }
  char uid[17];
  std::snprintf(uid, sizeof uid, "%016llx", static_cast<unsigned long long>(std::mt19937_64{std::random_device{}()}()));
  const SessionIdentity id{VisiSide::kNamespace, "d" + name, uid, instance_ + "-d"};
  const Cidr subnet{direct_pool_.base + (static_cast<uint32_t>(figures_.size() % 16) << 8), 24};
  PlainTarSession tar(docker_.get(), &prober_, BuildDesiredSession(id, *spec, subnet.ToString()), *spec,
                      dir_ + "/" + name + ".tar.gz");
  SizeFigures f;
  f.bytes = bytes;
  bool ok = false;
  if (Status s = tar.Start(StepLimit(std::chrono::seconds(60))); !s.ok()) {
    std::fprintf(stderr, "plain tar session: %s\n", s.ToString().c_str());
  } else {
    const auto fill_start = Steady::now();
    std::vector<std::string> frontends = {tar.frontend()};
    if (visi_) frontends.push_back(visi_->Frontend(name));
    if (Status s = FillState(docker_.get(), frontends, bytes, Interrupted); !s.ok()) {
      std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
    } else {
      const StateCheck want = CheckState(frontends.front()), other = CheckState(frontends.back());
      std::printf(
          "  state: %s in /data of %zu front end(s), filled and checked in %.1f s (untimed); digest %.12s, "
          "owner/mode %s\n",
          SizeName(bytes).c_str(), frontends.size(), Seconds(Steady::now() - fill_start), want.digest.c_str(),
          want.owner.c_str());
      ok = want == other && want.digest.size() == 64;
      if (!ok)
        std::fprintf(stderr, "the front ends do not hold the same state: %s / %s\n", want.digest.c_str(),
                     other.digest.c_str());
      for (int r = 1; ok && r <= reps_; ++r) {
        if (OutOfTime()) {
          skipped_ = true;
          break;
        }
        ok = Round(r, &tar, name, want, &f);
      }
    }
  }
  figures_.push_back(f);
  if (visi_) {
    if (Status s = visi_->Delete(name, StepLimit(std::chrono::seconds(120))); !s.ok()) {
      std::fprintf(stderr, "delete %s: %s\n", name.c_str(), s.ToString().c_str());
    }
  }
  tar.Remove();
  std::error_code ec;
  std::filesystem::remove(tar.file(), ec);
  return ok;
}

bool SuspendBench::Pair(int r, const std::function<Timed()>& visi, const std::function<Status()>& tar, Timed* v,
                        double* t) {
  Status tar_status;
  for (int k = 0; k < 2; ++k) {
    if ((k == 0) == (r % 2 == 1)) {
      if (visi_) *v = visi();
    } else {
      const auto start = Steady::now();
      tar_status = tar();
      *t = Seconds(Steady::now() - start);
    }
  }
  if (!v->status.ok()) {
    std::fprintf(stderr, "round %d visi: %s\n", r, v->status.ToString().c_str());
    // The round ends here; the baseline's figure is still worth a line.
    if (tar_status.ok()) std::printf("  round %d: visi FAILED (see stderr); tar %.3f s\n", r, *t);
  }
  if (!tar_status.ok()) std::fprintf(stderr, "round %d plain tar: %s\n", r, tar_status.ToString().c_str());
  for (const auto& finding : v->findings) findings_.push_back(finding);
  return v->status.ok() && tar_status.ok();
}

std::string Mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

std::string SuspendBench::VisiFigure(const Timed& t, double ratio, const std::string& extra) const {
  if (!visi_) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "ratio %.2f  visi %7.3f s (", ratio, t.seconds);
  return buf + t.phases + "; docker: " + t.docker + "; " + extra + ")";
}

// One round: both suspends, then both resumes, each resume checked.
bool SuspendBench::Round(int r, PlainTarSession* tar, const std::string& name, const StateCheck& want, SizeFigures* f) {
  Timed vs, vr;
  double ts = 0, tr = 0;
  auto ratio = [&](double base, double visi) { return visi_ && visi > 0 ? base / visi : 0.0; };
  if (!Pair(
          r, [&] { return visi_->Suspend(name, StepLimit(kStepLimit)); },
          [&] { return tar->Suspend(StepLimit(kStepLimit)); }, &vs, &ts)) {
    return false;
  }
  std::error_code ec;
  if (visi_) f->visi_suspend.push_back(vs.seconds);
  f->tar_suspend.push_back(ts);
  f->bundle_bytes = vs.bundle_bytes;
  f->tar_file_bytes = static_cast<int64_t>(std::filesystem::file_size(tar->file(), ec));
  std::printf("  round %d suspend %s  tar %7.3f s (%s; file %.1f MB)\n", r,
              VisiFigure(vs, ratio(ts, vs.seconds), "snapshot " + Mb(vs.bundle_bytes)).c_str(), ts,
              tar->steps().c_str(), f->tar_file_bytes / 1e6);
  std::fflush(stdout);

  if (!Pair(
          r, [&] { return visi_->Resume(name, StepLimit(kStepLimit)); },
          [&] { return tar->Resume(StepLimit(kStepLimit)); }, &vr, &tr)) {
    return false;
  }
  if (visi_) f->visi_resume.push_back(vr.seconds);
  f->tar_resume.push_back(tr);
  const StateCheck got_tar = CheckState(tar->frontend());
  const StateCheck got_visi = visi_ ? CheckState(visi_->Frontend(name)) : want;
  std::printf(
      "  round %d resume  %s  tar %7.3f s (%s; state back %s, owner/mode %s)\n", r,
      VisiFigure(vr, ratio(tr, vr.seconds),
                 std::string("state back ") + (got_visi == want ? "yes" : "NO") + ", owner/mode " + got_visi.owner)
          .c_str(),
      tr, tar->steps().c_str(), got_tar == want ? "yes" : "NO", got_tar.owner.c_str());
  std::fflush(stdout);
  if (visi_ && got_visi.owner != want.owner) {
    findings_.push_back("after a resume, /data/f00000.bin has owner/mode " + got_visi.owner +
                        " (before: " + want.owner + "; plain tar with docker cp: " + got_tar.owner + ")");
  }
  if (got_visi == want && got_tar == want) return true;
  std::fprintf(stderr, "CHECK FAILED round %d: want %s, visi %s, tar %s\n", r, want.digest.c_str(),
               got_visi.digest.c_str(), got_tar.digest.c_str());
  return false;
}

void SuspendBench::Report() const {
  std::printf(
      "\n| state | step | Visi median | plain tar median | ratio tar/Visi | target >= %.1f | rounds, s (Visi / "
      "tar) |\n|---|---|---|---|---|---|---|\n",
      kTarget);
  for (const SizeFigures& f : figures_) {
    auto row = [&](const char* step, const std::vector<double>& v, const std::vector<double>& t) {
      if (t.empty()) return;
      std::string rounds;
      for (size_t i = 0; i < t.size(); ++i) {
        char buf[48];
        if (v.empty()) {
          std::snprintf(buf, sizeof buf, "%s- / %.2f", i ? ", " : "", t[i]);
        } else {
          std::snprintf(buf, sizeof buf, "%s%.2f / %.2f", i ? ", " : "", i < v.size() ? v[i] : 0.0, t[i]);
        }
        rounds += buf;
      }
      if (v.empty()) {
        std::printf("| %s | %s | - | %.3f s | - | - | %s |\n", SizeName(f.bytes).c_str(), step, Median(t),
                    rounds.c_str());
        return;
      }
      const double ratio = Median(t) / Median(v);
      std::printf("| %s | %s | %.3f s | %.3f s | %.2f | %s | %s |\n", SizeName(f.bytes).c_str(), step, Median(v),
                  Median(t), ratio, ratio >= kTarget ? "met" : "NOT met", rounds.c_str());
    };
    row("suspend", f.visi_suspend, f.tar_suspend);
    row("resume", f.visi_resume, f.tar_resume);
  }
  std::printf("\n");
  for (const SizeFigures& f : figures_) {
    if (f.tar_file_bytes > 0) {
      std::printf("# %s: Visi's snapshot %.1f MB, plain tar's file %.1f MB\n", SizeName(f.bytes).c_str(),
                  f.bundle_bytes / 1e6, f.tar_file_bytes / 1e6);
    }
  }
  std::vector<std::string> seen;
  for (const auto& finding : findings_) {
    if (std::find(seen.begin(), seen.end(), finding) != seen.end()) continue;
    seen.push_back(finding);
    std::printf("# differs from the contract: %s\n", finding.c_str());
  }
}

int Main(int argc, char** argv) {
  std::vector<int64_t> sizes = {kMiB, 100 * kMiB, 1024 * kMiB};
  int reps = 3, budget_s = 450;
  bool baseline_only = false;
  std::string work_dir;
  std::string instance = "sbench-susp-" + std::to_string(::getpid());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--sizes" && has_value) {
      auto parsed = ParseSizes(argv[++i]);
      if (!parsed) {
        std::fprintf(stderr, "bad --sizes %s (e.g. 1M,100M,1G)\n", argv[i]);
        return 2;
      }
      sizes = *parsed;
    } else if (a == "--reps" && has_value) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--budget" && has_value) {
      budget_s = std::atoi(argv[++i]);
    } else if (a == "--instance" && has_value) {
      instance = argv[++i];
    } else if (a == "--work-dir" && has_value) {
      work_dir = argv[++i];
    } else if (a == "--baseline-only") {
      baseline_only = true;
    } else {
      std::fprintf(stderr,
                   "usage: suspend_bench [--sizes 1M,100M,1G] [--reps N] [--budget SECONDS] "
                   "[--instance NAME] [--work-dir DIR] [--baseline-only]\n");
      return 2;
    }
  }
  StartBudget(budget_s);

  SuspendBench bench(instance, reps, baseline_only, work_dir);
  if (!bench.Setup()) return 1;
  double load[3] = {0, 0, 0};
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::printf(
      "# suspend_bench: %u cores, load average %.2f %.2f %.2f, MemAvailable %.1f GiB, /tmp free %.1f GiB; "
      "instance %s%s\n",
      std::thread::hardware_concurrency(), load[0], load[1], load[2], MemAvailableBytes() / 1073741824.0,
      FreeBytes("/tmp") / 1073741824.0, instance.c_str(), baseline_only ? "; plain tar only" : "");
  std::printf(
      "# visi: PATCH spec.suspend true -> phase Suspended; false -> phase Running and Ready (2 workers, "
      "statePaths [/data])\n"
      "# tar:  stop all, `docker cp FE:/data - | gzip -6 > F && sync F`, rm all, rm network;\n"
      "#       network, create all, `gunzip -c F | docker cp - FE:/`, start all, probe until ready\n");
  std::fflush(stdout);
  bool ok = true;
  for (int64_t bytes : sizes) {
    if (OutOfTime()) {
      bench.Skip();
      break;
    }
    if (bytes >= 1024 * kMiB) {
      const int64_t mem = MemAvailableBytes(), disk = FreeBytes("/tmp");
      if (mem < 6 * 1024 * kMiB || disk < 4 * 1024 * kMiB) {
        std::printf("\n## %s skipped: MemAvailable %.1f GiB (needs 6), /tmp free %.1f GiB (needs 4)\n",
                    SizeName(bytes).c_str(), mem / 1073741824.0, disk / 1073741824.0);
        bench.Skip();
        continue;
      }
    }
    ok = bench.RunSize(bytes) && ok;
  }
  bench.Report();
  std::ifstream("/proc/loadavg") >> load[0] >> load[1] >> load[2];
  std::printf("# load average at the end %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  if (bench.skipped()) std::printf("# incomplete: some rounds or sizes were skipped (budget, memory or a signal)\n");
  if (!ok) std::printf("# FAILED: a step or a check failed (see stderr)\n");
  bench.Cleanup();
  return ok && !bench.skipped() ? 0 : 1;
}

}  // namespace
}  // namespace visi::bench

int main(int argc, char** argv) { return visi::bench::Main(argc, argv); }
