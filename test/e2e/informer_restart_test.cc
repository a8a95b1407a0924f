// An informer over the real API (the remote store a controllers-only visid
// uses) survives its visid being stopped and started again: it re-watches
// or, when its revision has been compacted away meanwhile, re-lists, and its
// cache ends equal to the store, deletes delivered.
#include <gtest/gtest.h>

#include <atomic>
#include <map>

#include "controller/client/remote_store.h"
#include "controller/runtime/informer.h"
#include "test/e2e/visid_process.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

const std::string kSessions = "/apis/visi.dev/v1alpha1/namespaces/alice/visisessions";

std::string Session(const std::string& name) {
  return Json{{"apiVersion", "visi.dev/v1alpha1"},
              {"kind", "VisiSession"},
              {"metadata", {{"name", name}, {"namespace", "alice"}}},
              {"spec", {{"user", "alice"}}}}
      .dump();
}

// name -> resourceVersion, from the cache or from the server.
std::map<std::string, std::string> Versions(const std::vector<ObjectPtr>& objs) {
  std::map<std::string, std::string> m;
  for (const auto& o : objs) m[o->metadata.name] = o->metadata.resource_version;
  return m;
}

TEST(InformerRestartTest, CacheConvergesAcrossAVisidRestart) {
  VisidProcess visid;
  ASSERT_TRUE(visid.Start({"--no-controllers", "--watch-history", "5"})) << visid.dir();
  const std::string listen = visid.url().substr(visid.url().find("://") + 3);
  auto admin = std::make_unique<ApiClient>(visid.AdminConfig());
  for (const char* n : {"a", "b", "c"}) ASSERT_EQ(admin->Request("POST", kSessions, Session(n)).code, 201);

  auto store = NewRemoteStore(std::make_shared<ApiClient>(visid.AdminConfig()), Scheme::Builtin());
  InformerOptions opts;
  opts.kind = "VisiSession";
  opts.backoff_base = std::chrono::milliseconds(50);
  opts.backoff_max = std::chrono::milliseconds(400);
  Informer informer(store.get(), SystemClock::Default(), opts);
  std::atomic<int> deletes{0};
  ResourceHandlers h;
  h.on_delete = [&](const ObjectPtr& o) { deletes += o->metadata.name == "b"; };
  informer.AddHandlers(h);
  informer.Start();
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(10)));
  ASSERT_EQ(informer.size(), 3u);
  const auto before = informer.GetStats();

  visid.Stop();
  ASSERT_TRUE(Eventually([&] { return informer.GetStats().errors > before.errors; }))
      << "the informer notices its watch is gone";
  EXPECT_EQ(informer.size(), 3u) << "the cache is kept while the server is away";

  // Same address, same data; more changes than the server keeps for resuming,
  // so a resume from the informer's revision may find it compacted (410).
  ASSERT_TRUE(visid.Start({"--no-controllers", "--watch-history", "5", "--listen", listen})) << visid.dir();
  admin = std::make_unique<ApiClient>(visid.AdminConfig());
  ASSERT_EQ(admin->Request("PATCH", kSessions + "/a", R"({"metadata":{"labels":{"tier":"gold"}}})",
                           "application/merge-patch+json")
                .code,
            200);
  ASSERT_EQ(admin->Request("DELETE", kSessions + "/b").code, 200);
  for (int i = 0; i < 10; ++i) ASSERT_EQ(admin->Request("POST", kSessions, Session("n" + std::to_string(i))).code, 201);

  auto server_versions = [&] {
    auto list = store->List(ListOptions{.kind = "VisiSession", .namespace_ = "alice"});
    return list.ok() ? Versions(list->items) : std::map<std::string, std::string>{};
  };
  ASSERT_TRUE(Eventually([&] { return Versions(informer.List()) == server_versions(); }))
      << informer.List().size() << " cached";
  EXPECT_EQ(deletes.load(), 1) << "the delete made while away is delivered once";
  auto a = informer.Get("alice", "a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->metadata.labels.at("tier"), "gold");
  const auto after = informer.GetStats();
  EXPECT_GT(after.lists + after.watches, before.lists + before.watches) << "it listed or watched again";
  informer.Stop();
}

}  // namespace
}  // namespace visi::testing
