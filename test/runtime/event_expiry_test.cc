// Events are deleted once their last occurrence is older than the TTL; a
// repeat moves the deadline. Fake clock: nothing sleeps for an hour.
#include "controller/runtime/event_expiry.h"

#include <gtest/gtest.h>

#include "controller/api/scheme.h"
#include "controller/runtime/event_recorder.h"
#include "controller/store/memory/memory_store.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

TEST(EventExpiryTest, EventsOlderThanTheTtlAreDeletedAndRepeatsMoveTheDeadline) {
  FakeClock clock(*ParseRfc3339("2026-11-24T00:00:00Z"));
  auto store = NewMemoryStore(Scheme::Builtin(), &clock);
  ManagerOptions mo;
  mo.clock = &clock;
  mo.leader_election = false;
  Manager manager(store.get(), mo);
  EventExpiry expiry(&manager, std::chrono::hours(1));
  ObjectPtr session = *store->Create(Session("alice", "nb"));
  EventRecorder::Options ro;
  ro.burst = 1000;
  EventRecorder events(store.get(), &clock, ro);
  ASSERT_TRUE(events.Record(*session, EventSeverity::kNormal, "Old", "first").ok());
  ASSERT_TRUE(events.Record(*session, EventSeverity::kNormal, "Repeated", "again").ok());
  manager.Start();
  auto count = [&] {
    auto l = store->List(ListOptions{.kind = "Event", .namespace_ = "alice"});
    return l.ok() ? l->items.size() : size_t{999};
  };
  ASSERT_EQ(count(), 2u);
  clock.Advance(std::chrono::minutes(40));
  ASSERT_TRUE(events.Record(*session, EventSeverity::kNormal, "Repeated", "again").ok());  // lastTimestamp moves
  clock.Advance(std::chrono::minutes(25));  // 65 min after the first, 25 after the repeat
  ASSERT_TRUE(Eventually([&] { return count() == 1u; }));
  auto left = store->List(ListOptions{.kind = "Event", .namespace_ = "alice"});
  EXPECT_EQ((*left).items.front()->spec["reason"], "Repeated");
  EXPECT_EQ(expiry.expired(), 1u);
  clock.Advance(std::chrono::minutes(40));
  ASSERT_TRUE(Eventually([&] { return count() == 0u; }));
  manager.Stop();
}

}  // namespace
}  // namespace visi::testing
