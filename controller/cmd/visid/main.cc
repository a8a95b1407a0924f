// visid: the Visi daemon. Opens the embedded store, applies the manifests it
// is given, and serves the Kubernetes-style API over HTTPS. Wiring only.
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "controller/api/manifest_files.h"
#include "controller/base/duration.h"
#include "controller/client/config.h"
#include "controller/server/auth/pki.h"
#include "controller/server/auth/users.h"
#include "controller/client/remote_store.h"
#include "controller/cmd/visid/controllers.h"
#include "controller/cmd/visid/copy_store.h"
#include "controller/cmd/visid/store_flags.h"
#include "reconcilers/route/login.h"
#include "reconcilers/route/route_reconciler.h"
#include "controller/api/quantity.h"
#include "reconcilers/session/cidr.h"
#include "reconcilers/snapshot/session_bundle.h"
#include "controller/server/conn_guard.h"
#include "controller/server/http_server.h"
#include "controller/store/apply.h"
#include "controller/store/sqlite/sqlite_store.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

void Log(const char* level, const std::string& msg, const visi::Json& fields = visi::Json::object()) {
  visi::Json line = fields;
  line["ts"] = visi::FormatRfc3339(std::chrono::system_clock::now());
  line["level"] = level;
  line["msg"] = msg;
  std::fprintf(stderr, "%s\n", line.dump(-1, ' ', false, visi::Json::error_handler_t::replace).c_str());
}

int ApplyAll(visi::Store& store, const std::vector<std::string>& paths) {
  int failures = 0;
  for (const auto& path : paths) {
    auto files = visi::ManifestFiles(path, false);
    if (!files.ok()) {
      Log("error", "bad --apply path", {{"error", files.status().ToString()}});
      ++failures;
      continue;
    }
    for (const auto& file : *files) {
      auto objects = visi::ReadManifestFile(file);
      if (!objects.ok()) {
        Log("error", "bad manifest", {{"file", file}, {"error", objects.status().ToString()}});
        ++failures;
        continue;
      }
      for (const auto& entry : *objects) {
        const visi::Object& o = entry.object;
        auto r = visi::ApplyObject(store, o);
        visi::Json fields = {{"object", o.kind + "/" + o.metadata.name},
                             {"namespace", o.metadata.namespace_}};
        if (!r.ok()) {
          fields["error"] = entry.Locate(r.status()).ToString();
          Log("error", "apply failed", fields);
          ++failures;
        } else {
          Log("info", std::string("applied: ") + visi::ApplyResultName(*r), fields);
        }
      }
    }
  }
  return failures;
}

// The admin token of the client config in the data directory: kept across
// restarts; minted, with a new admin user, when the config is missing.
visi::StatusOr<std::string> AdminToken(const std::string& config, const std::string& users_file) {
  if (auto existing = visi::LoadClientConfig(config); existing.ok() && !existing->token.empty()) {
    return existing->token;
  }
  std::string name = std::filesystem::exists(users_file) ? "admin-" + visi::RandomHex(3) : "admin";
  VISI_ASSIGN_OR_RETURN(std::string token, visi::AddUser(users_file, name, /*admin=*/true, {}));
  Log("info", "created admin user", {{"user", name}, {"config", config}});
  return token;
}

void WaitForSignal() {
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
}

