#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/client/api_client.h"
#include "controller/server/auth/users.h"

extern char** environ;

namespace visi::testing {

// `s` quoted for a POSIX shell.
inline std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command; returns its exit code and its output (stdout and
// stderr together, when the command redirects them so).
inline std::pair<int, std::string> RunCommand(const std::string& cmd) {
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  return {WEXITSTATUS(rc), out};
}

// A real visid process on a port of its own choosing, with a temporary data
// directory that outlives restarts. Stops it (by pid) when destroyed.
class VisidProcess {
 public:
  VisidProcess() {
    char tmpl[] = "/tmp/visid-e2e-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~VisidProcess() {
    Stop();
    std::filesystem::remove_all(dir_);
  }

  // Adds a user before the first start; returns its token.
  std::string AddUser(const std::string& name, const std::vector<std::string>& namespaces) {
    auto t = visi::AddUser(dir_ + "/users.yaml", name, false, namespaces);
    return t.ok() ? *t : "";
  }

  // Sets `key=value` in visid's environment from the next Start on (an empty
  // value removes the variable), e.g. VISI_FAILPOINTS for crash tests.
  void SetEnv(const std::string& key, const std::string& value) { env_[key] = value; }

  // Starts visid and waits until it says where it listens.
  bool Start(const std::vector<std::string>& extra = {}) {
    int fds[2];
    if (::pipe(fds) != 0) return false;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    log_ = dir_ + "/visid.log";
    posix_spawn_file_actions_addopen(&fa, 2, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    std::vector<std::string> args = {VISI_VISID_BINARY, "--data-dir", dir_};
    if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
      args.insert(args.end(), {"--listen", "127.0.0.1:0"});
    }
    // Sessions would start real containers: only tests that ask for the
    // session reconciler (with an --instance of their own) get it.
    if (std::find(extra.begin(), extra.end(), "--controllers") == extra.end() &&
        std::find(extra.begin(), extra.end(), "--no-controllers") == extra.end()) {
      args.insert(args.end(), {"--controllers", "garbage-collector"});
    }
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      if (env_.count(kv.substr(0, kv.find('='))) == 0) env.push_back(kv);
    }
    for (const auto& [key, value] : env_) {
      if (!value.empty()) env.push_back(key + "=" + value);
    }
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    int rc = posix_spawn(&pid_, VISI_VISID_BINARY, &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) return false;
    FILE* out = ::fdopen(fds[0], "r");
    char line[512];
    bool ok = false;
    if (std::fgets(line, sizeof line, out)) {
      std::string s = line;
      if (s.rfind("listening on ", 0) == 0) {
        url_ = s.substr(13);
        while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
        ok = true;
      }
    }
    std::fclose(out);
    return ok;
  }

  void Stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // SIGKILL: no clean-up at all, as a crash.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Waits up to `limit` for visid to end on its own (a failpoint kills it);
  // its wait status, or nullopt while it still runs.
  std::optional<int> WaitForExit(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (pid_ > 0) {
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      if (std::chrono::steady_clock::now() >= end) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }

  ClientConfig AdminConfig() const { return *LoadClientConfig(dir_ + "/visictl.conf"); }
  ClientConfig ConfigWithToken(const std::string& token) const {
    ClientConfig c = AdminConfig();
    c.token = token;
    return c;
  }
  const std::string& url() const { return url_; }
  const std::string& dir() const { return dir_; }
  std::string config_path() const { return dir_ + "/visictl.conf"; }
  const std::string& log_path() const { return log_; }

 private:
  std::string dir_, log_, url_;
  std::map<std::string, std::string> env_;
  pid_t pid_ = -1;
};

}  // namespace visi::testing
