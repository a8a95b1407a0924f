#include "controller/store/etcd/etcd_client.h"

#include <cpprest/http_client.h>

#include <boost/asio/ssl.hpp>
#include <fstream>
#include <mutex>

#include "controller/base/base64.h"
#include "controller/store/etcd/etcd_json.h"

namespace visi {
namespace {

namespace http = web::http;

// How one attempt at one member ended.
struct Attempt {
  enum class Kind { kAnswered, kUnreachable, kTimedOut };
  Kind kind = Kind::kAnswered;
  int http_status = 0;
  std::string body;  // the response, or what went wrong
};

bool IsTimeout(const std::exception& e) {
  if (auto* he = dynamic_cast<const http::http_exception*>(&e)) {
    if (he->error_code() == std::errc::timed_out) return true;
  }
  std::string what = e.what();
  return what.find("timed out") != std::string::npos || what.find("Timeout") != std::string::npos;
}

http::client::http_client_config ClientConfig(const EtcdClientOptions& o,
                                              std::chrono::milliseconds timeout) {
  http::client::http_client_config cfg;
  cfg.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  cfg.set_validate_certificates(true);
  std::string ca = o.tls_ca_file, cert = o.tls_cert_file, key = o.tls_key_file;
  if (!ca.empty() || !cert.empty()) {
    cfg.set_ssl_context_callback([ca, cert, key](boost::asio::ssl::context& ctx) {
      // Files were checked at Create; a file that went bad since makes the
      // handshake fail, which the caller sees as a member not answering.
      boost::system::error_code ec;
      if (!ca.empty()) ctx.load_verify_file(ca, ec);
      if (!cert.empty()) ctx.use_certificate_chain_file(cert, ec);
      if (!key.empty()) ctx.use_private_key_file(key, boost::asio::ssl::context::pem, ec);
    });
  }
  return cfg;
}

// One POST of `body` to `path` on `client`, waiting for the whole answer.
Attempt Post(http::client::http_client& client, const std::string& path, const std::string& body) {
  Attempt a;
  try {
    http::http_request req(http::methods::POST);
    req.set_request_uri(path);
    req.set_body(body, "application/json");
    http::http_response resp = client.request(req).get();
    a.http_status = resp.status_code();
    a.body = resp.extract_utf8string(true).get();
  } catch (const std::exception& e) {
    a.kind = IsTimeout(e) ? Attempt::Kind::kTimedOut : Attempt::Kind::kUnreachable;
    a.body = e.what();
  }
  return a;
}

// No connection, or the request could not be written whole: the member
// never saw it, so even a write may be sent again.
bool NeverSent(const Attempt& a) {
  return a.kind == Attempt::Kind::kUnreachable &&
         (a.body.find("connect") != std::string::npos ||
          a.body.find("Failed to write request") != std::string::npos);
}

class GatewayWatchStream;

class GatewayClient final : public EtcdClient {
 public:
  explicit GatewayClient(EtcdClientOptions options) : options_(std::move(options)) {
    for (const auto& url : options_.endpoints) members_.push_back(NewHttpClient(url));
  }

  StatusOr<EtcdRangeResponse> Range(const EtcdRangeRequest& r) override {
    VISI_ASSIGN_OR_RETURN(Json j, Call("/v3/kv/range", RangeToJson(r), /*idempotent=*/true));
    return RangeFromJson(j);
  }

  StatusOr<EtcdTxnResponse> Txn(const std::vector<EtcdCompare>& compares,
                                const std::vector<EtcdOp>& success,
                                const std::vector<EtcdOp>& failure) override {
    bool writes = false;
    for (const auto* ops : {&success, &failure}) {
      for (const auto& op : *ops) writes |= op.type != EtcdOp::Type::kRange;
    }
    VISI_ASSIGN_OR_RETURN(Json j,
                          Call("/v3/kv/txn", TxnToJson(compares, success, failure), !writes));
    return TxnFromJson(j);
  }

  Status Compact(int64_t revision) override {
    Json body = {{"revision", std::to_string(revision)}};
    return Call("/v3/kv/compaction", body, /*idempotent=*/true).status();
  }

  std::unique_ptr<EtcdWatchStream> NewWatchStream() override;
  const EtcdClientOptions& options() const override { return options_; }

  // The member to try first: the one that answered last.
  std::atomic<size_t> preferred_{0};

