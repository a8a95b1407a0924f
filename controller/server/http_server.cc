#include "controller/server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <pplx/threadpool.h>
#include <thread>
#include <vector>

#include "controller/server/k8s_json.h"

namespace visi {
namespace {

namespace http = web::http;
using http::experimental::listener::http_listener;
using http::experimental::listener::http_listener_config;

// Asks the kernel for a free port on `host`.
StatusOr<int> PickPort(const std::string& host) {
  int fd = ::socket(host.find(':') == std::string::npos ? AF_INET : AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return UnavailableError("socket: cannot pick a port");
  int port = -1;
  if (host.find(':') == std::string::npos) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) {
      ::close(fd);
      return InvalidError("--listen host must be an IP address, got \"" + host + "\"");
    }
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin_port);
    }
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    if (::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr) != 1) {
      ::close(fd);
      return InvalidError("--listen host must be an IP address, got \"" + host + "\"");
    }
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port = ntohs(a.sin6_port);
    }
  }
  ::close(fd);
  if (port <= 0) return UnavailableError("cannot bind " + host + " to pick a free port");
  return port;
}

bool IsLoopback(const std::string& host) {
  return host.rfind("127.", 0) == 0 || host == "::1" || host == "localhost";
}

// Fixed threads that run handlers which block on a durable commit, so that
// cpprestsdk's few pool threads go back to reading and writing sockets.
// Many writers waiting at once is what lets group commit share one sync
// among them.
class BlockingPool {
 public:
  explicit BlockingPool(size_t threads) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~BlockingPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(fn));
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    std::unique_lock lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;                        // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

class CppRestServer final : public HttpServer {
 public:
  CppRestServer(HttpServerOptions opts, RequestHandler* handler, const Authenticator* auth)
      : opts_(std::move(opts)), handler_(handler), auth_(auth) {}
  ~CppRestServer() override { Stop(); }

  Status Open() {
    std::string scheme = opts_.tls ? "https" : "http";
    std::string host = opts_.host.find(':') != std::string::npos ? "[" + opts_.host + "]" : opts_.host;
    url_ = scheme + "://" + host + ":" + std::to_string(opts_.port);
    http_listener_config config;
    if (opts_.tls) {
      std::string cert = opts_.cert_file, key = opts_.key_file;
      config.set_ssl_context_callback([cert, key](boost::asio::ssl::context& ctx) {
        ctx.set_options(boost::asio::ssl::context::default_workarounds |
                        boost::asio::ssl::context::no_sslv2 | boost::asio::ssl::context::no_sslv3 |
                        boost::asio::ssl::context::no_tlsv1 | boost::asio::ssl::context::no_tlsv1_1);
        ctx.use_certificate_chain_file(cert);
        ctx.use_private_key_file(key, boost::asio::ssl::context::pem);
      });
    }
    try {
      listener_ = std::make_unique<http_listener>(utility::conversions::to_string_t(url_), config);
      listener_->support([this](http::http_request req) { Serve(std::move(req)); });
      listener_->open().wait();
    } catch (const std::exception& e) {
      return UnavailableError("cannot listen on " + url_ + ": " + e.what());
    }
    return OkStatus();
  }

  void Stop() override {
    if (stopped_.exchange(true)) return;
    {
      std::unique_lock lock(mu_);
      // Every stream thread notices stopped_ within about a second (its
      // watch wakes at least that often), and uses this object until it
      // ends: wait for all of them.
      cv_.wait(lock, [&] { return streams_ == 0; });
    }
    try {
      if (listener_) listener_->close().wait();
    } catch (const std::exception&) {
    }
    writers_.reset();  // runs what is queued, then joins
  }

  std::string url() const override { return url_; }
  int port() const override { return opts_.port; }

