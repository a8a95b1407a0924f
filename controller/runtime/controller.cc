#include "controller/runtime/controller.h"

#include <cstdio>

#include "controller/base/prometheus.h"
#include "controller/runtime/conditions.h"
#include "controller/runtime/event_recorder.h"
#include "controller/runtime/ownership.h"
#include "controller/runtime/rate_limiter.h"
#include "controller/runtime/workqueue.h"

namespace visi {
namespace {

const std::vector<double> kDurationBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,    10,   30};

}  // namespace

Controller::Controller(ControllerOptions opts, Store* store, Informer* primary, ReconcileFn reconcile,
                       EventRecorder* events)
    : opts_(std::move(opts)),
      store_(store),
      primary_(primary),
      reconcile_(std::move(reconcile)),
      events_(events),
      duration_(std::make_unique<PromHistogram>(kDurationBuckets)) {
  ResourceHandlers h;
  h.on_add = [this](const ObjectPtr& o) { Enqueue(ObjectKeyOf(*o)); };
  h.on_update = [this](const ObjectPtr&, const ObjectPtr& o) { Enqueue(ObjectKeyOf(*o)); };
  h.on_delete = [this](const ObjectPtr& o) { Enqueue(ObjectKeyOf(*o)); };
  primary_->AddHandlers(std::move(h));
}

Controller::~Controller() { Stop(); }

void Controller::Owns(Informer* owned) {
  const std::string kind = primary_->kind();
  auto enqueue_owner = [this, kind](const ObjectPtr& o) {
    const OwnerReference* c = ControllerOf(*o);
    if (!c || c->kind != kind) return;
    // An owner of a namespaced object lives in its namespace (or is cluster-scoped).
    ObjectPtr owner = primary_->Get(o->metadata.namespace_, c->name);
    if (!owner) owner = primary_->Get("", c->name);
    Enqueue(owner ? ObjectKeyOf(*owner)
                  : (o->metadata.namespace_.empty() ? c->name : o->metadata.namespace_ + "/" + c->name));
  };
  ResourceHandlers h;
  h.on_add = enqueue_owner;
  h.on_update = [enqueue_owner](const ObjectPtr& old_obj, const ObjectPtr& o) {
    enqueue_owner(o);
    // A change of owner tells the old owner too.
    const OwnerReference* was = ControllerOf(*old_obj);
    const OwnerReference* now = ControllerOf(*o);
    if (was && (!now || was->uid != now->uid)) enqueue_owner(old_obj);
  };
  h.on_delete = enqueue_owner;
  owned->AddHandlers(std::move(h));
}

void Controller::Watches(Informer* other, std::function<std::vector<std::string>(const ObjectPtr&)> map) {
  auto enqueue = [this, map](const ObjectPtr& o) {
    for (const auto& key : map(o)) Enqueue(key);
  };
  ResourceHandlers h;
  h.on_add = enqueue;
  // Both versions: an object that stops naming a key (a session leaving
  // its machine) brings that key back too.
  h.on_update = [enqueue](const ObjectPtr& was, const ObjectPtr& o) {
    enqueue(was);
    enqueue(o);
  };
  h.on_delete = enqueue;
  other->AddHandlers(std::move(h));
  std::lock_guard lock(mu_);
  watched_.emplace_back(other, std::move(map));
}

std::shared_ptr<WorkQueue> Controller::Queue() const {
  std::lock_guard lock(mu_);
  return queue_;
}

void Controller::Enqueue(const std::string& key) {
  if (auto q = Queue()) q->Add(key);
}

void Controller::Start() {
  std::lock_guard lock(mu_);
  if (running_) return;
  queue_ = std::make_shared<WorkQueue>(opts_.name, opts_.clock, NewDefaultControllerRateLimiter(opts_.clock));
  for (const auto& o : primary_->List()) queue_->Add(ObjectKeyOf(*o));
  // What the watched caches hold maps to keys too: their adds may have come
  // before this queue existed (a key whose primary object is gone included).
  for (const auto& [informer, map] : watched_) {
    for (const auto& o : informer->List()) {
      for (const auto& key : map(o)) queue_->Add(key);
    }
  }
  running_ = true;
  for (int i = 0; i < std::max(1, opts_.workers); ++i) {
    workers_.emplace_back([this, q = queue_] { Work(q); });
  }
}

void Controller::Stop() {
  std::shared_ptr<WorkQueue> q;
  std::vector<std::thread> workers;
  {
    std::lock_guard lock(mu_);
    if (!running_) return;
    running_ = false;
    q = std::move(queue_);
    workers = std::move(workers_);
  }
  q->ShutDown();
  for (auto& t : workers) t.join();
}

ReconcileResult Controller::RunOne(const std::string& key) {
  try {
    return reconcile_(key);
  } catch (const std::exception& e) {
    exceptions_++;
    return ReconcileResult::Error(InternalError(std::string("reconciler threw: ") + e.what()));
  } catch (...) {
    exceptions_++;
    return ReconcileResult::Error(InternalError("reconciler threw a non-standard exception"));
  }
}