 private:
  StatusOr<Json> Call(const std::string& path, const Json& body, bool idempotent) {
    const std::string text = body.dump();
    std::string tried;
    size_t start = preferred_.load();
    for (size_t i = 0; i < members_.size(); ++i) {
      size_t m = (start + i) % members_.size();
      const std::string& url = options_.endpoints[m];
      for (int attempt = 0; attempt < 2; ++attempt) {
        std::shared_ptr<http::client::http_client> http = Member(m);
        Attempt a = Post(*http, path, text);
        if (a.kind != Attempt::Kind::kAnswered || a.http_status != 200) {
          // Start the next call on fresh connections: these may be dead,
          // and the gateway sends errors chunked with HTTP trailers, which
          // cpprestsdk leaves unread on the connection (the next request
          // on it would read them as its status line).
          Renew(m, http);
        }
        if (a.kind == Attempt::Kind::kAnswered) {
          if (a.http_status == 200) {
            preferred_.store(m);
            try {
              return Json::parse(a.body);
            } catch (const std::exception& e) {
              return InternalError("etcd at " + url + " answered " + path +
                                   " with malformed JSON: " + e.what());
            }
          }
          Status s = GatewayError(url, a.http_status, a.body);
          // A member without a leader cannot serve anything; another may.
          bool member_down = s.code() == Code::kUnavailable &&
                             (idempotent || s.message().find("no leader") != std::string::npos);
          if (!member_down) return s;
          tried += (tried.empty() ? "" : "; ") + s.message();
          break;
        }
        if (a.kind == Attempt::Kind::kTimedOut && !idempotent) {
          return UnavailableError("etcd at " + url + " did not answer " + path + " within " +
                                  std::to_string(options_.request_timeout.count()) +
                                  " ms; the write may or may not have been applied");
        }
        if (a.kind == Attempt::Kind::kUnreachable && !idempotent && !NeverSent(a)) {
          return UnavailableError("etcd at " + url + " broke off " + path + " (" + a.body +
                                  "); the write may or may not have been applied");
        }
        // A kept-alive connection that the member closed (it restarted)
        // fails like a member that is down: one more try, on a new one.
        if (a.kind == Attempt::Kind::kUnreachable && attempt == 0) continue;
        tried += (tried.empty() ? "" : "; ") + url + ": " + a.body;
        break;
      }
    }
    return UnavailableError("no etcd member answered " + path + ": " + tried);
  }

  std::shared_ptr<http::client::http_client> NewHttpClient(const std::string& url) const {
    return std::make_shared<http::client::http_client>(
        url, ClientConfig(options_, options_.request_timeout));
  }
  std::shared_ptr<http::client::http_client> Member(size_t m) {
    std::lock_guard lock(mu_);
    return members_[m];
  }
  // Replaces member m's client (and so its pooled connections), unless
  // another caller already did.
  void Renew(size_t m, const std::shared_ptr<http::client::http_client>& old) {
    auto fresh = NewHttpClient(options_.endpoints[m]);
    std::lock_guard lock(mu_);
    if (members_[m] == old) members_[m] = std::move(fresh);
  }

  const EtcdClientOptions options_;
  std::mutex mu_;
  // One client per member, each with its pool of keep-alive connections.
  std::vector<std::shared_ptr<http::client::http_client>> members_;  // GUARDED_BY(mu_)
};

// Reads newline-separated JSON messages from the streaming response.
class GatewayWatchStream final : public EtcdWatchStream {
 public:
  explicit GatewayWatchStream(GatewayClient* client) : client_(client) {}
  ~GatewayWatchStream() override {
    Cancel();
    // Destroy the response (and its connection) before the client.
    body_ = {};
    response_.reset();
    http_.reset();
  }

