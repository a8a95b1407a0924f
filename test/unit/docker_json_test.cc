#include "controller/drivers/docker/docker_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace visi {
namespace {

using Json = nlohmann::json;

ContainerSpec FullSpec() {
  ContainerSpec s;
  s.name = "vs-alice-notebook";
  s.image = "visi/busybox:latest";
  s.command = {"/bin/sh", "-c", "sleep 60"};
  s.env = {"A=1", "B=two words"};
  s.labels = {{"visi.dev/owner", "uid-1"}, {"visi.dev/spec-hash", "abc"}};
  s.network = "vs-alice";
  s.aliases = {"notebook", "nb"};
  s.hostname = "notebook";
  s.memory_bytes = 64 << 20;
  s.nano_cpus = 500000000;
  s.pids_limit = 100;
  s.exposed_ports = {8888, 4040};
  return s;
}

TEST(ContainerCreateBody, MapsEveryField) {
  auto body = ContainerCreateBody(FullSpec());
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  Json j = Json::parse(*body);
  EXPECT_EQ(j["Image"], "visi/busybox:latest");
  EXPECT_EQ(j["Cmd"], Json({"/bin/sh", "-c", "sleep 60"}));
  EXPECT_EQ(j["Env"], Json({"A=1", "B=two words"}));
  EXPECT_EQ(j["Labels"], Json({{"visi.dev/owner", "uid-1"}, {"visi.dev/spec-hash", "abc"}}));
  EXPECT_EQ(j["Hostname"], "notebook");
  EXPECT_EQ(j["User"], "65534:65534");
  EXPECT_EQ(j["ExposedPorts"], Json({{"8888/tcp", Json::object()}, {"4040/tcp", Json::object()}}));
  const Json& host = j["HostConfig"];
  EXPECT_EQ(host["Memory"], 64 << 20);
  EXPECT_EQ(host["NanoCpus"], 500000000);
  EXPECT_EQ(host["PidsLimit"], 100);
  EXPECT_EQ(host["CapDrop"], Json({"ALL"}));
  EXPECT_EQ(host["SecurityOpt"], Json({"no-new-privileges"}));
  EXPECT_EQ(host["Privileged"], false);
  EXPECT_EQ(host["NetworkMode"], "vs-alice");
  EXPECT_EQ(host["RestartPolicy"]["Name"], "no");
  EXPECT_EQ(j["NetworkingConfig"]["EndpointsConfig"]["vs-alice"]["Aliases"], Json({"notebook", "nb"}));
}

TEST(ContainerCreateBody, MinimalSpecLeavesOutUnsetFieldsButKeepsHardening) {
  ContainerSpec s;
  s.name = "c1";
  s.image = "busybox";
  auto body = ContainerCreateBody(s);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  Json j = Json::parse(*body);
  EXPECT_FALSE(j.contains("Cmd"));
  EXPECT_FALSE(j.contains("Env"));
  EXPECT_FALSE(j.contains("ExposedPorts"));
  EXPECT_FALSE(j.contains("NetworkingConfig"));
  EXPECT_FALSE(j["HostConfig"].contains("Memory"));
  EXPECT_FALSE(j["HostConfig"].contains("NetworkMode"));
  EXPECT_EQ(j["HostConfig"]["CapDrop"], Json({"ALL"}));
  EXPECT_EQ(j["HostConfig"]["SecurityOpt"], Json({"no-new-privileges"}));
  EXPECT_EQ(j["User"], "65534:65534");
}

TEST(ContainerCreateBody, RefusesBadSpecsNamingTheField) {
  struct Case {
    const char* field;
    void (*mutate)(ContainerSpec&);
  } cases[] = {
      {"name", [](ContainerSpec& s) { s.name = ""; }},
      {"name", [](ContainerSpec& s) { s.name = "../etc"; }},
      {"name", [](ContainerSpec& s) { s.name = "a/b?x=1"; }},
      {"image", [](ContainerSpec& s) { s.image = ""; }},
      {"image", [](ContainerSpec& s) { s.image = "../../containers/x"; }},
      {"image", [](ContainerSpec& s) { s.image = "busybox?x"; }},
      {"network", [](ContainerSpec& s) { s.network = "net/../x"; }},
      {"aliases", [](ContainerSpec& s) { s.network = ""; }},
      {"memory_bytes", [](ContainerSpec& s) { s.memory_bytes = -1; }},
      {"nano_cpus", [](ContainerSpec& s) { s.nano_cpus = -5; }},
      {"pids_limit", [](ContainerSpec& s) { s.pids_limit = -1; }},
      {"exposed_ports", [](ContainerSpec& s) { s.exposed_ports = {0}; }},
      {"exposed_ports", [](ContainerSpec& s) { s.exposed_ports = {65536}; }},
      {"env", [](ContainerSpec& s) { s.env = {"NOEQUALS"}; }},
      {"env", [](ContainerSpec& s) { s.env = {"=x"}; }},
      {"labels", [](ContainerSpec& s) { s.labels[""] = "x"; }},
  };
  for (const Case& c : cases) {
    ContainerSpec s = FullSpec();
    c.mutate(s);
    auto body = ContainerCreateBody(s);
    ASSERT_FALSE(body.ok()) << c.field;
    EXPECT_EQ(body.status().code(), Code::kInvalid) << c.field;
    ASSERT_EQ(body.status().causes().size(), 1u) << c.field;
    EXPECT_EQ(body.status().causes()[0].field, c.field);
  }
}

TEST(ContainerCreateBody, InvalidUtf8IsReplacedNotThrown) {
  ContainerSpec s = FullSpec();
  s.env = {std::string("X=\xff\xfe")};
  s.labels["k"] = std::string("\xc3");
  auto body = ContainerCreateBody(s);
  ASSERT_TRUE(body.ok());
  EXPECT_NO_THROW(Json::parse(*body));
}

TEST(NetworkCreateBody, MapsSubnetGatewayAndLabels) {
  NetworkSpec n;
  n.name = "vs-alice";
  n.subnet = "10.213.4.0/24";
  n.gateway = "10.213.4.1";
  n.labels = {{"visi.dev/owner", "uid-1"}};
  auto body = NetworkCreateBody(n);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  Json j = Json::parse(*body);
  EXPECT_EQ(j["Name"], "vs-alice");
  EXPECT_EQ(j["Driver"], "bridge");
  EXPECT_EQ(j["CheckDuplicate"], true);
  EXPECT_EQ(j["Labels"]["visi.dev/owner"], "uid-1");
  EXPECT_EQ(j["IPAM"]["Driver"], "default");
  EXPECT_EQ(j["IPAM"]["Config"], Json::parse(R"([{"Subnet":"10.213.4.0/24","Gateway":"10.213.4.1"}])"));
}

TEST(NetworkCreateBody, RefusesBadAddresses) {
  for (auto [subnet, gateway, field] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"10.213.300.0/24", "", "subnet"},
           {"10.213.4.0/33", "", "subnet"},
           {"10.213.4.1/24", "", "subnet"},  // host bits set
           {"10.213.4.0", "", "subnet"},
           {"fd00::/64", "", "subnet"},
           {"10.213.4.0/24", "10.213.5.1", "gateway"},
           {"10.213.4.0/24", "gw", "gateway"},
           {"", "10.0.0.1", "gateway"},
       }) {
    NetworkSpec n;
    n.name = "net1";
    n.subnet = subnet;
    n.gateway = gateway;
    auto body = NetworkCreateBody(n);
    ASSERT_FALSE(body.ok()) << subnet << " " << gateway;
    EXPECT_EQ(body.status().code(), Code::kInvalid);
    EXPECT_EQ(body.status().causes().at(0).field, field) << subnet << " " << gateway;
  }
}

