#include "controller/cmd/visid/copy_store.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "controller/base/clock.h"
#include "controller/store/etcd/etcd_copy.h"
#include "controller/store/sqlite/sqlite_store.h"

namespace visi {

CLI::App* AddCopyStoreCommand(CLI::App* app, CopyStoreFlags* flags) {
  CLI::App* cmd = app->add_subcommand(
      "copy-store",
      "Copy every object of an embedded SQLite store into etcd (uids, metadata and status kept), "
      "then run visid --store etcd://... on it. Stop the visid that uses the SQLite store first.");
  cmd->add_option("--from", flags->from, "The SQLite store: visid's DATA_DIR, or DATA_DIR/store.db")->required();
  cmd->add_option("--to", flags->to.store, "etcd://HOST:PORT[,HOST:PORT...] (etcd+https://... for TLS)")
      ->required();
  AddEtcdFlags(cmd, &flags->to);
  cmd->add_flag("--dry-run", flags->dry_run, "Read and check both sides, write nothing");
  return cmd;
}

int RunCopyStore(const CopyStoreFlags& flags) {
  auto fail = [](int code, const std::string& msg) {
    std::fprintf(stderr, "visid copy-store: %s\n", msg.c_str());
    return code;
  };
  if (flags.to.store.rfind("etcd", 0) != 0) {
    return fail(2, "--to must be etcd://HOST:PORT[,HOST:PORT...] or etcd+https://..., got \"" + flags.to.store +
                       "\"");
  }
  auto to = EtcdOptionsFromFlags(flags.to);
  if (!to.ok()) {
    // The URL's errors name visid's --store; here it is --to.
    std::string msg = to.status().message();
    if (msg.rfind("--store ", 0) == 0) msg.replace(0, 7, "--to");
    return fail(2, msg);
  }
  // A directory is visid's data directory. The file must exist: opening a
  // store creates one, and copying an empty new store would say nothing.
  std::string path = flags.from;
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) path += "/store.db";
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(2, "--from: no SQLite store at " + path + " (give visid's --data-dir or its store.db)");
  }
  // Opening a store writes to it (its schema, its WAL): a file that is not
  // one is refused before, and left as it was.
  {
    char header[16] = {};
    std::FILE* f = std::fopen(path.c_str(), "rb");
    const size_t n = f ? std::fread(header, 1, sizeof header, f) : 0;
    if (f) std::fclose(f);
    if (n != sizeof header || std::memcmp(header, "SQLite format 3", 16) != 0) {
      return fail(2, "--from: " + path + " is not a SQLite store (no SQLite header)");
    }
  }
  // The store's lock: fails while a visid uses it, so the copy is of a
  // store nobody changes meanwhile.
  auto from = OpenSqliteStore(path, Scheme::Builtin(), SystemClock::Default());
  if (!from.ok()) return fail(1, "--from " + path + ": " + from.status().message());
  std::fprintf(stderr, "visid copy-store: from sqlite %s to etcd %s prefix %s%s\n", path.c_str(),
               flags.to.store.c_str(), to->prefix.c_str(), flags.dry_run ? " (dry run)" : "");
  auto report = CopyStoreToEtcd(**from, *Scheme::Builtin(), *to, flags.dry_run, [](const std::string& line) {
    std::fprintf(stderr, "visid copy-store: %s\n", line.c_str());
  });
  if (!report.ok()) return fail(1, report.status().message());
  std::printf("%-20s %s\n", "KIND", "OBJECTS");
  size_t total = 0;
  for (const auto& [kind, n] : report->objects) {
    std::printf("%-20s %zu\n", kind.c_str(), n);
    total += n;
  }
  if (flags.dry_run) {
    std::printf("dry run: %zu objects, %zu in etcd already, %zu would be copied\n", total, report->already,
                total - report->already);
  } else {
    std::printf("%zu objects: %zu copied, %zu in etcd already; etcd revision %lld\n", total, report->copied,
                report->already, static_cast<long long>(report->revision));
  }
  return 0;
}

}  // namespace visi
