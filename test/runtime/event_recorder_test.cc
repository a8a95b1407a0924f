#include "controller/runtime/event_recorder.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/api/names.h"
#include "controller/api/scheme.h"
#include "controller/store/memory/memory_store.h"
#include "test/fakes/forwarding_store.h"
#include "test/fakes/objects.h"

namespace visi {
namespace {

constexpr char kStart[] = "2026-11-23T22:00:00Z";

// Forwards to a real store; runs `after_get` once, after the next Get, to
// interleave another writer at an exact point.
class HookedStore : public testing::ForwardingStore {
 public:
  explicit HookedStore(Store* base) : ForwardingStore(base) {}
  std::function<void()> after_get;

  StatusOr<ObjectPtr> Get(std::string_view kind, std::string_view ns, std::string_view name) override {
    auto r = ForwardingStore::Get(kind, ns, name);
    if (auto hook = std::move(after_get)) {
      after_get = nullptr;
      hook();
    }
    return r;
  }
};

class EventRecorderTest : public ::testing::Test {
 protected:
  ObjectPtr Stored(Object o) {
    auto r = store_->Create(std::move(o));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : nullptr;
  }
  std::vector<ObjectPtr> Events(const std::string& ns) {
    ListOptions opts;
    opts.kind = "Event";
    opts.namespace_ = ns;
    auto r = store_->List(opts);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->items : std::vector<ObjectPtr>{};
  }
  // The only Event in `ns`.
  ObjectPtr OnlyEvent(const std::string& ns) {
    auto events = Events(ns);
    EXPECT_EQ(events.size(), 1u);
    return events.empty() ? std::make_shared<Object>() : events.front();
  }
  static EventRecorder::Options Generous() {
    EventRecorder::Options o;
    o.burst = 100000;
    return o;
  }

  FakeClock clock_{*ParseRfc3339(kStart)};
  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), &clock_);
};

TEST_F(EventRecorderTest, FirstEventCreatesEventWithCountOne) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder::Options opts;
  opts.host = "node-1";
  EventRecorder rec(store_.get(), &clock_, opts);

  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Scheduled", "placed on node-1").ok());

  ObjectPtr ev = OnlyEvent("team-a");
  EXPECT_EQ(ev->kind, "Event");
  EXPECT_EQ(ev->metadata.namespace_, "team-a");
  EXPECT_TRUE(ev->metadata.name.starts_with("web.")) << ev->metadata.name;
  EXPECT_EQ(ev->metadata.name.size(), std::string("web.").size() + 16);
  EXPECT_EQ(CheckDns1123Subdomain(ev->metadata.name), "");
  const Json& io = ev->spec["involvedObject"];
  EXPECT_EQ(io["apiVersion"], "visi.dev/v1alpha1");
  EXPECT_EQ(io["kind"], "VisiSession");
  EXPECT_EQ(io["namespace"], "team-a");
  EXPECT_EQ(io["name"], "web");
  EXPECT_EQ(io["uid"], web->metadata.uid);
  EXPECT_EQ(io["resourceVersion"], std::to_string(web->metadata.resource_version));
  EXPECT_EQ(ev->spec["reason"], "Scheduled");
  EXPECT_EQ(ev->spec["message"], "placed on node-1");
  EXPECT_EQ(ev->spec["type"], "Normal");
  EXPECT_EQ(ev->spec["count"], 1);
  EXPECT_EQ(ev->spec["firstTimestamp"], kStart);
  EXPECT_EQ(ev->spec["lastTimestamp"], kStart);
  EXPECT_EQ(ev->spec["source"]["component"], "visid");
  EXPECT_EQ(ev->spec["source"]["host"], "node-1");
  EXPECT_EQ(rec.dropped(), 0u);
}

TEST_F(EventRecorderTest, RepeatBumpsCountAndLastTimestamp) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder rec(store_.get(), &clock_);

  ASSERT_TRUE(rec.Record(*web, EventSeverity::kWarning, "SnapshotFailed", "disk full").ok());
  clock_.Advance(std::chrono::seconds(90));
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kWarning, "SnapshotFailed", "disk full").ok());
  clock_.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kWarning, "SnapshotFailed", "disk full").ok());

  ObjectPtr ev = OnlyEvent("team-a");
  EXPECT_EQ(ev->spec["type"], "Warning");
  EXPECT_EQ(ev->spec["count"], 3);
  EXPECT_EQ(ev->spec["firstTimestamp"], kStart);
  EXPECT_EQ(ev->spec["lastTimestamp"], "2026-11-23T22:02:00Z");
}

