#include "controller/store/sqlite/sqlite_journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "controller/store/sqlite/sqlite_store.h"

namespace visi {
namespace {

// The journal is log-structured: one row per change, so a commit writes one
// table. A key's newest row is its current state and is never compacted
// away while the object lives; older rows are the watch history.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS log (rv INTEGER PRIMARY KEY, type INTEGER NOT NULL,
                                key TEXT NOT NULL, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT OR IGNORE INTO meta VALUES ('revision', 0), ('compacted', 0), ('format', 2);
)sql";

StatusOr<ObjectPtr> DecodeRow(const void* data, int size, const std::string& where) {
  std::string_view text(static_cast<const char*>(data), size > 0 ? size : 0);
  auto j = ParseJson(text);
  if (!j.ok()) return InternalError("store corrupt at " + where + ": " + j.status().message());
  auto o = ObjectFromJson(*j);
  if (!o.ok()) return InternalError("store corrupt at " + where + ": " + o.status().ToString());
  return ObjectPtr(std::make_shared<Object>(std::move(*o)));
}

}  // namespace

Status SqliteJournal::Error(const char* what) const {
  return UnavailableError(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_));
}

Status SqliteJournal::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return UnavailableError(std::string("sqlite: ") + msg);
  }
  return OkStatus();
}

StatusOr<std::unique_ptr<SqliteJournal>> SqliteJournal::Open(const std::string& path,
                                                             JournalState* state) {
  std::unique_ptr<SqliteJournal> j(new SqliteJournal());
  // One process owns the database: the engine's index must be the only
  // writer's view. The lock dies with the process, so a crash frees it.
  std::string lock_path = path + ".lock";
  j->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (j->lock_fd_ < 0) {
    return UnavailableError("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(j->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return UnavailableError(path + " is in use by another process");
  }
  if (sqlite3_open_v2(path.c_str(), &j->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return UnavailableError("cannot open " + path + ": " +
                            (j->db_ ? sqlite3_errmsg(j->db_) : "out of memory"));
  }
  sqlite3_busy_timeout(j->db_, 5000);
  // WAL with synchronous=FULL syncs the log at every commit: durable on
  // power loss, not only on a process crash.
  if (Status s = j->Exec("PRAGMA journal_mode=WAL"); !s.ok()) {
    return InternalError("store " + path + " is not a usable SQLite database: " + s.message());
  }
  VISI_RETURN_IF_ERROR(j->Exec("PRAGMA synchronous=FULL"));
  VISI_RETURN_IF_ERROR(j->QuickCheck(path));
  VISI_RETURN_IF_ERROR(j->Exec(kSchema));
  VISI_RETURN_IF_ERROR(j->Prepare());
  VISI_RETURN_IF_ERROR(j->Load(state));
  return j;
}

Status SqliteJournal::QuickCheck(const std::string& path) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db_, "PRAGMA quick_check", -1, &st, nullptr) != SQLITE_OK) {
    return InternalError("store " + path + " is damaged: " + sqlite3_errmsg(db_));
  }
  std::string result;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    result = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  } else {
    result = sqlite3_errmsg(db_);
  }
  sqlite3_finalize(st);
  if (result != "ok") return InternalError("store " + path + " is damaged: " + result);
  return OkStatus();
}

Status SqliteJournal::Prepare() {
  struct {
    const char* sql;
    sqlite3_stmt** stmt;
  } stmts[] = {
      {"INSERT INTO log(rv, type, key, data) VALUES (?1, ?2, ?3, ?4)", &log_},
      {"UPDATE meta SET value = ?2 WHERE name = ?1", &set_meta_},
      // Drops history at or below ?1. Keeps each live object's newest row
      // (its state), and each key's last live row at or below ?1 (the
      // previous state of its first retained change).
      {"DELETE FROM log WHERE rv <= ?1 AND (type = 2 OR rv NOT IN "
       "(SELECT max(rv) FROM log GROUP BY key)) AND NOT (type != 2 AND rv IN "
       "(SELECT max(rv) FROM log WHERE rv <= ?1 GROUP BY key))", &compact_},
  };
  for (auto& s : stmts) {
    if (sqlite3_prepare_v3(db_, s.sql, -1, SQLITE_PREPARE_PERSISTENT, s.stmt, nullptr) != SQLITE_OK) {
      return Error("prepare");
    }
  }
  return OkStatus();
}

