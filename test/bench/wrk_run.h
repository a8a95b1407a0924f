#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "controller/base/statusor.h"

extern char** environ;

// wrk run as a child of a benchmark, its figures parsed from its output.
namespace visi::bench {

struct WrkOptions {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  int threads = 1;
  int connections = 16;
  int seconds = 5;
};

// One run's figures, as wrk reports them.
struct WrkResult {
  double rps = 0;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0;  // from its start of writing a request to the end of the answer
  int64_t requests = 0;
  std::string problems;  // its "Non-2xx" and "Socket errors" lines
};

// "812.00us", "1.23ms", "1.01s", "1.00m" in milliseconds.
inline double WrkMs(const std::string& v) {
  const double x = std::atof(v.c_str());
  if (v.size() > 2 && v.compare(v.size() - 2, 2, "us") == 0) return x / 1000;
  if (v.size() > 2 && v.compare(v.size() - 2, 2, "ms") == 0) return x;
  if (v.size() > 1 && v.back() == 's') return x * 1000;
  if (v.size() > 1 && v.back() == 'm') return x * 60000;
  return x;
}

// Runs `wrk --latency` (from PATH) and parses its report. `stop` is polled
// while it runs: when it returns true, or 15 s after the run should have
// ended, wrk is stopped by pid and the run fails (kUnavailable).
inline StatusOr<WrkResult> RunWrk(const WrkOptions& o, const std::function<bool()>& stop) {
  std::vector<std::string> args = {"wrk",
                                   "-t" + std::to_string(o.threads),
                                   "-c" + std::to_string(o.connections),
                                   "-d" + std::to_string(o.seconds) + "s",
                                   "--latency",
                                   "--timeout",
                                   "2s"};
  for (const std::string& h : o.headers) args.insert(args.end(), {"-H", h});
  args.push_back(o.url);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return InternalError("pipe: " + std::string(std::strerror(errno)));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawnp(&pid, "wrk", &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return UnavailableError("cannot run wrk: " + std::string(std::strerror(rc)));
  }
  std::string out;
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(o.seconds + 15);
  bool killed = false;
  while (true) {
    if (!killed && (stop() || std::chrono::steady_clock::now() >= limit)) {
      ::kill(pid, SIGTERM);
      killed = true;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buffer[4096];
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (killed || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return UnavailableError("wrk " + o.url + (killed ? " was stopped" : " failed") + ":\n" + out);
  }
  WrkResult r;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string first, second;
    words >> first >> second;
    if (first == "Latency" && r.mean_ms == 0) r.mean_ms = WrkMs(second);  // the "Thread Stats" line
    if (first == "50%") r.p50_ms = WrkMs(second);
    if (first == "99%") r.p99_ms = WrkMs(second);
    if (first == "Requests/sec:") r.rps = std::atof(second.c_str());
    if (second == "requests") r.requests = std::atoll(first.c_str());
    if (first == "Non-2xx" || first == "Socket") r.problems += (r.problems.empty() ? "" : "; ") + line.substr(2);
  }
  if (r.requests == 0 || r.rps == 0) return InternalError("wrk " + o.url + ": no figures in its output:\n" + out);
  return r;
}

}  // namespace visi::bench
