// What only the real driver does: processes really run confined, and the
// transport copes with daemons that are missing, silent, rude or remote.

#include "controller/drivers/docker/docker_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "controller/server/auth/pki.h"
#include "test/fakes/scripted_docker_daemon.h"
#include "test/integration/docker_test_support.h"

namespace visi::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Daemon = ScriptedDockerDaemon;

// --- Against the real dockerd -------------------------------------------

class DockerClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto docker = DockerClient::Create(DockerClientOptions{});
    ASSERT_TRUE(docker.ok()) << docker.status().ToString();
    docker_ = std::move(*docker);
    Status ping = docker_->Ping();
    ASSERT_TRUE(ping.ok()) << "these tests need dockerd at unix:///var/run/docker.sock: " << ping.ToString();
    Status image = DockerTestImage::Ensure(*docker_);
    ASSERT_TRUE(image.ok()) << image.ToString();
  }
  void TearDown() override {
    if (docker_) RemoveEverythingLabeled(*docker_, RunLabels());
  }

  ContainerSpec Spec(const std::string& suffix, std::vector<std::string> command) {
    ContainerSpec c;
    c.name = "vt-" + RunId() + "-" + suffix;
    c.image = DockerTestImage::Name();
    c.command = std::move(command);
    c.env = {"PATH=/bin"};
    c.labels = RunLabels();
    return c;
  }

  // Waits (bounded) until `path` exists in the container; its content.
  StatusOr<std::string> WaitForFile(const std::string& id, const std::string& path) {
    Status last;
    for (int i = 0; i < 200; ++i) {
      auto tar = docker_->GetArchive(id, path);
      if (tar.ok()) return FileFromArchive(*tar);
      last = tar.status();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
  }

  std::unique_ptr<DockerClient> docker_;
};

TEST_F(DockerClientTest, ProcessesRunUnprivilegedAndLimited) {
  ContainerSpec spec = Spec("confined", {"/bin/sh", "-c",
                                         "id -u > /tmp/uid; cat /proc/self/status > /tmp/status; "
                                         "cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /tmp/mem 2>/dev/null || "
                                         "cat /sys/fs/cgroup/memory.max > /tmp/mem; "
                                         "cat /sys/fs/cgroup/pids/pids.max > /tmp/pids 2>/dev/null || "
                                         "cat /sys/fs/cgroup/pids.max > /tmp/pids; "
                                         "touch /tmp/done; exec sleep 600"});
  spec.memory_bytes = 64 << 20;
  spec.pids_limit = 40;
  spec.nano_cpus = 500000000;
  auto id = docker_->CreateContainer(spec);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(docker_->StartContainer(*id).ok());
  auto done = WaitForFile(*id, "/tmp/done");
  ASSERT_TRUE(done.ok()) << done.status().ToString();

  auto read = [&](const char* path) {
    auto tar = docker_->GetArchive(*id, path);
    EXPECT_TRUE(tar.ok()) << path << ": " << tar.status().ToString();
    auto content = tar.ok() ? FileFromArchive(*tar) : StatusOr<std::string>(tar.status());
    return content.ok() ? *content : std::string();
  };
  EXPECT_EQ(read("/tmp/uid"), "65534\n");
  const std::string status = read("/tmp/status");
  EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("CapBnd:\t0000000000000000"), std::string::npos) << status;
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos) << status;
  EXPECT_EQ(read("/tmp/mem"), std::to_string(64 << 20) + "\n");
  EXPECT_EQ(read("/tmp/pids"), "40\n");
}

TEST_F(DockerClientTest, ExitedContainersReportTheirExitCode) {
  auto id = docker_->CreateContainer(Spec("exits", {"/bin/sh", "-c", "exit 3"}));
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(docker_->StartContainer(*id).ok());
  StatusOr<ContainerInfo> info = InternalError("not inspected");
  for (int i = 0; i < 200; ++i) {
    info = docker_->InspectContainer(*id);
    if (info.ok() && info->state == "exited") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->state, "exited");
  EXPECT_EQ(info->exit_code, 3);
  EXPECT_TRUE(info->ips.empty());
  auto listed = docker_->ListContainers(RunLabels());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].exit_code, 3);
  // Starting it again runs it again: not an error.
  EXPECT_TRUE(docker_->StartContainer(*id).ok());
}

