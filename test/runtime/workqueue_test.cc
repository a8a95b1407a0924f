#include "controller/runtime/workqueue.h"

#include <array>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "controller/base/prometheus.h"
#include "controller/runtime/rate_limiter.h"

namespace visi {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

// A bound on real-time waits for other threads; never a timing assertion.
constexpr auto kThreadWait = seconds(10);
// How long a check that something does NOT happen waits in real time.
constexpr auto kBrief = milliseconds(20);

// A queue whose rate limiter never delays, unless a test gives its own.
std::unique_ptr<WorkQueue> NewQueue(const Clock* clock, std::unique_ptr<RateLimiter> limiter = nullptr) {
  if (!limiter) limiter = NewItemExponentialRateLimiter(nanoseconds(0), nanoseconds(0));
  return std::make_unique<WorkQueue>("test", clock, std::move(limiter));
}

TEST(WorkQueueRateLimiterTest, ExponentialBackoffDoublesUntilCapAndForgetResets) {
  auto limiter = NewItemExponentialRateLimiter(milliseconds(5), seconds(1000));
  nanoseconds expected = milliseconds(5);
  for (int i = 0; i < 18; ++i) {  // 5 ms * 2^17 = 655.36 s, the last one under the cap
    EXPECT_EQ(limiter->When("a"), expected) << "failure " << i;
    expected *= 2;
  }
  EXPECT_EQ(limiter->When("a"), seconds(1000));
  EXPECT_EQ(limiter->When("a"), seconds(1000));
  EXPECT_EQ(limiter->NumRequeues("a"), 20);
  // Keys are independent.
  EXPECT_EQ(limiter->NumRequeues("b"), 0);
  EXPECT_EQ(limiter->When("b"), milliseconds(5));

  limiter->Forget("a");
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  EXPECT_EQ(limiter->When("a"), milliseconds(5));
  EXPECT_EQ(limiter->When("a"), milliseconds(10));
  EXPECT_EQ(limiter->NumRequeues("b"), 1);
}

TEST(WorkQueueRateLimiterTest, ExponentialBackoffSaturatesOnLongStreaks) {
  auto limiter = NewItemExponentialRateLimiter(milliseconds(5), seconds(1000));
  for (int i = 0; i < 2000; ++i) limiter->When("a");
  EXPECT_EQ(limiter->When("a"), seconds(1000));
}

TEST(WorkQueueRateLimiterTest, BucketAllowsBurstThenSpacesByQps) {
  FakeClock clock;
  auto limiter = NewBucketRateLimiter(&clock, 10, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter->When("k" + std::to_string(i)), nanoseconds(0));
  // Every further reservation waits one more 1/qps.
  EXPECT_EQ(limiter->When("x"), milliseconds(100));
  EXPECT_EQ(limiter->When("x"), milliseconds(200));
  EXPECT_EQ(limiter->When("y"), milliseconds(300));
  EXPECT_EQ(limiter->NumRequeues("x"), 0);  // the bucket does not track keys

  // 300 ms later the debt is paid; the next token is 100 ms away.
  clock.Advance(milliseconds(300));
  EXPECT_EQ(limiter->When("x"), milliseconds(100));
  // Refill is capped at the burst, however long the quiet.
  clock.Advance(seconds(60));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter->When("z"), nanoseconds(0));
  EXPECT_EQ(limiter->When("z"), milliseconds(100));
  // Half a token's time halves the wait.
  clock.Advance(milliseconds(50));
  EXPECT_EQ(limiter->When("z"), milliseconds(150));
}

TEST(WorkQueueRateLimiterTest, BucketWithoutRateNeverDelays) {
  FakeClock clock;
  auto limiter = NewBucketRateLimiter(&clock, 0, 1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limiter->When("a"), nanoseconds(0));
}

