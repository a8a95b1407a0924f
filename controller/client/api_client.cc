#include "controller/client/api_client.h"

#include <boost/asio/ssl.hpp>
#include <cpprest/http_client.h>

namespace visi {

namespace http = web::http;

Status ApiResponse::ToStatus() const {
  if (ok()) return OkStatus();
  if (code == 0) return UnavailableError(body);
  auto j = ParseJson(body);
  Code c = Code::kInternal;
  switch (code) {
    case 400: c = Code::kBadRequest; break;
    case 401: c = Code::kUnauthorized; break;
    case 403: c = Code::kForbidden; break;
    case 404: c = Code::kNotFound; break;
    case 409: c = (j.ok() && j->value("reason", "") == "AlreadyExists") ? Code::kAlreadyExists : Code::kConflict; break;
    case 410: c = Code::kGone; break;
    case 413: c = Code::kTooLarge; break;
    case 422: c = Code::kInvalid; break;
    case 503: c = Code::kUnavailable; break;
    case 504: c = Code::kDeadlineExceeded; break;
    default: break;
  }
  if (!j.ok() || !j->is_object()) return Status(c, "HTTP " + std::to_string(code) + ": " + body.substr(0, 200));
  std::vector<FieldCause> causes;
  if (j->contains("details") && (*j)["details"].is_object()) {
    for (const auto& cause : (*j)["details"].value("causes", Json::array())) {
      causes.push_back({cause.value("field", ""), cause.value("message", "")});
    }
  }
  return Status(c, j->value("message", "HTTP " + std::to_string(code)), std::move(causes));
}

std::string UrlEncode(const std::string& s) {
  std::string out;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string ResourcePath(const std::string& plural, const std::string& ns, const std::string& name) {
  std::string p = "/apis/visi.dev/v1alpha1/";
  if (!ns.empty()) p += "namespaces/" + ns + "/";
  p += plural;
  if (!name.empty()) p += "/" + name;
  return p;
}

struct ApiClient::Impl {
  std::unique_ptr<http::client::http_client> client;
};

ApiClient::ApiClient(ClientConfig config, std::chrono::seconds timeout)
    : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  http::client::http_client_config cfg;
  cfg.set_timeout(timeout);
  std::string ca = config_.certificate_authority;
  if (!ca.empty()) {
    cfg.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) {
      ctx.load_verify_file(ca);
    });
  }
  impl_->client = std::make_unique<http::client::http_client>(config_.server, cfg);
}

ApiClient::~ApiClient() = default;

ApiResponse ApiClient::Request(const std::string& method, const std::string& target,
                               const std::string& body, const std::string& content_type) {
  ApiResponse out;
  try {
    http::http_request req(method);
    req.set_request_uri(target);
    if (!config_.token.empty()) req.headers().add("Authorization", "Bearer " + config_.token);
    req.headers().add("Accept", "application/json");
    if (!body.empty()) req.set_body(body, content_type);
    http::http_response resp = impl_->client->request(req).get();
    out.code = resp.status_code();
    out.body = resp.extract_utf8string(true).get();
  } catch (const std::exception& e) {
    out.code = 0;
    out.body = std::string("cannot reach ") + config_.server + ": " + e.what();
  }
  return out;
}

Status ApiClient::Watch(const std::string& target, const std::function<bool(const Json&)>& on_event,
                        std::chrono::seconds timeout) {
  try {
    http::client::http_client_config cfg;
    cfg.set_timeout(timeout);
    std::string ca = config_.certificate_authority;
    if (!ca.empty()) {
      cfg.set_ssl_context_callback([ca](boost::asio::ssl::context& ctx) { ctx.load_verify_file(ca); });
    }
    http::client::http_client client(config_.server, cfg);
    http::http_request req("GET");
    req.set_request_uri(target);
    if (!config_.token.empty()) req.headers().add("Authorization", "Bearer " + config_.token);
    // Cancelling the request closes the connection: a watch that the caller
    // ends early must not linger (pooled) and keep the server streaming.
    pplx::cancellation_token_source cancel;
    struct CancelOnExit {
      pplx::cancellation_token_source& c;
      ~CancelOnExit() { c.cancel(); }
    } cancel_on_exit{cancel};
    http::http_response resp = client.request(req, cancel.get_token()).get();
    if (resp.status_code() != 200) {
      ApiResponse r{resp.status_code(), resp.extract_utf8string(true).get()};
      return r.ToStatus();
    }
    // Read whatever has arrived, in blocks, and split it into lines: reading
    // byte by byte through pplx tasks costs more than the events themselves.
    auto buf = resp.body().streambuf();
    std::string pending;
    std::vector<uint8_t> block(64 * 1024);
    while (true) {
      // Wait for one byte, then take what else is already there: getn() of
      // a larger count would wait for that many bytes.
      size_t n = buf.getn(block.data(), 1).get();
      if (n == 0) break;  // end of stream
      size_t avail = std::min(block.size() - 1, static_cast<size_t>(std::max<std::streamsize>(0, buf.in_avail())));
      if (avail > 0) n += buf.getn(block.data() + 1, avail).get();
      pending.append(reinterpret_cast<const char*>(block.data()), n);
      size_t start = 0, nl;
      while ((nl = pending.find('\n', start)) != std::string::npos) {
        std::string_view line(pending.data() + start, nl - start);
        start = nl + 1;
        if (line.empty()) continue;
        auto j = ParseJson(line);
        if (!j.ok()) return Status(Code::kInternal, "malformed watch event: " + j.status().message());
        if (!on_event(*j)) return OkStatus();
      }
      pending.erase(0, start);
    }
  } catch (const std::exception& e) {
    std::string what = e.what();
    if (what.find("timed out") != std::string::npos || what.find("Timeout") != std::string::npos) {
      return OkStatus();  // the watch ran its course
    }
    return UnavailableError("watch failed: " + what);
  }
  return OkStatus();
}

}  // namespace visi
