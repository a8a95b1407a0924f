// visictl: the kubectl-like command line of Visi. Wiring only: the commands
// live in controller/cli.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <sstream>

#include "controller/api/yaml_codec.h"
#include "controller/base/duration.h"
#include "controller/cli/commands.h"
#include "controller/cli/open_command.h"
#include "controller/client/config.h"
#include "controller/client/remote_store.h"

namespace {

// Edits the kubeconfig-format file in place (current-context, a context's
// namespace) and prints it with tokens redacted (view).
int ConfigCommand(const std::string& path, const std::string& action, const std::string& arg,
                  const std::string& ns) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "error: cannot read config " << path << "\n";
    return 1;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  auto docs = visi::ParseYamlDocuments(buf.str(), path);
  if (!docs.ok() || docs->size() != 1 || !(*docs)[0].value.is_object()) {
    std::cerr << "error: " << (docs.ok() ? path + ": not a config" : docs.status().message()) << "\n";
    return 1;
  }
  visi::Json j = (*docs)[0].value;
  if (action == "view") {
    for (auto& u : j.value("users", visi::Json::array())) (void)u;
    if (j.contains("users")) {
      for (auto& u : j["users"]) {
        if (u.contains("user") && u["user"].contains("token")) u["user"]["token"] = "REDACTED";
      }
    }
    std::cout << visi::EmitYaml(j);
    return 0;
  }
  if (action == "current-context") {
    std::cout << j.value("current-context", "") << "\n";
    return 0;
  }
  bool found = false;
  for (auto& c : j["contexts"]) {
    if (c.value("name", "") == arg) found = true;
    if (action == "set-context" && c.value("name", "") == arg) c["context"]["namespace"] = ns;
  }
  if (!found) {
    std::cerr << "error: no context named \"" << arg << "\" in " << path << "\n";
    return 1;
  }
  if (action == "use-context") j["current-context"] = arg;
  std::ofstream out(path + ".tmp");
  out << visi::EmitYaml(j);
  out.close();
  std::rename((path + ".tmp").c_str(), path.c_str());
  std::cout << (action == "use-context" ? "Switched to context \"" + arg + "\".\n"
                                        : "Context \"" + arg + "\" modified.\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"visictl controls Visi: notebook + Spark sessions on a farm of Docker hosts.\n"
               "Config: --config, else $VISICONFIG, else ~/.visi/config (kubeconfig format).",
               "visictl"};
  app.require_subcommand(1);
  app.fallthrough();  // global flags work after the subcommand too
  std::string config_flag, context, ns;
  app.add_option("--config", config_flag, "Path to the config file (kubeconfig format)");
  app.add_option("--context", context, "The config context to use");
  app.add_option("-n,--namespace", ns, "The namespace (default: the context's)");

  std::vector<std::string> files, args;
  bool recursive = false, all_ns = false, watch = false, wait = true;
  std::string selector, output, for_spec, timeout = "30s", cfg_action, cfg_arg, cfg_ns;

  auto* apply = app.add_subcommand("apply", "Create or update objects from files (idempotent)");
  apply->add_option("-f,--filename", files, "File, directory or - for stdin (repeatable)")->required();
  apply->add_flag("-R,--recursive", recursive, "Process directories recursively");

  auto* get = app.add_subcommand("get", "List objects or show some (KIND [NAME...] or KIND/NAME)");
  get->add_option("args", args, "KIND [NAME...]")->required();
  get->add_flag("-A,--all-namespaces", all_ns, "List across all namespaces");
  get->add_option("-l,--selector", selector, "Label selector, e.g. app=visi,tier in (a,b)");
  get->add_option("-o,--output", output, "wide, yaml, json, name or jsonpath=TEMPLATE");
  get->add_flag("-w,--watch", watch, "After listing, watch for changes");

  auto* describe = app.add_subcommand("describe", "Show an object in detail, with conditions and events");
  describe->add_option("args", args, "KIND [NAME...]")->required();

