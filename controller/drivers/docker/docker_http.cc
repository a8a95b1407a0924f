#include "controller/drivers/docker/docker_http.h"

#include <sys/un.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fstream>
#include <optional>

namespace visi {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using Clock = std::chrono::steady_clock;
using UnixStream = beast::basic_stream<asio::local::stream_protocol>;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

std::string DockerEndpoint::ToString() const {
  if (kind == Kind::kUnix) return "unix://" + socket_path;
  bool v6 = host.find(':') != std::string::npos;
  return "tcp://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

StatusOr<DockerEndpoint> ParseDockerEndpoint(std::string_view text, std::string_view field) {
  auto bad = [&](std::string_view why) {
    return InvalidError(std::string(field) + " \"" + std::string(text) + "\": " + std::string(why),
                        {{std::string(field), std::string(why)}});
  };
  DockerEndpoint ep;
  if (text.starts_with("unix://")) {
    ep.kind = DockerEndpoint::Kind::kUnix;
    ep.socket_path = std::string(text.substr(7));
    if (ep.socket_path.empty() || ep.socket_path.front() != '/') return bad("the socket path must be absolute");
    if (ep.socket_path.size() >= sizeof(sockaddr_un::sun_path)) return bad("the socket path is too long");
    if (ep.socket_path.find('\0') != std::string::npos) return bad("the socket path contains NUL");
    return ep;
  }
  if (!text.starts_with("tcp://")) return bad("must be unix:///path/to/socket or tcp://host:port");
  ep.kind = DockerEndpoint::Kind::kTcp;
  std::string_view rest = text.substr(6);
  size_t colon;
  if (rest.starts_with("[")) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
      return bad("must be tcp://[ipv6]:port");
    }
    ep.host = std::string(rest.substr(1, close - 1));
    colon = close + 1;
  } else {
    colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("must be tcp://host:port");
    ep.host = std::string(rest.substr(0, colon));
    if (ep.host.find(':') != std::string::npos) return bad("an IPv6 host must be in brackets");
  }
  if (ep.host.empty()) return bad("the host is empty");
  for (char c : ep.host) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' && c != '_') {
      return bad("the host has an invalid character");
    }
  }
  std::string_view port = rest.substr(colon + 1);
  unsigned value = 0;
  if (port.empty() || port.size() > 5) return bad("the port must be 1-65535");
  for (char c : port) {
    if (c < '0' || c > '9') return bad("the port must be 1-65535");
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535) return bad("the port must be 1-65535");
  ep.port = static_cast<uint16_t>(value);
  return ep;
}

std::string UrlEncode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

struct DockerHttp::Impl {
  DockerHttpOptions options;
  // kTcp only. Configured once in Create; afterwards only used to make
  // streams, which OpenSSL allows from many threads at once (SSL_new).
  mutable std::optional<asio::ssl::context> tls;

  std::string Where() const { return "docker daemon at " + options.endpoint.ToString(); }

  // Runs the io_context until the pending operation completes. The stream's
  // expiry (or the deadline timer) bounds every operation.
  static void Drain(asio::io_context& ioc) {
    ioc.restart();
    ioc.run();
  }

  Status TransportError(const beast::error_code& ec, std::string_view phase, const DockerRequest& req) const {
    const std::string what = " (" + req.method + " " + req.target + ")";
    if (ec == beast::error::timeout) {
      return UnavailableError(Where() + " did not answer within " + std::to_string(req.timeout.count()) + " ms" + what);
    }
    if (ec == http::error::body_limit) {
      return TooLargeError(Where() + " answered more than " + std::to_string(options.max_body_bytes) + " bytes" + what);
    }
    if (ec.category() == beast::error_code(http::error::end_of_stream).category() && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return InternalError(Where() + " answered malformed HTTP: " + ec.message() + what);
    }
    return UnavailableError(Where() + " unreachable: " + std::string(phase) + ": " + ec.message() + what);
  }

  template <class Stream>
  StatusOr<DockerResponse> Exchange(Stream& stream, asio::io_context& ioc, Clock::time_point deadline,
                                    const DockerRequest& req, const std::string& host) const {
    http::request<http::string_body> msg{http::string_to_verb(req.method), req.target, 11};
    msg.set(http::field::host, host);
    msg.set(http::field::user_agent, "visi-docker-driver");
    msg.set(http::field::connection, "close");
    if (!req.content_type.empty()) msg.set(http::field::content_type, req.content_type);
    msg.body() = req.body;
    msg.prepare_payload();

    beast::error_code ec = asio::error::would_block;
    beast::get_lowest_layer(stream).expires_at(deadline);
    http::async_write(stream, msg, [&](beast::error_code e, size_t) { ec = e; });
    Drain(ioc);
    // A daemon may answer (e.g. 404) and close before reading a large body.
    const bool write_failed = static_cast<bool>(ec);
    beast::error_code write_ec = ec;

    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.header_limit(64 * 1024);
    parser.body_limit(options.max_body_bytes);
    ec = asio::error::would_block;
    beast::get_lowest_layer(stream).expires_at(deadline);
    http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    Drain(ioc);
    if (ec)
      return TransportError(write_failed && ec != beast::error::timeout ? write_ec : ec,
                            write_failed ? "sending the request" : "reading the answer", req);
    DockerResponse out;
    out.status = static_cast<int>(parser.get().result_int());
    out.body = std::move(parser.get().body());
    return out;
  }

