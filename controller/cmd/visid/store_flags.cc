#include "controller/cmd/visid/store_flags.h"

#include <CLI/CLI.hpp>

#include "controller/store/etcd/etcd_store.h"
#include "controller/store/sqlite/sqlite_store.h"

namespace visi {

void AddStoreFlags(CLI::App* app, StoreFlags* flags) {
  app->add_option("--store", flags->store,
                  "Where objects are kept: sqlite (DATA_DIR/store.db, the default) or "
                  "etcd://HOST:PORT[,HOST:PORT...] (etcd+https://... for TLS): several visid on one etcd");
  app->add_option("--etcd-compact-retention", flags->etcd_compact_retention,
                  "Compact etcd to this many revisions below the newest as visid writes (all of etcd, every "
                  "prefix: only when visid owns it). 0: never; etcd's --auto-compaction-* does it")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40))
      ->capture_default_str();
  AddEtcdFlags(app, flags);
}

void AddEtcdFlags(CLI::App* app, StoreFlags* flags) {
  app->add_option("--etcd-prefix", flags->etcd_prefix, "Key prefix in etcd, so installations can share one")
      ->capture_default_str();
  app->add_option("--etcd-ca", flags->etcd_ca, "CA that signed the etcd members' certificates (etcd+https)");
  app->add_option("--etcd-cert", flags->etcd_cert, "Client certificate for etcd (--client-cert-auth)");
  app->add_option("--etcd-key", flags->etcd_key, "Client key for etcd");
}

Status CheckStoreFlags(const StoreFlags& flags) {
  if (flags.store.empty() || flags.store == "sqlite") return OkStatus();
  if (flags.store.rfind("etcd", 0) != 0) {
    return InvalidError("--store must be sqlite or etcd://HOST:PORT[,HOST:PORT...], got \"" + flags.store + "\"",
                        {{"--store", "sqlite or etcd://HOST:PORT"}});
  }
  VISI_RETURN_IF_ERROR(ParseEtcdStoreUrl(flags.store).status());
  if (flags.etcd_prefix.empty() || flags.etcd_prefix.front() != '/' || flags.etcd_prefix.back() != '/') {
    return InvalidError("--etcd-prefix must start and end with '/', got \"" + flags.etcd_prefix + "\"",
                        {{"--etcd-prefix", "/PATH/"}});
  }
  if (flags.etcd_cert.empty() != flags.etcd_key.empty()) {
    return InvalidError("--etcd-cert and --etcd-key go together", {{"--etcd-cert", "with --etcd-key"}});
  }
  return OkStatus();
}

StatusOr<EtcdStoreOptions> EtcdOptionsFromFlags(const StoreFlags& flags) {
  VISI_RETURN_IF_ERROR(CheckStoreFlags(flags));
  EtcdStoreOptions eo;
  VISI_ASSIGN_OR_RETURN(eo.endpoints, ParseEtcdStoreUrl(flags.store));
  eo.prefix = flags.etcd_prefix;
  eo.tls_ca_file = flags.etcd_ca;
  eo.tls_cert_file = flags.etcd_cert;
  eo.tls_key_file = flags.etcd_key;
  return eo;
}

StatusOr<std::unique_ptr<Store>> OpenStoreFromFlags(const StoreFlags& flags, const std::string& data_dir,
                                                    const StoreOptions& options, std::string* where) {
  if (flags.store.empty() || flags.store == "sqlite") {
    *where = "sqlite " + data_dir + "/store.db";
    return OpenSqliteStore(data_dir + "/store.db", Scheme::Builtin(), SystemClock::Default(), options);
  }
  VISI_ASSIGN_OR_RETURN(EtcdStoreOptions eo, EtcdOptionsFromFlags(flags));
  // Compaction covers all of etcd, whatever the prefix: only when asked.
  eo.retained_revisions = flags.etcd_compact_retention;
  eo.watch_buffer = options.watch_buffer;
  *where = "etcd " + flags.store + " prefix " + eo.prefix;
  return OpenEtcdStore(eo, Scheme::Builtin(), SystemClock::Default());
}

}  // namespace visi
