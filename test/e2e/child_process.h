#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace visi::testing {

// A child process of the test: stdout's first line is read at start (the
// "I am up" line), stderr goes to `log_path`. Killed by pid when destroyed.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> args, std::string log_path)
      : args_(std::move(args)), log_(std::move(log_path)) {}
  ~ChildProcess() { Kill(SIGKILL); }

  // Starts the process; returns its first stdout line ("" when it exited
  // before printing one).
  std::string Start() {
    int fds[2];
    if (::pipe(fds) != 0) return "";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    std::vector<char*> argv;
    for (auto& a : args_) argv.push_back(a.data());
    argv.push_back(nullptr);
    int rc = posix_spawn(&pid_, argv[0], &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
      ::close(fds[0]);
      pid_ = -1;
      return "";
    }
    FILE* out = ::fdopen(fds[0], "r");
    char line[1024] = {};
    std::string first = std::fgets(line, sizeof line, out) ? line : "";
    std::fclose(out);
    return first;
  }

  // Sends `sig` and reaps the process; returns the wall-clock milliseconds
  // at which the signal was sent.
  int64_t Kill(int sig) {
    int64_t at = NowMillis();
    if (pid_ <= 0) return at;
    ::kill(pid_, sig);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return at;
  }

  std::string Log() const {
    std::ifstream in(log_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  const std::string& log_path() const { return log_; }

  static int64_t NowMillis() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

 private:
  std::vector<std::string> args_;
  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace visi::testing
