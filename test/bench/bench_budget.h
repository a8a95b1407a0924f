#pragma once

// How a Docker benchmark bounds its run: a time budget after which no round
// starts, and SIGINT, SIGTERM and SIGHUP only set a flag, so the benchmark
// stops between steps and removes what it made.
#include <chrono>
#include <csignal>

namespace visi::bench {

inline std::chrono::steady_clock::time_point g_deadline;  // no round starts after it
inline volatile std::sig_atomic_t g_interrupted = 0;

inline bool Interrupted() { return g_interrupted != 0; }

// Sets the budget from now and the signal handlers; SIGPIPE is ignored (a
// peer that goes away is an error to report, not a death).
inline void StartBudget(int budget_seconds) {
  g_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(budget_seconds);
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_interrupted = 1; };
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

}  // namespace visi::bench