  StatusOr<DockerResponse> OverUnix(const DockerRequest& req, Clock::time_point deadline) const {
    asio::io_context ioc;
    UnixStream stream(ioc);
    beast::error_code ec = asio::error::would_block;
    stream.expires_at(deadline);
    stream.async_connect(asio::local::stream_protocol::endpoint(options.endpoint.socket_path),
                         [&](beast::error_code e) { ec = e; });
    Drain(ioc);
    if (ec) return TransportError(ec, "connect", req);
    return Exchange(stream, ioc, deadline, req, "docker");
  }

  StatusOr<DockerResponse> OverTls(const DockerRequest& req, Clock::time_point deadline) const {
    asio::io_context ioc;
    // Name resolution is synchronous: endpoints are normally IP literals or
    // /etc/hosts names, and getaddrinfo bounds itself.
    asio::ip::tcp::resolver resolver(ioc);
    beast::error_code ec;
    auto results = resolver.resolve(options.endpoint.host, std::to_string(options.endpoint.port), ec);
    if (ec) return TransportError(ec, "resolve " + options.endpoint.host, req);

    TlsStream stream(ioc, *tls);
    const std::string& host = options.endpoint.host;
    beast::error_code parse_ec;
    asio::ip::make_address(host, parse_ec);
    if (parse_ec && !SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
      return UnavailableError(Where() + ": cannot set TLS server name " + host);
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(host));

    ec = asio::error::would_block;
    beast::get_lowest_layer(stream).expires_at(deadline);
    beast::get_lowest_layer(stream).async_connect(results, [&](beast::error_code e, auto&&) { ec = e; });
    Drain(ioc);
    if (ec) return TransportError(ec, "connect", req);

    ec = asio::error::would_block;
    beast::get_lowest_layer(stream).expires_at(deadline);
    stream.async_handshake(asio::ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
    Drain(ioc);
    if (ec) return TransportError(ec, "TLS handshake", req);
    return Exchange(stream, ioc, deadline, req, host + ":" + std::to_string(options.endpoint.port));
  }
};

namespace {

Status CheckReadable(const std::string& path, const char* field) {
  if (path.empty())
    return InvalidError(std::string(field) + " is required for a tcp:// endpoint", {{field, "required"}});
  std::ifstream in(path);
  if (!in) return InvalidError(std::string(field) + " \"" + path + "\" cannot be read", {{field, "cannot be read"}});
  return OkStatus();
}

}  // namespace

StatusOr<std::unique_ptr<DockerHttp>> DockerHttp::Create(DockerHttpOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.endpoint.kind == DockerEndpoint::Kind::kTcp) {
    VISI_RETURN_IF_ERROR(CheckReadable(options.tls_ca_file, "tls_ca_file"));
    VISI_RETURN_IF_ERROR(CheckReadable(options.tls_cert_file, "tls_cert_file"));
    VISI_RETURN_IF_ERROR(CheckReadable(options.tls_key_file, "tls_key_file"));
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    beast::error_code ec;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    if (ctx.load_verify_file(options.tls_ca_file, ec); ec) {
      return InvalidError("tls_ca_file \"" + options.tls_ca_file + "\": " + ec.message(),
                          {{"tls_ca_file", ec.message()}});
    }
    if (ctx.use_certificate_chain_file(options.tls_cert_file, ec); ec) {
      return InvalidError("tls_cert_file \"" + options.tls_cert_file + "\": " + ec.message(),
                          {{"tls_cert_file", ec.message()}});
    }
    if (ctx.use_private_key_file(options.tls_key_file, asio::ssl::context::pem, ec); ec) {
      return InvalidError("tls_key_file \"" + options.tls_key_file + "\": " + ec.message(),
                          {{"tls_key_file", ec.message()}});
    }
    impl->tls.emplace(std::move(ctx));
  }
  impl->options = std::move(options);
  return std::unique_ptr<DockerHttp>(new DockerHttp(std::move(impl)));
}

DockerHttp::DockerHttp(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DockerHttp::~DockerHttp() = default;

const DockerEndpoint& DockerHttp::endpoint() const { return impl_->options.endpoint; }

StatusOr<DockerResponse> DockerHttp::RoundTrip(const DockerRequest& request) const {
  if (http::string_to_verb(request.method) == http::verb::unknown) {
    return InvalidError("unknown HTTP method \"" + request.method + "\"");
  }
  const auto deadline = Clock::now() + request.timeout;
  if (impl_->options.endpoint.kind == DockerEndpoint::Kind::kUnix) return impl_->OverUnix(request, deadline);
  return impl_->OverTls(request, deadline);
}

}  // namespace visi