TEST(WorkQueueRateLimiterTest, DefaultControllerLimiterTakesTheLongerDelay) {
  FakeClock clock;
  auto limiter = NewDefaultControllerRateLimiter(&clock);
  // The burst of 100 covers 100 first failures: the per-key 5 ms wins.
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(limiter->When("key" + std::to_string(i)), milliseconds(5)) << i;
  }
  // The 101st failure overall waits for the bucket: 1/10 s.
  EXPECT_EQ(limiter->When("other"), milliseconds(100));
  // Once the bucket refills, the per-key back-off is longer for a key failing a lot.
  clock.Advance(seconds(20));
  for (int i = 0; i < 6; ++i) limiter->When("flaky");
  EXPECT_EQ(limiter->When("flaky"), milliseconds(320));
  EXPECT_EQ(limiter->NumRequeues("flaky"), 7);
  limiter->Forget("flaky");
  EXPECT_EQ(limiter->NumRequeues("flaky"), 0);
  EXPECT_EQ(limiter->When("flaky"), milliseconds(5));
}

TEST(WorkQueueTest, DeduplicatesWaitingKeysInFifoOrder) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->Add("c");
  q->Add("a");
  q->Add("c");
  q->Add("b");
  q->Add("a");
  EXPECT_EQ(q->Len(), 3u);
  EXPECT_EQ(q->Get(), "c");
  EXPECT_EQ(q->Get(), "a");
  EXPECT_EQ(q->Get(), "b");
  EXPECT_EQ(q->Len(), 0u);
  EXPECT_EQ(q->GetFor(milliseconds(0)), std::nullopt);
  EXPECT_EQ(q->GetStats().adds, 3u);
  EXPECT_EQ(q->GetStats().processing, 3u);
}

TEST(WorkQueueTest, ReAddWhileProcessingRunsOnceMoreAfterDone) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->Add("a");
  ASSERT_EQ(q->Get(), "a");
  q->Add("a");
  q->Add("a");
  q->Add("a");
  // Not handed out while it is held.
  EXPECT_EQ(q->Len(), 0u);
  EXPECT_EQ(q->GetFor(milliseconds(0)), std::nullopt);
  q->Done("a");
  EXPECT_EQ(q->Len(), 1u);
  ASSERT_EQ(q->Get(), "a");
  q->Done("a");
  // Exactly once more.
  EXPECT_EQ(q->Len(), 0u);
  EXPECT_EQ(q->GetFor(milliseconds(0)), std::nullopt);
  EXPECT_EQ(q->GetStats().adds, 2u);
}

TEST(WorkQueueTest, NeverTwoWorkersOnOneKey) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  constexpr int kKeys = 3;
  constexpr int kWorkers = 4;
  constexpr int kIterations = 3000;
  std::array<std::atomic<int>, kKeys> holders{};
  std::array<std::atomic<int>, kKeys> runs{};
  std::atomic<int> overlaps{0};
  auto process = [&](const std::string& key, bool re_add) {
    int k = std::stoi(key);
    if (holders[k].fetch_add(1) != 0) overlaps.fetch_add(1);
    runs[k].fetch_add(1);
    if (re_add) q->Add(key);  // while held: it must wait for Done
    std::this_thread::yield();
    holders[k].fetch_sub(1);
    q->Done(key);
  };

  // Each worker adds a few keys and takes whatever is ready, so adds, gets
  // and re-adds of held keys all interleave.
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < kIterations; ++i) {
        q->Add(std::to_string((i + w) % kKeys));
        if (auto key = q->GetFor(milliseconds(0))) process(*key, i % 2 == 0);
      }
    });
  }
  for (auto& t : workers) t.join();
  // What the workers left queued runs once more each.
  while (auto key = q->GetFor(milliseconds(0))) process(*key, false);

  EXPECT_EQ(overlaps.load(), 0);
  auto stats = q->GetStats();
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.processing, 0u);
  uint64_t total_runs = 0;
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_GE(runs[k].load(), 1) << k;
    total_runs += runs[k].load();
  }
  // Every add that was not deduplicated ran exactly once.
  EXPECT_EQ(total_runs, stats.adds);
  EXPECT_LE(total_runs, uint64_t{kWorkers * kIterations * 2});
}

