#include "controller/runtime/event_recorder.h"

#include "controller/base/fnv.h"
#include "controller/base/utf8.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <string_view>

namespace visi {
namespace {

constexpr char kEventKind[] = "Event";
constexpr char kClusterEventNamespace[] = "default";
// Object name prefix + "." + 16 hex digits stays a 253-character subdomain.
constexpr size_t kHashSuffixBytes = 17;
constexpr size_t kMaxNameBytes = 253;
// Conflicts tolerated per Record: each means another writer bumped the Event.
constexpr int kMaxWriteAttempts = 5;
constexpr int64_t kMaxCount = std::numeric_limits<int32_t>::max();  // format: int32

// The fields that make two events "the same" (client-go's getEventKey, with
// the involved object's uid so a re-created object starts afresh).
Json Identity(const Json& spec) {
  const Json& io = spec.value("involvedObject", Json::object());
  const Json& source = spec.value("source", Json::object());
  return Json::array({io.value("uid", ""), io.value("kind", ""), io.value("namespace", ""),
                      io.value("name", ""), spec.value("type", ""), spec.value("reason", ""),
                      spec.value("message", ""), source.value("component", ""),
                      source.value("host", "")});
}

// A DNS-1123 subdomain prefix made of `object_name` (already one, normally),
// short enough to take the hash suffix. Empty when nothing usable remains.
std::string NamePrefix(std::string_view object_name) {
  std::string out;
  std::string label;
  const auto flush_label = [&] {
    while (!label.empty() && label.back() == '-') label.pop_back();
    if (!label.empty()) out += (out.empty() ? "" : ".") + label;
    label.clear();
  };
  for (char c : object_name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (c == '.') {
      flush_label();
    } else if (alnum || !label.empty()) {
      label += alnum ? c : '-';  // a label starts with an alphanumeric
    }
  }
  flush_label();
  out.resize(std::min(out.size(), kMaxNameBytes - kHashSuffixBytes));
  while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
  return out;
}

std::string EventName(std::string_view object_name, const Json& spec) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(
                    Fnv1a64(Identity(spec).dump(-1, ' ', false, Json::error_handler_t::replace))));
  std::string prefix = NamePrefix(object_name);
  return prefix.empty() ? std::string(hex) : prefix + "." + hex;
}

// The Event `fresh` after one more occurrence at `now`, from its stored
// state `prev`.
Object Bumped(const Object& prev, const Object& fresh, const std::string& now) {
  Object next = prev;  // never mutate what the store handed out
  if (Identity(prev.spec) != Identity(fresh.spec)) {
    // Another event under this name: a hash collision, or someone else's
    // object. The newest event wins the name.
    next.spec = fresh.spec;
    next.spec["count"] = 1;
    next.spec["firstTimestamp"] = now;
    next.spec["lastTimestamp"] = now;
    return next;
  }
  const Json& count = prev.spec.value("count", Json(1));
  const int64_t n = count.is_number_integer() ? count.get<int64_t>() : 1;
  next.spec["count"] = std::min(std::max<int64_t>(n, 1) + 1, kMaxCount);
  next.spec["lastTimestamp"] = now;
  if (!next.spec.contains("firstTimestamp")) next.spec["firstTimestamp"] = now;
  next.spec["involvedObject"] = fresh.spec["involvedObject"];  // the newest resourceVersion
  return next;
}

}  // namespace

const char* EventSeverityName(EventSeverity s) {
  return s == EventSeverity::kWarning ? "Warning" : "Normal";
}

EventRecorder::EventRecorder(Store* store, const Clock* clock, Options opts)
    : store_(store),
      clock_(clock),
      opts_(std::move(opts)),
      entries_(std::max<size_t>(opts_.cache_size, 1)),
      buckets_(std::max<size_t>(opts_.cache_size, 1)) {}