TEST_F(EventRecorderTest, DifferentMessageOrTypeCreatesAnotherEvent) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder rec(store_.get(), &clock_);

  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Scaled", "2 workers").ok());
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Scaled", "3 workers").ok());
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kWarning, "Scaled", "3 workers").ok());
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Scaled", "2 workers").ok());

  auto events = Events("team-a");
  ASSERT_EQ(events.size(), 3u);
  int total = 0;
  for (const auto& e : events) total += e->spec["count"].get<int>();
  EXPECT_EQ(total, 4);
}

TEST_F(EventRecorderTest, ClusterScopedObjectEventsLandInDefault) {
  ObjectPtr pool = Stored(testing::Pool("gpu"));
  EventRecorder rec(store_.get(), &clock_);

  ASSERT_TRUE(rec.Record(*pool, EventSeverity::kNormal, "Resized", "4 machines").ok());

  ObjectPtr ev = OnlyEvent("default");
  EXPECT_EQ(ev->spec["involvedObject"]["kind"], "FarmPool");
  EXPECT_EQ(ev->spec["involvedObject"]["name"], "gpu");
  EXPECT_FALSE(ev->spec["involvedObject"].contains("namespace"));
}

TEST_F(EventRecorderTest, NewRecorderKeepsAggregating) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  {
    EventRecorder before(store_.get(), &clock_);
    ASSERT_TRUE(before.Record(*web, EventSeverity::kNormal, "Started", "up").ok());
    ASSERT_TRUE(before.Record(*web, EventSeverity::kNormal, "Started", "up").ok());
  }
  clock_.Advance(std::chrono::minutes(1));
  EventRecorder after(store_.get(), &clock_);  // a restarted process: empty cache
  ASSERT_TRUE(after.Record(*web, EventSeverity::kNormal, "Started", "up").ok());

  ObjectPtr ev = OnlyEvent("team-a");
  EXPECT_EQ(ev->spec["count"], 3);
  EXPECT_EQ(ev->spec["firstTimestamp"], kStart);
  EXPECT_EQ(ev->spec["lastTimestamp"], "2026-11-23T22:01:00Z");
}

TEST_F(EventRecorderTest, StaleCacheIsReadAgainAfterAnotherWriter) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder a(store_.get(), &clock_);
  EventRecorder b(store_.get(), &clock_);

  ASSERT_TRUE(a.Record(*web, EventSeverity::kNormal, "Synced", "ok").ok());
  ASSERT_TRUE(b.Record(*web, EventSeverity::kNormal, "Synced", "ok").ok());
  // a's cached copy is stale now: its update conflicts, it re-reads and retries.
  ASSERT_TRUE(a.Record(*web, EventSeverity::kNormal, "Synced", "ok").ok());

  EXPECT_EQ(OnlyEvent("team-a")->spec["count"], 3);
}

TEST_F(EventRecorderTest, CreateRaceFallsBackToUpdate) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  HookedStore hooked(store_.get());
  EventRecorder a(store_.get(), &clock_);
  EventRecorder b(&hooked, &clock_);
  // b reads NotFound; a creates the Event before b's Create.
  hooked.after_get = [&] {
    EXPECT_TRUE(a.Record(*web, EventSeverity::kNormal, "Synced", "ok").ok());
  };

  ASSERT_TRUE(b.Record(*web, EventSeverity::kNormal, "Synced", "ok").ok());

  EXPECT_EQ(OnlyEvent("team-a")->spec["count"], 2);
}

