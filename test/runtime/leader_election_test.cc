#include "controller/runtime/leader_election.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "controller/api/scheme.h"
#include "controller/runtime/manager.h"
#include "controller/store/memory/memory_store.h"
#include "test/fakes/objects.h"
#include "test/runtime/runtime_test_util.h"

namespace visi::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Leadership intervals on the fake clock, per candidate.
struct Timeline {
  std::mutex mu;
  struct Term {
    std::string who;
    TimePoint start, end = TimePoint::max();
  };
  std::vector<Term> terms;
  void Started(const std::string& who, TimePoint t) {
    std::lock_guard lock(mu);
    terms.push_back({who, t});
  }
  void Ended(const std::string& who, TimePoint t) {
    std::lock_guard lock(mu);
    for (auto& term : terms) {
      if (term.who == who && term.end == TimePoint::max()) term.end = t;
    }
  }
  int Leaders() {
    std::lock_guard lock(mu);
    int n = 0;
    for (auto& term : terms) n += term.end == TimePoint::max();
    return n;
  }
  std::string Current() {
    std::lock_guard lock(mu);
    for (auto& term : terms) {
      if (term.end == TimePoint::max()) return term.who;
    }
    return "";
  }
  // No two terms overlap.
  bool Disjoint() {
    std::lock_guard lock(mu);
    for (size_t i = 0; i < terms.size(); ++i) {
      for (size_t j = i + 1; j < terms.size(); ++j) {
        if (terms[i].start < terms[j].end && terms[j].start < terms[i].end) return false;
      }
    }
    return true;
  }
};

class LeaderElectionTest : public ::testing::Test {
 protected:
  std::unique_ptr<LeaderElector> Candidate(const std::string& id) {
    LeaderElectionOptions o;
    o.identity = id;
    o.clock = &clock_;
    LeaderCallbacks cb;
    cb.on_started_leading = [this, id] { timeline_.Started(id, clock_.Now()); };
    cb.on_stopped_leading = [this, id] { timeline_.Ended(id, clock_.Now()); };
    return std::make_unique<LeaderElector>(store_.get(), o, cb);
  }
  // Moves the fake clock in small steps, giving the electors real time to
  // act on each, checking at every step that there is at most one leader.
  void Run(milliseconds total, const std::function<bool()>& until = nullptr) {
    for (auto t = milliseconds(0); t < total; t += milliseconds(100)) {
      clock_.Advance(milliseconds(100));
      std::this_thread::sleep_for(milliseconds(3));
      ASSERT_LE(timeline_.Leaders(), 1) << "two leaders at once";
      if (until && until()) return;
    }
  }

  FakeClock clock_;
  std::unique_ptr<Store> store_ = NewMemoryStore(Scheme::Builtin(), &clock_);
  Timeline timeline_;
};

TEST_F(LeaderElectionTest, ExactlyOneLeaderAndTakeoverWithinTheLeaseDuration) {
  auto a = Candidate("a"), b = Candidate("b");
  a->Start();
  b->Start();
  Run(seconds(5), [&] { return timeline_.Leaders() == 1; });
  ASSERT_EQ(timeline_.Leaders(), 1);
  Run(seconds(30));  // renewals keep the same leader
  ASSERT_EQ(timeline_.terms.size(), 1u);
  std::string first = timeline_.Current();
  auto& leader = first == "a" ? a : b;
  auto& other = first == "a" ? b : a;
  EXPECT_TRUE(leader->IsLeader());
  EXPECT_FALSE(other->IsLeader());

  // The leader dies without a word: its term ends now, and the other takes
  // over once the lease has gone unrenewed for its duration (15 s).
  TimePoint died = clock_.Now();
  leader->Abandon();
  timeline_.Ended(first, died);
  Run(seconds(25), [&] { return timeline_.Leaders() == 1; });
  ASSERT_EQ(timeline_.Leaders(), 1);
  EXPECT_NE(timeline_.Current(), first);
  TimePoint took_over = timeline_.terms.back().start;
  EXPECT_GE(took_over - died, seconds(13)) << "nobody takes a lease that may still be held";
  // A follower dates the last renewal by when it saw it (its own clock, up to
  // one retry period late) and checks once per retry period.
  EXPECT_LE(took_over - died, seconds(15) + 2 * seconds(2) + milliseconds(200))
      << "lease duration + two retry periods";
  EXPECT_TRUE(timeline_.Disjoint());
  auto lease = store_->Get("Lease", "visi-system", "visid-controllers");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)->spec["holderIdentity"], other->identity());
  EXPECT_EQ((*lease)->spec["leaseTransitions"], 1);
  other->Stop();
}