Status SqliteJournal::Load(JournalState* state) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db_, "SELECT name, value FROM meta", -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    uint64_t v = sqlite3_column_int64(st, 1);
    if (name == "revision") state->revision = v;
    if (name == "compacted") state->compacted = v;
    if (name == "format" && v != 2) {
      sqlite3_finalize(st);
      return InternalError("store format " + std::to_string(v) + " is not supported (expected 2)");
    }
  }
  sqlite3_finalize(st);
  sqlite3_prepare_v2(db_,
                     "SELECT rv, type, key, data, rv IN (SELECT max(rv) FROM log GROUP BY key) "
                     "FROM log ORDER BY rv",
                     -1, &st, nullptr);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    Mutation m;
    m.rv = sqlite3_column_int64(st, 0);
    int type = sqlite3_column_int(st, 1);
    m.key = reinterpret_cast<const char*>(sqlite3_column_text(st, 2));
    bool newest = sqlite3_column_int(st, 4) != 0;
    if (type < 0 || type > static_cast<int>(EventType::kDeleted)) {
      sqlite3_finalize(st);
      return InternalError("store corrupt at log entry " + std::to_string(m.rv) + ": bad type");
    }
    m.type = static_cast<EventType>(type);
    auto o = DecodeRow(sqlite3_column_blob(st, 3), sqlite3_column_bytes(st, 3),
                       "object " + m.key + " (log entry " + std::to_string(m.rv) + ")");
    if (!o.ok()) {
      sqlite3_finalize(st);
      return o.status();
    }
    m.object = std::move(*o);
    if (newest && m.type != EventType::kDeleted) state->objects.push_back(m.object);
    state->revision = std::max(state->revision, m.rv);
    if (m.rv > state->compacted) {
      state->log.push_back(std::move(m));
    } else {
      state->base.push_back(std::move(m));  // ascending: a later row of a key wins
    }
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Error("read log");
  return OkStatus();
}

SqliteJournal::~SqliteJournal() {
  for (auto* s : {log_, set_meta_, compact_}) sqlite3_finalize(s);
  if (db_) sqlite3_close(db_);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Status SqliteJournal::Append(const std::vector<const Mutation*>& batch, uint64_t compact_to) {
  VISI_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [&](const char* what) {
    Status s = Error(what);
    Exec("ROLLBACK").ok();
    return s;
  };
  for (const Mutation* m : batch) {
    sqlite3_bind_int64(log_, 1, m->rv);
    sqlite3_bind_int(log_, 2, static_cast<int>(m->type));
    sqlite3_bind_text(log_, 3, m->key.data(), m->key.size(), SQLITE_STATIC);
    sqlite3_bind_blob(log_, 4, m->text->data(), m->text->size(), SQLITE_STATIC);
    int rc = sqlite3_step(log_);
    sqlite3_reset(log_);
    if (rc != SQLITE_DONE) return fail("append log");
  }
  auto set_meta = [&](const char* name, uint64_t v) {
    sqlite3_bind_text(set_meta_, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(set_meta_, 2, v);
    int rc = sqlite3_step(set_meta_);
    sqlite3_reset(set_meta_);
    return rc == SQLITE_DONE;
  };
  if (compact_to) {
    // The revision is recorded with each compaction: the log alone might no
    // longer show the newest revision once deleted objects' rows are gone.
    sqlite3_bind_int64(compact_, 1, compact_to);
    int rc = sqlite3_step(compact_);
    sqlite3_reset(compact_);
    if (rc != SQLITE_DONE || !set_meta("compacted", compact_to) ||
        !set_meta("revision", batch.back()->rv)) {
      return fail("compact");
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return fail("commit");
  return OkStatus();
}

StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                 std::shared_ptr<const Scheme> scheme, Clock* clock,
                                                 StoreOptions opts) {
  JournalState state;
  VISI_ASSIGN_OR_RETURN(auto journal, SqliteJournal::Open(path, &state));
  return std::unique_ptr<Store>(std::make_unique<StoreEngine>(std::move(scheme), clock, opts,
                                                              std::move(journal), std::move(state)));
}

}  // namespace visi