TEST(WorkQueueTest, AddAfterBecomesReadyOnlyAfterAdvance) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->AddAfter("a", seconds(10));
  EXPECT_EQ(q->Len(), 0u);
  EXPECT_EQ(q->GetStats().delayed, 1u);
  EXPECT_EQ(q->GetFor(kBrief), std::nullopt);

  // A blocked Get wakes when the fake clock passes the deadline.
  auto got = std::async(std::launch::async, [&] { return q->Get(); });
  clock.Advance(seconds(9));
  EXPECT_EQ(got.wait_for(kBrief), std::future_status::timeout);
  clock.Advance(seconds(1));
  ASSERT_EQ(got.wait_for(kThreadWait), std::future_status::ready);
  EXPECT_EQ(got.get(), "a");
  EXPECT_EQ(q->GetStats().delayed, 0u);
}

TEST(WorkQueueTest, NonPositiveDelayIsAdd) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->AddAfter("a", nanoseconds(0));
  q->AddAfter("b", -seconds(1));
  EXPECT_EQ(q->Len(), 2u);
}

TEST(WorkQueueTest, EarliestAddAfterWins) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->AddAfter("a", seconds(10));
  q->AddAfter("a", seconds(2));
  q->AddAfter("a", seconds(5));
  EXPECT_EQ(q->GetStats().delayed, 1u);
  clock.Advance(seconds(2));
  EXPECT_EQ(q->Len(), 1u);
  ASSERT_EQ(q->Get(), "a");
  q->Done("a");
  // The later requests were folded into the earliest one.
  clock.Advance(seconds(10));
  EXPECT_EQ(q->Len(), 0u);
  EXPECT_EQ(q->GetStats().delayed, 0u);
}

TEST(WorkQueueTest, AddMakesADelayedKeyReadyNowWithoutDuplicate) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->AddAfter("b", seconds(10));
  q->Add("b");
  EXPECT_EQ(q->Len(), 1u);
  EXPECT_EQ(q->GetStats().delayed, 0u);
  ASSERT_EQ(q->Get(), "b");
  clock.Advance(seconds(10));
  EXPECT_EQ(q->GetFor(milliseconds(0)), std::nullopt);  // still held
  q->Done("b");
  EXPECT_EQ(q->GetFor(milliseconds(0)), std::nullopt);  // and no leftover run

  // A delayed add of a key already waiting to run does not add a second run.
  q->Add("c");
  q->AddAfter("c", seconds(1));
  EXPECT_EQ(q->Len(), 1u);
  ASSERT_EQ(q->Get(), "c");
  q->Done("c");
  clock.Advance(seconds(1));
  EXPECT_EQ(q->Len(), 0u);
}

TEST(WorkQueueTest, DelayedKeyDueWhileProcessingRunsAfterDone) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->Add("a");
  ASSERT_EQ(q->Get(), "a");
  q->AddAfter("a", seconds(1));
  clock.Advance(seconds(1));
  EXPECT_EQ(q->GetFor(milliseconds(0)), std::nullopt);
  q->Done("a");
  EXPECT_EQ(q->GetFor(milliseconds(0)), "a");
}

TEST(WorkQueueTest, AddRateLimitedBacksOffPerKey) {
  FakeClock clock;
  auto q = NewQueue(&clock, NewItemExponentialRateLimiter(milliseconds(5), seconds(1000)));
  q->AddRateLimited("a");
  EXPECT_EQ(q->NumRequeues("a"), 1);
  EXPECT_EQ(q->Len(), 0u);
  clock.Advance(milliseconds(5));
  ASSERT_EQ(q->Get(), "a");
  q->Done("a");
  q->AddRateLimited("a");
  clock.Advance(milliseconds(9));
  EXPECT_EQ(q->Len(), 0u);
  clock.Advance(milliseconds(1));
  ASSERT_EQ(q->Get(), "a");
  q->Forget("a");
  q->Done("a");
  EXPECT_EQ(q->NumRequeues("a"), 0);
  EXPECT_EQ(q->GetStats().retries, 2u);
}

TEST(WorkQueueTest, ShutDownHandsOutQueuedKeysThenNullopt) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->Add("a");
  q->Add("b");
  q->AddAfter("c", seconds(1));
  EXPECT_FALSE(q->ShuttingDown());
  q->ShutDown();
  EXPECT_TRUE(q->ShuttingDown());
  q->Add("d");  // refused
  q->AddRateLimited("e");
  EXPECT_EQ(q->Len(), 2u);
  EXPECT_EQ(q->Get(), "a");
  EXPECT_EQ(q->Get(), "b");
  EXPECT_EQ(q->Get(), std::nullopt);
  clock.Advance(seconds(1));  // the delayed key was dropped
  EXPECT_EQ(q->Get(), std::nullopt);
  EXPECT_EQ(q->GetStats().retries, 0u);
  q->Done("a");
  q->Done("b");
}

