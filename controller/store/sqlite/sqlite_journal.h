#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "controller/store/journal.h"

namespace visi {

// The journal in one SQLite database: table `log` (rv -> change; each key's
// newest row is its current state, older rows are the watch history) and
// table `meta` (revision and compaction point, written at compactions).
// Each Append is one transaction.
class SqliteJournal final : public Journal {
 public:
  // Opens or creates the database and reads everything back.
  static StatusOr<std::unique_ptr<SqliteJournal>> Open(const std::string& path, JournalState* state);
  ~SqliteJournal() override;

  Status Append(const std::vector<const Mutation*>& batch, uint64_t compact_to) override;

 private:
  SqliteJournal() = default;
  Status Exec(const char* sql);
  Status Prepare();
  Status QuickCheck(const std::string& path);
  Status Load(JournalState* state);
  Status Error(const char* what) const;

  sqlite3* db_ = nullptr;
  int lock_fd_ = -1;
  sqlite3_stmt* log_ = nullptr;
  sqlite3_stmt* set_meta_ = nullptr;
  sqlite3_stmt* compact_ = nullptr;
};

}  // namespace visi
