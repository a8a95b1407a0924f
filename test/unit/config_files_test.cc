// The config files visid and visictl read: the users file and the
// kubeconfig-format client config. Malformed and hostile files are refused
// with errors that name file, line and field.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "controller/client/config.h"
#include "controller/server/auth/pki.h"
#include "controller/server/auth/users.h"

namespace visi {
namespace {

std::string Hash(const std::string& token) { return Sha256Hex(token); }

TEST(UsersFileTest, AuthenticatesByTokenHash) {
  std::string text = "users:\n  - name: admin\n    tokenSHA256: " + Hash("root-token") +
                     "\n    admin: true\n  - name: alice\n    tokenSHA256: " + Hash("alice-token") +
                     "\n    namespaces: [alice, shared]\n";
  auto a = Authenticator::Parse(text, "users.yaml");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto admin = a->Authenticate("root-token");
  ASSERT_TRUE(admin);
  EXPECT_TRUE(admin->admin);
  auto alice = a->Authenticate("alice-token");
  ASSERT_TRUE(alice);
  EXPECT_FALSE(alice->admin);
  EXPECT_TRUE(alice->Reaches("shared"));
  EXPECT_FALSE(alice->Reaches("bob"));
  EXPECT_FALSE(a->Authenticate("alice-token "));
  EXPECT_FALSE(a->Authenticate(""));
  EXPECT_FALSE(a->Authenticate(std::string(10000, 'x')));
}

TEST(UsersFileTest, MalformedFilesNameTheProblem) {
  const std::string h = Hash("t");
  struct Case {
    std::string text, says;
  };
  std::vector<Case> cases = {
      {"users: [\n", "users.yaml:"},
      {"users: 5\n", "users: expected a list"},
      {"people: []\n", "people: unknown field"},
      {"users:\n  - tokenSHA256: " + h + "\n", "users.yaml:2: users[0].name: required string"},
      {"users:\n  - name: Bad_Name\n    tokenSHA256: " + h + "\n", "users[0].name"},
      {"users:\n  - name: a\n    tokenSHA256: plaintext\n", "users.yaml:3: users[0].tokenSHA256: must be 64"},
      {"users:\n  - name: a\n    tokenSHA256: " + h + "\n    admin: yes\n", "users[0].admin: expected true or false"},
      {"users:\n  - name: a\n    tokenSHA256: " + h + "\n    namespaces: [Not_A_Label]\n", "users[0].namespaces[0]"},
      {"users:\n  - name: a\n    tokenSHA256: " + h + "\n  - name: a\n    tokenSHA256: " + Hash("u") + "\n",
       "duplicate user"},
      {"users:\n  - name: a\n    tokenSHA256: " + h + "\n  - name: b\n    tokenSHA256: " + h + "\n",
       "the same token is given to two users"},
      {"users:\n  - name: a\n    tokenSHA256: " + h + "\n    sudo: true\n", "users[0].sudo: unknown field"},
      {"- just a list\n", "expected one mapping"},
  };
  for (const auto& c : cases) {
    auto a = Authenticator::Parse(c.text, "users.yaml");
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_NE(a.status().ToString().find(c.says), std::string::npos) << c.says << "\n" << a.status().ToString();
  }
}

TEST(UsersFileTest, AddUserKeepsTheFileValidAndRefusesDuplicates) {
  std::string dir = std::filesystem::temp_directory_path() / ("visi-users-" + RandomHex(4));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/users.yaml";
  auto t1 = AddUser(path, "admin", true, {});
  ASSERT_TRUE(t1.ok());
  auto t2 = AddUser(path, "alice", false, {"alice"});
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ(AddUser(path, "alice", false, {}).status().code(), Code::kAlreadyExists);
  auto a = Authenticator::Load(path);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 2u);
  EXPECT_EQ(a->Authenticate(*t2)->name, "alice");
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text.find(*t1), std::string::npos) << "tokens must be stored only as hashes";
  // A damaged file is not extended (nor overwritten).
  std::ofstream(path) << "users: [\n";
  EXPECT_FALSE(AddUser(path, "bob", false, {}).ok());
  std::ifstream again(path);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(again)), {}), "users: [\n");
  std::filesystem::remove_all(dir);
}

class ClientConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    std::ofstream(path_) << text;
    return path_;
  }
  void TearDown() override { std::filesystem::remove(path_); }
  std::string path_ = std::filesystem::temp_directory_path() / ("visi-conf-" + RandomHex(4));
};

TEST_F(ClientConfigTest, RoundTripAndContexts) {
  ClientConfig c;
  c.server = "https://127.0.0.1:6443";
  c.certificate_authority = "/x/ca.crt";
  c.token = "secret";
  c.namespace_ = "alice";
  ASSERT_TRUE(WriteClientConfig(path_, c).ok());
  EXPECT_EQ(std::filesystem::status(path_).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none) << "the config holds a token";
  auto back = LoadClientConfig(path_);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->server, c.server);
  EXPECT_EQ(back->token, "secret");
  EXPECT_EQ(back->namespace_, "alice");
  EXPECT_FALSE(LoadClientConfig(path_, "nowhere").ok());
}

TEST_F(ClientConfigTest, MalformedConfigsNameTheProblem) {
  struct Case {
    std::string text, says;
  };
  std::vector<Case> cases = {
      {"clusters: [\n", path_ + ":"},
      {"[1, 2]\n", "expected one kubeconfig mapping"},
      {"apiVersion: v1\nkind: Config\n", "no current-context"},
      {"current-context: a\ncontexts: []\n", "no contexts entry named \"a\""},
      {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\nclusters: 7\n",
       "clusters must be a list"},
      {"current-context: a\ncontexts: [{name: a, context: {cluster: c}}]\n"
       "clusters: [{name: c, cluster: {server: 'ftp://x'}}]\n",
       "cluster.server must be an http(s) URL"},
  };
  for (const auto& c : cases) {
    auto r = LoadClientConfig(Write(c.text));
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().ToString().find(c.says), std::string::npos) << c.says << "\n" << r.status().ToString();
  }
  EXPECT_EQ(LoadClientConfig("/nonexistent/visi.conf").status().code(), Code::kNotFound);
}

}  // namespace
}  // namespace visi