TEST(WorkQueueTest, ShutDownWakesBlockedGet) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  auto got = std::async(std::launch::async, [&] { return q->Get(); });
  EXPECT_EQ(got.wait_for(kBrief), std::future_status::timeout);
  q->ShutDown();
  ASSERT_EQ(got.wait_for(kThreadWait), std::future_status::ready);
  EXPECT_EQ(got.get(), std::nullopt);
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForDone) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->Add("a");
  ASSERT_EQ(q->Get(), "a");
  auto drained = std::async(std::launch::async, [&] { q->ShutDownWithDrain(); });
  EXPECT_EQ(drained.wait_for(kBrief), std::future_status::timeout);
  q->Done("a");
  EXPECT_EQ(drained.wait_for(kThreadWait), std::future_status::ready);
  EXPECT_TRUE(q->ShuttingDown());
  EXPECT_EQ(q->GetStats().processing, 0u);
}

TEST(WorkQueueTest, ShutDownWithDrainReturnsAtOnceWhenIdle) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  auto drained = std::async(std::launch::async, [&] { q->ShutDownWithDrain(); });
  EXPECT_EQ(drained.wait_for(kThreadWait), std::future_status::ready);
}

TEST(WorkQueueTest, GetForTimesOutThenSeesLaterAdds) {
  FakeClock clock;
  auto q = NewQueue(&clock);
  EXPECT_EQ(q->GetFor(kBrief), std::nullopt);
  // With a delayed key pending on a clock that does not move, still a timeout.
  q->AddAfter("later", seconds(1));
  EXPECT_EQ(q->GetFor(kBrief), std::nullopt);
  // A waiting GetFor takes a key added meanwhile.
  auto got = std::async(std::launch::async, [&] { return q->GetFor(kThreadWait); });
  q->Add("now");
  ASSERT_EQ(got.wait_for(kThreadWait), std::future_status::ready);
  EXPECT_EQ(got.get(), "now");
}

TEST(WorkQueueTest, DoneOfAKeyNotHeldAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  FakeClock clock;
  auto q = NewQueue(&clock);
  q->Add("a");
  EXPECT_DEATH(q->Done("a"), "not being processed");
}