TEST(LabelFilters, EncodesEveryLabelAndNothingWhenEmpty) {
  EXPECT_EQ(LabelFilters({}), "");
  Json j = Json::parse(LabelFilters({{"a", "1"}, {"b/c", "x=y"}}));
  EXPECT_EQ(j, Json::parse(R"({"label":["a=1","b/c=x=y"]})"));
}

constexpr const char* kInspect = R"({
  "Id": "a164f0002016f620484e05d1eaf10f4fcfcb1ce0870b4a06e6bc6458c61a36ad",
  "Name": "/probe-c1",
  "State": {"Status": "exited", "Running": false, "ExitCode": 137},
  "Config": {"Image": "visi/busybox:latest", "Labels": {"visi.dev/test-run": "r1"}},
  "NetworkSettings": {"Networks": {"probe-n1": {"IPAddress": "10.251.200.2"}, "other": {"IPAddress": ""}}}
})";

TEST(ParseContainerInspect, ReadsTheFieldsVisiUses) {
  auto info = ParseContainerInspect(kInspect);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->id, "a164f0002016f620484e05d1eaf10f4fcfcb1ce0870b4a06e6bc6458c61a36ad");
  EXPECT_EQ(info->name, "probe-c1");
  EXPECT_EQ(info->image, "visi/busybox:latest");
  EXPECT_EQ(info->state, "exited");
  EXPECT_EQ(info->exit_code, 137);
  EXPECT_FALSE(info->running());
  EXPECT_EQ(info->labels, (Labels{{"visi.dev/test-run", "r1"}}));
  EXPECT_EQ(info->ips, (std::map<std::string, std::string>{{"probe-n1", "10.251.200.2"}}));
}

