#include "controller/runtime/manager.h"

#include <chrono>
#include <cstdio>
#include <set>

#include "controller/runtime/event_recorder.h"

namespace visi {
namespace {

// One structured log line on a leadership change, with wall-clock
// milliseconds so that lines of several processes can be ordered.
void LogLeadership(const char* msg, const std::string& identity) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::fprintf(stderr, "{\"level\":\"info\",\"msg\":\"%s\",\"identity\":%s,\"unixMillis\":%lld}\n", msg,
               Json(identity).dump().c_str(), static_cast<long long>(ms));
}

}  // namespace

std::string MergeExpositions(const std::vector<std::string>& parts) {
  struct Family {
    std::string help, type;
    std::vector<std::string> samples;
  };
  std::vector<std::string> order;
  std::map<std::string, Family> families;
  auto family = [&](const std::string& name) -> Family& {
    if (!families.count(name)) order.push_back(name);
    return families[name];
  };
  for (const auto& text : parts) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t end = text.find('\n', pos);
      if (end == std::string::npos) end = text.size();
      std::string line = text.substr(pos, end - pos);
      pos = end + 1;
      if (line.empty()) continue;
      if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
        std::string rest = line.substr(7);
        std::string name = rest.substr(0, rest.find(' '));
        Family& f = family(name);
        std::string& slot = line[2] == 'H' ? f.help : f.type;
        if (slot.empty()) slot = line;
        continue;
      }
      if (line[0] == '#') continue;
      std::string name = line.substr(0, line.find_first_of("{ "));
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        std::string sfx = suffix;
        if (!families.count(name) && name.size() > sfx.size() &&
            name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0 &&
            families.count(name.substr(0, name.size() - sfx.size()))) {
          name = name.substr(0, name.size() - sfx.size());
        }
      }
      family(name).samples.push_back(line);
    }
  }
  std::string out;
  for (const auto& name : order) {
    const Family& f = families[name];
    if (!f.help.empty()) out += f.help + "\n";
    if (!f.type.empty()) out += f.type + "\n";
    for (const auto& s : f.samples) out += s + "\n";
  }
  return out;
}

Manager::Manager(Store* store, ManagerOptions opts) : store_(store), opts_(std::move(opts)) {
  opts_.election.clock = opts_.clock;
  EventRecorder::Options eo;
  eo.component = opts_.component;
  eo.host = opts_.election.identity;
  events_ = std::make_unique<EventRecorder>(store_, opts_.clock, eo);
}

Manager::~Manager() { Stop(); }

Informer* Manager::InformerFor(const std::string& kind) {
  std::lock_guard lock(mu_);
  auto& slot = informers_[kind];
  if (!slot) {
    InformerOptions io;
    io.kind = kind;
    slot = std::make_unique<Informer>(store_, opts_.clock, io);
    if (started_) slot->Start();
  }
  return slot.get();
}

Controller* Manager::AddController(ControllerOptions copts, const std::string& kind, ReconcileFn reconcile) {
  Informer* primary = InformerFor(kind);
  copts.clock = opts_.clock;
  auto c = std::make_unique<Controller>(std::move(copts), store_, primary, std::move(reconcile), events_.get());
  std::lock_guard lock(mu_);
  controllers_.push_back(std::move(c));
  return controllers_.back().get();
}

void Manager::Start() {
  if (started_.exchange(true)) return;
  std::vector<Informer*> infs;
  {
    std::lock_guard lock(mu_);
    for (auto& [kind, inf] : informers_) {
      inf->Start();
      infs.push_back(inf.get());
    }
  }
  // Controllers act on what their caches show, and the elector's callbacks
  // must not block its renewals: caches sync before the election starts.
  for (Informer* inf : infs) {
    while (started_ && !inf->WaitForSync(std::chrono::milliseconds(200))) {
    }
  }
  if (!opts_.leader_election) {
    StartControllers();
    return;
  }
  LeaderCallbacks cb;
  cb.on_started_leading = [this] { StartControllers(); };
  cb.on_stopped_leading = [this] { StopControllers(); };
  elector_ = std::make_unique<LeaderElector>(store_, opts_.election, cb);
  elector_->Start();
}

void Manager::StartControllers() {
  std::lock_guard run(run_mu_);
  if (!started_) return;
  std::lock_guard lock(mu_);
  for (auto& c : controllers_) c->Start();
  leading_ = true;
  if (opts_.leader_election) LogLeadership("started leading", opts_.election.identity);
}

void Manager::StopControllers() {
  std::lock_guard run(run_mu_);
  const bool was_leading = leading_.exchange(false);
  std::vector<Controller*> cs;
  {
    std::lock_guard lock(mu_);
    for (auto& c : controllers_) cs.push_back(c.get());
  }
  for (Controller* c : cs) c->Stop();
  // Logged once the work has stopped: the line bounds this leader's term.
  if (opts_.leader_election && was_leading) LogLeadership("stopped leading", opts_.election.identity);
}

void Manager::Stop() {
  if (!started_.exchange(false)) return;
  if (elector_) {
    elector_->Stop();  // stops the controllers, then releases the lease
  } else {
    StopControllers();
  }
  std::lock_guard lock(mu_);
  for (auto& [kind, inf] : informers_) inf->Stop();
}

bool Manager::IsLeader() const { return leading_.load(); }

bool Manager::Ready() const {
  std::lock_guard lock(mu_);
  for (const auto& [kind, inf] : informers_) {
    if (!inf->HasSynced()) return false;
  }
  return started_.load();
}

std::string Manager::RenderMetrics() const {
  std::vector<std::string> parts;
  parts.push_back(
      "# HELP visi_leader_is_leader Whether this process holds the controllers' lease.\n"
      "# TYPE visi_leader_is_leader gauge\nvisi_leader_is_leader " +
      std::string(IsLeader() ? "1" : "0") + "\n");
  std::lock_guard lock(mu_);
  for (const auto& c : controllers_) parts.push_back(c->RenderMetrics());
  std::string inf_text = "# HELP visi_informer_objects Objects in an informer's cache.\n# TYPE visi_informer_objects gauge\n";
  for (const auto& [kind, inf] : informers_) {
    inf_text += "visi_informer_objects{kind=\"" + kind + "\"} " + std::to_string(inf->size()) + "\n";
  }
  parts.push_back(inf_text);
  return MergeExpositions(parts);
}

}  // namespace visi