TEST_F(DockerClientTest, ConcurrentCallsDoNotInterfere) {
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        if (!docker_->Ping().ok()) ++failures;
        auto exists = docker_->ImageExists(DockerTestImage::Name());
        if (!exists.ok() || !*exists) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// --- Against daemons that misbehave ------------------------------------

class DockerTransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("visi-docker-test-" + RunId() + "-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<DockerClient> Client(const std::string& endpoint, std::chrono::milliseconds timeout,
                                       size_t max_body = size_t{1} << 30) {
    DockerClientOptions o;
    o.endpoint = endpoint;
    o.request_timeout = timeout;
    o.transfer_timeout = timeout;
    o.max_body_bytes = max_body;
    auto c = DockerClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::string Socket() const { return (dir_ / "docker.sock").string(); }

  fs::path dir_;
};

TEST_F(DockerTransportTest, MissingSocketIsUnavailableAndNamesTheEndpoint) {
  auto client = Client("unix://" + (dir_ / "nonexistent.sock").string(), std::chrono::seconds(5));
  Status s = client->Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("nonexistent.sock unreachable"), std::string::npos) << s.message();
  EXPECT_EQ(client->ListContainers({}).status().code(), Code::kUnavailable);
}

TEST_F(DockerTransportTest, SilentDaemonTimesOutAsUnavailable) {
  Daemon daemon(Socket());
  ASSERT_TRUE(daemon.ok());
  daemon.SetMode(Daemon::Mode::kHang);
  auto client = Client(daemon.endpoint(), std::chrono::milliseconds(300));
  Status s = client->Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("did not answer within 300 ms"), std::string::npos) << s.message();
  EXPECT_EQ(client->InspectContainer("c1").status().code(), Code::kUnavailable);
}

TEST_F(DockerTransportTest, DaemonClosingAtOnceIsUnavailable) {
  Daemon daemon(Socket());
  ASSERT_TRUE(daemon.ok());
  daemon.SetMode(Daemon::Mode::kCloseAtOnce);
  auto client = Client(daemon.endpoint(), std::chrono::seconds(5));
  EXPECT_EQ(client->Ping().code(), Code::kUnavailable);
  // Writing a large body into the closed connection is an error, not SIGPIPE.
  Status put = client->PutArchive("c1", "/tmp", std::string(32 << 20, 'p'));
  EXPECT_EQ(put.code(), Code::kUnavailable) << put.ToString();
}

TEST_F(DockerTransportTest, GarbageAnswersAreErrorsNotCrashes) {
  Daemon daemon(Socket());
  ASSERT_TRUE(daemon.ok());
  auto client = Client(daemon.endpoint(), std::chrono::seconds(5));
  for (const std::string& garbage :
       {std::string("this is not HTTP\r\n\r\n"), std::string(100000, '\xff'),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
        std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ntruncated"),
        std::string("HTTP/1.1 200 OK\r\nX: ") + std::string(200000, 'h') + "\r\n\r\n",
        Daemon::Http(200, "{\"Id\": 12, \"Name\": []}"), Daemon::Http(200, "[[[[[[[[[[")}) {
    daemon.Answer(garbage);
    auto info = client->InspectContainer("c1");
    ASSERT_FALSE(info.ok()) << garbage.substr(0, 60);
    EXPECT_TRUE(info.status().code() == Code::kInternal || info.status().code() == Code::kUnavailable)
        << info.status().ToString();
  }
}

