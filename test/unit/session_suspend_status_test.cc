// The status of a suspend and a resume, as pure functions: phases,
// conditions, snapshot fields, the start deadline across a resume, and
// other controllers' fields kept.
#include <gtest/gtest.h>

#include "controller/base/clock.h"
#include "controller/runtime/conditions.h"
#include "reconcilers/session/session_status.h"
#include "test/unit/session_test_objects.h"

namespace visi {
namespace {

using namespace session_testing;  // NOLINT: the shared test objects

TEST(SessionStatusTest, SuspendingThenSuspended) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  ASSERT_EQ(s.status["phase"], "Running");
  ASSERT_TRUE(s.status.contains("frontEndAddress"));
  EXPECT_EQ(FindCondition(s.status, "Suspended"), nullptr) << "a session never suspended has no Suspended condition";

  const TimePoint t1 = t0 + std::chrono::hours(2);
  s.status = BuildSessionStatus(s, SuspendObservation(3), t1, 300);
  EXPECT_EQ(s.status["phase"], "Suspending");
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "Suspending/False");
  EXPECT_EQ(ReasonOf(s.status, "Ready"), "Suspending/False");
  EXPECT_EQ(ReasonOf(s.status, "ContainersReady"), "Suspending/False");
  EXPECT_FALSE(s.status.contains("suspendedTime"));
  EXPECT_FALSE(s.status.contains("frontEndAddress")) << "nothing to route to while the containers go";
  EXPECT_FALSE(s.status.contains("sparkMasterAddress"));
  EXPECT_NE(s.status["message"].get<std::string>().find("removing 3 containers"), std::string::npos);

  const TimePoint t2 = t1 + std::chrono::seconds(5);
  s.status = BuildSessionStatus(s, SuspendObservation(0), t2, 300);
  EXPECT_EQ(s.status["phase"], "Suspended");
  EXPECT_TRUE(StatusIsSuspended(s.status));
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "SuspendRequested/True");
  EXPECT_EQ(ReasonOf(s.status, "Ready"), "Suspended/False");
  EXPECT_EQ(ReasonOf(s.status, "ContainersReady"), "Suspended/False");
  EXPECT_EQ(ReasonOf(s.status, "NetworkReady"), "NetworkCreated/True") << "the network is kept";
  EXPECT_EQ(s.status["suspendedTime"], FormatRfc3339(t2));
  EXPECT_EQ(s.status["components"], Json::array());
  EXPECT_EQ(s.status["readyWorkers"], 0);
  EXPECT_EQ(s.status["subnet"], "10.200.7.0/24");
  EXPECT_EQ(s.status["network"], "visi-alice-nb-01234567");
  EXPECT_FALSE(s.status.contains("frontEndAddress"));
  EXPECT_FALSE(s.status.contains("sparkMasterAddress"));

  // Suspended for days: no start deadline, and suspendedTime stays.
  s.status = BuildSessionStatus(s, SuspendObservation(0), t2 + std::chrono::hours(72), 300);
  EXPECT_EQ(s.status["phase"], "Suspended");
  EXPECT_EQ(ReasonOf(s.status, "Ready"), "Suspended/False");
  EXPECT_EQ(s.status["suspendedTime"], FormatRfc3339(t2));
}

TEST(SessionStatusTest, ASessionCreatedSuspendedHasNoNetworkAndNoDeadline) {
  Object s = SessionObject();
  SessionObservation obs = SuspendObservation(0);
  obs.subnet.clear();
  obs.network.clear();
  obs.network_ready = false;
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, obs, t0, 300);
  s.status = BuildSessionStatus(s, obs, t0 + std::chrono::hours(1), 300);
  EXPECT_EQ(s.status["phase"], "Suspended");
  EXPECT_EQ(ReasonOf(s.status, "NetworkReady"), "Suspended/False");
  EXPECT_FALSE(s.status.contains("subnet"));
  EXPECT_FALSE(s.status.contains("startedTime")) << "it never started";
}

