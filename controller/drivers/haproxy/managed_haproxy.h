#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "controller/base/status.h"
#include "controller/drivers/haproxy/haproxy_config.h"

namespace visi {

struct ManagedHaproxyOptions {
  std::string binary = "/usr/sbin/haproxy";
  HaproxyConfigOptions config;                     // bind_port 0: the first Start picks a free port
  std::chrono::milliseconds start_timeout{10000};  // until the stats socket answers
  std::chrono::milliseconds stop_timeout{5000};    // before SIGKILL
};

// One HAProxy process run as a child (posix_spawn, no shell, foreground):
// writes the config and empty maps into config.runtime_dir, starts the
// process, waits until its stats socket answers, stops it by pid. Its
// output goes to config.log_path(). Not thread-safe: one owner.
//
// A restarted HAProxy holds no route; the route reconciler re-applies them.
class ManagedHaproxy {
 public:
  explicit ManagedHaproxy(ManagedHaproxyOptions options);
  // Stops the process (SIGTERM, then SIGKILL after stop_timeout).
  ~ManagedHaproxy();
  ManagedHaproxy(const ManagedHaproxy&) = delete;
  ManagedHaproxy& operator=(const ManagedHaproxy&) = delete;

  // Starts HAProxy and returns once it serves. With bind_port 0 a free port
  // is chosen (and another one tried, up to 5 times, when it is taken
  // meanwhile); later starts keep that port.
  // Errors: kInvalid (options), kAlreadyExists (already running),
  // kUnavailable (the port is taken, or no answer within start_timeout),
  // kInternal (cannot write the files or spawn; HAProxy refused to start:
  // the message quotes its output).
  Status Start();

  enum class StopMode {
    kImmediate,  // SIGTERM: close every connection now
    kGraceful,   // SIGUSR1: stop listening, let open connections finish
  };
  // Stops the process and reaps it; SIGKILL when it has not exited within
  // stop_timeout. OK when it is not running.
  Status Stop(StopMode mode = StopMode::kImmediate);

  // Stop, then Start on the same port.
  Status Restart();

  // True while the child runs (reaps it when it has exited).
  bool Running();

  pid_t pid() const { return pid_; }  // 0 when not running
  // The options in force, with bind_port resolved after the first Start.
  const HaproxyConfigOptions& config() const { return options_.config; }
  // The end of HAProxy's output (config.log_path()), for error messages.
  std::string LogTail(size_t max_bytes = 2000) const;

 private:
  Status WriteFiles() const;
  // Stops the HAProxy an earlier owner of this runtime dir left running
  // (runtime_dir/haproxy.pid, checked against /proc/PID/cmdline).
  void StopStale() const;
  // One attempt; kUnavailable with `port_taken` set when the bind failed.
  Status StartOnce(bool* port_taken);
  Status WaitUntilServing();

  ManagedHaproxyOptions options_;
  pid_t pid_ = 0;
};

// A TCP port on `address` that was free a moment ago (bind to port 0, read
// it, close); 0 when none could be found.
int PickFreePort(const std::string& address);

}  // namespace visi
