#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "controller/drivers/docker/container_runtime.h"
#include "reconcilers/session/prober.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_spec.h"

// The baseline of suspend_bench.cc: a session's containers suspended and
// resumed by hand, with plain tar for the state, in the way a careful
// operator's script would do it:
//   suspend  stop every container (side by side, as `docker stop A B C`),
//            `docker cp FRONTEND:/data - | gzip -6 > FILE && sync FILE`,
//            remove every container (side by side, as `docker rm`), remove
//            the network;
//   resume   create the network, create every container (not started),
//            `gunzip -c FILE | docker cp - FRONTEND:/`, start them in
//            order (as `docker start A B C`), then probe the master (TCP)
//            and the front end (HTTP readiness path) every 5 ms until both
//            answer: the readiness Visi waits for.
// The containers and the network are exactly what the session reconciler
// builds (BuildDesiredSession); lifecycle calls go through the Docker driver
// (the Engine API calls the CLI makes, without its process start), the
// state through the docker CLI and GNU gzip at level 6, Visi's level.
namespace visi::bench {

using Steady = std::chrono::steady_clock;

// Runs `command` with bash (pipefail) in its own process group, killed when
// `deadline` passes; its exit status, or -1 when it could not run or was
// killed.
inline int RunBash(const std::string& command, Steady::time_point deadline) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/bash", "bash", "-o", "pipefail", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  int status = 0;
  while (true) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return -1;
    if (Steady::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class PlainTarSession {
 public:
  // `file`: where the suspended state goes; `state_path`: the front end's
  // state path (spec.statePaths[0]).
  PlainTarSession(ContainerRuntime* rt, Prober* prober, DesiredSession desired, SessionSpec spec, std::string file)
      : rt_(rt), prober_(prober), d_(std::move(desired)), spec_(std::move(spec)), file_(std::move(file)) {}

  // The session as the reconciler starts it: network, containers created
  // and started in order, then ready.
  Status Start(Steady::time_point deadline) {
    if (auto n = rt_->CreateNetwork(d_.network); !n.ok()) return n.status();
    for (const auto& c : d_.containers) {
      if (auto id = rt_->CreateContainer(c); !id.ok()) return id.status();
      if (Status s = rt_->StartContainer(c.name); !s.ok()) return s;
    }
    return WaitReady(deadline);
  }

  Status Suspend(Steady::time_point deadline) {
    steps_.clear();
    Lap lap(&steps_);
    if (Status s = ForEachSideBySide([&](const ContainerSpec& c) { return rt_->StopContainer(c.name, kGrace); });
        !s.ok()) {
      return s;
    }
    lap("stop");
    const std::string cp =
        "docker cp " + frontend() + ":" + StatePath() + " - | gzip -6 > " + file_ + " && sync " + file_;
    if (int rc = RunBash(cp, deadline); rc != 0) {
      return Status(Code::kInternal, "`" + cp + "` exited with " + std::to_string(rc));
    }
    lap("cp | gzip, sync");
    if (Status s = ForEachSideBySide([&](const ContainerSpec& c) { return rt_->RemoveContainer(c.name, kGrace); });
        !s.ok()) {
      return s;
    }
    lap("rm");
    Status removed = rt_->RemoveNetwork(d_.network.name);
    lap("network rm");
    return removed;
  }

  Status Resume(Steady::time_point deadline) {
    steps_.clear();
    Lap lap(&steps_);
    if (auto n = rt_->CreateNetwork(d_.network); !n.ok()) return n.status();
    for (const auto& c : d_.containers) {
      if (auto id = rt_->CreateContainer(c); !id.ok()) return id.status();
    }
    lap("network, create");
    const std::string parent = StatePath().substr(0, StatePath().rfind('/') + 1);
    const std::string cp = "gunzip -c " + file_ + " | docker cp - " + frontend() + ":" + parent;
    if (int rc = RunBash(cp, deadline); rc != 0) {
      return Status(Code::kInternal, "`" + cp + "` exited with " + std::to_string(rc));
    }
    lap("gunzip | cp");
    for (const auto& c : d_.containers) {
      if (Status s = rt_->StartContainer(c.name); !s.ok()) return s;
    }
    lap("start");
    Status ready = WaitReady(deadline);
    lap("ready");
    return ready;
  }

  // Everything of the session, whatever state it is in.
  void Remove() {
    for (const auto& c : d_.containers) (void)rt_->RemoveContainer(c.name, std::chrono::seconds(0));
    (void)rt_->RemoveNetwork(d_.network.name);
  }

  const std::string& frontend() const { return d_.containers.back().name; }
  const std::string& file() const { return file_; }
  // Where the last Suspend or Resume spent its time: "stop 0.31 s, ...".
  const std::string& steps() const { return steps_; }

 private:
  static constexpr std::chrono::seconds kGrace{5};  // the reconciler's stop grace

  // Appends "NAME S.SS s" for the time since the previous call.
  class Lap {
   public:
    explicit Lap(std::string* out) : out_(out), last_(Steady::now()) {}
    void operator()(const char* name) {
      const auto now = Steady::now();
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%s %.2f s", out_->empty() ? "" : ", ", name,
                    std::chrono::duration<double>(now - last_).count());
      *out_ += buf;
      last_ = now;
    }

   private:
    std::string* out_;
    Steady::time_point last_;
  };

  std::string StatePath() const { return spec_.state_paths.empty() ? "/data" : spec_.state_paths.front(); }

  // `op` on every container at once; the first error.
  Status ForEachSideBySide(const std::function<Status(const ContainerSpec&)>& op) {
    std::vector<Status> results(d_.containers.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < d_.containers.size(); ++i) {
      threads.emplace_back([&, i] { results[i] = op(d_.containers[i]); });
    }
    for (auto& t : threads) t.join();
    for (const Status& s : results) {
      if (!s.ok()) return s;
    }
    return OkStatus();
  }

  // Both probes every 5 ms, as session_start.h's StartDirect.
  Status WaitReady(Steady::time_point deadline) {
    std::string master_ip, frontend_ip;
    for (const ContainerSpec* c : {&d_.containers.front(), &d_.containers.back()}) {
      auto info = rt_->InspectContainer(c->name);
      if (!info.ok()) return info.status();
      auto ip = info->ips.find(d_.network.name);
      if (ip == info->ips.end()) return InternalError(c->name + " has no address on " + d_.network.name);
      (c == &d_.containers.front() ? master_ip : frontend_ip) = ip->second;
    }
    bool master = false, frontend = false;
    constexpr auto kTimeout = std::chrono::milliseconds(1000);
    while (true) {
      master = master || prober_->Tcp(master_ip, spec_.master_port, kTimeout).ok();
      frontend = frontend || prober_->Http(frontend_ip, spec_.frontend_port, spec_.readiness_path, kTimeout).ok();
      if (master && frontend) return OkStatus();
      if (Steady::now() >= deadline) {
        return Status(Code::kDeadlineExceeded, d_.network.name + " not ready within the limit");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  ContainerRuntime* const rt_;
  Prober* const prober_;
  const DesiredSession d_;
  const SessionSpec spec_;
  const std::string file_;
  std::string steps_;
};

}  // namespace visi::bench
