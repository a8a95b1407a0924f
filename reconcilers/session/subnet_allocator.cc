#include "reconcilers/session/subnet_allocator.h"

#include <algorithm>
#include <functional>
#include <set>

#include "controller/runtime/informer.h"
#include "reconcilers/session/session_labels.h"

namespace visi {

std::string SubnetAllocator::ClaimName(const std::string& subnet) {
  std::string n = subnet;
  std::replace(n.begin(), n.end(), '.', '-');
  std::replace(n.begin(), n.end(), '/', '-');
  return n;
}

StatusOr<std::vector<ObjectPtr>> SubnetAllocator::ClaimsOf(const std::string& session_uid) {
  // The cache first; a claim made a moment ago may not be there yet, so an
  // empty answer is checked against the store before claiming another.
  std::vector<ObjectPtr> out = claims_ ? claims_->ByLabel(session_labels::kSessionUid, session_uid)
                                       : std::vector<ObjectPtr>{};
  {
    // A claim released a moment ago can still be in the cache: it is not
    // held any more (a session must never run on a subnet no claim guards).
    std::lock_guard lock(mu_);
    std::erase_if(out, [&](const ObjectPtr& c) { return released_.count(c->metadata.uid) > 0; });
  }
  if (!out.empty()) return out;
  ListOptions lo;
  lo.kind = "SubnetClaim";
  VISI_ASSIGN_OR_RETURN(lo.labels, LabelSelector::Parse(std::string(session_labels::kSessionUid) + "=" + session_uid));
  VISI_ASSIGN_OR_RETURN(auto list, store_->List(lo));
  return list.items;
}

StatusOr<std::optional<std::string>> SubnetAllocator::Held(const std::string& session_uid) {
  VISI_ASSIGN_OR_RETURN(auto held, ClaimsOf(session_uid));
  if (held.empty()) return std::optional<std::string>();
  return std::optional<std::string>(held.front()->spec.value("subnet", ""));
}

StatusOr<std::string> SubnetAllocator::Ensure(const SessionIdentity& session, const std::string& pool,
                                              const Cidr& range, int prefix, const std::vector<Cidr>& taken,
                                              const std::string& machine) {
  VISI_ASSIGN_OR_RETURN(auto held, Held(session.uid));
  if (held) return *held;
  if (prefix < range.prefix || prefix > 30) {
    return InvalidError("subnet prefix /" + std::to_string(prefix) + " does not fit the range " + range.ToString());
  }
  std::set<std::string> claimed;
  if (claims_) {
    for (const auto& c : claims_->List()) claimed.insert(c->metadata.name);
  }
  const uint64_t count = uint64_t{1} << (prefix - range.prefix);
  const uint64_t step = uint64_t{1} << (32 - prefix);
  // Start where the session's uid points, so that concurrent reconciles of
  // different sessions rarely race for the same subnet.
  const uint64_t start = std::hash<std::string>{}(session.uid) % count;
  for (uint64_t i = 0; i < count; ++i) {
    Cidr candidate{static_cast<uint32_t>(range.base + ((start + i) % count) * step), prefix};
    const std::string subnet = candidate.ToString();
    const std::string name = ClaimName(subnet);
    if (claimed.count(name)) continue;
    if (std::any_of(taken.begin(), taken.end(), [&](const Cidr& t) { return t.Overlaps(candidate); })) continue;
    Object claim;
    claim.api_version = "visi.dev/v1alpha1";
    claim.kind = "SubnetClaim";
    claim.metadata.name = name;
    claim.metadata.labels = {{session_labels::kSessionUid, session.uid},
                             {session_labels::kSessionKey, SessionKeyHash(session.namespace_, session.name)}};
    claim.spec = {{"subnet", subnet},
                  {"pool", pool},
                  {"sessionUID", session.uid},
                  {"sessionNamespace", session.namespace_},
                  {"sessionName", session.name}};
    if (!machine.empty()) claim.spec["machine"] = machine;
    auto created = store_->Create(claim);
    if (created.ok()) return subnet;
    if (created.status().code() != Code::kAlreadyExists) return created.status();
    // Our own (a create whose answer was lost, or a second worker on this
    // session): keep it. Otherwise someone else's since the cache was read.
    auto existing = store_->Get("SubnetClaim", "", name);
    if (existing.ok() && (*existing)->spec.is_object() && (*existing)->spec.value("sessionUID", "") == session.uid) {
      return subnet;
    }
  }
  return UnavailableError("no free /" + std::to_string(prefix) + " subnet in " + range.ToString() + " (" +
                          std::to_string(claimed.size()) + " claimed)");
}

Status SubnetAllocator::Release(const std::string& session_uid) {
  ListOptions lo;
  lo.kind = "SubnetClaim";
  VISI_ASSIGN_OR_RETURN(lo.labels, LabelSelector::Parse(std::string(session_labels::kSessionUid) + "=" + session_uid));
  VISI_ASSIGN_OR_RETURN(auto list, store_->List(lo));
  for (const auto& c : list.items) {
    Preconditions pre;
    pre.uid = c->metadata.uid;
    auto d = store_->Delete("SubnetClaim", "", c->metadata.name, pre);
    if (!d.ok() && d.status().code() != Code::kNotFound) return d.status();
    std::lock_guard lock(mu_);
    released_.insert(c->metadata.uid);
  }
  // Forget releases the cache has caught up with (bounded memory).
  std::lock_guard lock(mu_);
  if (released_.size() > 256 && claims_) {
    std::set<std::string> cached;
    for (const auto& c : claims_->List()) cached.insert(c->metadata.uid);
    std::erase_if(released_, [&](const std::string& uid) { return !cached.count(uid); });
  }
  return OkStatus();
}

}  // namespace visi
