#include "controller/runtime/ownership_graph.h"

#include <algorithm>
#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/strong_components.hpp>
#include <boost/graph/topological_sort.hpp>
#include <iterator>
#include <map>
#include <queue>
#include <set>
#include <tuple>
#include <unordered_map>
#include <utility>

namespace visi {
namespace {

// Edges run owner -> dependent, one per valid (dependent, owner uid) pair.
// Vertex i is the i-th object in uid order, so vertex order is uid order.
using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS>;

// A dependent's references to one owner uid, merged.
struct Ref {
  std::string uid;
  int owner = -1;         // the owner's vertex; -1 when dangling
  bool blocking = false;  // some valid ref to it sets blockOwnerDeletion
};

struct Node {
  ObjectPtr object;
  std::vector<Ref> refs;        // by uid
  std::vector<int> dependents;  // ascending, so sorted by uid
  bool deleting = false;        // deletionTimestamp set
  bool orphaning = false;       // deleting with the orphan finalizer
  bool foreground = false;      // deleting in the foreground, not orphaning
};

bool IsValidRef(const Object& dependent, const OwnerReference& ref, const Object& owner,
                const std::function<bool(const std::string&)>& cluster_scoped) {
  if (owner.kind != ref.kind) return false;
  bool dependent_cluster = cluster_scoped(dependent.kind);
  bool owner_cluster = cluster_scoped(owner.kind);
  if (owner_cluster) return true;
  // A namespaced owner: only a dependent of its own namespace can name it.
  return !dependent_cluster && owner.metadata.namespace_ == dependent.metadata.namespace_;
}

GcAction ActionOn(GcAction::Type type, const Object& o) {
  GcAction a;
  a.type = type;
  a.kind = o.kind;
  a.namespace_ = o.metadata.namespace_;
  a.name = o.metadata.name;
  a.uid = o.metadata.uid;
  return a;
}

}  // namespace

struct OwnershipGraph::Impl {
  std::vector<Node> nodes;
  std::unordered_map<std::string, int> by_uid;
  std::vector<int> component;  // strongly connected component of each vertex
  std::vector<std::vector<std::string>> cycles;