TEST(ParseContainerInspect, NullsReadAsEmpty) {
  auto info = ParseContainerInspect(
      R"({"Id":"abc123","Name":"/x","State":{"Status":"created"},"Config":{"Labels":null},"NetworkSettings":{"Networks":null}})");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->labels.empty());
  EXPECT_TRUE(info->ips.empty());
}

TEST(ParseContainerInspect, HostileAnswersAreErrorsNotCrashes) {
  const std::string huge(8 << 20, 'x');
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += "[";
  for (
      const std::string& body : std::vector<std::string>{
          "",
          "{",
          std::string(kInspect).substr(0, 120),  // truncated
          "[]",                                  // wrong top-level type
          "null",
          R"({"Id":1,"Name":"/x","State":{"Status":"running"}})",  // Id not a string
          R"({"Id":"abc","Name":"/x"})",                           // no State
          R"({"Id":"abc","Name":"/x","State":"running"})",         // State not an object
          R"({"Id":"abc","Name":"/x","State":{"Status":7}})",
          R"({"Id":"abc","Name":"/x","State":{"Status":"running","ExitCode":"0"}})",
          R"({"Id":"abc","Name":"/x","State":{"Status":"running","ExitCode":99999999999}})",
          R"({"Id":"abc","Name":"/x","State":{"Status":"running"},"Config":{"Labels":{"a":1}}})",
          R"({"Id":"abc","Name":"/x","State":{"Status":"running"},"Config":[]})",
          R"({"Id":"abc","Name":"/x","State":{"Status":"running"},"NetworkSettings":{"Networks":{"n":5}}})",
          R"({"Id":"abc","Name":"/x","State":{"Status":"running"},"NetworkSettings":{"Networks":{"n":{"IPAddress":[]}}}})",
          "{\"Id\":\"\xff\xfe\"}",     // invalid UTF-8
          "{\"Id\":\"" + huge + "\"",  // huge and truncated
          deep,
      }) {
    auto info = ParseContainerInspect(body);
    ASSERT_FALSE(info.ok()) << body.substr(0, 100);
    EXPECT_EQ(info.status().code(), Code::kInternal) << body.substr(0, 100);
    EXPECT_LT(info.status().message().size(), 2000u);
  }
}

TEST(ParseContainerInspect, HugeValidStringsAreKept) {
  const std::string huge(4 << 20, 'v');
  auto info = ParseContainerInspect(
      R"({"Id":"abc","Name":"/x","State":{"Status":"running"},"Config":{"Labels":{"k":")" + huge + R"("}}})");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->labels.at("k").size(), huge.size());
}

TEST(ParseContainerList, ReadsNamesStatesAndExitCodes) {
  auto list = ParseContainerList(R"([
    {"Id":"aaa","Names":["/one"],"Image":"img:1","State":"running","Status":"Up 2 seconds",
     "Labels":{"k":"v"},"NetworkSettings":{"Networks":{"n1":{"IPAddress":"10.0.0.2"}}}},
    {"Id":"bbb","Names":["/two"],"Image":"img:2","State":"exited","Status":"Exited (137) 2 minutes ago",
     "Labels":{},"NetworkSettings":{"Networks":{"n1":{"IPAddress":""}}}},
    {"Id":"ccc","Names":null,"Image":"img:3","State":"created","Status":"Created","Labels":null}
  ])");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "one");
  EXPECT_TRUE((*list)[0].running());
  EXPECT_EQ((*list)[0].ips.at("n1"), "10.0.0.2");
  EXPECT_EQ((*list)[0].labels.at("k"), "v");
  EXPECT_EQ((*list)[1].state, "exited");
  EXPECT_EQ((*list)[1].exit_code, 137);
  EXPECT_TRUE((*list)[1].ips.empty());
  EXPECT_EQ((*list)[2].name, "");
  EXPECT_EQ((*list)[2].image, "img:3");
}

TEST(ParseContainerList, HostileAnswersAreErrors) {
  for (const char* body : {"{}", "[1]", R"([{"Id":"a","Names":[5],"State":"running"}])",
                           R"([{"Id":"a","State":["running"]}])", R"([{"Id":"a"}])", "[{\"Id\":\"a\""}) {
    auto list = ParseContainerList(body);
    ASSERT_FALSE(list.ok()) << body;
    EXPECT_EQ(list.status().code(), Code::kInternal) << body;
  }
}

