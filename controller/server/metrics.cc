#include "controller/server/metrics.h"

#include <cstdio>

namespace visi {

void Metrics::Histogram::Observe(double v) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (v <= kBuckets[i]) ++counts[i];
  }
  ++count;
  sum += v;
}

void Metrics::ObserveRequest(const std::string& verb, const std::string& resource, int code,
                             double seconds) {
  std::string labels = "verb=\"" + verb + "\",resource=\"" + resource + "\"";
  std::lock_guard lock(mu_);
  ++requests_[labels + ",code=\"" + std::to_string(code) + "\""];
  request_latency_[labels].Observe(seconds);
}

void Metrics::CountRequest(const std::string& verb, const std::string& resource, int code) {
  std::lock_guard lock(mu_);
  ++requests_["verb=\"" + verb + "\",resource=\"" + resource + "\",code=\"" + std::to_string(code) + "\""];
}

void Metrics::ObserveStore(const std::string& op, double seconds) {
  std::lock_guard lock(mu_);
  store_latency_["operation=\"" + op + "\""].Observe(seconds);
}

namespace {

void RenderHistogram(std::string& out, const std::string& name, const std::string& labels,
                     const auto& h, const auto& buckets) {
  char buf[64];
  for (size_t i = 0; i < buckets.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%g", buckets[i]);
    out += name + "_bucket{" + labels + ",le=\"" + buf + "\"} " + std::to_string(h.counts[i]) + "\n";
  }
  out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
  std::snprintf(buf, sizeof buf, "%.9g", h.sum);
  out += name + "_sum{" + labels + "} " + buf + "\n";
  out += name + "_count{" + labels + "} " + std::to_string(h.count) + "\n";
}

}  // namespace

std::string Metrics::Render() const {
  std::string out;
  std::lock_guard lock(mu_);
  out += "# HELP visi_apiserver_requests_total API requests by verb, resource and HTTP code.\n";
  out += "# TYPE visi_apiserver_requests_total counter\n";
  for (const auto& [labels, n] : requests_) {
    out += "visi_apiserver_requests_total{" + labels + "} " + std::to_string(n) + "\n";
  }
  out += "# HELP visi_apiserver_request_duration_seconds API request latency by verb and resource.\n";
  out += "# TYPE visi_apiserver_request_duration_seconds histogram\n";
  for (const auto& [labels, h] : request_latency_) {
    RenderHistogram(out, "visi_apiserver_request_duration_seconds", labels, h, kBuckets);
  }
  out += "# HELP visi_store_operation_duration_seconds Store call latency by operation.\n";
  out += "# TYPE visi_store_operation_duration_seconds histogram\n";
  for (const auto& [labels, h] : store_latency_) {
    RenderHistogram(out, "visi_store_operation_duration_seconds", labels, h, kBuckets);
  }
  out += "# HELP visi_apiserver_open_watches Watches currently open.\n";
  out += "# TYPE visi_apiserver_open_watches gauge\n";
  out += "visi_apiserver_open_watches " + std::to_string(open_watches_.load()) + "\n";
  out += "# HELP visi_store_revision The newest committed store revision.\n";
  out += "# TYPE visi_store_revision gauge\n";
  out += "visi_store_revision " + std::to_string(revision_.load()) + "\n";
  for (const auto& collect : collectors_) out += collect();
  return out;
}

}  // namespace visi
