// etcd watch benchmark (not a test): write-to-watch-event latency on raw
// etcd, the baseline of api_watch_bench's figure. N watchers each hold a
// /v3/watch stream of etcd's JSON gateway on its own TLS connection
// (raw_watcher.h); one writer puts stamped values under a prefix of this
// run's, one every INTERVAL_MS. Usage:
//   etcd_watch_bench URL CA_FILE [WATCHERS] [WRITES] [INTERVAL_MS]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "controller/base/base64.h"
#include "controller/api/object.h"
#include "controller/store/etcd/etcd_client.h"
#include "test/bench/raw_watcher.h"

namespace {

using Clock = std::chrono::steady_clock;

// The stamps in the values of a /v3/watch message's events.
void EtcdStamps(std::string_view line, std::vector<long long>* t0) {
  auto j = visi::ParseJson(line);
  if (!j.ok() || !j->is_object()) return;
  const visi::Json result = j->value("result", visi::Json::object());
  for (const auto& e : result.value("events", visi::Json::array())) {
    auto value = visi::Base64Decode(e.value("kv", visi::Json::object()).value("value", ""));
    if (value) t0->push_back(std::atoll(value->c_str()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: etcd_watch_bench URL CA_FILE [WATCHERS] [WRITES] [INTERVAL_MS]\n");
    return 2;
  }
  const std::string url = argv[1];
  int watchers = argc > 3 ? std::atoi(argv[3]) : 100;
  int writes = argc > 4 ? std::atoi(argv[4]) : 200;
  int interval_ms = argc > 5 ? std::atoi(argv[5]) : 5;
  visi::EtcdClientOptions options;
  options.endpoints = {url};
  options.tls_ca_file = argv[2];
  auto client = visi::EtcdClient::Create(options);
  if (!client.ok()) {
    std::fprintf(stderr, "%s\n", client.status().ToString().c_str());
    return 1;
  }
  const std::string prefix =
      "/watch-bench-" + std::to_string(Clock::now().time_since_epoch().count() % 1000000) + "/";
  // The watches start just after the current revision, as api_watch_bench's
  // start at its list's: none can miss a put made before it was set up.
  visi::EtcdRangeRequest now;
  now.key = prefix;
  now.count_only = true;
  auto current = (*client)->Range(now);
  if (!current.ok()) {
    std::fprintf(stderr, "%s\n", current.status().ToString().c_str());
    return 1;
  }
  const std::string body =
      visi::Json({{"create_request",
                   {{"key", visi::Base64Encode(prefix)},
                    {"range_end", visi::Base64Encode(visi::PrefixEnd(prefix))},
                    {"start_revision", std::to_string(current->revision + 1)}}}})
          .dump();
  const std::string request = "POST /v3/watch HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n" + body;
  return visi::bench::MeasureWatchDelivery("on raw etcd", url, request, EtcdStamps, watchers, writes, interval_ms,
                                           [&](int n) {
    const std::string t0 = std::to_string(Clock::now().time_since_epoch().count());
    auto r = (*client)->Txn({}, {{visi::EtcdOp::Type::kPut, prefix + std::to_string(n), t0}}, {});
    if (!r.ok()) std::fprintf(stderr, "put: %s\n", r.status().ToString().c_str());
  });
}