TEST(ParseNetwork, ReadsSubnetLabelsAndEndpoints) {
  auto n = ParseNetworkInspect(R"({"Name":"n1","Id":"abc","Labels":{"k":"v"},
      "IPAM":{"Driver":"default","Config":[{"Subnet":"fd00::/64"},{"Subnet":"10.251.1.0/24","Gateway":"10.251.1.1"}]},
      "Containers":{"c1":{"Name":"x"},"c2":{}}})");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->name, "n1");
  EXPECT_EQ(n->id, "abc");
  EXPECT_EQ(n->subnet, "10.251.1.0/24");
  EXPECT_EQ(n->labels.at("k"), "v");
  EXPECT_EQ(n->container_ids, (std::vector<std::string>{"c1", "c2"}));

  auto list = ParseNetworkList(R"([{"Name":"none","Id":"1","IPAM":{"Config":[]},"Containers":{},"Labels":{}},
                                   {"Name":"b","Id":"2","IPAM":{"Config":null}}])");
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].subnet, "");
}

TEST(ParseNetwork, HostileAnswersAreErrors) {
  for (const char* body :
       {"[]", R"({"Name":"n"})", R"({"Name":"n","Id":"1","IPAM":{"Config":{}}})",
        R"({"Name":"n","Id":"1","IPAM":{"Config":[{"Subnet":3}]}})", R"({"Name":"n","Id":"1","Containers":[]})"}) {
    auto n = ParseNetworkInspect(body);
    ASSERT_FALSE(n.ok()) << body;
    EXPECT_EQ(n.status().code(), Code::kInternal) << body;
  }
  EXPECT_FALSE(ParseNetworkList("[[]]").ok());
  EXPECT_FALSE(ParseNetworkList(R"({"Name":"n"})").ok());
}

TEST(ParseCreatedId, AcceptsIdsAndRefusesAnythingElse) {
  auto id = ParseCreatedId(R"({"Id":"478aaf395b10","Warning":""})");
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "478aaf395b10");
  EXPECT_FALSE(ParseCreatedId(R"({"Warning":""})").ok());
  EXPECT_FALSE(ParseCreatedId(R"({"Id":"../../x"})").ok());  // would be unsafe in a later URL
  EXPECT_FALSE(ParseCreatedId("").ok());
}

TEST(ParseImportProgress, FindsTheErrorInTheStream) {
  EXPECT_TRUE(ParseImportProgress("{\"status\":\"sha256:abc\"}\r\n").ok());
  EXPECT_TRUE(ParseImportProgress("").ok());
  Status s = ParseImportProgress("{\"status\":\"Downloading\"}\n{\"error\":\"archive/tar: invalid tar header\"}\n");
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("invalid tar header"), std::string::npos);
  EXPECT_EQ(ParseImportProgress("{\"status\":").code(), Code::kInternal);
}

TEST(DaemonMessage, PrefersTheMessageFieldAndBoundsTheText) {
  EXPECT_EQ(DaemonMessage(R"({"message":"No such container: x"})"), "No such container: x");
  EXPECT_EQ(DaemonMessage("plain text\n"), "plain text");
  EXPECT_EQ(DaemonMessage(""), "(empty answer)");
  EXPECT_EQ(DaemonMessage("a\x01"
                          "b"),
            "a?b");
  EXPECT_LE(DaemonMessage(std::string(5 << 20, 'z')).size(), 1100u);
  EXPECT_LE(DaemonMessage(R"({"message":")" + std::string(100000, 'm') + R"("})").size(), 1100u);
}

TEST(Names, OnlyUrlSafeDockerNamesPass) {
  EXPECT_TRUE(IsDockerObjectName("vs-alice_1.x"));
  EXPECT_TRUE(IsDockerObjectName("a164f0002016f620484e05d1eaf10f4fcfcb1ce0870b4a06e6bc6458c61a36ad"));
  for (const char* bad : {"", "a", "-x", "a/b", "a?b", "a b", "a%2f", "..", "a\nb"}) {
    EXPECT_FALSE(IsDockerObjectName(bad)) << bad;
  }
  EXPECT_TRUE(IsImageReference("visi/busybox:latest"));
  EXPECT_TRUE(IsImageReference("registry:5000/a/b@sha256:0123"));
  for (const char* bad : {"", "/x", "a/../b", "a?b", "a b", "a#b", "a//b"}) EXPECT_FALSE(IsImageReference(bad)) << bad;
}

}  // namespace
}  // namespace visi