TEST_F(LeaderElectionTest, ACleanShutdownReleasesTheLeaseAtOnce) {
  auto a = Candidate("a");
  a->Start();
  Run(seconds(3), [&] { return timeline_.Leaders() == 1; });
  ASSERT_TRUE(a->IsLeader());
  auto b = Candidate("b");
  b->Start();
  Run(seconds(4));
  EXPECT_FALSE(b->IsLeader());
  TimePoint stopped = clock_.Now();
  a->Stop();
  EXPECT_FALSE(a->IsLeader());
  Run(seconds(5), [&] { return b->IsLeader(); });
  ASSERT_TRUE(b->IsLeader());
  EXPECT_LE(timeline_.terms.back().start - stopped, seconds(2) + milliseconds(200)) << "within one retry period";
  EXPECT_TRUE(timeline_.Disjoint());
  b->Stop();
}

TEST_F(LeaderElectionTest, ALeaderThatCannotRenewStepsDownBeforeTheLeaseRunsOut) {
  auto a = Candidate("a");
  a->Start();
  Run(seconds(3), [&] { return a->IsLeader(); });
  ASSERT_TRUE(a->IsLeader());
  // Someone else writes the lease (another visid that believes it expired):
  // a's renewals now conflict, and it must stop within renew_deadline.
  auto lease = **store_->Get("Lease", "visi-system", "visid-controllers");
  lease.spec["holderIdentity"] = "intruder";
  ASSERT_TRUE(store_->Update(lease).ok());
  TimePoint taken = clock_.Now();
  Run(seconds(20), [&] { return !a->IsLeader(); });
  EXPECT_FALSE(a->IsLeader());
  EXPECT_LE(timeline_.terms.back().end - taken, seconds(10) + seconds(2) + milliseconds(200));
  a->Stop();
}

TEST_F(LeaderElectionTest, OnlyTheLeadingManagerReconciles) {
  std::atomic<int> reconciled_a{0}, reconciled_b{0};
  auto make = [&](const std::string& id, std::atomic<int>* counter) {
    ManagerOptions mo;
    mo.clock = &clock_;
    mo.election.identity = id;
    auto m = std::make_unique<Manager>(store_.get(), mo);
    m->AddController({.name = "count-" + id}, "VisiSession", [counter](const std::string&) {
      ++*counter;
      return ReconcileResult::Done();
    });
    return m;
  };
  ASSERT_TRUE(store_->Create(Session("alice", "s1")).ok());
  auto a = make("a", &reconciled_a);
  a->Start();
  Run(seconds(3), [&] { return a->IsLeader(); });
  ASSERT_TRUE(a->IsLeader());
  auto b = make("b", &reconciled_b);
  b->Start();
  ASSERT_TRUE(Eventually([&] { return reconciled_a.load() >= 1; }));
  ASSERT_TRUE(store_->Create(Session("alice", "s2")).ok());
  ASSERT_TRUE(Eventually([&] { return reconciled_a.load() >= 2; }));
  Run(seconds(3));
  EXPECT_EQ(reconciled_b.load(), 0) << "a follower never reconciles";
  EXPECT_NE(a->RenderMetrics().find("visi_leader_is_leader 1"), std::string::npos);
  EXPECT_NE(b->RenderMetrics().find("visi_leader_is_leader 0"), std::string::npos);
  a->Stop();  // releases: b takes over and reconciles everything
  Run(seconds(5), [&] { return b->IsLeader(); });
  ASSERT_TRUE(b->IsLeader());
  ASSERT_TRUE(Eventually([&] { return reconciled_b.load() >= 2; }));
  b->Stop();
}

}  // namespace
}  // namespace visi::testing