TEST(WorkQueueTest, MetricsTextHasExpectedLines) {
  FakeClock clock;
  WorkQueue q("pods", &clock, NewItemExponentialRateLimiter(milliseconds(5), seconds(1000)));
  q.Add("a");
  q.Add("b");
  clock.Advance(seconds(2));
  ASSERT_EQ(q.Get(), "a");  // waited 2 s
  clock.Advance(seconds(3));
  ASSERT_EQ(q.Get(), "b");  // waited 5 s
  clock.Advance(seconds(1));
  q.AddRateLimited("c");

  WorkQueue::Stats stats = q.GetStats();
  EXPECT_EQ(stats.depth, 0u);
  EXPECT_EQ(stats.delayed, 1u);
  EXPECT_EQ(stats.processing, 2u);
  EXPECT_EQ(stats.adds, 2u);
  EXPECT_EQ(stats.retries, 1u);
  EXPECT_DOUBLE_EQ(stats.longest_running_seconds, 4);
  EXPECT_DOUBLE_EQ(stats.unfinished_work_seconds, 5);

  q.Done("a");  // worked 4 s
  std::string text = q.RenderMetrics();
  for (const char* line : {
           "# TYPE visi_workqueue_depth gauge\n",
           "visi_workqueue_depth{name=\"pods\"} 0\n",
           "# TYPE visi_workqueue_adds_total counter\n",
           "visi_workqueue_adds_total{name=\"pods\"} 2\n",
           "visi_workqueue_retries_total{name=\"pods\"} 1\n",
           "# TYPE visi_workqueue_queue_duration_seconds histogram\n",
           "visi_workqueue_queue_duration_seconds_bucket{name=\"pods\",le=\"1\"} 0\n",
           "visi_workqueue_queue_duration_seconds_bucket{name=\"pods\",le=\"10\"} 2\n",
           "visi_workqueue_queue_duration_seconds_bucket{name=\"pods\",le=\"+Inf\"} 2\n",
           "visi_workqueue_queue_duration_seconds_sum{name=\"pods\"} 7\n",
           "visi_workqueue_queue_duration_seconds_count{name=\"pods\"} 2\n",
           "visi_workqueue_work_duration_seconds_bucket{name=\"pods\",le=\"1e-08\"} 0\n",
           "visi_workqueue_work_duration_seconds_sum{name=\"pods\"} 4\n",
           "visi_workqueue_work_duration_seconds_count{name=\"pods\"} 1\n",
           "visi_workqueue_unfinished_work_seconds{name=\"pods\"} 1\n",
           "visi_workqueue_longest_running_processor_seconds{name=\"pods\"} 1\n",
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "in:\n" << text;
  }

  // The delayed key counts as an add once it is due.
  clock.Advance(milliseconds(5));
  EXPECT_NE(q.RenderMetrics().find("visi_workqueue_depth{name=\"pods\"} 1\n"), std::string::npos);
  EXPECT_EQ(q.GetStats().adds, 3u);
}

TEST(WorkQueueTest, MetricsEscapeTheQueueName) {
  FakeClock clock;
  WorkQueue q("a\"b\\c", &clock, NewItemExponentialRateLimiter(nanoseconds(0), nanoseconds(0)));
  EXPECT_NE(q.RenderMetrics().find("visi_workqueue_depth{name=\"a\\\"b\\\\c\"} 0\n"),
            std::string::npos);
}

TEST(WorkQueuePrometheusTest, HistogramRendersCumulativeBuckets) {
  PromHistogram h({0.1, 1, 2.5});
  h.Observe(0.05);
  h.Observe(0.1);  // an upper bound is inclusive
  h.Observe(0.5);
  h.Observe(7);
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.Render("x_seconds", "name=\"q\""),
            "x_seconds_bucket{name=\"q\",le=\"0.1\"} 2\n"
            "x_seconds_bucket{name=\"q\",le=\"1\"} 3\n"
            "x_seconds_bucket{name=\"q\",le=\"2.5\"} 3\n"
            "x_seconds_bucket{name=\"q\",le=\"+Inf\"} 4\n"
            "x_seconds_sum{name=\"q\"} 7.65\n"
            "x_seconds_count{name=\"q\"} 4\n");
  PromHistogram empty({1});
  EXPECT_EQ(empty.Render("y", ""),
            "y_bucket{le=\"1\"} 0\n"
            "y_bucket{le=\"+Inf\"} 0\n"
            "y_sum 0\n"
            "y_count 0\n");
}

TEST(WorkQueuePrometheusTest, EscapesLabelValuesAndFormatsValues) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(FormatPromValue(1e-8), "1e-08");
  EXPECT_EQ(FormatPromValue(0.005), "0.005");
  EXPECT_EQ(FormatPromValue(10), "10");
  EXPECT_EQ(FormatPromValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(PromHeader("m", "gauge", "Help."), "# HELP m Help.\n# TYPE m gauge\n");
}

}  // namespace
}  // namespace visi

namespace visi {
namespace {

// A key requeued-after while it is processed, whose delay is already over
// when Done is called, is handed out once, not twice (a regression: Done made
// it ready from the delayed set and then again because it was dirty).
TEST(WorkQueueTest, ADelayedCopyDueAtDoneIsHandedOutOnce) {
  FakeClock clock;
  WorkQueue q("test", &clock, NewItemExponentialRateLimiter(std::chrono::milliseconds(5), std::chrono::seconds(1)));
  q.Add("k");
  ASSERT_EQ(q.Get(), "k");
  q.AddAfter("k", std::chrono::seconds(1));
  clock.Advance(std::chrono::seconds(2));
  q.Done("k");
  ASSERT_EQ(q.GetFor(std::chrono::milliseconds(100)), "k");
  q.Done("k");
  EXPECT_EQ(q.GetFor(std::chrono::milliseconds(50)), std::nullopt) << "handed out twice";
  EXPECT_EQ(q.Len(), 0u);
}

}  // namespace
}  // namespace visi