TEST_F(EventRecorderTest, RateLimitDropsBeyondBurstAndRefills) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  ObjectPtr api = Stored(testing::Session("team-a", "api"));
  EventRecorder rec(store_.get(), &clock_);  // 25 at once, then one per 5 minutes

  for (int i = 0; i < 25; ++i) {
    ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Tick", "tick").ok()) << i;
  }
  Status over = rec.Record(*web, EventSeverity::kNormal, "Tick", "tick");
  EXPECT_EQ(over.code(), Code::kUnavailable) << over.ToString();
  EXPECT_EQ(rec.dropped(), 1u);
  // Another object has its own bucket.
  EXPECT_TRUE(rec.Record(*api, EventSeverity::kNormal, "Tick", "tick").ok());

  clock_.Advance(std::chrono::minutes(4));
  EXPECT_EQ(rec.Record(*web, EventSeverity::kNormal, "Tick", "tick").code(), Code::kUnavailable);
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Tick", "tick").ok());
  EXPECT_EQ(rec.Record(*web, EventSeverity::kNormal, "Tick", "tick").code(), Code::kUnavailable);
  EXPECT_EQ(rec.dropped(), 3u);

  for (const auto& e : Events("team-a")) {
    const int want = e->spec["involvedObject"]["name"] == "web" ? 26 : 1;
    EXPECT_EQ(e->spec["count"], want) << e->metadata.name;
  }
}

TEST_F(EventRecorderTest, LongReasonAndMessageAreTruncated) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder rec(store_.get(), &clock_);
  std::string message = "x";
  for (int i = 0; i < 3000; ++i) message += "\xC3\xA9";  // é: a cut must not split it

  ASSERT_TRUE(rec.Record(*web, EventSeverity::kWarning, std::string(300, 'R'), message).ok());

  ObjectPtr ev = OnlyEvent("team-a");
  EXPECT_EQ(ev->spec["reason"], std::string(128, 'R'));
  const std::string got = ev->spec["message"];
  EXPECT_EQ(got.size(), 4095u);  // "x" + 2047 whole characters
  EXPECT_EQ(got, message.substr(0, 4095));
}

TEST_F(EventRecorderTest, InvalidUtf8IsReplaced) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder rec(store_.get(), &clock_);

  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "Bad", "a\xFF" "b\xE2\x82").ok());

  EXPECT_EQ(OnlyEvent("team-a")->spec["message"], "a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_F(EventRecorderTest, EmptyReasonIsRejected) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder rec(store_.get(), &clock_);

  EXPECT_EQ(rec.Record(*web, EventSeverity::kNormal, "", "no reason").code(), Code::kInvalid);
  Object nameless = testing::Session("team-a", "");
  EXPECT_EQ(rec.Record(nameless, EventSeverity::kNormal, "Why", "").code(), Code::kInvalid);

  EXPECT_TRUE(Events("team-a").empty());
  EXPECT_EQ(rec.dropped(), 0u);
}

TEST_F(EventRecorderTest, LongObjectNameGivesValidEventName) {
  std::string name = std::string(200, 'a') + "." + std::string(52, 'b');  // 253 characters
  Object big = testing::Session("team-a", name);
  EventRecorder rec(store_.get(), &clock_);

  Status s = rec.Record(big, EventSeverity::kNormal, "Big", "name");
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(rec.Record(big, EventSeverity::kNormal, "Big", "name").ok());

  ObjectPtr ev = OnlyEvent("team-a");
  EXPECT_LE(ev->metadata.name.size(), 253u);
  EXPECT_EQ(CheckDns1123Subdomain(ev->metadata.name), "");
  EXPECT_TRUE(ev->metadata.name.starts_with(std::string(200, 'a') + ".bbb"));
  EXPECT_EQ(ev->spec["involvedObject"]["name"], name);
  EXPECT_EQ(ev->spec["count"], 2);
}

TEST_F(EventRecorderTest, EvictedFromCacheStillAggregates) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder::Options opts;
  opts.cache_size = 1;
  EventRecorder rec(store_.get(), &clock_, opts);

  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "A", "first").ok());
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "B", "evicts A").ok());
  ASSERT_TRUE(rec.Record(*web, EventSeverity::kNormal, "A", "first").ok());

  auto events = Events("team-a");
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    EXPECT_EQ(e->spec["count"], e->spec["reason"] == "A" ? 2 : 1) << e->metadata.name;
  }
}

TEST_F(EventRecorderTest, ConcurrentRepeatsCountExactly) {
  ObjectPtr web = Stored(testing::Session("team-a", "web"));
  EventRecorder rec(store_.get(), &clock_, Generous());
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;

  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!rec.Record(*web, EventSeverity::kNormal, "Busy", "same").ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(OnlyEvent("team-a")->spec["count"], kThreads * kPerThread);
}

}  // namespace
}  // namespace visi