  auto* del = app.add_subcommand("delete", "Delete objects by name, file or label selector");
  del->add_option("args", args, "KIND [NAME...] or KIND/NAME");
  del->add_option("-f,--filename", files, "Delete the objects in these files");
  del->add_option("-l,--selector", selector, "Label selector");
  del->add_flag("-A,--all-namespaces", all_ns, "With -l: across all namespaces");
  del->add_option("--wait", wait, "Wait until the objects are gone (default true)")->capture_default_str();
  del->add_option("--timeout", timeout, "How long --wait waits, e.g. 30s, 5m")->capture_default_str();

  auto* waitc = app.add_subcommand("wait", "Wait for a condition on objects, with progress");
  waitc->add_option("args", args, "KIND/NAME... or KIND NAME...")->required();
  waitc->add_option("--for", for_spec, "condition=TYPE[=true|false], delete, or jsonpath={PATH}=VALUE")
      ->required();
  waitc->add_option("--timeout", timeout, "e.g. 30s, 5m, 1h")->capture_default_str();

  auto* open = app.add_subcommand("open", "Print a one-time login URL to a session (sets its cookie, then opens it)");
  std::string session_name;
  open->add_option("name", session_name, "The VisiSession")->required();
  open->add_option("-o,--output", output, "url (default: the URL alone), json or yaml");

  auto* config = app.add_subcommand("config", "View or change the config file");
  config->require_subcommand(1);
  auto* view = config->add_subcommand("view", "Print the config (tokens redacted)");
  auto* current = config->add_subcommand("current-context", "Print the current context");
  auto* use = config->add_subcommand("use-context", "Make a context the current one");
  use->add_option("name", cfg_arg)->required();
  auto* setctx = config->add_subcommand("set-context", "Set a context's default namespace");
  setctx->add_option("name", cfg_arg)->required();
  setctx->add_option("--namespace", cfg_ns, "Default namespace for the context")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;  // usage errors: exit 2, as scripts expect
  }

  const std::string config_path = visi::DefaultConfigPath(config_flag);
  if (config->parsed()) {
    if (view->parsed()) return ConfigCommand(config_path, "view", "", "");
    if (current->parsed()) return ConfigCommand(config_path, "current-context", "", "");
    if (use->parsed()) return ConfigCommand(config_path, "use-context", cfg_arg, "");
    return ConfigCommand(config_path, "set-context", cfg_arg, cfg_ns);
  }

  auto timeout_ms = visi::ParseDuration(timeout);
  if (!timeout_ms) {
    std::cerr << "error: --timeout must be a duration such as 30s, 5m or 1h, got \"" << timeout << "\"\n";
    return 2;
  }

  auto cfg = visi::LoadClientConfig(config_path, context);
  if (!cfg.ok()) {
    std::cerr << "error: " << cfg.status().ToString() << "\n"
              << "hint: start visid and point --config or VISICONFIG at DATA_DIR/visictl.conf\n";
    return 1;
  }
  auto client = std::make_shared<visi::ApiClient>(*cfg);
  if (open->parsed()) {
    return visi::RunOpen(*client, ns.empty() ? cfg->namespace_ : ns, session_name, output, std::cout, std::cerr);
  }
  auto store = visi::NewRemoteStore(client, visi::Scheme::Builtin());
  visi::CliContext c{store.get(), visi::Scheme::Builtin(), ns.empty() ? cfg->namespace_ : ns, all_ns,
                     &std::cout, &std::cerr};
  if (apply->parsed()) return visi::RunApply(c, files, recursive);
  if (get->parsed()) return visi::RunGet(c, args, selector, output, watch);
  if (describe->parsed()) return visi::RunDescribe(c, args);
  if (del->parsed()) return visi::RunDelete(c, args, files, selector, wait, std::chrono::ceil<std::chrono::seconds>(*timeout_ms));
  if (waitc->parsed()) return visi::RunWait(c, args, for_spec, std::chrono::ceil<std::chrono::seconds>(*timeout_ms));
  return 2;
}
