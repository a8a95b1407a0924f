#include "controller/store/object_rules.h"

#include <algorithm>
#include <cstdio>

namespace visi {
namespace {

Status ConflictFor(const Scheme& scheme, const Object& cur, const std::string& why) {
  return ConflictError("Operation cannot be fulfilled on " +
                       DescribeObject(scheme, cur.kind, cur.metadata.name) + ": " + why);
}

constexpr char kStaleMessage[] =
    "the object has been modified; please apply your changes to the latest version and try again";

}  // namespace

std::string DescribeObject(const Scheme& scheme, std::string_view kind, std::string_view name) {
  const KindInfo* k = scheme.ByKind(kind);
  std::string resource = k ? k->plural + "." + k->group : std::string(kind);
  return resource + " \"" + std::string(name.substr(0, 253)) + "\"";
}

Status NotFoundFor(const Scheme& scheme, std::string_view kind, std::string_view name) {
  return NotFoundError(DescribeObject(scheme, kind, name) + " not found");
}

Status AlreadyExistsFor(const Scheme& scheme, std::string_view kind, std::string_view name) {
  return AlreadyExistsError(DescribeObject(scheme, kind, name) + " already exists");
}

Status StaleConflict(const Scheme& scheme, const Object& cur) {
  return ConflictFor(scheme, cur, kStaleMessage);
}

Preconditions PreconditionsOf(const ObjectMeta& m) {
  Preconditions pre;
  if (!m.uid.empty()) pre.uid = m.uid;
  if (m.resource_version != 0) pre.resource_version = m.resource_version;
  return pre;
}

Status CheckPreconditions(const Scheme& scheme, const Object& cur, const Preconditions& pre) {
  if (pre.uid && *pre.uid != cur.metadata.uid) {
    return ConflictFor(scheme, cur,
                       "Precondition failed: UID in precondition: " + *pre.uid +
                           ", UID in object meta: " + cur.metadata.uid);
  }
  if (pre.resource_version && *pre.resource_version != cur.metadata.resource_version) {
    return StaleConflict(scheme, cur);
  }
  return OkStatus();
}

Status CheckObjectSize(const Scheme& scheme, const Object& o, size_t text_bytes) {
  if (text_bytes <= kMaxObjectBytes) return OkStatus();
  return TooLargeError(DescribeObject(scheme, o.kind, o.metadata.name) + " is " +
                       std::to_string(text_bytes) + " bytes; the limit is " +
                       std::to_string(kMaxObjectBytes));
}

std::string NewUid(std::mt19937_64& rng) {
  uint64_t a = rng(), b = rng();
  a = (a & ~0xF000ULL) | 0x4000ULL;                         // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 1
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", unsigned(a >> 32),
                unsigned((a >> 16) & 0xFFFF), unsigned(a & 0xFFFF), unsigned(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

std::string GenerateName(const std::string& generate_name, std::mt19937_64& rng) {
  static constexpr char kChars[] = "bcdfghjklmnpqrstvwxz2456789";
  std::string name = generate_name;
  for (int i = 0; i < 5; ++i) name += kChars[rng() % (sizeof kChars - 1)];
  return name;
}

StatusOr<bool> PrepareCreate(const Scheme& scheme, const Clock& clock, Object* o) {
  const KindInfo* kind = scheme.ByKind(o->kind);
  bool generate = o->metadata.name.empty() && !o->metadata.generate_name.empty();
  if (generate) o->metadata.name = o->metadata.generate_name + "xxxxx";  // validated shape
  o->metadata.uid.clear();
  o->metadata.resource_version = 0;
  o->metadata.generation = 1;
  o->metadata.creation_timestamp = FormatRfc3339(clock.Now());
  o->metadata.deletion_timestamp.reset();
  if (kind && kind->has_status) o->status = nullptr;  // status is the controllers' to write
  VISI_RETURN_IF_ERROR(scheme.ValidateAndDefault(o));
  return generate;
}

Status PrepareUpdate(const Scheme& scheme, Object* o) {
  o->status = nullptr;  // status is written through UpdateStatus only
  return scheme.ValidateAndDefault(o);
}

StatusOr<std::shared_ptr<Object>> MergeUpdate(const Object& cur, Object in) {
  auto next = std::make_shared<Object>(std::move(in));
  ObjectMeta& m = next->metadata;
  m.uid = cur.metadata.uid;
  m.generate_name = cur.metadata.generate_name;
  m.creation_timestamp = cur.metadata.creation_timestamp;
  m.deletion_timestamp = cur.metadata.deletion_timestamp;
  m.generation = cur.metadata.generation;
  m.resource_version = cur.metadata.resource_version;
  next->status = cur.status;
  if (cur.metadata.deletion_timestamp) {
    for (const auto& f : m.finalizers) {
      if (!cur.HasFinalizer(f)) {
        return InvalidError("no new finalizers can be added if the object is being deleted",
                            {{"metadata.finalizers", "cannot add \"" + f + "\" while deleting"}});
      }
    }
  }
  if (next->spec != cur.spec) ++m.generation;
  return next;
}

bool RemovedByUpdate(const Object& next) {
  return next.metadata.deletion_timestamp && next.metadata.finalizers.empty();
}

DeletePlan PlanDelete(const Object& cur, Propagation propagation, TimePoint now) {
  DeletePlan plan;
  plan.next = std::make_shared<Object>(cur);
  if (propagation != Propagation::kBackground && !cur.metadata.deletion_timestamp) {
    const char* f = propagation == Propagation::kForeground ? "foregroundDeletion" : "orphan";
    auto& fs = plan.next->metadata.finalizers;
    if (std::find(fs.begin(), fs.end(), f) == fs.end()) fs.push_back(f);
  }
  if (plan.next->metadata.finalizers.empty()) {
    plan.remove = true;
    return plan;
  }
  if (cur.metadata.deletion_timestamp) {
    plan.unchanged = true;  // already being deleted
  } else {
    plan.next->metadata.deletion_timestamp = FormatRfc3339(now);
    ++plan.next->metadata.generation;
  }
  return plan;
}

}  // namespace visi
