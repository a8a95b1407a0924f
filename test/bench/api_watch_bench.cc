// API watch benchmark (not a test): write-to-watch-event latency through
// visid over HTTPS, with N watchers each on its own TLS connection
// (raw_watcher.h). Usage:
//   api_watch_bench CONFIG [WATCHERS] [WRITES] [INTERVAL_MS]

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "controller/client/api_client.h"
#include "test/bench/raw_watcher.h"

namespace {

using Clock = std::chrono::steady_clock;

// The "bench/t0" annotation of a watch event's object.
void ApiStamp(std::string_view line, std::vector<long long>* t0) {
  constexpr std::string_view kStamp = "\"bench/t0\":\"";
  size_t at = line.find(kStamp);
  if (at != std::string_view::npos) t0->push_back(std::atoll(line.data() + at + kStamp.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: api_watch_bench CONFIG [WATCHERS] [WRITES] [INTERVAL_MS]\n");
    return 2;
  }
  auto cfg = visi::LoadClientConfig(argv[1]);
  if (!cfg.ok()) {
    std::fprintf(stderr, "%s\n", cfg.status().ToString().c_str());
    return 1;
  }
  int watchers = argc > 2 ? std::atoi(argv[2]) : 100;
  int writes = argc > 3 ? std::atoi(argv[3]) : 200;
  int interval_ms = argc > 4 ? std::atoi(argv[4]) : 5;
  const std::string path = "/apis/visi.dev/v1alpha1/namespaces/watch-bench/visisessions";
  visi::ApiClient writer(*cfg);
  auto list = writer.Request("GET", path);
  std::string rv = (*visi::ParseJson(list.body))["metadata"]["resourceVersion"];
  std::string run = std::to_string(Clock::now().time_since_epoch().count() % 1000000);
  const std::string request = "GET " + path + "?watch=true&resourceVersion=" + rv +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + cfg->token + "\r\n\r\n";
  return visi::bench::MeasureWatchDelivery("via API", cfg->server, request, ApiStamp, watchers, writes, interval_ms,
                                           [&](int n) {
    visi::Json o = {{"apiVersion", "visi.dev/v1alpha1"}, {"kind", "VisiSession"},
                    {"metadata", {{"name", "w-" + run + "-" + std::to_string(n)}, {"namespace", "watch-bench"},
                                  {"annotations", {{"bench/t0", std::to_string(Clock::now().time_since_epoch().count())}}}}},
                    {"spec", {{"user", "bench"}}}};
    auto r = writer.Request("POST", path, o.dump());
    if (!r.ok()) std::fprintf(stderr, "create: %s\n", r.body.c_str());
  });
}
