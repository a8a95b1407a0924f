#pragma once

#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace visi::testing {

// A stand-in for dockerd at the socket level, to test what the driver does
// with answers a real daemon gives rarely or never: canned statuses, chunked
// bodies, garbage, silence. Serves one connection at a time on a unix socket
// or on 127.0.0.1 with TLS, and records every request it read.
class ScriptedDockerDaemon {
 public:
  struct Request {
    std::string method, target, content_type, body;
  };
  enum class Mode { kAnswer, kHang, kCloseAtOnce };

  // Listens on the unix socket `path`.
  explicit ScriptedDockerDaemon(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    ::unlink(path.c_str());
    ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && ::listen(fd_, 16) == 0;
    endpoint_ = "unix://" + path;
    thread_ = std::thread([this] { Serve(); });
  }

  // Listens on 127.0.0.1 (a free port) with TLS, asking for a client
  // certificate; any certificate is accepted and remembered.
  ScriptedDockerDaemon(const std::string& cert_file, const std::string& key_file) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    ok_ = SSL_CTX_use_certificate_chain_file(ctx_, cert_file.c_str()) == 1 &&
          SSL_CTX_use_PrivateKey_file(ctx_, key_file.c_str(), SSL_FILETYPE_PEM) == 1;
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, [](int, X509_STORE_CTX*) { return 1; });
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ok_ = ok_ && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 && ::listen(fd_, 16) == 0 &&
          ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    thread_ = std::thread([this] { Serve(); });
  }

  ~ScriptedDockerDaemon() {
    stop_ = true;
    thread_.join();
    for (int fd : held_) ::close(fd);
    ::close(fd_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  ScriptedDockerDaemon(const ScriptedDockerDaemon&) = delete;
  ScriptedDockerDaemon& operator=(const ScriptedDockerDaemon&) = delete;

  bool ok() const { return ok_; }
  const std::string& endpoint() const { return endpoint_; }

  // Queues a raw HTTP answer; each request takes the next one, and when the
  // queue is empty the last answer given repeats.
  void Answer(std::string raw) {
    std::lock_guard lock(mu_);
    mode_ = Mode::kAnswer;
    answers_.push_back(std::move(raw));
  }
  void SetMode(Mode mode) {
    std::lock_guard lock(mu_);
    mode_ = mode;
  }
  std::vector<Request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  bool saw_client_certificate() const { return saw_client_cert_; }

  static std::string Http(int status, const std::string& body, const std::string& type = "application/json") {
    return "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }
  static std::string Chunked(int status, const std::vector<std::string>& chunks) {
    std::string out = "HTTP/1.1 " + std::to_string(status) + " Scripted\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (const std::string& c : chunks) {
      char size[32];
      std::snprintf(size, sizeof(size), "%zx\r\n", c.size());
      out += size + c + "\r\n";
    }
    return out + "0\r\n\r\n";
  }

 private:
  // Reads one request head and its Content-Length body; false on EOF.
  template <class ReadFn>
  static bool ReadRequest(ReadFn read, Request* req) {
    std::string data;
    char buf[4096];
    size_t head_end;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      int n = read(buf, sizeof(buf));
      if (n <= 0) return false;
      data.append(buf, static_cast<size_t>(n));
    }
    std::string head = data.substr(0, head_end);
    size_t sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
    req->method = head.substr(0, sp1);
    req->target = head.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t length = 0;
    for (size_t pos = head.find("\r\n"); pos != std::string::npos; pos = head.find("\r\n", pos + 2)) {
      std::string line = head.substr(pos + 2, head.find("\r\n", pos + 2) - pos - 2);
      std::string lower = line;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower.starts_with("content-length:")) length = std::stoul(line.substr(15));
      if (lower.starts_with("content-type:")) req->content_type = line.substr(line.find_first_not_of(' ', 13));
    }
    req->body = data.substr(head_end + 4);
    while (req->body.size() < length) {
      int n = read(buf, sizeof(buf));
      if (n <= 0) return false;
      req->body.append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  void Serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0) continue;
      timeval tv{5, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      Mode mode;
      {
        std::lock_guard lock(mu_);
        mode = mode_;
      }
      if (mode == Mode::kCloseAtOnce) {
        ::close(conn);
        continue;
      }
      SSL* ssl = nullptr;
      if (ctx_) {
        ssl = SSL_new(ctx_);
        SSL_set_fd(ssl, conn);
        if (SSL_accept(ssl) != 1) {
          SSL_free(ssl);
          ::close(conn);
          continue;
        }
        X509* peer = SSL_get_peer_certificate(ssl);
        if (peer) saw_client_cert_ = true;
        X509_free(peer);
      }
      auto read = [&](char* buf, int size) {
        return ssl ? SSL_read(ssl, buf, size) : static_cast<int>(::read(conn, buf, size));
      };
      Request req;
      if (mode == Mode::kHang) {  // read the request, answer nothing, keep the connection open
        ReadRequest(read, &req);
        held_.push_back(conn);
        if (ssl) SSL_free(ssl);  // the socket stays open: only the fd is held
        continue;
      }
      if (ReadRequest(read, &req)) {
        std::string answer;
        {
          std::lock_guard lock(mu_);
          requests_.push_back(req);
          if (!answers_.empty()) {
            last_answer_ = std::move(answers_.front());
            answers_.pop_front();
          }
          answer = last_answer_;
        }
        size_t sent = 0;
        while (sent < answer.size()) {
          int chunk = static_cast<int>(std::min<size_t>(answer.size() - sent, 1 << 16));
          int n = ssl ? SSL_write(ssl, answer.data() + sent, chunk)
                      : static_cast<int>(::send(conn, answer.data() + sent, static_cast<size_t>(chunk), MSG_NOSIGNAL));
          if (n <= 0) break;
          sent += static_cast<size_t>(n);
        }
      }
      if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      ::close(conn);
    }
  }

  std::string path_;
  std::string endpoint_;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> saw_client_cert_{false};
  std::vector<int> held_;  // Serve() thread only, then the destructor
  mutable std::mutex mu_;
  Mode mode_ = Mode::kAnswer;                                                   // GUARDED_BY(mu_)
  std::deque<std::string> answers_;                                             // GUARDED_BY(mu_)
  std::string last_answer_ = Http(500, R"({"message":"no scripted answer"})");  // GUARDED_BY(mu_)
  std::vector<Request> requests_;                                               // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace visi::testing