// --kubeconfig: the controllers alone, against a remote visid's API. Several
// such processes elect one leader among themselves.
int RunControllersOnly(const std::string& kubeconfig, const visi::VisidControllerOptions& opts) {
  auto config = visi::LoadClientConfig(kubeconfig);
  if (!config.ok()) {
    Log("error", "bad --kubeconfig", {{"error", config.status().ToString()}});
    return 2;
  }
  auto client = std::make_shared<visi::ApiClient>(*config);
  auto store = visi::NewRemoteStore(client, visi::Scheme::Builtin());
  auto controllers = visi::VisidControllers::Create(store.get(), opts);
  if (!controllers.ok()) {
    Log("error", "cannot set up the controllers", {{"error", controllers.status().ToString()}});
    return 2;
  }
  if (visi::VisidRouter* r = (*controllers)->router()) {
    Log("info", "router started", {{"url", r->url()}, {"haproxyPid", r->haproxy_pid()}});
  }
  std::printf("controllers started against %s\n", config->server.c_str());
  std::fflush(stdout);
  Log("info", "controllers started", {{"server", config->server},
                                      {"identity", opts.manager.election.identity},
                                      {"leaderElection", opts.manager.leader_election},
                                      {"pid", ::getpid()}});
  (*controllers)->Start();
  WaitForSignal();
  Log("info", "stopping");
  (*controllers)->Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"visid: the Visi control plane (API server and embedded SQLite store)", "visid"};
  std::string data_dir, listen = "127.0.0.1:6443", users_file;
  std::vector<std::string> apply;
  bool once = false, insecure_http = false;
  size_t watch_history = 20000;
  size_t http_threads = 8;
  std::string request_timeout = "60s", idle_timeout = "2m";
  bool leader_elect = true;
  std::string identity, lease_duration = "15s", renew_deadline = "10s", retry_period = "2s";
  std::string kubeconfig;
  bool run_controllers = true;
  visi::VisidControllerOptions copts;
  std::string session_resync = "10s", event_ttl = "1h";
  auto* data_dir_opt =
      app.add_option("--data-dir", data_dir, "Where state lives: store, PKI, users, client config (created, mode 0700)");
  app.add_option("--kubeconfig", kubeconfig,
                 "Run only the controllers, against the visid this client config names (no store, no API)")
      ->check(CLI::ExistingFile)
      ->excludes(data_dir_opt);
  std::vector<std::string> controller_names = {"*"};
  app.add_option("--controllers", controller_names,
                 "Controllers to run, as kube-controller-manager takes them: '*' for all, a name to add one, "
                 "-NAME to leave one out (names: garbage-collector, visisession, visisnapshot, visiroute, visifarm)")
      ->delimiter(',')
      ->capture_default_str();
  bool no_controllers = false;
  app.add_flag("--no-controllers", no_controllers, "Serve the API only; controllers run in other processes");
  app.add_option("--listen", listen, "HOST:PORT to serve the API on; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--users", users_file, "Users file (default DATA_DIR/users.yaml)");
  app.add_option("--apply", apply, "Apply a manifest file or directory at start (repeatable)");
  app.add_flag("--once", once, "Apply, then exit without serving");
  app.add_flag("--insecure-http", insecure_http, "Serve plain HTTP (only on a loopback address)");
  app.add_option("--watch-history", watch_history, "Changes kept for watch resumption (older: 410 Gone)")
      ->check(CLI::Range(size_t{1}, size_t{10000000}))
      ->capture_default_str();
  app.add_option("--http-threads", http_threads,
                 "Threads in the HTTP pool; on 2 cores 8 beat cpprestsdk's 40 (docs/api.md)")
      ->check(CLI::Range(size_t{2}, size_t{1024}))
      ->capture_default_str();
  app.add_option("--request-timeout", request_timeout,
                 "Longest time from a request's first byte to its response, e.g. 60s; a client that "
                 "sends slower loses its connection")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout,
                 "Connections with no traffic for this long are closed (watches send heartbeats)")
      ->capture_default_str();
  app.add_flag("--leader-elect,!--no-leader-elect", leader_elect,
               "Run the controllers only while holding the Lease visi-system/visid-controllers")
      ->capture_default_str();
  app.add_option("--identity", identity, "This process in leader election (default HOST_PID)");
  app.add_option("--lease-duration", lease_duration, "How long a lease holds without renewal")
      ->capture_default_str();
  app.add_option("--renew-deadline", renew_deadline, "The leader steps down when it could not renew for this long")
      ->capture_default_str();
  app.add_option("--retry-period", retry_period, "How often candidates try and the leader renews")
      ->capture_default_str();
  app.add_option("--docker-host", copts.docker.endpoint,
                 "The local machine's Docker Engine API: unix:///PATH or tcp://HOST:PORT (with --docker-tls-*)")
      ->capture_default_str();
  app.add_option("--docker-tls-ca", copts.docker.tls_ca_file, "CA that signed a tcp:// Docker host's certificate");
  app.add_option("--docker-tls-cert", copts.docker.tls_cert_file, "Client certificate for a tcp:// Docker host");
  app.add_option("--docker-tls-key", copts.docker.tls_key_file, "Client key for a tcp:// Docker host");
  app.add_option("--instance", copts.session.instance,
                 "Names this installation on the Docker hosts (label visi.dev/instance), so several can share one")
      ->check([](const std::string& v) {
        return !v.empty() && v.size() <= 63 && v.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") == std::string::npos
                   ? std::string()
                   : std::string("--instance must be 1-63 characters of a-z, 0-9 and '-'");
      })
      ->capture_default_str();
  app.add_option("--subnet-pool", copts.session.subnet_pool,
                 "Session subnets come from this range unless the session's FarmPool names one")
      ->capture_default_str();
  app.add_option("--subnet-prefix", copts.session.subnet_prefix, "Prefix length of each session subnet")
      ->check(CLI::Range(16, 29))
      ->capture_default_str();
  app.add_option("--session-workers", copts.session.workers, "Sessions reconciled at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--session-resync", session_resync,
                 "How often a Ready session is checked for drift (containers removed or stopped by hand)")
      ->capture_default_str();
  app.add_option("--event-ttl", event_ttl, "Events whose last occurrence is older than this are deleted (0s: never)")
      ->capture_default_str();
  std::string router_dir, login_ttl = "5m";
  std::string snapshot_dir, snapshot_gc_period = "10m", snapshot_max_size = "2Gi";
  app.add_option("--snapshot-max-size", snapshot_max_size,
                 "Largest session state a snapshot may hold, unpacked and compressed (a quantity up to 3Gi); "
                 "visid holds a snapshot in memory while it captures or restores it")
      ->capture_default_str();
  app.add_option("--snapshot-dir", snapshot_dir,
                 "Where session snapshots are stored, content-addressed (default DATA_DIR/snapshots; "
                 "/var/lib/visi/snapshots-INSTANCE with --kubeconfig); back it up with the store");
  app.add_option("--snapshot-gc-period", snapshot_gc_period,
                 "How long a snapshot file no Snapshot names is kept before it is deleted (and how often the "
                 "snapshot directory is swept)")
      ->capture_default_str();
  visi::StoreFlags store_flags;
  visi::AddStoreFlags(&app, &store_flags);
  visi::CopyStoreFlags copy_flags;
  CLI::App* copy_store = visi::AddCopyStoreCommand(&app, &copy_flags);
  std::string machine_heartbeat = "10s";
  app.add_option("--machine-heartbeat", machine_heartbeat,
                 "How often each FarmMachine's Docker endpoint is asked whether it answers (a Ready machine that "
                 "does not is NotReady)")
      ->capture_default_str();
  bool print_haproxy_config = false;
  app.add_option("--router-listen", copts.router.listen,
                 "Where the router (HAProxy) takes browsers' requests, IPv4:PORT; port 0 picks one")
      ->capture_default_str();
  app.add_option("--router-url", copts.router.url,
                 "The router's URL as browsers reach it, e.g. https://notebooks.example.org (default http://ROUTER-LISTEN); "
                 "with --no-controllers, the URL login links point to");
  app.add_option("--router-dir", router_dir,
                 "Where the managed HAProxy keeps its config, maps and stats socket (default DATA_DIR/haproxy)");
  app.add_option("--router-attach", copts.router.attach_dir,
                 "Use the HAProxy an operator runs from this directory (config from --print-haproxy-config) instead of "
                 "starting one");
  app.add_option("--wakeup-listen", copts.router.wakeup_listen,
                 "visid's wake-up and login endpoint behind the router, loopback IPv4:PORT; port 0 picks one")
      ->capture_default_str();
  app.add_flag("--print-haproxy-config", print_haproxy_config,
               "Print the haproxy.cfg for --router-attach (with --router-listen, --wakeup-listen) and exit");
  app.add_option("--login-ttl", login_ttl, "How long a login URL (visictl open) can be used, once")
      ->capture_default_str();
  std::string router_sync = "1s", router_activity = "5s";
  app.add_option("--router-sync", router_sync,
                 "How often HAProxy's routes are read back and repaired (after a restart: all of them)")
      ->capture_default_str();
  app.add_option("--router-activity", router_activity,
                 "How often HAProxy's per-route counters are read for lastActivityTime and Idle")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (copy_store->parsed()) {
    // Flags given before "copy-store" are visid's own, not the copy's: an
    // --etcd-prefix there would silently copy to the default prefix.
    for (const CLI::Option* o : app.get_options()) {
      if (o->count() > 0 && o->get_name() != "--help") {
        std::fprintf(stderr, "visid copy-store: %s is not a flag of copy-store (put the copy's flags after \"copy-store\")\n",
                     o->get_name().c_str());
        return 2;
      }
    }
    return visi::RunCopyStore(copy_flags);
  }
  for (auto [flag, text, out] : {std::tuple{"--router-sync", &router_sync, &copts.router.sync_period},
                                 std::tuple{"--router-activity", &router_activity, &copts.router.activity_period}}) {
    auto d = visi::ParseDuration(*text);
    if (!d || d->count() < 100 || *d > std::chrono::hours(1)) {
      std::fprintf(stderr, "visid: %s must be a duration from 100ms to 1h such as 5s, got \"%s\"\n", flag,
                   text->c_str());
      return 2;
    }
    *out = *d;
  }
  if (print_haproxy_config) {
    auto text = visi::RenderAttachableConfig(copts.router);
    if (!text.ok()) {
      std::fprintf(stderr, "visid: %s\n", text.status().ToString().c_str());
      return 2;
    }
    std::fputs(text->c_str(), stdout);
    return 0;
  }
  std::chrono::seconds login_ttl_value{0};
  if (auto d = visi::ParseDuration(login_ttl); d && *d >= std::chrono::seconds(1) && *d <= std::chrono::hours(24)) {
    login_ttl_value = std::chrono::duration_cast<std::chrono::seconds>(*d);
  } else {
    std::fprintf(stderr, "visid: --login-ttl must be a duration from 1s to 24h such as 5m, got \"%s\"\n",
                 login_ttl.c_str());
    return 2;
  }
  if (visi::Status s = visi::CheckStoreFlags(store_flags); !s.ok()) {
    std::fprintf(stderr, "visid: %s\n", s.message().c_str());
    return 2;
  }
  if (no_controllers) controller_names.clear();
  for (const auto& n : controller_names) {
    const std::string name = n.rfind('-', 0) == 0 ? n.substr(1) : n;
    if (name != "*" && name != "garbage-collector" && name != "visisession" && name != "visisnapshot" &&
        name != "visiroute" && name != "visifarm") {
      std::fprintf(stderr,
                   "visid: --controllers: unknown controller \"%s\" (known: garbage-collector, visisession, "
                   "visisnapshot, visiroute, visifarm)\n",
                   name.c_str());
      return 2;
    }
  }
  auto enabled = [&](const std::string& name) {
    bool on = false;
    for (const auto& n : controller_names) {
      if (n == "*" || n == name) on = true;
      if (n == "-" + name) return false;
    }
    return on;
  };
  copts.garbage_collector = enabled("garbage-collector");
  copts.sessions = enabled("visisession");
  copts.routes = enabled("visiroute");
  copts.snapshots = enabled("visisnapshot");
  copts.farm = enabled("visifarm");
  run_controllers = copts.garbage_collector || copts.sessions || copts.routes || copts.snapshots || copts.farm;
  if (auto d = visi::ParseDuration(machine_heartbeat); d && *d >= std::chrono::milliseconds(100) &&
                                                       *d <= std::chrono::hours(1)) {
    copts.machines.heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  } else {
    std::fprintf(stderr, "visid: --machine-heartbeat must be a duration from 100ms to 1h such as 10s, got \"%s\"\n",
                 machine_heartbeat.c_str());
    return 2;
  }
  if (auto q = visi::ParseMemoryBytes(snapshot_max_size, "--snapshot-max-size");
      q.ok() && *q >= (int64_t{1} << 20) && *q <= visi::kMaxBundleLimit) {
    copts.session.bundle_limits.max_bundle_bytes = *q;
    copts.session.bundle_limits.max_unpacked_bytes = *q;
    // A path's archive comes from Docker in one answer: as large as a snapshot may be.
    copts.docker.max_body_bytes = std::max(copts.docker.max_body_bytes, static_cast<size_t>(*q));
  } else {
    std::fprintf(stderr, "visid: --snapshot-max-size must be a quantity from 1Mi to 3Gi such as 2Gi, got \"%s\"\n",
                 snapshot_max_size.c_str());
    return 2;
  }
  if (auto d = visi::ParseDuration(snapshot_gc_period); d && *d >= std::chrono::seconds(1)) {
    copts.snapshot_gc_period = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  } else {
    std::fprintf(stderr, "visid: --snapshot-gc-period must be a duration of at least 1s such as 10m, got \"%s\"\n",
                 snapshot_gc_period.c_str());
    return 2;
  }
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  visi::LeaderElectionOptions election;
  for (auto [flag, text, out] : {std::tuple{"--lease-duration", &lease_duration, &election.lease_duration},
                                 std::tuple{"--renew-deadline", &renew_deadline, &election.renew_deadline},
                                 std::tuple{"--retry-period", &retry_period, &election.retry_period}}) {
    auto d = visi::ParseDuration(*text);
    if (!d || d->count() < 100) {
      std::fprintf(stderr, "visid: %s must be a duration of at least 100ms such as 15s, got \"%s\"\n", flag,
                   text->c_str());
      return 2;
    }
    *out = *d;
  }
  if (!(election.retry_period < election.renew_deadline && election.renew_deadline < election.lease_duration)) {
    std::fprintf(stderr, "visid: leader election needs --retry-period < --renew-deadline < --lease-duration\n");
    return 2;
  }
  if (identity.empty()) {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    identity = std::string(host) + "_" + std::to_string(::getpid());
  }
  election.identity = identity;
  copts.manager.leader_election = leader_elect;
  copts.manager.election = election;
  if (auto d = visi::ParseDuration(session_resync); d && d->count() >= 100) {
    copts.session.resync = *d;
  } else {
    std::fprintf(stderr, "visid: --session-resync must be a duration of at least 100ms such as 10s, got \"%s\"\n",
                 session_resync.c_str());
    return 2;
  }
  if (auto d = visi::ParseDuration(event_ttl); d) {
    copts.event_ttl = std::chrono::duration_cast<std::chrono::seconds>(*d);
  } else {
    std::fprintf(stderr, "visid: --event-ttl must be a duration such as 1h or 0s, got \"%s\"\n", event_ttl.c_str());
    return 2;
  }
  if (auto pool = visi::ParseCidr(copts.session.subnet_pool, "--subnet-pool"); !pool.ok()) {
    std::fprintf(stderr, "visid: %s\n", pool.status().message().c_str());
    return 2;
  } else if (pool->prefix > copts.session.subnet_prefix) {
    std::fprintf(stderr, "visid: --subnet-prefix /%d does not fit in --subnet-pool %s\n", copts.session.subnet_prefix,
                 copts.session.subnet_pool.c_str());
    return 2;
  }
  if (!kubeconfig.empty()) {
    copts.router.runtime_dir = !router_dir.empty() ? router_dir : "/run/visi/router-" + copts.session.instance;
    copts.snapshot_dir = !snapshot_dir.empty() ? std::filesystem::absolute(snapshot_dir).string()
                                               : "/var/lib/visi/snapshots-" + copts.session.instance;
    return RunControllersOnly(kubeconfig, copts);
  }
  if (data_dir.empty()) {
    std::fprintf(stderr, "visid: --data-dir is required (or --kubeconfig to run only the controllers)\n");
    return 2;
  }
  visi::ConnectionDeadlines deadlines;
  for (auto [flag, text, out] : {std::tuple{"--request-timeout", &request_timeout, &deadlines.request},
                                 std::tuple{"--idle-timeout", &idle_timeout, &deadlines.idle}}) {
    auto d = visi::ParseDuration(*text);
    // Watches send a heartbeat every 3 s: an idle deadline below 5 s would cut them.
    auto least = out == &deadlines.idle ? std::chrono::milliseconds(5000) : std::chrono::milliseconds(100);
    if (!d || *d < least) {
      std::fprintf(stderr, "visid: %s must be a duration of at least %s such as 60s or 2m, got \"%s\"\n",
                   flag, visi::FormatDuration(least).c_str(), text->c_str());
      return 2;
    }
    *out = *d;
  }

  auto colon = listen.rfind(':');
  int port = -1;
  try {
    if (colon != std::string::npos) port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
  }
  if (colon == std::string::npos || colon == 0 || port < 0 || port > 65535) {
    std::fprintf(stderr, "visid: --listen must be HOST:PORT with PORT 0..65535, got \"%s\"\n", listen.c_str());
    return 2;
  }
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (users_file.empty()) users_file = data_dir + "/users.yaml";

  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) {
    std::fprintf(stderr, "visid: cannot create %s: %s\n", data_dir.c_str(), ec.message().c_str());
    return 1;
  }
  ::chmod(data_dir.c_str(), 0700);
  data_dir = std::filesystem::absolute(data_dir).string();
  copts.router.runtime_dir = !router_dir.empty() ? std::filesystem::absolute(router_dir).string() : data_dir + "/haproxy";
  copts.snapshot_dir = !snapshot_dir.empty() ? std::filesystem::absolute(snapshot_dir).string() : data_dir + "/snapshots";

  visi::StoreOptions store_opts;
  store_opts.history_limit = watch_history;
  // Before anything uses cpprestsdk (the etcd store's client does): its
  // thread pool can be sized only once, before its first use.
  visi::InitHttpThreads(http_threads);
  std::string store_where;
  auto store = visi::OpenStoreFromFlags(store_flags, data_dir, store_opts, &store_where);
  if (!store.ok()) {
    Log("error", "cannot open store", {{"store", store_where}, {"error", store.status().ToString()}});
    return store.status().code() == visi::Code::kInvalid ? 2 : 1;
  }
  Log("info", "store open", {{"store", store_where}, {"revision", (*store)->CurrentRevision()}});
  int failures = ApplyAll(**store, apply);
  if (once) return failures ? 1 : 0;

  visi::PkiPaths pki;
  if (auto s = visi::EnsurePki(data_dir + "/pki", {host}, &pki); !s.ok()) {
    Log("error", "cannot set up TLS", {{"error", s.ToString()}});
    return 1;
  }
  const std::string config = data_dir + "/visictl.conf";
  auto token = AdminToken(config, users_file);
  if (!token.ok()) {
    Log("error", "cannot set up the admin user", {{"error", token.status().ToString()}});
    return 1;
  }
  auto users = visi::Authenticator::Load(users_file);
  if (!users.ok()) {
    Log("error", "bad users file", {{"error", users.status().ToString()}});
    return 2;
  }
  visi::HttpServerOptions http;
  http.host = host;
  http.port = port;
  http.tls = !insecure_http;
  http.cert_file = pki.server_cert;
  http.key_file = pki.server_key;
  // Reads of the etcd store wait on etcd through cpprestsdk, whose shared
  // pool delivers the answers: a GET that waited on a pool thread could
  // leave none to deliver them.
  http.all_on_write_threads = visi::StoreIsRemote(store_flags);
  // cpprestsdk reads a whole body before its 413 goes out: room for a body
  // some times the limit, so the client still hears why, and no more.
  deadlines.max_request_bytes = static_cast<int64_t>(4 * http.max_body_bytes + http.max_header_bytes + 64 * 1024);
  visi::StartConnectionGuard(deadlines);
  std::unique_ptr<visi::VisidControllers> controllers;
  if (run_controllers) {
    auto c = visi::VisidControllers::Create(store->get(), copts);
    if (!c.ok()) {
      Log("error", "cannot set up the controllers", {{"error", c.status().ToString()}});
      return 2;
    }
    controllers = std::move(*c);
  }
  visi::Metrics metrics;
  if (controllers) {
    metrics.AddCollector([m = controllers->manager()] { return m->RenderMetrics(); });
    metrics.AddCollector([c = controllers.get()] { return c->RenderFarmMetrics(); });
  }
  metrics.AddCollector([] {
    auto totals = visi::ConnectionGuardTotals();
    return "# HELP visi_apiserver_connections_closed_total Connections closed by a deadline.\n"
           "# TYPE visi_apiserver_connections_closed_total counter\n"
           "visi_apiserver_connections_closed_total{reason=\"request_timeout\"} " +
           std::to_string(totals.request_timeouts) +
           "\n"
           "visi_apiserver_connections_closed_total{reason=\"idle_timeout\"} " +
           std::to_string(totals.idle_timeouts) +
           "\n"
           "visi_apiserver_connections_closed_total{reason=\"request_too_large\"} " +
           std::to_string(totals.oversized_requests) + "\n";
  });
  visi::ApiHandlerOptions handler_opts;
  if (controllers) {
    handler_opts.not_ready = [m = controllers->manager()] {
      return m->Ready() ? std::string() : "controller caches not synced";
    };
  }
  std::string router_url = copts.router.url;
  if (controllers && controllers->router()) {
    visi::VisidRouter* r = controllers->router();
    router_url = r->url();
    metrics.AddCollector([r] { return r->routes()->RenderMetrics(); });
    Log("info", "router started", {{"url", r->url()}, {"haproxyPid", r->haproxy_pid()}});
  }
  while (!router_url.empty() && router_url.back() == '/') router_url.pop_back();
  handler_opts.login = [s = store->get(), router_url, login_ttl_value](const std::string& ns, const std::string& name) {
    return visi::IssueLogin(s, ns, name, router_url, login_ttl_value, visi::SystemClock::Default()->Now());
  };
  visi::ApiHandler handler(store->get(), visi::Scheme::Builtin(), &metrics, handler_opts);
  auto server = visi::HttpServer::Start(http, &handler, &*users);
  if (!server.ok()) {
    Log("error", "cannot serve", {{"error", server.status().ToString()}});
    return 1;
  }
  visi::ClientConfig client;
  client.server = (*server)->url();
  client.certificate_authority = insecure_http ? "" : pki.ca_cert;
  client.token = *token;
  if (auto s = visi::WriteClientConfig(config, client); !s.ok()) {
    Log("error", "cannot write client config", {{"error", s.ToString()}});
    return 1;
  }
  std::printf("listening on %s\n", (*server)->url().c_str());
  std::fflush(stdout);
  Log("info", "serving", {{"url", (*server)->url()}, {"config", config},
                          {"pid", ::getpid()}});
  if (controllers) {
    controllers->Start();
    Log("info", "controllers started", {{"identity", identity}, {"leaderElection", leader_elect}});
  }
  WaitForSignal();
  Log("info", "stopping");
  if (controllers) controllers->Stop();  // running reconciles finish; the lease is released
  (*server)->Stop();
  visi::StopConnectionGuard();
  return 0;
}