  Status Start(const EtcdWatchRequest& request) override {
    const auto& opts = client_->options();
    const std::string text = WatchRequestToJson(request).dump();
    std::string tried;
    size_t start = client_->preferred_.load();
    for (size_t i = 0; i < opts.endpoints.size(); ++i) {
      size_t m = (start + i) % opts.endpoints.size();
      const std::string& url = opts.endpoints[m];
      pplx::cancellation_token token = pplx::cancellation_token::none();
      {
        std::lock_guard lock(mu_);
        if (canceled_) return UnavailableError("watch canceled");
        cancel_ = pplx::cancellation_token_source();
        token = cancel_.get_token();
      }
      try {
        // A client of its own: the stream's connection is never pooled, and
        // canceling closes it, which ends the stream on the member too.
        http_ = std::make_unique<http::client::http_client>(
            url, ClientConfig(opts, opts.watch_idle_timeout));
        http::http_request req(http::methods::POST);
        req.set_request_uri("/v3/watch");
        req.set_body(text, "application/json");
        http::http_response resp = http_->request(req, token).get();
        if (resp.status_code() != 200) {
          Status s = GatewayError(url, resp.status_code(), resp.extract_utf8string(true).get());
          if (s.code() != Code::kUnavailable) return s;
          tried += (tried.empty() ? "" : "; ") + s.message();
          continue;
        }
        response_ = std::make_unique<http::http_response>(resp);
        body_ = resp.body().streambuf();
        endpoint_ = url;
        client_->preferred_.store(m);
        return OkStatus();
      } catch (const std::exception& e) {
        if (Canceled()) return UnavailableError("watch canceled");
        tried += (tried.empty() ? "" : "; ") + url + ": " + e.what();
      }
    }
    return UnavailableError("no etcd member accepted the watch: " + tried);
  }

  StatusOr<EtcdWatchResponse> Read() override {
    if (!response_) return UnavailableError("watch not started");
    while (true) {
      size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
        return ParseWatchLine(endpoint_, line);
      }
      try {
        // Wait for one byte, then take what else has arrived: getn() of a
        // larger count would wait for that many bytes.
        uint8_t first;
        size_t n = body_.getn(&first, 1).get();
        if (n == 0) return UnavailableError("the watch stream from " + endpoint_ + " ended");
        pending_.push_back(static_cast<char>(first));
        std::streamsize avail = body_.in_avail();
        if (avail > 0) {
          block_.resize(static_cast<size_t>(avail));
          n = body_.getn(block_.data(), block_.size()).get();
          pending_.append(reinterpret_cast<const char*>(block_.data()), n);
        }
      } catch (const std::exception& e) {
        if (Canceled()) return UnavailableError("watch canceled");
        return UnavailableError("the watch stream from " + endpoint_ + " broke: " + e.what());
      }
    }
  }

  void Cancel() override {
    std::lock_guard lock(mu_);
    canceled_ = true;
    cancel_.cancel();
  }

  std::string endpoint() const override { return endpoint_; }

 private:
  bool Canceled() {
    std::lock_guard lock(mu_);
    return canceled_;
  }

  GatewayClient* const client_;
  std::mutex mu_;
  bool canceled_ = false;                   // GUARDED_BY(mu_)
  pplx::cancellation_token_source cancel_;  // GUARDED_BY(mu_)
  // Used by the reading thread only.
  std::unique_ptr<http::client::http_client> http_;
  std::unique_ptr<http::http_response> response_;
  concurrency::streams::streambuf<uint8_t> body_;
  std::string endpoint_;
  std::string pending_;
  std::vector<uint8_t> block_;
};

std::unique_ptr<EtcdWatchStream> GatewayClient::NewWatchStream() {
  return std::make_unique<GatewayWatchStream>(this);
}

Status CheckReadable(const std::string& what, const std::string& path) {
  if (path.empty()) return OkStatus();
  std::ifstream f(path);
  if (!f) return InvalidError("etcd " + what + " file " + path + " cannot be read");
  return OkStatus();
}

}  // namespace

std::string PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    unsigned char last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  if (options.endpoints.empty()) return InvalidError("etcd: no endpoints given");
  for (const auto& url : options.endpoints) {
    bool tls = url.rfind("https://", 0) == 0;
    if (!tls && url.rfind("http://", 0) != 0) {
      return InvalidError("etcd endpoint \"" + url + "\" is not an http:// or https:// URL");
    }
    try {
      web::uri u(url);
      if (u.host().empty()) return InvalidError("etcd endpoint \"" + url + "\" names no host");
    } catch (const std::exception& e) {
      return InvalidError("etcd endpoint \"" + url + "\" is not a URL: " + e.what());
    }
  }
  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return InvalidError("etcd TLS: give both the client certificate and its key, or neither");
  }
  VISI_RETURN_IF_ERROR(CheckReadable("CA", options.tls_ca_file));
  VISI_RETURN_IF_ERROR(CheckReadable("client certificate", options.tls_cert_file));
  VISI_RETURN_IF_ERROR(CheckReadable("client key", options.tls_key_file));
  return std::unique_ptr<EtcdClient>(std::make_unique<GatewayClient>(std::move(options)));
}

}  // namespace visi
