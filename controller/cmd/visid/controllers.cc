#include "controller/cmd/visid/controllers.h"

#include "controller/api/scheme.h"
#include "controller/runtime/event_expiry.h"
#include "controller/runtime/garbage_collector.h"

namespace visi {

StatusOr<std::unique_ptr<VisidControllers>> VisidControllers::Create(Store* store, VisidControllerOptions opts) {
  std::unique_ptr<VisidControllers> c(new VisidControllers());
  c->manager_ = std::make_unique<Manager>(store, opts.manager);
  if (opts.garbage_collector) {
    c->gc_ = std::make_unique<GarbageCollector>(c->manager_.get(), Scheme::Builtin());
    if (opts.event_ttl.count() > 0) {
      c->event_expiry_ = std::make_unique<EventExpiry>(c->manager_.get(), opts.event_ttl);
    }
  }
  if (opts.sessions) {
    VISI_ASSIGN_OR_RETURN(c->docker_, NewDockerClient(opts.docker));
    c->prober_ = std::make_unique<SocketProber>();
    // One machine for now: every session runs on the local Docker host
    // (placement on FarmPool machines plugs in here).
    ContainerRuntime* docker = c->docker_.get();
    c->sessions_ = std::make_unique<SessionReconciler>(
        c->manager_.get(), [docker](const std::string&) { return docker; }, c->prober_.get(), opts.session);
  }
  if (opts.routes) {
    VISI_ASSIGN_OR_RETURN(c->router_, VisidRouter::Create(c->manager_.get(), opts.router));
  }
  return c;
}

VisidControllers::~VisidControllers() {
  if (manager_) manager_->Stop();
  router_.reset();  // before the manager its reconciler was added to
}

}  // namespace visi
