#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "controller/store/memory/memory_store.h"
#include "controller/store/sqlite/sqlite_store.h"

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

template <typename Factory>
class StoreContractTest : public ::testing::Test {
 protected:
  Factory factory_;
};

using StoreImplementations = ::testing::Types<MemoryFactory, SqliteFactory>;

struct ImplName {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};

}  // namespace visi::testing
