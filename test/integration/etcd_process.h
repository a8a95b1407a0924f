#pragma once

// Real etcd members (/usr/bin/etcd, Debian's etcd-server) for tests: a
// cluster of one or more members on free loopback ports, with its data in a
// temporary directory. Members are killed by pid and the directory removed
// when the cluster is destroyed; members also die with the thread that
// started them (PR_SET_PDEATHSIG), so a crashed test leaves none behind.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace visi::testing {

// A loopback port nobody listens on now (bound to port 0, then released).
// A key prefix no other test (or process) uses: "/TEST-PID-N/".
inline std::string UniqueEtcdPrefix(const std::string& test) {
  static std::atomic<int> n{0};
  return "/" + test + "-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + "/";
}

inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) std::abort();
  socklen_t len = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  ::close(fd);
  return ntohs(sa.sin_port);
}

// Sends `request` to 127.0.0.1:`port` and reads until the server closes
// (HTTP/1.0); the whole answer, or "" when nothing answers within a second.
inline std::string LoopbackExchange(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

inline std::string LoopbackGet(int port, const std::string& path) {
  return LoopbackExchange(port, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
}

inline std::string LoopbackPost(int port, const std::string& path, const std::string& body) {
  return LoopbackExchange(port, "POST " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
                                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
}

// The value of the JSON string field `"name":"..."` in `text`, or "".
inline std::string JsonStringField(const std::string& text, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  size_t at = text.find(key);
  if (at == std::string::npos) return "";
  at += key.size();
  size_t end = text.find('"', at);
  return end == std::string::npos ? "" : text.substr(at, end - at);
}

// One etcd member process.
class EtcdProcess {
 public:
  // `scheme` of the client URL: "http", or "https" when the flags give the
  // member a certificate.
  EtcdProcess(std::string name, std::string data_dir, int client_port, int peer_port,
              std::string scheme = "http")
      : name_(std::move(name)),
        data_dir_(std::move(data_dir)),
        scheme_(std::move(scheme)),
        client_port_(client_port),
        peer_port_(peer_port) {}
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;
  ~EtcdProcess() { Kill(); }

  const std::string& name() const { return name_; }
  std::string client_url() const {
    return scheme_ + "://127.0.0.1:" + std::to_string(client_port_);
  }
  std::string peer_url() const { return "http://127.0.0.1:" + std::to_string(peer_port_); }
  int client_port() const { return client_port_; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Starts the member (again: on the same data directory and ports).
  // `initial_cluster` is "name=peer_url,...". False when it cannot start.
  bool Spawn(const std::string& initial_cluster, const std::string& token,
             const std::vector<std::string>& extra_flags) {
    if (pid_ > 0) return true;
    // clang-format off
    std::vector<std::string> args = {
        "etcd",
        "--name", name_,
        "--data-dir", data_dir_ + "/" + name_,
        "--listen-client-urls", client_url(),
        "--advertise-client-urls", client_url(),
        "--listen-peer-urls", peer_url(),
        "--initial-advertise-peer-urls", peer_url(),
        "--initial-cluster", initial_cluster,
        "--initial-cluster-token", token,
        "--initial-cluster-state", "new",
    };
    // clang-format on
    args.insert(args.end(), extra_flags.begin(), extra_flags.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::string log = log_path();
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) {
      // The child: only async-signal-safe calls until exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execvp("etcd", argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    return true;
  }

  // SIGKILL, then reaps the process.
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  // Reaps the process if it has exited on its own; true then.
  bool Exited() {
    if (pid_ <= 0) return true;
    if (::waitpid(pid_, nullptr, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

  // True once the member serves its client port and reports itself healthy.
  // (Over TLS: once it accepts connections; requests wait until it serves.)
  bool Healthy() const {
    if (scheme_ == "https") return Accepts();
    return LoopbackGet(client_port_, "/health").find("\"health\":\"true\"") != std::string::npos;
  }
  // True when this member says it is the raft leader (plain HTTP only).
  bool IsRaftLeader() const {
    std::string st = LoopbackPost(client_port_, "/v3/maintenance/status", "{}");
    std::string me = JsonStringField(st, "member_id");
    return !me.empty() && me == JsonStringField(st, "leader");
  }
  bool Accepts() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(client_port_));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    if (fd >= 0) ::close(fd);
    return ok;
  }

  std::string log_path() const { return data_dir_ + "/" + name_ + ".log"; }
  std::string LogTail() const {
    std::ifstream f(log_path());
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
  }

 private:
  const std::string name_, data_dir_, scheme_;
  const int client_port_, peer_port_;
  pid_t pid_ = -1;
};

// A cluster of etcd members on loopback, with its data in a temporary
// directory that goes with it.
class EtcdCluster {
 public:
  // Flags every member gets. Progress notifications every 100 ms give
  // watch bookmarks a fresh revision (etcd's default is 10 minutes).
  std::vector<std::string> extra_flags = {"--experimental-watch-progress-notify-interval=100ms"};
  // "https" when extra_flags give the members --cert-file and --key-file.
  std::string client_scheme = "http";

  EtcdCluster() {
    char tmpl[] = "/tmp/visi-etcd-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;
  ~EtcdCluster() {
    members_.clear();  // kills each by pid
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // Starts `members` members and waits until the cluster is healthy.
  // An error naming what went wrong (with the member's log), or "".
  std::string Start(int members) {
    for (int i = 0; i < members; ++i) {
      members_.push_back(std::make_unique<EtcdProcess>(
          "m" + std::to_string(i), dir_, FreeLoopbackPort(), FreeLoopbackPort(), client_scheme));
    }
    for (auto& m : members_) {
      initial_cluster_ += (initial_cluster_.empty() ? "" : ",") + m->name() + "=" + m->peer_url();
    }
    token_ = "visi-test-" + std::to_string(::getpid()) + "-" + dir_.substr(dir_.size() - 6);
    for (auto& m : members_) {
      if (!m->Spawn(initial_cluster_, token_, extra_flags)) return "cannot start etcd";
    }
    for (size_t i = 0; i < members_.size(); ++i) {
      if (!WaitHealthy(i))
        return "etcd member " + members_[i]->name() + " never became healthy:\n" +
               members_[i]->LogTail();
    }
    return "";
  }

  size_t size() const { return members_.size(); }
  EtcdProcess& member(size_t i) { return *members_.at(i); }
  std::vector<std::string> endpoints() const {
    std::vector<std::string> out;
    for (const auto& m : members_) out.push_back(m->client_url());
    return out;
  }

  void Kill(size_t i) { members_.at(i)->Kill(); }
  // Starts a killed member again on its data; waits until it is healthy.
  std::string Restart(size_t i) {
    if (!members_.at(i)->Spawn(initial_cluster_, token_, extra_flags)) return "cannot start etcd";
    if (!WaitHealthy(i))
      return "etcd member " + members_[i]->name() + " did not come back:\n" +
             members_[i]->LogTail();
    return "";
  }

  const std::string& dir() const { return dir_; }

 private:
  bool WaitHealthy(size_t i) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (members_[i]->Exited()) return false;
      if (members_[i]->Healthy()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::string dir_;
  std::string initial_cluster_, token_;
  std::vector<std::unique_ptr<EtcdProcess>> members_;
};

}  // namespace visi::testing
