#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "controller/api/object.h"
#include "controller/runtime/ownership.h"

namespace visi::testing {

// Polls `done` every millisecond for up to `limit` of real time (bounded
// waits for other threads; never a timing assertion).
inline bool Eventually(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return done();
}

// A valid Event object owned (as controller) by `owner`.
inline Object OwnedEvent(const Object& owner, const std::string& name) {
  Object e;
  e.kind = "Event";
  e.metadata.namespace_ = owner.metadata.namespace_;
  e.metadata.name = name;
  e.spec = {{"involvedObject", {{"kind", owner.kind}, {"name", owner.metadata.name}}}, {"reason", "Test"}};
  e.metadata.owner_references.push_back(OwnerRefTo(owner));  // controller, blockOwnerDeletion
  return e;
}

}  // namespace visi::testing
