#include <gtest/gtest.h>

#include "controller/drivers/docker/docker_client.h"
#include "controller/drivers/docker/docker_http.h"

namespace visi {
namespace {

TEST(ParseDockerEndpoint, AcceptsUnixAndTcp) {
  auto unix_ep = ParseDockerEndpoint("unix:///var/run/docker.sock");
  ASSERT_TRUE(unix_ep.ok());
  EXPECT_EQ(unix_ep->kind, DockerEndpoint::Kind::kUnix);
  EXPECT_EQ(unix_ep->socket_path, "/var/run/docker.sock");
  EXPECT_EQ(unix_ep->ToString(), "unix:///var/run/docker.sock");

  auto tcp = ParseDockerEndpoint("tcp://farm-3.example:2376");
  ASSERT_TRUE(tcp.ok());
  EXPECT_EQ(tcp->kind, DockerEndpoint::Kind::kTcp);
  EXPECT_EQ(tcp->host, "farm-3.example");
  EXPECT_EQ(tcp->port, 2376);

  auto v6 = ParseDockerEndpoint("tcp://[::1]:2376");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "tcp://[::1]:2376");
}

TEST(ParseDockerEndpoint, RefusesEverythingElseNamingTheField) {
  for (const char* bad : {"", "/var/run/docker.sock", "unix://", "unix://relative.sock", "http://x:1", "tcp://host",
                          "tcp://:2376", "tcp://host:0", "tcp://host:65536", "tcp://host:12a", "tcp://::1:2376",
                          "tcp://[::1]2376", "tcp://ho st:1", "tcp://host:1/path"}) {
    auto ep = ParseDockerEndpoint(bad, "docker_endpoint");
    ASSERT_FALSE(ep.ok()) << bad;
    EXPECT_EQ(ep.status().code(), Code::kInvalid) << bad;
    EXPECT_EQ(ep.status().causes().at(0).field, "docker_endpoint") << bad;
  }
  EXPECT_FALSE(ParseDockerEndpoint("unix:///" + std::string(200, 's')).ok());
}

TEST(DockerClientCreate, BadOptionsAreInvalidAndNameTheField) {
  DockerClientOptions o;
  o.endpoint = "docker.sock";
  auto c = DockerClient::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalid);
  EXPECT_EQ(c.status().causes().at(0).field, "endpoint");

  o.endpoint = "tcp://127.0.0.1:2376";  // TLS files are required
  c = DockerClient::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().causes().at(0).field, "tls_ca_file");

  o.tls_ca_file = o.tls_cert_file = o.tls_key_file = "/nonexistent/ca.pem";
  c = DockerClient::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().causes().at(0).field, "tls_ca_file");

  o = DockerClientOptions();
  o.request_timeout = std::chrono::milliseconds(0);
  c = DockerClient::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().causes().at(0).field, "request_timeout");
}

TEST(DockerClient, UnsafeNamesAreRefusedBeforeAnyRequest) {
  DockerClientOptions o;
  o.endpoint = "unix:///nonexistent/visi-test.sock";  // any request would be kUnavailable
  auto c = DockerClient::Create(o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  DockerClient& docker = **c;
  EXPECT_EQ(docker.InspectContainer("../../images/x").status().code(), Code::kInvalid);
  EXPECT_EQ(docker.StartContainer("a/b").code(), Code::kInvalid);
  EXPECT_EQ(docker.RemoveContainer("x?force=1", std::chrono::seconds(1)).code(), Code::kInvalid);
  EXPECT_EQ(docker.RemoveNetwork("").code(), Code::kInvalid);
  EXPECT_EQ(docker.ImageExists("a b").status().code(), Code::kInvalid);
  EXPECT_EQ(docker.GetArchive("c1", "relative/path").status().code(), Code::kInvalid);
  EXPECT_EQ(docker.PutArchive("c1", "", "").code(), Code::kInvalid);
  EXPECT_EQ(docker.ImportImage("", "no-tag").code(), Code::kInvalid);
  ContainerSpec bad;
  bad.name = "x";
  bad.image = "busybox";
  EXPECT_EQ(docker.CreateContainer(bad).status().code(), Code::kInvalid);
  // A valid request does reach for the socket.
  EXPECT_EQ(docker.Ping().code(), Code::kUnavailable);
}

TEST(UrlEncode, EncodesAllButUnreserved) {
  EXPECT_EQ(UrlEncode("a-Z_0.~"), "a-Z_0.~");
  EXPECT_EQ(UrlEncode(R"({"label":["k=v"]})"), "%7B%22label%22%3A%5B%22k%3Dv%22%5D%7D");
  EXPECT_EQ(UrlEncode("/tmp/a b&c"), "%2Ftmp%2Fa%20b%26c");
}

}  // namespace
}  // namespace visi