TEST_F(DockerTransportTest, StatusesMapToTheContractCodes) {
  Daemon daemon(Socket());
  ASSERT_TRUE(daemon.ok());
  auto client = Client(daemon.endpoint(), std::chrono::seconds(5));
  auto message = [](const char* m) { return Json{{"message", m}}.dump(); };
  ContainerSpec spec;
  spec.name = "c1";
  spec.image = "busybox";

  daemon.Answer(Daemon::Http(409, message("Conflict. The container name \"/c1\" is already in use")));
  EXPECT_EQ(client->CreateContainer(spec).status().code(), Code::kAlreadyExists);
  daemon.Answer(Daemon::Http(404, message("No such image: busybox:latest")));
  auto missing = client->CreateContainer(spec);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("image \"busybox\" not found"), std::string::npos);
  daemon.Answer(Daemon::Http(400, message("invalid port")));
  auto invalid = client->CreateContainer(spec);
  EXPECT_EQ(invalid.status().code(), Code::kInvalid);
  EXPECT_NE(invalid.status().message().find("invalid port"), std::string::npos);
  daemon.Answer(Daemon::Http(500, message("driver failed programming external connectivity")));
  auto internal = client->CreateContainer(spec);
  EXPECT_EQ(internal.status().code(), Code::kInternal);
  EXPECT_NE(internal.status().message().find("driver failed programming"), std::string::npos);
  daemon.Answer(Daemon::Http(404, message("No such container: c1")));
  auto gone = client->InspectContainer("c1");
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_NE(gone.status().message().find("no such container \"c1\""), std::string::npos);
  daemon.Answer(Daemon::Http(403, message("error while removing network: network n1 id x has active endpoints")));
  EXPECT_EQ(client->RemoveNetwork("n1").code(), Code::kConflict);
  daemon.Answer(Daemon::Http(404, message("network n1 not found")));
  Status no_net = client->RemoveNetwork("n1");
  EXPECT_EQ(no_net.code(), Code::kNotFound);
  EXPECT_NE(no_net.message().find("no such network \"n1\""), std::string::npos);
  daemon.Answer(Daemon::Http(409, message("network with name n1 already exists")));
  NetworkSpec net;
  net.name = "n1";
  EXPECT_EQ(client->CreateNetwork(net).status().code(), Code::kAlreadyExists);
  daemon.Answer(Daemon::Http(403, message("Pool overlaps with other one on this address space")));
  EXPECT_EQ(client->CreateNetwork(net).status().code(), Code::kConflict);
  daemon.Answer(Daemon::Http(304, ""));
  EXPECT_TRUE(client->StartContainer("c1").ok());
  daemon.Answer(Daemon::Http(404, message("No such image: x:1")));
  auto exists = client->ImageExists("x:1");
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
  daemon.Answer(Daemon::Http(503, "plain text, not JSON"));
  Status plain = client->Ping();
  EXPECT_EQ(plain.code(), Code::kInternal);
  EXPECT_NE(plain.message().find("plain text, not JSON"), std::string::npos);
}

TEST_F(DockerTransportTest, RequestsHaveTheDocumentedShape) {
  Daemon daemon(Socket());
  ASSERT_TRUE(daemon.ok());
  auto client = Client(daemon.endpoint(), std::chrono::seconds(5));
  daemon.Answer(Daemon::Http(201, R"({"Id":"abc123","Warnings":[]})"));
  ContainerSpec spec;
  spec.name = "c1";
  spec.image = "busybox";
  spec.network = "n1";
  ASSERT_TRUE(client->CreateContainer(spec).ok());
  daemon.Answer(Daemon::Http(204, ""));
  ASSERT_TRUE(client->RemoveContainer("c1", std::chrono::seconds(7)).ok());
  daemon.Answer(Daemon::Http(200, "[]"));
  ASSERT_TRUE(client->ListContainers({{"visi.dev/owner", "u 1"}}).ok());
  daemon.Answer(Daemon::Http(200, "tarbytes", "application/x-tar"));
  ASSERT_TRUE(client->PutArchive("c1", "/tmp/a b", "tarbytes").ok());

  auto requests = daemon.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/v1.41/containers/create?name=c1");
  EXPECT_EQ(requests[0].content_type, "application/json");
  Json body = Json::parse(requests[0].body);
  EXPECT_EQ(body["HostConfig"]["NetworkMode"], "n1");
  EXPECT_EQ(body["HostConfig"]["CapDrop"], Json({"ALL"}));
  EXPECT_EQ(requests[1].method, "POST");
  EXPECT_EQ(requests[1].target, "/v1.41/containers/c1/stop?t=7");
  EXPECT_EQ(requests[2].method, "DELETE");
  EXPECT_EQ(requests[2].target, "/v1.41/containers/c1?force=true&v=true");
  EXPECT_EQ(requests[3].target,
            "/v1.41/containers/json?all=true&filters=%7B%22label%22%3A%5B%22visi.dev%2Fowner%3Du%201%22%5D%7D");
  EXPECT_EQ(requests[4].method, "PUT");
  EXPECT_EQ(requests[4].target, "/v1.41/containers/c1/archive?path=%2Ftmp%2Fa%20b");
  EXPECT_EQ(requests[4].content_type, "application/x-tar");
  EXPECT_EQ(requests[4].body, "tarbytes");
}