 private:
  void Reply(http::http_request& req, const HttpResponse& r) {
    http::http_response resp(static_cast<http::status_code>(r.code));
    resp.set_body(r.body, r.content_type);
    for (const auto& [name, value] : r.headers) resp.headers().add(name, value);
    req.reply(resp).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (...) {  // the client went away; nothing to do
      }
    });
  }

  void ReplyError(http::http_request& req, const Status& s) {
    HttpResponse r;
    r.code = CodeHttpStatus(s.code());
    r.body = StatusJson(s).dump();
    Reply(req, r);
  }

  void Serve(http::http_request req) {
    if (stopped_) return ReplyError(req, UnavailableError("the server is shutting down"));
    HttpRequest in;
    in.method = req.method();
    auto rel = req.relative_uri();
    in.path = web::uri::decode(rel.path());
    for (const auto& [k, v] : web::uri::split_query(rel.query())) {
      in.query[web::uri::decode(k)] = web::uri::decode(v);
    }
    size_t header_bytes = 0;
    for (const auto& [k, v] : req.headers()) {
      header_bytes += k.size() + v.size() + 4;
      std::string name = k;
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      in.headers[name] = v;
    }
    if (header_bytes > opts_.max_header_bytes || rel.to_string().size() > 16 * 1024) {
      HttpResponse r;
      r.code = 431;
      r.body = StatusJson(BadRequestError("request headers or URL too large: the limits are " +
                                          std::to_string(opts_.max_header_bytes) +
                                          " bytes of headers and 16384 bytes of URL"))
                   .dump();
      return Reply(req, r);
    }
    // Who is asking is settled from the headers alone, before any body is
    // read: an anonymous client cannot make the server wait for a body.
    std::string authz = in.Header("authorization");
    if (auth_ && authz.rfind("Bearer ", 0) == 0) in.user = auth_->Authenticate(authz.substr(7));
    if (auth_ && !in.user && !handler_->IsPublicPath(in.path)) {
      return ReplyError(req, Status(Code::kUnauthorized,
                                    authz.empty() ? "Unauthorized: a bearer token is required"
                                                  : "Unauthorized: the token is not valid"));
    }
    bool has_body = in.method == "POST" || in.method == "PUT" || in.method == "PATCH" || in.method == "DELETE";
    if (!has_body) return Finish(req, std::move(in));
    if (in.Header("transfer-encoding").find("chunked") != std::string::npos) {
      HttpResponse r;
      r.code = 411;
      r.body = StatusJson(BadRequestError("a request body needs a Content-Length; chunked uploads are not accepted"))
                   .dump();
      return Reply(req, r);
    }
    if (req.headers().content_length() > opts_.max_body_bytes) {
      return ReplyError(req, TooLargeError("request body is " +
                                           std::to_string(req.headers().content_length()) +
                                           " bytes; the limit is " + std::to_string(opts_.max_body_bytes)));
    }
    // The body is read asynchronously: no thread waits on a slow client.
    auto shared = std::make_shared<HttpRequest>(std::move(in));
    req.extract_utf8string(true).then([this, req, shared](pplx::task<std::string> body) mutable {
      try {
        shared->body = body.get();
      } catch (const std::exception& e) {
        return ReplyError(req, BadRequestError(std::string("cannot read the request body: ") + e.what()));
      }
      if (shared->body.size() > opts_.max_body_bytes) {
        return ReplyError(req, TooLargeError("request body is too large; the limit is " +
                                             std::to_string(opts_.max_body_bytes)));
      }
      Finish(req, std::move(*shared));
    });
  }

  void Finish(http::http_request& req, HttpRequest in) {
    if ((opts_.all_on_write_threads || (in.method != "GET" && in.method != "HEAD")) && writers_) {
      auto shared = std::make_shared<HttpRequest>(std::move(in));
      writers_->Post([this, req, shared]() mutable {
        HttpResponse r = handler_->Handle(*shared);
        if (!r.stream) return Reply(req, r);
        StreamReply(req, std::move(r));
      });
      return;
    }
    HttpResponse r = handler_->Handle(in);
    if (!r.stream) return Reply(req, r);
    StreamReply(req, std::move(r));
  }

  // Streams a watch: a thread of its own writes chunks into a bounded
  // buffer that cpprestsdk drains to the client.
  void StreamReply(http::http_request& req, HttpResponse r) {
    {
      // Counted under the lock Stop() waits with: a stream is either
      // counted before Stop() waits, or sees stopped_ and never starts (one
      // opened on a writer thread can get here after Stop() began).
      std::lock_guard lock(mu_);
      if (stopped_) return ReplyError(req, UnavailableError("the server is shutting down"));
      ++streams_;
    }
    concurrency::streams::producer_consumer_buffer<uint8_t> buf;
    http::http_response resp(static_cast<http::status_code>(r.code));
    resp.set_body(concurrency::streams::istream(buf), utility::conversions::to_string_t(r.content_type));
    auto sent = req.reply(resp);
    std::thread([this, buf, sent, stream = std::move(r.stream)]() mutable {
      size_t limit = opts_.max_stream_buffer;
      bool cut_off = false;
      ChunkWriter write = [&](const std::string& chunk) {
        // A failed send (the client went away) completes the reply.
        if (stopped_ || sent.is_done()) return false;
        if (buf.in_avail() > limit) {  // a stuck client: end its watch
          cut_off = true;
          return false;
        }
        if (chunk.empty()) return true;
        try {
          buf.putn_nocopy(reinterpret_cast<const uint8_t*>(chunk.data()), chunk.size()).wait();
          buf.sync().wait();
        } catch (...) {
          return false;
        }
        return true;
      };
      stream(write);
      try {
        buf.close(std::ios_base::out).wait();
        // Closing the read side too makes the send fail, so the connection of
        // a client that stopped reading is dropped instead of kept with its
        // unsent buffer.
        if (cut_off) buf.close(std::ios_base::in).wait();
      } catch (...) {
      }
      std::lock_guard lock(mu_);
      --streams_;
      cv_.notify_all();
    }).detach();
  }

  const HttpServerOptions opts_;
  RequestHandler* const handler_;
  const Authenticator* const auth_;
  std::string url_;
  std::unique_ptr<http_listener> listener_;
  std::unique_ptr<BlockingPool> writers_ = std::make_unique<BlockingPool>(opts_.write_threads);
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  int streams_ = 0;  // GUARDED_BY(mu_)
};

}  // namespace

void InitHttpThreads(size_t threads) { crossplat::threadpool::initialize_with_threads(threads); }

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(HttpServerOptions opts, RequestHandler* handler,
                                                        const Authenticator* auth) {
  if (!opts.tls && !IsLoopback(opts.host)) {
    return InvalidError("plain HTTP is only allowed on a loopback address, not " + opts.host);
  }
  if (opts.port < 0 || opts.port > 65535) return InvalidError("port must be 0..65535");
  if (opts.port == 0) {
    VISI_ASSIGN_OR_RETURN(opts.port, PickPort(opts.host));
  }
  auto server = std::make_unique<CppRestServer>(std::move(opts), handler, auth);
  VISI_RETURN_IF_ERROR(server->Open());
  return std::unique_ptr<HttpServer>(std::move(server));
}

}  // namespace visi
