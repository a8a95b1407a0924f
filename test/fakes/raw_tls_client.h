#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sys/time.h>

#include <cerrno>
#include <cstdlib>
#include <string>

namespace visi::testing {

// A raw TLS client to 127.0.0.1: sends exactly the bytes it is given and
// reads only when asked. `rcvbuf` > 0 shrinks the socket's receive buffer so
// that the kernel cannot absorb a stream on the client's behalf. The server
// certificate is not verified: tests and benchmarks aim it at their own visid.
class RawTlsClient {
 public:
  explicit RawTlsClient(const std::string& url, int rcvbuf = 0) {
    int port = std::atoi(url.substr(url.rfind(':') + 1).c_str());
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return;
    ctx_ = SSL_CTX_new(TLS_client_method());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
    connected_ = SSL_connect(ssl_) == 1;
  }
  ~RawTlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  bool connected() const { return connected_; }
  // Reads give up (return <= 0) after this long without data.
  void SetReadTimeout(int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  // True once the server has closed the connection: a read sees the end of
  // the stream or a reset rather than timing out.
  bool ClosedByServer() {
    char buf[512];
    errno = 0;
    int n = Read(buf, sizeof buf);
    if (n > 0) return false;
    // OpenSSL 3 reports a peer that closed without close_notify as
    // SSL_ERROR_SSL ("unexpected eof"); a read timeout leaves EAGAIN.
    bool timed_out = errno == EAGAIN || errno == EWOULDBLOCK;
    ERR_clear_error();
    return !timed_out;
  }
  bool Send(const std::string& bytes) {
    return connected_ &&
           SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) == static_cast<int>(bytes.size());
  }
  // Up to `size` bytes; <= 0 at the end of the stream or on error.
  int Read(char* buf, int size) { return connected_ ? SSL_read(ssl_, buf, size) : -1; }
  // The status line of the reply ("HTTP/1.1 405 ...").
  std::string StatusLine() {
    char buf[4096];
    int n = Read(buf, sizeof buf - 1);
    if (n <= 0) return "";
    std::string s(buf, n);
    return s.substr(0, s.find("\r\n"));
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
};

}  // namespace visi::testing
