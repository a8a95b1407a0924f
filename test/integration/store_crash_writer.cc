// A writer for the crash test: creates and updates objects as fast as it can
// from several threads and prints "ack KEY COUNTER REVISION" after each write
// the store acknowledged. The test kills it with SIGKILL at random moments.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/sqlite/sqlite_store.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: store_crash_writer DB WRITER_ID\n");
    return 2;
  }
  auto store = visi::OpenSqliteStore(argv[1], visi::Scheme::Builtin(), visi::SystemClock::Default());
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  std::string id = argv[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::string name = "w" + id + "-t" + std::to_string(t);
      for (int n = 1;; ++n) {
        visi::Object o;
        o.kind = "VisiSession";
        o.metadata.namespace_ = "crash";
        o.metadata.name = name + "-" + std::to_string(n % 8);  // creates, then updates
        o.metadata.annotations["visi.dev/counter"] = std::to_string(n);
        o.spec = {{"user", "crash"}, {"env", {{{"name", "PAD"}, {"value", std::string(512, 'p')}}}}};
        auto cur = (*store)->Get(o.kind, o.metadata.namespace_, o.metadata.name);
        auto r = cur.ok() ? (*store)->Update(o) : (*store)->Create(o);
        if (!r.ok()) continue;
        // One write(2) per line: whole lines reach the pipe before a kill.
        char line[160];
        int len = std::snprintf(line, sizeof line, "ack %s %d %llu\n", o.metadata.name.c_str(), n,
                                static_cast<unsigned long long>((*r)->metadata.resource_version));
        if (::write(1, line, len) != len) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
