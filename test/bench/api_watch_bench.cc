// API watch benchmark (not a test): write-to-watch-event latency through
// visid over HTTPS, with 100 watchers each on its own connection. Usage:
//   api_watch_bench CONFIG [WATCHERS] [WRITES] [INTERVAL_MS]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include <utility>  // before asio: its awaitable.hpp uses std::exchange

#include <pplx/threadpool.h>

#include "controller/client/api_client.h"

int main(int argc, char** argv) {
  using Clock = std::chrono::steady_clock;
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
  // One cpprestsdk thread per watcher stream plus spare: the client side must
  // not be what is measured.
  crossplat::threadpool::initialize_with_threads(watchers + 16);
  const std::string path = "/apis/visi.dev/v1alpha1/namespaces/watch-bench/visisessions";
  visi::ApiClient writer(*cfg);
  auto list = writer.Request("GET", path);
  std::string rv = (*visi::ParseJson(list.body))["metadata"]["resourceVersion"];
  std::vector<std::vector<double>> lat(watchers);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < watchers; ++i) {
    threads.emplace_back([&, i] {
      visi::ApiClient client(*cfg);
      ready++;
      (void)client.Watch(path + "?watch=true&resourceVersion=" + rv, [&](const visi::Json& e) {
        auto t0 = std::stoll(e["object"]["metadata"]["annotations"]["bench/t0"].get<std::string>());
        lat[i].push_back((Clock::now().time_since_epoch().count() - t0) / 1e6);
        return static_cast<int>(lat[i].size()) < writes;
      }, std::chrono::seconds(120));
    });
  }
  while (ready < watchers) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // streams established
  for (int n = 0; n < writes; ++n) {
    visi::Json o = {{"apiVersion", "visi.dev/v1alpha1"}, {"kind", "VisiSession"},
                    {"metadata", {{"name", "w-" + std::to_string(n)}, {"namespace", "watch-bench"},
                                  {"annotations", {{"bench/t0", std::to_string(Clock::now().time_since_epoch().count())}}}}},
                    {"spec", {{"user", "bench"}}}};
    auto r = writer.Request("POST", path, o.dump());
    if (!r.ok()) std::fprintf(stderr, "create: %s\n", r.body.c_str());
    std::this_thread::sleep_for(std::chrono::milliseconds(interval_ms));
  }
  for (auto& t : threads) t.join();
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  if (all.empty()) {
    std::printf("no events delivered\n");
    return 1;
  }
  std::printf("watch latency via API, %d watchers, a write every %d ms: p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms, %zu events of %d\n",
              watchers, interval_ms, all[all.size() / 2], all[all.size() * 99 / 100], all.back(),
              all.size(), watchers * writes);
  return 0;
}
