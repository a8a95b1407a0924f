#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "controller/store/etcd/etcd_store.h"
#include "controller/store/memory/memory_store.h"
#include "controller/store/sqlite/sqlite_store.h"
#include "test/integration/etcd_process.h"

namespace visi::testing {

// Each implementation of Store runs the same contract suite.
class MemoryFactory {
 public:
  static constexpr const char* kName = "memory";
  std::unique_ptr<Store> Make(StoreOptions opts = {}) {
    return NewMemoryStore(Scheme::Builtin(), &clock_, opts);
  }
  FakeClock clock_{*ParseRfc3339("2026-11-23T22:00:00Z")};
};

class SqliteFactory {
 public:
  static constexpr const char* kName = "sqlite";
  SqliteFactory() {
    char tmpl[] = "/tmp/visi-store-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~SqliteFactory() { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Store> Make(StoreOptions opts = {}) {
    auto s = OpenSqliteStore(dir_ + "/store-" + std::to_string(++n_) + ".db", Scheme::Builtin(),
                             &clock_, opts);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  FakeClock clock_{*ParseRfc3339("2026-11-23T22:00:00Z")};
  std::string dir_;
  int n_ = 0;
};

// One real etcd for the whole test binary, started at first use; each store
// gets a key prefix of its own, so tests do not see each other's objects.
// (They do share etcd's one revision counter, as stores on one etcd do.)
inline EtcdCluster& SharedEtcd() {
  static EtcdCluster* etcd = [] {
    auto* c = new EtcdCluster();
    std::string err = c->Start(1);
    if (!err.empty()) ADD_FAILURE() << err;
    return c;
  }();
  static struct Stopper {
    ~Stopper() { delete etcd; }  // kills the member by pid, removes its data
  } stopper;
  return *etcd;
}

class EtcdFactory {
 public:
  static constexpr const char* kName = "etcd";
  std::unique_ptr<Store> Make(StoreOptions opts = {}) {
    static std::atomic<int> stores{0};
    EtcdStoreOptions o;
    o.endpoints = SharedEtcd().endpoints();
    o.prefix = "/test-" + std::to_string(++stores) + "/";
    o.watch_buffer = opts.watch_buffer;
    // The engine keeps `history_limit` events; etcd keeps revisions until
    // compacted, so the store compacts to the same window.
    o.retained_revisions = opts.history_limit;
    auto s = OpenEtcdStore(o, Scheme::Builtin(), &clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }
  FakeClock clock_{*ParseRfc3339("2026-11-23T22:00:00Z")};
};

template <typename Factory>
class StoreContractTest : public ::testing::Test {
 protected:
  Factory factory_;
};

using StoreImplementations = ::testing::Types<MemoryFactory, SqliteFactory, EtcdFactory>;

struct ImplName {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

}  // namespace visi::testing