  Impl(const std::vector<ObjectPtr>& objects,
       const std::function<bool(const std::string&)>& cluster_scoped);
  const std::string& Uid(int v) const { return nodes[v].object->metadata.uid; }
  const Ref* RefTo(int dependent, int owner) const;
  void FindCycles();
};

OwnershipGraph::Impl::Impl(const std::vector<ObjectPtr>& objects,
                           const std::function<bool(const std::string&)>& cluster_scoped) {
  std::vector<ObjectPtr> sorted;
  for (const ObjectPtr& o : objects) {
    if (o && !o->metadata.uid.empty()) sorted.push_back(o);
  }
  auto key = [](const ObjectPtr& o) {
    return std::tie(o->metadata.uid, o->kind, o->metadata.namespace_, o->metadata.name);
  };
  std::sort(sorted.begin(), sorted.end(),
            [&](const ObjectPtr& a, const ObjectPtr& b) { return key(a) < key(b); });
  for (const ObjectPtr& o : sorted) {
    if (by_uid.emplace(o->metadata.uid, static_cast<int>(nodes.size())).second) {
      Node& n = nodes.emplace_back();
      n.object = o;
      n.deleting = o->metadata.deletion_timestamp.has_value();
      n.orphaning = n.deleting && o->HasFinalizer(kFinalizerOrphan);
      n.foreground = n.deleting && !n.orphaning && o->HasFinalizer(kFinalizerForeground);
    }
  }

  for (int v = 0; v < static_cast<int>(nodes.size()); ++v) {
    const Object& dependent = *nodes[v].object;
    std::map<std::string, Ref> refs;
    for (const OwnerReference& r : dependent.metadata.owner_references) {
      Ref& ref = refs[r.uid];
      ref.uid = r.uid;
      auto it = by_uid.find(r.uid);
      if (it == by_uid.end() ||
          !IsValidRef(dependent, r, *nodes[it->second].object, cluster_scoped)) {
        continue;
      }
      ref.owner = it->second;
      ref.blocking = ref.blocking || r.block_owner_deletion;
    }
    for (auto& [uid, ref] : refs) {
      if (ref.owner >= 0) nodes[ref.owner].dependents.push_back(v);
      nodes[v].refs.push_back(std::move(ref));
    }
  }
  FindCycles();
}

const Ref* OwnershipGraph::Impl::RefTo(int dependent, int owner) const {
  for (const Ref& r : nodes[dependent].refs) {
    if (r.owner == owner) return &r;
  }
  return nullptr;
}

void OwnershipGraph::Impl::FindCycles() {
  Graph graph(nodes.size());
  for (int v = 0; v < static_cast<int>(nodes.size()); ++v) {
    for (int d : nodes[v].dependents) boost::add_edge(v, d, graph);
  }
  component.assign(nodes.size(), 0);
  int count = boost::strong_components(
      graph,
      boost::make_iterator_property_map(component.begin(), boost::get(boost::vertex_index, graph)));
  std::vector<std::vector<std::string>> members(count);
  for (int v = 0; v < static_cast<int>(nodes.size()); ++v) {
    members[component[v]].push_back(Uid(v));  // ascending v, so sorted
  }
  for (int v = 0; v < static_cast<int>(nodes.size()); ++v) {
    auto& m = members[component[v]];
    if (m.size() > 1 || (m.size() == 1 && RefTo(v, v) != nullptr)) {
      cycles.push_back(std::move(m));
      m.clear();
    }
  }
  std::sort(cycles.begin(), cycles.end());
}

OwnershipGraph::OwnershipGraph(const std::vector<ObjectPtr>& objects,
                               std::function<bool(const std::string& kind)> cluster_scoped) {
  if (!cluster_scoped) {
    // Without a scheme, a kind none of whose objects has a namespace is taken
    // as cluster-scoped.
    std::unordered_map<std::string, bool> by_kind;
    for (const ObjectPtr& o : objects) {
      if (!o) continue;
      auto [it, added] = by_kind.emplace(o->kind, true);
      it->second = it->second && o->metadata.namespace_.empty();
    }
    cluster_scoped = [by_kind](const std::string& kind) {
      auto it = by_kind.find(kind);
      return it != by_kind.end() && it->second;
    };
  }
  impl_ = std::make_unique<const Impl>(objects, cluster_scoped);
}

OwnershipGraph::~OwnershipGraph() = default;
OwnershipGraph::OwnershipGraph(OwnershipGraph&&) noexcept = default;
OwnershipGraph& OwnershipGraph::operator=(OwnershipGraph&&) noexcept = default;

GcPlan OwnershipGraph::Plan() const {
  const Impl& g = *impl_;
  const int n = static_cast<int>(g.nodes.size());
  std::map<int, std::set<std::string>> drop;  // dependent -> owner uids to drop
  GcPlan plan;
  std::vector<GcAction> deletes;
  std::vector<GcAction> finalizers;

  // Orphan: every dependent lets go of the owner.
  for (int o = 0; o < n; ++o) {
    if (!g.nodes[o].orphaning) continue;
    for (int d : g.nodes[o].dependents) drop[d].insert(g.Uid(o));
  }

  // Background, and the dependents of foreground owners.
  for (int v = 0; v < n; ++v) {
    const Node& node = g.nodes[v];
    if (node.deleting || node.refs.empty()) continue;
    std::vector<std::string> dangling_or_waiting;
    bool solid = false;
    bool waiting = false;
    bool waiting_in_cycle = false;  // a waiting owner is reached back from v
    for (const Ref& r : node.refs) {
      if (r.owner < 0) {
        dangling_or_waiting.push_back(r.uid);
      } else if (g.nodes[r.owner].foreground) {
        dangling_or_waiting.push_back(r.uid);
        waiting = true;
        waiting_in_cycle = waiting_in_cycle || g.component[r.owner] == g.component[v];
      } else {
        solid = true;
      }
    }
    if (solid) {
      if (!dangling_or_waiting.empty()) {
        drop[v].insert(dangling_or_waiting.begin(), dangling_or_waiting.end());
      }
      continue;
    }
    GcAction del = ActionOn(GcAction::Type::kDelete, *node.object);
    del.foreground = waiting ? !waiting_in_cycle : node.object->HasFinalizer(kFinalizerForeground);
    deletes.push_back(std::move(del));
  }

  // Finalizers, once what they wait for is done.
  for (int o = 0; o < n; ++o) {
    const Node& owner = g.nodes[o];
    if (owner.orphaning) {
      GcAction a = ActionOn(GcAction::Type::kRemoveFinalizer, *owner.object);
      a.finalizer = kFinalizerOrphan;
      finalizers.push_back(std::move(a));
      continue;
    }
    if (!owner.foreground) continue;
    bool blocked = std::any_of(owner.dependents.begin(), owner.dependents.end(), [&](int d) {
      if (!g.RefTo(d, o)->blocking) return false;
      auto it = drop.find(d);
      if (it != drop.end() && it->second.count(g.Uid(o))) return false;
      // A dependent in the owner's cycle that waits in the foreground too
      // would wait forever on the owner: it does not block.
      return !(g.nodes[d].foreground && g.component[d] == g.component[o]);
    });
    if (!blocked) {
      GcAction a = ActionOn(GcAction::Type::kRemoveFinalizer, *owner.object);
      a.finalizer = kFinalizerForeground;
      finalizers.push_back(std::move(a));
    }
  }

  for (auto& [v, uids] : drop) {
    GcAction a = ActionOn(GcAction::Type::kRemoveOwnerRefs, *g.nodes[v].object);
    a.owner_uids.assign(uids.begin(), uids.end());
    plan.actions.push_back(std::move(a));
  }
  std::move(deletes.begin(), deletes.end(), std::back_inserter(plan.actions));
  std::move(finalizers.begin(), finalizers.end(), std::back_inserter(plan.actions));
  plan.cycles = g.cycles;
  return plan;
}

std::vector<std::string> OwnershipGraph::Dependents(const std::string& owner_uid) const {
  std::vector<std::string> out;
  auto it = impl_->by_uid.find(owner_uid);
  if (it == impl_->by_uid.end()) return out;
  for (int d : impl_->nodes[it->second].dependents) out.push_back(impl_->Uid(d));
  return out;
}

std::vector<std::string> OwnershipGraph::TeardownOrder(const std::string& root_uid) const {
  const Impl& g = *impl_;
  auto it = g.by_uid.find(root_uid);
  if (it == g.by_uid.end()) return {};
  const int root = it->second;

  // Everything the root owns, transitively.
  std::vector<int> reached = {root};
  std::vector<bool> seen(g.nodes.size(), false);
  seen[root] = true;
  for (size_t i = 0; i < reached.size(); ++i) {
    for (int d : g.nodes[reached[i]].dependents) {
      if (!seen[d]) {
        seen[d] = true;
        reached.push_back(d);
      }
    }
  }

  // Collapse cycles into their components: what remains is acyclic.
  std::unordered_map<int, int> local;  // component -> vertex of the DAG
  for (int v : reached) local.emplace(g.component[v], static_cast<int>(local.size()));
  Graph dag(local.size());
  for (int v : reached) {
    for (int d : g.nodes[v].dependents) {
      int from = local[g.component[v]];
      int to = local[g.component[d]];
      if (from != to) boost::add_edge(from, to, dag);
    }
  }
  std::vector<int> reverse_topo;  // dependents before owners
  boost::topological_sort(dag, std::back_inserter(reverse_topo));

  // Depth: the longest ownership path from the root's component.
  std::vector<int> depth(local.size(), 0);
  for (auto c = reverse_topo.rbegin(); c != reverse_topo.rend(); ++c) {
    for (auto [e, end] = boost::out_edges(*c, dag); e != end; ++e) {
      int t = static_cast<int>(boost::target(*e, dag));
      depth[t] = std::max(depth[t], depth[*c] + 1);
    }
  }

  std::vector<std::pair<int, int>> order;  // (-depth, vertex): vertex order is uid order
  for (int v : reached) {
    if (v != root) order.emplace_back(-depth[local[g.component[v]]], v);
  }
  std::sort(order.begin(), order.end());
  std::vector<std::string> out;
  out.reserve(reached.size());
  for (const auto& [d, v] : order) out.push_back(g.Uid(v));
  out.push_back(root_uid);
  return out;
}

std::vector<std::vector<std::string>> OwnershipGraph::Cycles() const { return impl_->cycles; }

}  // namespace visi