void Controller::Work(std::shared_ptr<WorkQueue> q) {
  while (auto key = q->Get()) {
    active_++;
    auto start = opts_.clock->Now();
    ReconcileResult r = RunOne(*key);
    double seconds = std::chrono::duration<double>(opts_.clock->Now() - start).count();
    reconciles_++;
    switch (r.outcome) {
      case ReconcileResult::Outcome::kDone:
        q->Forget(*key);
        break;
      case ReconcileResult::Outcome::kRequeueAfter:
        q->Forget(*key);
        q->AddAfter(*key, r.after);
        break;
      case ReconcileResult::Outcome::kError:
        errors_++;
        // Two writers of one status (say, the session and route reconcilers)
        // meet a conflict now and then: normal, retried after a short
        // back-off; only a conflict that keeps coming back is worth a line.
        if (r.error.code() != Code::kConflict || q->NumRequeues(*key) >= 3) {
          std::fprintf(stderr,
                       "{\"level\":\"warn\",\"msg\":\"reconcile failed; retrying with backoff\",\"controller\":%s,"
                       "\"key\":%s,\"retries\":%d,\"error\":%s}\n",
                       Json(opts_.name).dump().c_str(), Json(*key).dump().c_str(), q->NumRequeues(*key),
                       Json(r.error.ToString()).dump().c_str());
        }
        q->AddRateLimited(*key);
        break;
      case ReconcileResult::Outcome::kTerminal:
        terminal_++;
        q->Forget(*key);
        break;
    }
    Report(*key, r);
    {
      std::lock_guard lock(mu_);
      duration_->Observe(seconds);
    }
    q->Done(*key);
    active_--;
  }
}

// A terminal error shows on the object as a False condition and a Warning
// event; the next success sets the condition True again. Best effort: the
// object may be gone, and a failed status write is not retried here.
void Controller::Report(const std::string& key, const ReconcileResult& r) {
  bool terminal = r.outcome == ReconcileResult::Outcome::kTerminal;
  bool success = r.outcome == ReconcileResult::Outcome::kDone ||
                 r.outcome == ReconcileResult::Outcome::kRequeueAfter;
  if (!terminal && !success) return;
  auto [ns, name] = SplitObjectKey(key);
  ObjectPtr cached = primary_->Get(ns, name);
  if (!cached) return;
  const Json* cond = FindCondition(cached->status, opts_.condition_type);
  if (success && (!cond || cond->value("status", "") == "True")) return;  // nothing to clear
  Condition c;
  c.type = opts_.condition_type;
  c.observed_generation = cached->metadata.generation;
  if (terminal) {
    c.status = "False";
    c.reason = "TerminalError";
    c.message = r.error.message();
    if (events_) (void)events_->Record(*cached, EventSeverity::kWarning, "ReconcileFailed", r.error.message());
  } else {
    c.status = "True";
    c.reason = "Succeeded";
  }
  (void)MutateWithRetry(
      store_, cached->kind, ns, name,
      [&](Object* o) { return SetCondition(&o->status, c, opts_.clock->Now()); }, /*status=*/true);
}

Controller::Stats Controller::GetStats() const {
  Stats s;
  s.reconciles = reconciles_;
  s.errors = errors_;
  s.terminal = terminal_;
  s.exceptions = exceptions_;
  s.active_workers = active_;
  if (auto q = Queue()) s.queue_depth = q->Len();
  return s;
}

std::string Controller::RenderMetrics() const {
  std::string label = "controller=\"" + EscapeLabelValue(opts_.name) + "\"";
  Stats s = GetStats();
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + "{" + label +
           "} " + std::to_string(v) + "\n";
  };
  counter("visi_controller_reconciles_total", "Reconciles run.", s.reconciles);
  counter("visi_controller_reconcile_errors_total", "Reconciles that failed and were retried.", s.errors);
  counter("visi_controller_reconcile_terminal_errors_total", "Reconciles that failed for good.", s.terminal);
  counter("visi_controller_reconcile_exceptions_total", "Reconciles that threw.", s.exceptions);
  out += "# HELP visi_controller_active_workers Workers in a reconcile.\n"
         "# TYPE visi_controller_active_workers gauge\nvisi_controller_active_workers{" +
         label + "} " + std::to_string(s.active_workers) + "\n";
  {
    std::lock_guard lock(mu_);
    out += "# HELP visi_controller_reconcile_duration_seconds Time per reconcile.\n"
           "# TYPE visi_controller_reconcile_duration_seconds histogram\n";
    out += duration_->Render("visi_controller_reconcile_duration_seconds", label);
  }
  if (auto q = Queue()) out += q->RenderMetrics();
  return out;
}

}  // namespace visi
