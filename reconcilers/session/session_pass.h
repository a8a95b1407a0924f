#pragma once

#include "controller/api/object.h"
#include "controller/base/clock.h"
#include "reconcilers/session/session_desired.h"
#include "reconcilers/session/session_reconciler.h"
#include "reconcilers/session/session_status.h"

namespace visi {

// One reconcile of one live session: what it is about and what it saw so
// far. Private to the session reconciler's files.
struct SessionReconciler::Pass {
  ObjectPtr s;
  SessionIdentity id;
  SessionObservation obs;
  TimePoint now;
  int start_timeout = 300;
};

}  // namespace visi