Status EventRecorder::Record(const Object& about, EventSeverity type, const std::string& reason,
                             const std::string& message) {
  if (reason.empty()) {
    return InvalidError("an event needs a reason", {{"spec.reason", "must not be empty"}});
  }
  if (about.kind.empty() || about.metadata.name.empty()) {
    return InvalidError("an event needs the kind and name of the object it is about",
                        {{"spec.involvedObject", "kind and name must not be empty"}});
  }
  const ObjectMeta& m = about.metadata;
  Json involved = {{"kind", about.kind}, {"name", m.name}};
  if (!about.api_version.empty()) involved["apiVersion"] = about.api_version;
  if (!m.namespace_.empty()) involved["namespace"] = m.namespace_;
  if (!m.uid.empty()) involved["uid"] = m.uid;
  if (m.resource_version) involved["resourceVersion"] = std::to_string(m.resource_version);

  Object fresh;
  fresh.kind = kEventKind;
  fresh.metadata.namespace_ = m.namespace_.empty() ? kClusterEventNamespace : m.namespace_;
  fresh.spec = {{"involvedObject", std::move(involved)},
                {"reason", CleanUtf8(reason, kMaxEventReasonBytes)},
                {"message", CleanUtf8(message, kMaxEventMessageBytes)},
                {"type", EventSeverityName(type)},
                {"source", {{"component", opts_.component}}}};
  if (!opts_.host.empty()) fresh.spec["source"]["host"] = opts_.host;
  fresh.metadata.name = EventName(m.name, fresh.spec);

  // The spam filter counts repeats too: a hot loop must not write forever.
  const std::string limit_key =
      m.uid.empty() ? about.kind + "/" + m.namespace_ + "/" + m.name : m.uid;
  if (!Admit(limit_key)) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return UnavailableError("event rate limit exceeded for " + about.kind + " \"" + m.name +
                            "\": dropped " + fresh.spec["reason"].get<std::string>());
  }
  std::shared_ptr<Entry> entry = EntryFor(fresh.metadata.namespace_ + "/" + fresh.metadata.name);
  std::lock_guard lock(entry->mu);
  return Write(*entry, fresh);
}

bool EventRecorder::Admit(const std::string& key) {
  const TimePoint now = clock_->Now();
  const auto refill = std::max(opts_.refill, std::chrono::seconds(1));
  const int64_t burst = std::max(opts_.burst, 1);
  std::lock_guard lock(mu_);
  Bucket* b = buckets_.Find(key);
  if (!b) {
    b = &buckets_.Insert(key, Bucket{burst, now});
  } else if (now < b->refilled) {
    b->refilled = now;  // the clock went back: count from here
  } else if (const int64_t n = (now - b->refilled) / refill; n > 0) {
    if (b->tokens + n >= burst) {
      b->tokens = burst;
      b->refilled = now;
    } else {
      b->tokens += n;
      b->refilled += n * refill;  // keep the part of a token already earned
    }
  }
  if (b->tokens < 1) return false;
  if (b->tokens == burst) b->refilled = now;  // a full bucket earned nothing while full
  b->tokens -= 1;
  return true;
}

std::shared_ptr<EventRecorder::Entry> EventRecorder::EntryFor(const std::string& key) {
  std::lock_guard lock(mu_);
  if (std::shared_ptr<Entry>* e = entries_.Find(key)) return *e;
  // An evicted entry still in use is written once more, then forgotten; a
  // writer holding a fresh one for the same Event meets a Conflict and re-reads.
  return entries_.Insert(key, std::make_shared<Entry>());
}

Status EventRecorder::Write(Entry& e, const Object& fresh) {
  // Read the clock under e.mu so lastTimestamp never goes back.
  const std::string now = FormatRfc3339(clock_->Now());
  Status last_error;
  for (int attempt = 0; attempt < kMaxWriteAttempts; ++attempt) {
    if (!e.last) {
      StatusOr<ObjectPtr> got = store_->Get(kEventKind, fresh.metadata.namespace_, fresh.metadata.name);
      if (!got.ok() && got.status().code() != Code::kNotFound) return got.status();
      if (!got.ok()) {
        Object created = fresh;
        created.spec["count"] = 1;
        created.spec["firstTimestamp"] = now;
        created.spec["lastTimestamp"] = now;
        StatusOr<ObjectPtr> r = store_->Create(std::move(created));
        if (r.ok()) {
          e.last = *r;
          return OkStatus();
        }
        if (r.status().code() != Code::kAlreadyExists) return r.status();
        last_error = r.status();  // another writer created it first: read it and bump
        continue;
      }
      e.last = *got;
    }
    // Update carries the resourceVersion read: a concurrent bump is a Conflict.
    StatusOr<ObjectPtr> r = store_->Update(Bumped(*e.last, fresh, now));
    if (r.ok()) {
      e.last = *r;
      return OkStatus();
    }
    e.last = nullptr;
    // Conflict: someone else bumped it. NotFound: it was deleted. Re-read.
    if (r.status().code() != Code::kConflict && r.status().code() != Code::kNotFound) {
      return r.status();
    }
    last_error = r.status();
  }
  return ConflictError("event " + fresh.metadata.namespace_ + "/" + fresh.metadata.name +
                       " kept changing under " + std::to_string(kMaxWriteAttempts) +
                       " attempts: " + last_error.message());
}

}  // namespace visi