// Resume: Suspended False (Resumed), startedTime is the resume, and the start
// deadline counts from it, not from when Ready went False at the suspend.
TEST(SessionStatusTest, ResumeRestartsTheStartDeadline) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  s.status = BuildSessionStatus(s, SuspendObservation(0), t0 + std::chrono::hours(1), 300);
  ASSERT_EQ(s.status["phase"], "Suspended");

  const TimePoint resume = t0 + std::chrono::hours(5);
  SessionObservation starting = RunningObservation();
  for (auto& c : starting.components) {
    c.ready = false;
    c.state = "created";
    c.address.clear();
    c.message = "container is created";
  }
  s.status = BuildSessionStatus(s, starting, resume, 300);
  EXPECT_EQ(s.status["phase"], "Resuming");
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "Resumed/False");
  EXPECT_FALSE(StatusIsSuspended(s.status));
  EXPECT_EQ(s.status["startedTime"], FormatRfc3339(resume));
  EXPECT_EQ(s.status["suspendedTime"], FormatRfc3339(t0 + std::chrono::hours(1))) << "when it last became Suspended";
  s.status = BuildSessionStatus(s, starting, resume + std::chrono::seconds(299), 300);
  EXPECT_EQ(s.status["phase"], "Resuming") << s.status.dump();
  EXPECT_EQ(s.status["startedTime"], FormatRfc3339(resume)) << "only the first pass after a suspend is the resume";
  s.status = BuildSessionStatus(s, starting, resume + std::chrono::seconds(301), 300);
  EXPECT_EQ(s.status["phase"], "Failed");
  EXPECT_EQ(ReasonOf(s.status, "Ready"), "StartDeadlineExceeded/False");

  s.status = BuildSessionStatus(s, RunningObservation(), resume + std::chrono::seconds(302), 300);
  EXPECT_EQ(s.status["phase"], "Running");
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "Resumed/False");
  EXPECT_EQ(s.status["frontEndAddress"], "10.200.7.4:8888");
  // Once Ready after the resume, a container that stops is a start again,
  // not a resume.
  s.status = BuildSessionStatus(s, starting, resume + std::chrono::seconds(400), 300);
  EXPECT_EQ(s.status["phase"], "Starting") << s.status.dump();
}

// A resume records which snapshot it restores until its containers run, and
// the Restored condition; a suspend records the snapshot it took and, once
// the subnet is released, drops subnet and network.
TEST(SessionStatusTest, SnapshotFieldsOfSuspendAndResume) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  SessionObservation suspended = SuspendObservation(0);
  suspended.last_snapshot = {{"name", "nb-0123456789"}, {"sha256", std::string(64, 'a')}, {"sizeBytes", 10}};
  suspended.subnet.clear();  // released
  suspended.network.clear();
  suspended.network_ready = false;
  s.status = BuildSessionStatus(s, suspended, t0 + std::chrono::hours(1), 300);
  EXPECT_EQ(s.status["phase"], "Suspended");
  EXPECT_EQ(s.status["lastSnapshot"]["name"], "nb-0123456789");
  EXPECT_FALSE(s.status.contains("subnet"));
  EXPECT_FALSE(s.status.contains("network"));
  EXPECT_NE(FindCondition(s.status, "Suspended")->value("message", "").find("nb-0123456789"), std::string::npos);

  SessionObservation resuming = RunningObservation();
  resuming.components.clear();
  resuming.restoring = "nb-0123456789";
  s.status = BuildSessionStatus(s, resuming, t0 + std::chrono::hours(2), 300);
  EXPECT_EQ(s.status["phase"], "Resuming");
  EXPECT_EQ(s.status["restoring"], "nb-0123456789");
  EXPECT_EQ(s.status["lastSnapshot"]["name"], "nb-0123456789") << "kept until the next suspend";

  SessionObservation running = RunningObservation();
  running.restored_status = "True";
  running.restored_reason = "Restored";
  running.restored_message = "restored snapshot nb-0123456789";
  s.status = BuildSessionStatus(s, running, t0 + std::chrono::hours(2) + std::chrono::seconds(3), 300);
  EXPECT_EQ(s.status["phase"], "Running");
  EXPECT_FALSE(s.status.contains("restoring"));
  EXPECT_EQ(ReasonOf(s.status, "Restored"), "Restored/True");
}

// A failed snapshot stops the suspend with the containers kept: Suspending,
// and the Suspended condition says why.
TEST(SessionStatusTest, FailedSnapshotHoldsTheSuspend) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  SessionObservation held = SuspendObservation(3);
  held.blocked_reason = "SnapshotFailed";
  held.blocked_message = "snapshot nb-1 failed: state path \"/data\" not found";
  held.blocked_condition = "Suspended";
  s.status = BuildSessionStatus(s, held, t0 + std::chrono::minutes(1), 300);
  EXPECT_EQ(s.status["phase"], "Suspending");
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "SnapshotFailed/False");
  EXPECT_TRUE(StatusWasSuspending(s.status)) << "turning suspend off from here is a resume";
}

// Suspend turned off again before the containers were gone is a resume too.
TEST(SessionStatusTest, ResumeWhileSuspending) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  s.status = BuildSessionStatus(s, SuspendObservation(2), t0 + std::chrono::hours(1), 300);
  ASSERT_EQ(s.status["phase"], "Suspending");
  s.status = BuildSessionStatus(s, RunningObservation(), t0 + std::chrono::hours(1) + std::chrono::seconds(1), 300);
  EXPECT_EQ(s.status["phase"], "Running");
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "Resumed/False");
  EXPECT_FALSE(s.status.contains("suspendedTime"));
}