TEST_F(DockerTransportTest, ChunkedAndLargeBodies) {
  Daemon daemon(Socket());
  ASSERT_TRUE(daemon.ok());
  auto client = Client(daemon.endpoint(), std::chrono::seconds(10), 4 << 20);
  const std::string big(3 << 20, 't');
  daemon.Answer(Daemon::Chunked(200, {big.substr(0, 1000), big.substr(1000)}));
  auto got = client->GetArchive("c1", "/data");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, big);

  daemon.Answer(Daemon::Chunked(200, {big, big}));  // 6 MiB > 4 MiB
  auto too_big = client->GetArchive("c1", "/data");
  EXPECT_EQ(too_big.status().code(), Code::kTooLarge) << too_big.status().ToString();
}

// --- TCP with TLS client certificates ----------------------------------

TEST_F(DockerTransportTest, TlsWithClientCertificates) {
  PkiPaths pki, other;
  ASSERT_TRUE(EnsurePki((dir_ / "pki").string(), {}, &pki).ok());
  ASSERT_TRUE(EnsurePki((dir_ / "other").string(), {}, &other).ok());
  Daemon daemon(pki.server_cert, pki.server_key);
  ASSERT_TRUE(daemon.ok());
  daemon.Answer(Daemon::Http(200, "OK", "text/plain"));

  DockerClientOptions o;
  o.endpoint = daemon.endpoint();
  o.tls_ca_file = pki.ca_cert;
  o.tls_cert_file = pki.server_cert;  // any certificate the CA signed will do for the test
  o.tls_key_file = pki.server_key;
  o.request_timeout = std::chrono::seconds(5);
  auto client = DockerClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status ping = (*client)->Ping();
  EXPECT_TRUE(ping.ok()) << ping.ToString();
  EXPECT_TRUE(daemon.saw_client_certificate());
  ASSERT_EQ(daemon.requests().size(), 1u);
  EXPECT_EQ(daemon.requests()[0].target, "/v1.41/_ping");

  // A daemon whose certificate our CA did not sign is refused.
  o.tls_ca_file = other.ca_cert;
  auto wary = DockerClient::Create(o);
  ASSERT_TRUE(wary.ok());
  Status refused = (*wary)->Ping();
  EXPECT_EQ(refused.code(), Code::kUnavailable) << refused.ToString();
  EXPECT_NE(refused.message().find("TLS handshake"), std::string::npos) << refused.message();
  EXPECT_EQ(daemon.requests().size(), 1u);

  // A key that does not load is refused at construction, naming the option.
  o.tls_key_file = pki.ca_cert;
  auto bad_key = DockerClient::Create(o);
  ASSERT_FALSE(bad_key.ok());
  EXPECT_EQ(bad_key.status().causes().at(0).field, "tls_key_file");
}

TEST_F(DockerTransportTest, TlsPeerThatNeverHandshakesTimesOut) {
  PkiPaths pki;
  ASSERT_TRUE(EnsurePki((dir_ / "pki").string(), {}, &pki).ok());
  // A listening socket nobody accepts on: TCP connects, TLS never answers.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  DockerClientOptions o;
  o.endpoint = "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  o.tls_ca_file = pki.ca_cert;
  o.tls_cert_file = pki.server_cert;
  o.tls_key_file = pki.server_key;
  o.request_timeout = std::chrono::milliseconds(300);
  auto client = DockerClient::Create(o);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Status s = (*client)->Ping();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_NE(s.message().find("did not answer within 300 ms"), std::string::npos) << s.message();
  ::close(fd);
}

}  // namespace
}  // namespace visi::testing
