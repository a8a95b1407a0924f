// visid killed in the middle of a suspend or a resume (issue 7): started with
// VISI_FAILPOINTS=<point>, it SIGKILLs itself there; the next visid, without
// it and on the same data dir, must finish the job with the notes intact and
// nothing leaked: containers, networks, subnet claims, Snapshot objects or
// snapshot files. The fixture is in suspend_e2e_util.h.
#include <sys/wait.h>

#include "test/e2e/suspend_e2e_util.h"

namespace visi::testing {
namespace {

class SuspendCrashE2eTest : public SuspendE2eTest, public ::testing::WithParamInterface<const char*> {
 protected:
  void SetUp() override {
    Prepare();
    if (HasFatalFailure()) return;
    visid_.SetEnv("VISI_FAILPOINTS", GetParam());
    ASSERT_TRUE(StartVisid()) << ReadLog();
  }

  // What the point's name says is done, and not yet done, as Docker and the
  // snapshot directory show it while no visid runs.
  void ExpectStateAtCrash(const std::string& point, const std::string& uid) {
    SCOPED_TRACE("at the crash");
    const size_t files = StoreFiles().size();
    EXPECT_EQ(Networks(uid).size(), 1u) << "the network goes (and comes) with the subnet, not before";
    if (point == "suspend-after-remove") {
      EXPECT_TRUE(Containers(uid).empty());
      EXPECT_EQ(files, 1u) << "one suspend, one snapshot file";
      return;
    }
    // Stopped for the capture, or created and not started yet.
    EXPECT_EQ(Containers(uid).size(), 3u) << "front end, master, worker";
    EXPECT_EQ(RunningCount(uid), 0u);
    EXPECT_EQ(files, point == "suspend-after-stop" ? 0u : 1u) << "one suspend, one snapshot file";
  }
};

TEST_P(SuspendCrashE2eTest, NextVisidConverges) {
  const std::string point = GetParam();
  const bool during_resume = point.rfind("resume-", 0) == 0;
  // Three state paths in three containers, so a restore can stop half-way.
  const std::string uid = Create("nb", 1, {{"spark", {{"statePaths", {"/tmp"}}}}});
  ASSERT_TRUE(Poll([&] { return Routed("nb"); })) << Diagnose("nb");
  ASSERT_TRUE(Login("nb"));
  const std::string notes = "before the crash\nat " + point + "\n";
  ASSERT_TRUE(AddNote("nb", "before the crash"));
  ASSERT_TRUE(AddNote("nb", "at " + point));
  ASSERT_EQ(Notes("nb"), notes);
  ASSERT_TRUE(PutMarker(uid, "master", "master state"));
  ASSERT_TRUE(PutMarker(uid, "worker", "worker state"));

  ASSERT_TRUE(Patch("nb", {{"suspend", true}}));
  if (during_resume) {
    ASSERT_TRUE(Poll([&] { return Phase("nb") == "Suspended"; })) << Diagnose("nb", uid);
    ASSERT_TRUE(Patch("nb", {{"suspend", false}}));
  }
  const std::optional<int> exit = visid_.WaitForExit(kReadyWithin);
  ASSERT_TRUE(exit.has_value()) << "visid never reached " << point << Diagnose("nb", uid);
  EXPECT_TRUE(WIFSIGNALED(*exit) && WTERMSIG(*exit) == SIGKILL) << "wait status " << *exit;
  EXPECT_NE(ReadLog().find("failpoint " + point + ": killing visid"), std::string::npos);
  ExpectStateAtCrash(point, uid);

  // The next visid, without the failpoint, and a GC sweep every second.
  visid_.SetEnv("VISI_FAILPOINTS", "");
  ASSERT_TRUE(StartVisid({"--snapshot-gc-period", "1s"})) << ReadLog();
  if (!during_resume) {
    ASSERT_TRUE(Poll([&] { return Phase("nb") == "Suspended"; })) << Diagnose("nb", uid);
    ExpectSuspendedCleanly("nb", uid);
    ExpectSnapshotsAndFilesConsistent("nb", uid, 3);
    ASSERT_TRUE(Patch("nb", {{"suspend", false}}));
  }
  ASSERT_TRUE(Poll([&] { return Routed("nb"); })) << Diagnose("nb", uid);
  EXPECT_EQ(Notes("nb"), notes);
  EXPECT_EQ(Marker(uid, "master"), "master state\n");
  EXPECT_EQ(Marker(uid, "worker"), "worker state\n");
  EXPECT_EQ(Condition("nb", "Restored"), "Restored") << Diagnose("nb", uid);
  ExpectRunningCleanly("nb", uid, 1);
  ExpectSnapshotsAndFilesConsistent("nb", uid, 3);
}

// "suspend-after-stop" -> "SuspendAfterStop".
std::string PointName(const ::testing::TestParamInfo<const char*>& info) {
  std::string out;
  bool upper = true;
  for (const char* c = info.param; *c != '\0'; ++c) {
    if (*c == '-') {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(*c)) : *c;
    upper = false;
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Failpoints, SuspendCrashE2eTest,
                         ::testing::Values("suspend-after-stop", "snapshot-after-put", "suspend-after-snapshot",
                                           "suspend-after-remove", "resume-after-create", "resume-after-first-put",
                                           "resume-after-restore"),
                         PointName);

}  // namespace
}  // namespace visi::testing