TEST(SessionStatusTest, DockerDownWhileSuspendingOrSuspended) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  SessionObservation down = SuspendObservation(3);
  down.blocked_reason = "DockerUnavailable";
  down.blocked_message = "the Docker daemon of machine local is unavailable";
  s.status = BuildSessionStatus(s, down, t0 + std::chrono::seconds(1), 300);
  EXPECT_EQ(s.status["phase"], "Suspending") << "not confirmed gone";
  EXPECT_EQ(ReasonOf(s.status, "ContainersReady"), "DockerUnavailable/False");
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "Suspending/False");
  EXPECT_EQ(s.status["message"], down.blocked_message);

  const TimePoint t1 = t0 + std::chrono::seconds(10);
  s.status = BuildSessionStatus(s, SuspendObservation(0), t1, 300);
  ASSERT_EQ(s.status["phase"], "Suspended");
  down.containers_left = 0;
  s.status = BuildSessionStatus(s, down, t1 + std::chrono::hours(1), 300);
  EXPECT_EQ(s.status["phase"], "Suspended") << "nothing starts its containers while the daemon is away";
  EXPECT_EQ(ReasonOf(s.status, "Suspended"), "SuspendRequested/True");
  EXPECT_EQ(ReasonOf(s.status, "Ready"), "Suspended/False");
  EXPECT_EQ(ReasonOf(s.status, "ContainersReady"), "DockerUnavailable/False");
  s.status = BuildSessionStatus(s, SuspendObservation(0), t1 + std::chrono::hours(2), 300);
  EXPECT_EQ(s.status["suspendedTime"], FormatRfc3339(t1)) << "still the same suspension";
}

// Other controllers write into the same status (the route reconciler's
// Routed and Idle conditions, url, route, lastActivityTime,
// connectedClients): suspend and resume keep all of it.
TEST(SessionStatusTest, OtherControllersFieldsSurviveSuspendAndResume) {
  Object s = SessionObject();
  const TimePoint t0 = TimePoint() + std::chrono::hours(500000);
  s.status = BuildSessionStatus(s, RunningObservation(), t0, 300);
  SetCondition(&s.status, {"Routed", "True", "RouteApplied", "route /s/alice/nb/", 1}, t0);
  SetCondition(&s.status, {"Idle", "False", "Active", "2 clients", 1}, t0);
  s.status["url"] = "https://visi.example/s/alice/nb/";
  s.status["route"] = {{"pathPrefix", "/s/alice/nb/"}, {"backend", "10.200.7.4:8888"}, {"logins", 1}};
  s.status["lastActivityTime"] = FormatRfc3339(t0);
  s.status["connectedClients"] = 2;
  const Json theirs = {s.status["url"], s.status["route"], s.status["lastActivityTime"], s.status["connectedClients"],
                       *FindCondition(s.status, "Routed"), *FindCondition(s.status, "Idle")};
  auto check = [&](const char* when) {
    const Json now = {s.status["url"], s.status["route"], s.status["lastActivityTime"], s.status["connectedClients"],
                      *FindCondition(s.status, "Routed"), *FindCondition(s.status, "Idle")};
    EXPECT_EQ(now, theirs) << when;
  };
  s.status = BuildSessionStatus(s, SuspendObservation(3), t0 + std::chrono::seconds(1), 300);
  check("suspending");
  s.status = BuildSessionStatus(s, SuspendObservation(0), t0 + std::chrono::seconds(2), 300);
  check("suspended");
  s.status = BuildSessionStatus(s, RunningObservation(), t0 + std::chrono::seconds(3), 300);
  check("resumed");
  EXPECT_EQ(s.status["phase"], "Running");
}

// A conflict's redo writes a pass's observation over a fresh object only
// when what changed meanwhile is the router's.
TEST(SessionStatusTest, SameSessionPartIgnoresOnlyTheRoutersFields) {
  const TimePoint t = ParseRfc3339("2026-11-24T10:00:00Z").value();
  Json a = {{"phase", "Running"}, {"machine", "m1"}, {"conditions", Json::array()}};
  SetCondition(&a, {"Ready", "True", "AllReady", "", 1}, t);
  Json b = a;
  b["url"] = "https://visi.example/s/alice/nb/";
  b["route"] = {{"pathPrefix", "/s/alice/nb/"}};
  b["connectedClients"] = 2;
  b["lastActivityTime"] = "2026-11-24T10:00:01Z";
  SetCondition(&b, {"Routed", "True", "FrontEnd", "", 1}, t);
  SetCondition(&b, {"Idle", "False", "Active", "", 1}, t);
  EXPECT_TRUE(SameSessionPart(a, b));
  EXPECT_TRUE(SameSessionPart(b, a));
  Json c = b;
  c["restoring"] = "nb-0123456789";
  EXPECT_FALSE(SameSessionPart(b, c)) << "restoring is the session reconciler's";
  Json d = b;
  d["machine"] = "m2";
  EXPECT_FALSE(SameSessionPart(b, d));
  Json e = b;
  SetCondition(&e, {"Ready", "False", "Starting", "", 1}, t);
  EXPECT_FALSE(SameSessionPart(b, e)) << "Ready is the session reconciler's";
  EXPECT_TRUE(SameSessionPart(Json(), Json::object()));
  EXPECT_FALSE(SameSessionPart(Json(), a));
}

}  // namespace
}  // namespace visi
