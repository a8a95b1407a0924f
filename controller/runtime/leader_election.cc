#include "controller/runtime/leader_election.h"

#include <cstdio>

namespace visi {
namespace {

// Microsecond RFC 3339, as Kubernetes' MicroTime.
std::string MicroTime(TimePoint t) {
  std::string s = FormatRfc3339(t);  // "...SSZ"
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%06lld", static_cast<long long>(us < 0 ? us + 1000000 : us));
  return s.substr(0, s.size() - 1) + frac + "Z";
}

void Log(const char* msg, const std::string& identity, const std::string& holder = "") {
  std::fprintf(stderr, "{\"level\":\"info\",\"msg\":%s,\"identity\":%s,\"holder\":%s}\n", Json(msg).dump().c_str(),
               Json(identity).dump().c_str(), Json(holder).dump().c_str());
}

}  // namespace

LeaderElector::LeaderElector(Store* store, LeaderElectionOptions opts, LeaderCallbacks callbacks)
    : store_(store), opts_(std::move(opts)), callbacks_(std::move(callbacks)) {}

LeaderElector::~LeaderElector() { Stop(); }

void LeaderElector::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void LeaderElector::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LeaderElector::Abandon() {
  abandon_ = true;
  Stop();
}

void LeaderElector::SleepUntil(TimePoint t) {
  std::unique_lock lock(mu_);
  while (!stop_ && opts_.clock->Now() < t) opts_.clock->WaitUntil(lock, cv_, t);
}

bool LeaderElector::TryAcquireOrRenew() {
  const Clock& clock = *opts_.clock;
  TimePoint now = clock.Now();
  auto cur = store_->Get("Lease", opts_.namespace_, opts_.name);
  Json spec = {{"holderIdentity", opts_.identity},
               {"leaseDurationSeconds", std::max<int64_t>(1, (opts_.lease_duration.count() + 999) / 1000)},
               {"acquireTime", MicroTime(now)},
               {"renewTime", MicroTime(now)},
               {"leaseTransitions", 0}};
  if (!cur.ok()) {
    if (cur.status().code() != Code::kNotFound) return false;
    Object lease;
    lease.kind = "Lease";
    lease.metadata.namespace_ = opts_.namespace_;
    lease.metadata.name = opts_.name;
    lease.spec = spec;
    auto created = store_->Create(std::move(lease));
    if (!created.ok()) return false;
    observed_record_ = (*created)->spec.dump();
    observed_holder_ = opts_.identity;
    observed_time_ = now;
    return true;
  }
  const Json& old = (*cur)->spec;
  std::string record = old.dump();
  std::string holder = old.value("holderIdentity", "");
  if (record != observed_record_) {  // the record moved: whoever holds it is alive
    observed_record_ = record;
    observed_time_ = now;
    if (holder != observed_holder_) {
      observed_holder_ = holder;
      if (callbacks_.on_new_leader && !holder.empty()) callbacks_.on_new_leader(holder);
    }
  }
  bool mine = holder == opts_.identity;
  if (!holder.empty() && !mine && now < observed_time_ + opts_.lease_duration) return false;
  int64_t transitions = old.value("leaseTransitions", int64_t{0});
  if (mine) {
    spec["acquireTime"] = old.value("acquireTime", MicroTime(now));
  } else {
    ++transitions;
  }
  spec["leaseTransitions"] = transitions;
  Object next = **cur;
  next.spec = spec;
  auto written = store_->Update(std::move(next));  // conditioned on the resourceVersion read
  if (!written.ok()) return false;
  observed_record_ = (*written)->spec.dump();
  observed_holder_ = opts_.identity;
  observed_time_ = now;
  if (!mine) transitions_++;
  return true;
}

void LeaderElector::Release() {
  auto cur = store_->Get("Lease", opts_.namespace_, opts_.name);
  if (!cur.ok() || (*cur)->spec.value("holderIdentity", "") != opts_.identity) return;
  Object next = **cur;
  next.spec["holderIdentity"] = "";
  next.spec["leaseDurationSeconds"] = 1;
  next.spec["renewTime"] = MicroTime(opts_.clock->Now());
  (void)store_->Update(std::move(next));
}

void LeaderElector::Run() {
  const Clock& clock = *opts_.clock;
  while (!stop_) {
    // Candidate: try every retry period until the lease is ours.
    if (!TryAcquireOrRenew()) {
      SleepUntil(clock.Now() + opts_.retry_period);
      continue;
    }
    last_renew_ = clock.Now();
    leader_ = true;
    Log("became leader", opts_.identity);
    if (callbacks_.on_started_leading) callbacks_.on_started_leading();
    // Leader: renew every retry period; give up when renewals have failed
    // for renew_deadline, before anyone may take the lease over.
    while (!stop_) {
      SleepUntil(clock.Now() + opts_.retry_period);
      if (stop_) break;
      if (TryAcquireOrRenew()) {
        last_renew_ = clock.Now();
      } else if (clock.Now() - last_renew_ >= opts_.renew_deadline) {
        break;
      }
    }
    if (abandon_) {  // a killed process neither stops its work nor releases
      leader_ = false;
      return;
    }
    Log(stop_ ? "stepping down" : "lost the lease", opts_.identity);
    if (callbacks_.on_stopped_leading) callbacks_.on_stopped_leading();
    leader_ = false;
    if (stop_) Release();
  }
}

}  // namespace visi
