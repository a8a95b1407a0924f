#include "controller/runtime/workqueue.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace visi {
namespace {

// client-go's workqueue buckets: 10 ns to 10 s, by factors of ten.
std::vector<double> DurationBuckets() {
  return {1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
}

double Seconds(TimePoint from, TimePoint to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

}  // namespace

WorkQueue::WorkQueue(std::string name, const Clock* clock, std::unique_ptr<RateLimiter> limiter)
    : name_(std::move(name)),
      clock_(clock),
      limiter_(std::move(limiter)),
      queue_duration_(DurationBuckets()),
      work_duration_(DurationBuckets()) {}

void WorkQueue::Add(const std::string& key) {
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  TimePoint now = clock_->Now();
  PromoteLocked(now);
  MakeReadyLocked(key, now);
}

void WorkQueue::AddAfter(const std::string& key, std::chrono::nanoseconds delay) {
  if (delay <= std::chrono::nanoseconds(0)) return Add(key);
  std::lock_guard lock(mu_);
  if (shutting_down_) return;
  TimePoint now = clock_->Now();
  PromoteLocked(now);
  if (dirty_.contains(key)) return;  // it runs sooner than that anyway
  TimePoint at = delay >= TimePoint::max() - now
                     ? TimePoint::max()
                     : now + std::chrono::duration_cast<TimePoint::duration>(delay);
  auto it = delayed_.find(key);
  if (it != delayed_.end()) {
    if (it->second.first <= at) return;  // the earliest wins
    DropDelayedLocked(key);
  }
  std::pair<TimePoint, uint64_t> slot(at, delayed_seq_++);
  delayed_[key] = slot;
  delayed_by_time_[slot] = key;
  // Waiters sleep until the earliest deadline they saw; this one may be earlier.
  if (delayed_by_time_.begin()->first == slot) cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  // Outside mu_: the limiter has its own lock.
  std::chrono::nanoseconds delay = limiter_->When(key);
  {
    std::lock_guard lock(mu_);
    if (shutting_down_) return;
    ++retries_;
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return limiter_->NumRequeues(key); }

std::optional<std::string> WorkQueue::Get() { return GetUntil(std::nullopt); }

std::optional<std::string> WorkQueue::GetFor(std::chrono::milliseconds timeout) {
  return GetUntil(std::chrono::steady_clock::now() + timeout);
}

std::optional<std::string> WorkQueue::GetUntil(std::optional<SteadyTime> real_deadline) {
  std::unique_lock lock(mu_);
  while (true) {
    TimePoint now = clock_->Now();
    PromoteLocked(now);
    if (!ready_.empty()) return HandOutLocked(now);
    if (shutting_down_) return std::nullopt;
    SteadyTime real_now = std::chrono::steady_clock::now();
    if (real_deadline && real_now >= *real_deadline) return std::nullopt;
    if (delayed_by_time_.empty()) {
      // Nothing depends on the clock: only an Add, a Done or ShutDown helps.
      if (real_deadline) {
        cv_.wait_until(lock, *real_deadline);
      } else {
        cv_.wait(lock);
      }
      continue;
    }
    // Sleep on the injected clock until the earliest delayed key is due (a
    // FakeClock returns within a millisecond, so it notices Advance), but no
    // longer than the real time left.
    TimePoint wake = delayed_by_time_.begin()->first.first;
    if (real_deadline) {
      wake = std::min(wake, now + std::chrono::duration_cast<TimePoint::duration>(
                                      *real_deadline - real_now));
    }
    clock_->WaitUntil(lock, cv_, wake);
  }
}

void WorkQueue::Done(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = processing_.find(key);
  if (it == processing_.end()) {
    std::fprintf(stderr, "WorkQueue(%s)::Done(\"%s\"): the key is not being processed\n",
                 name_.c_str(), key.c_str());
    std::abort();
  }
  TimePoint now = clock_->Now();
  work_duration_.Observe(Seconds(it->second, now));
  processing_.erase(it);
  if (dirty_.contains(key)) {
    // Added while it was processed: it runs once more, now that nobody holds it.
    ready_.push_back(key);
    cv_.notify_one();
  }
  // After the check above: a delayed copy of this key that falls due now is
  // made ready here (once), not pushed a second time by the check.
  PromoteLocked(now);
  if (processing_.empty()) drained_cv_.notify_all();
}

void WorkQueue::ShutDown() {
  std::lock_guard lock(mu_);
  shutting_down_ = true;
  delayed_.clear();
  delayed_by_time_.clear();
  cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  std::unique_lock lock(mu_);
  drained_cv_.wait(lock, [this] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() const {
  std::lock_guard lock(mu_);
  return shutting_down_;
}

size_t WorkQueue::Len() const {
  std::lock_guard lock(mu_);
  PromoteLocked(clock_->Now());
  return ready_.size();
}

void WorkQueue::PromoteLocked(TimePoint now) const {
  while (!delayed_by_time_.empty() && delayed_by_time_.begin()->first.first <= now) {
    auto node = delayed_by_time_.extract(delayed_by_time_.begin());
    delayed_.erase(node.mapped());
    // It has been ready since its due time, not since someone looked.
    MakeReadyLocked(node.mapped(), node.key().first);
  }
}

void WorkQueue::MakeReadyLocked(const std::string& key, TimePoint ready_since) const {
  DropDelayedLocked(key);
  if (!dirty_.emplace(key, ready_since).second) return;  // already queued
  ++adds_;
  if (processing_.contains(key)) return;  // Done queues it
  ready_.push_back(key);
  cv_.notify_one();
}

void WorkQueue::DropDelayedLocked(const std::string& key) const {
  auto it = delayed_.find(key);
  if (it == delayed_.end()) return;
  delayed_by_time_.erase(it->second);
  delayed_.erase(it);
}

std::string WorkQueue::HandOutLocked(TimePoint now) {
  std::string key = std::move(ready_.front());
  ready_.pop_front();
  auto it = dirty_.find(key);
  queue_duration_.Observe(Seconds(it->second, now));
  dirty_.erase(it);
  processing_.emplace(key, now);
  return key;
}

WorkQueue::Stats WorkQueue::StatsLocked(TimePoint now) const {
  Stats stats{};
  stats.depth = ready_.size();
  stats.delayed = delayed_.size();
  stats.processing = processing_.size();
  stats.adds = adds_;
  stats.retries = retries_;
  for (const auto& [key, since] : processing_) {
    double running = Seconds(since, now);
    stats.unfinished_work_seconds += running;
    stats.longest_running_seconds = std::max(stats.longest_running_seconds, running);
  }
  return stats;
}

WorkQueue::Stats WorkQueue::GetStats() const {
  std::lock_guard lock(mu_);
  TimePoint now = clock_->Now();
  PromoteLocked(now);
  return StatsLocked(now);
}

std::string WorkQueue::RenderMetrics() const {
  std::string labels = "name=\"" + EscapeLabelValue(name_) + "\"";
  std::string braces = "{" + labels + "}";
  std::lock_guard lock(mu_);
  TimePoint now = clock_->Now();
  PromoteLocked(now);
  Stats stats = StatsLocked(now);
  std::string out;
  auto sample = [&](const char* name, const char* type, const char* help, const std::string& v) {
    out += PromHeader(name, type, help);
    out += std::string(name) + braces + " " + v + "\n";
  };
  sample("visi_workqueue_depth", "gauge", "Keys ready to be handed out.",
         std::to_string(stats.depth));
  sample("visi_workqueue_adds_total", "counter", "Keys queued to run (after deduplication).",
         std::to_string(stats.adds));
  sample("visi_workqueue_retries_total", "counter", "Rate-limited re-adds.",
         std::to_string(stats.retries));
  out += PromHeader("visi_workqueue_queue_duration_seconds", "histogram",
                    "Seconds a key waited, once ready, before a worker took it.");
  out += queue_duration_.Render("visi_workqueue_queue_duration_seconds", labels);
  out += PromHeader("visi_workqueue_work_duration_seconds", "histogram",
                    "Seconds from taking a key to Done.");
  out += work_duration_.Render("visi_workqueue_work_duration_seconds", labels);
  sample("visi_workqueue_unfinished_work_seconds", "gauge",
         "Seconds of work in progress not yet observed by work_duration; large values mean "
         "stuck workers.",
         FormatPromValue(stats.unfinished_work_seconds));
  sample("visi_workqueue_longest_running_processor_seconds", "gauge",
         "Seconds the longest-running worker has held its key.",
         FormatPromValue(stats.longest_running_seconds));
  return out;
}

}  // namespace visi
