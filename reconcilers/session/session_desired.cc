#include "reconcilers/session/session_desired.h"

#include <cstdio>

#include "controller/api/object.h"
#include "controller/base/fnv.h"
#include "reconcilers/session/session_labels.h"

namespace visi {
namespace {

namespace L = session_labels;

constexpr char kMasterAlias[] = "spark-master";

ContainerSpec Base(const SessionIdentity& id, const std::string& network, const std::string& part,
                   const ContainerLimits& limits) {
  ContainerSpec c;
  c.name = network + "-" + part;
  c.network = network;
  c.hostname = part;
  c.labels = SessionLabels(id);
  c.memory_bytes = limits.memory_bytes;
  c.nano_cpus = limits.nano_cpus;
  c.pids_limit = limits.pids;
  c.env = {"VISI_SESSION=" + id.namespace_ + "/" + id.name, "VISI_COMPONENT=" + part};
  return c;
}

void Seal(ContainerSpec* c) { c->labels[L::kSpecHash] = ContainerSpecHash(*c); }

}  // namespace

std::string SessionKeyHash(const std::string& ns, const std::string& name) { return Fnv1a64Hex(ns + "/" + name); }

std::string SessionNetworkName(const SessionIdentity& id) {
  return "visi-" + id.namespace_ + "-" + id.name + "-" + id.uid.substr(0, 8);
}

Labels SessionLabels(const SessionIdentity& id) {
  return {{L::kManagedBy, "visid"},
          {L::kInstance, id.instance},
          {L::kSessionUid, id.uid},
          {L::kSessionNamespace, id.namespace_},
          {L::kSessionName, id.name}};
}

std::string ContainerSpecHash(const ContainerSpec& c) {
  Labels labels = c.labels;
  labels.erase(L::kSpecHash);
  Json j = {{"name", c.name},       {"image", c.image},          {"command", c.command},
            {"env", c.env},         {"labels", labels},          {"network", c.network},
            {"aliases", c.aliases}, {"hostname", c.hostname},    {"user", c.user},
            {"memory", c.memory_bytes}, {"cpus", c.nano_cpus},   {"pids", c.pids_limit},
            {"ports", c.exposed_ports}};
  return Fnv1a64Hex(j.dump());
}

std::string SessionPathPrefix(const std::string& ns, const std::string& name) {
  return "/s/" + ns + "/" + name + "/";
}

DesiredSession BuildDesiredSession(const SessionIdentity& id, const SessionSpec& spec, const std::string& subnet) {
  DesiredSession d;
  const std::string net = SessionNetworkName(id);
  d.network.name = net;
  d.network.subnet = subnet;
  d.network.labels = SessionLabels(id);
  d.master_alias = kMasterAlias;
  const std::string master = std::string(kMasterAlias) + ":" + std::to_string(spec.master_port);
  auto spark_env = [&](ContainerSpec* c) {
    c->env.push_back("SPARK_MASTER=" + master);
    c->env.push_back("SPARK_MASTER_URL=spark://" + master);
    c->env.push_back("SPARK_MASTER_HOST=" + std::string(kMasterAlias));
    c->env.push_back("SPARK_MASTER_PORT=" + std::to_string(spec.master_port));
    c->env.insert(c->env.end(), spec.env.begin(), spec.env.end());
  };

  ContainerSpec m = Base(id, net, "master", spec.spark_limits);
  m.image = spec.master_image;
  m.command = spec.master_command;
  m.aliases = {kMasterAlias};
  m.labels[L::kComponent] = "master";
  m.exposed_ports = {spec.master_port};
  spark_env(&m);
  Seal(&m);
  d.containers.push_back(std::move(m));

  for (int i = 0; i < spec.workers; ++i) {
    ContainerSpec w = Base(id, net, "worker-" + std::to_string(i), spec.spark_limits);
    w.image = spec.worker_image;
    w.command = spec.worker_command;
    w.labels[L::kComponent] = "worker";
    w.labels[L::kIndex] = std::to_string(i);
    spark_env(&w);
    Seal(&w);
    d.containers.push_back(std::move(w));
  }

  ContainerSpec f = Base(id, net, "frontend", spec.frontend_limits);
  f.image = spec.frontend_image;
  f.command = spec.frontend_command;
  f.labels[L::kComponent] = "frontend";
  f.exposed_ports = {spec.frontend_port};
  f.env.push_back("PORT=" + std::to_string(spec.frontend_port));
  f.env.push_back("VISI_BASE_URL=" + SessionPathPrefix(id.namespace_, id.name));
  if (!spec.state_paths.empty()) f.env.push_back("VISI_STATE_PATH=" + spec.state_paths.front());
  spark_env(&f);
  Seal(&f);
  d.containers.push_back(std::move(f));
  return d;
}

}  // namespace visi
