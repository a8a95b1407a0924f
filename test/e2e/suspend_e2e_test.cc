// Suspend and resume with snapshots (issue 7), end to end: a real visid with
// its HAProxy, real session containers, the notes a user wrote through the
// router, and the snapshot files on disk. The crash tests are in
// suspend_crash_e2e_test.cc; the fixture is in suspend_e2e_util.h.
#include <fstream>

#include "test/e2e/suspend_e2e_util.h"

namespace visi::testing {
namespace {

const std::string kThreeNotes = "first note\nsecond note\nthird: 100% sure\n";

TEST_F(SuspendE2eTest, NotesSurviveSuspendAndResumeByRequest) {
  // The Spark containers' /tmp is state too: the master's and the worker's.
  const std::string uid = Create("nb", 1, {{"spark", {{"statePaths", {"/tmp"}}}}});
  ASSERT_TRUE(Poll([&] { return Routed("nb"); })) << Diagnose("nb");
  ASSERT_TRUE(Login("nb"));
  for (const char* note : {"first note", "second note", "third: 100% sure"}) ASSERT_TRUE(AddNote("nb", note));
  ASSERT_EQ(Notes("nb"), kThreeNotes);
  ASSERT_TRUE(PutMarker(uid, "master", "master state"));
  ASSERT_TRUE(PutMarker(uid, "worker", "worker state"));

  ASSERT_TRUE(SuspendAndWait("nb")) << Diagnose("nb");
  ExpectSuspendedCleanly("nb", uid);
  // One Snapshot, owned by the session, holding every state path.
  const Json last = StatusOf("nb").value("lastSnapshot", Json::object());
  const std::string snap_name = last.value("name", "");
  EXPECT_TRUE(std::regex_match(snap_name, std::regex("nb-[0-9a-f]{10}"))) << snap_name;
  const Json snap = Snapshot(snap_name);
  EXPECT_EQ(Field(snap, "spec").value("session", ""), "nb");
  EXPECT_EQ(Field(snap, "spec").value("sessionUID", ""), uid);
  const Json owners = Field(snap, "metadata").value("ownerReferences", Json::array());
  ASSERT_EQ(owners.size(), 1u) << snap.dump();
  EXPECT_EQ(owners[0].value("uid", ""), uid);
  std::set<std::string> contents;
  for (const auto& c : Field(snap, "status").value("contents", Json::array())) {
    contents.insert(c.value("container", "") + ":" + c.value("path", ""));
    EXPECT_TRUE(std::regex_match(c.value("sha256", ""), std::regex("[0-9a-f]{64}"))) << c.dump();
  }
  EXPECT_EQ(contents, (std::set<std::string>{"frontend:/data", "master:/tmp", "worker-0:/tmp"}));
  EXPECT_EQ(Snapshots(uid).size(), 1u);

  // HAProxy leads a browser to the wake-up page, and that request resumes.
  ASSERT_TRUE(Poll([&] { return Condition("nb", "Routed") == "WakeUp"; }, std::chrono::seconds(30))) << Diagnose("nb");
  Page wake = Browse("nb", "");
  EXPECT_EQ(wake.status, 503);
  EXPECT_NE(wake.body.find("alice/nb"), std::string::npos) << wake.body;
  EXPECT_NE(wake.body.find("http-equiv=\"refresh\""), std::string::npos) << wake.body;
  EXPECT_TRUE(Poll([&] { return !Field(Get("nb"), "spec").value("suspend", true); }, std::chrono::seconds(10)));
  // The page reloads until the session answers through the same URL.
  ASSERT_TRUE(Poll([&] { return Browse("nb", "").status == 200; })) << Diagnose("nb");
  EXPECT_EQ(Notes("nb"), kThreeNotes);
  EXPECT_EQ(Marker(uid, "master"), "master state\n");
  EXPECT_EQ(Marker(uid, "worker"), "worker state\n");
  ASSERT_TRUE(Poll([&] { return Routed("nb"); }, std::chrono::seconds(30))) << Diagnose("nb");
  EXPECT_EQ(Condition("nb", "Restored", "status"), "True") << Diagnose("nb");
  EXPECT_EQ(Condition("nb", "Restored"), "Restored");
  EXPECT_NE(Condition("nb", "Restored", "message").find(snap_name), std::string::npos)
      << Condition("nb", "Restored", "message");
  EXPECT_EQ(Condition("nb", "Suspended", "status"), "False");
  ExpectRunningCleanly("nb", uid, 1);
}

TEST_F(SuspendE2eTest, IdleSessionIsSuspendedAutomatically) {
  const std::string uid = Create("idle", 0);
  ASSERT_TRUE(Poll([&] { return Routed("idle"); })) << Diagnose("idle");
  ASSERT_TRUE(Login("idle"));
  ASSERT_TRUE(AddNote("idle", "written before going idle"));
  // The timeout is set only now, so the session cannot go idle before the
  // note is written.
  ASSERT_TRUE(Patch("idle", {{"idleTimeoutSeconds", 2}}));

  // Nobody talks to it: visid suspends it by itself.
  ASSERT_TRUE(Poll([&] { return Phase("idle") == "Suspended"; })) << Diagnose("idle");
  EXPECT_TRUE(Field(Get("idle"), "spec").value("suspend", false)) << "visid set spec.suspend";
  EXPECT_TRUE(Poll([&] { return !Events("idle", "IdleSuspended").empty(); }, std::chrono::seconds(10)))
      << GetJson(kApi + "/namespaces/alice/events").dump(2);
  ExpectSuspendedCleanly("idle", uid);
  const Json snap = Snapshot(Field(StatusOf("idle"), "lastSnapshot").value("name", ""));
  EXPECT_EQ(Field(snap, "spec").value("reason", ""), "Idle") << snap.dump();

  // A browser comes back: the wake-up page, then the note.
  ASSERT_TRUE(Poll([&] { return Condition("idle", "Routed") == "WakeUp"; }, std::chrono::seconds(30)))
      << Diagnose("idle");
  EXPECT_EQ(Browse("idle", "notes").status, 503);
  ASSERT_TRUE(Poll([&] { return Browse("idle", "notes").status == 200; })) << Diagnose("idle");
  EXPECT_EQ(Notes("idle"), "written before going idle\n");
  EXPECT_EQ(Condition("idle", "Restored"), "Restored") << Diagnose("idle");
}

TEST_F(SuspendE2eTest, RetentionKeepsTheNewestSnapshotsAndDeletesTheirFiles) {
  const std::string uid = Create("keep", 0, {{"snapshots", {{"retain", 2}}}});
  ASSERT_TRUE(Poll([&] { return Routed("keep"); })) << Diagnose("keep");
  ASSERT_TRUE(Login("keep"));
  std::vector<std::string> names, files;
  for (int i = 1; i <= 3; ++i) {
    SCOPED_TRACE("cycle " + std::to_string(i));
    ASSERT_TRUE(AddNote("keep", "note " + std::to_string(i)));
    ASSERT_TRUE(SuspendAndWait("keep")) << Diagnose("keep");
    ExpectSuspendedCleanly("keep", uid);
    names.push_back(Field(StatusOf("keep"), "lastSnapshot").value("name", ""));
    files.push_back(Field(Snapshot(names.back()), "status").value("location", ""));
    ASSERT_TRUE(ResumeAndWait("keep")) << Diagnose("keep");
  }
  ASSERT_EQ(std::set<std::string>(names.begin(), names.end()).size(), 3u) << "one Snapshot per suspend";
  ASSERT_EQ(std::set<std::string>(files.begin(), files.end()).size(), 3u) << "different notes, different files";

  // The two newest stay, with their files; the oldest goes, file and all.
  auto kept = [&] {
    std::vector<std::string> out;
    for (const auto& s : Snapshots(uid)) out.push_back(Field(s, "metadata").value("name", ""));
    return out;
  };
  EXPECT_TRUE(Poll([&] { return kept().size() == 2; }, std::chrono::seconds(30))) << Diagnose("keep");
  const std::vector<std::string> left = kept();
  EXPECT_EQ(std::set<std::string>(left.begin(), left.end()), (std::set<std::string>{names[1], names[2]}));
  for (const auto& name : {names[1], names[2]}) EXPECT_EQ(Field(Snapshot(name), "status").value("phase", ""), "Ready");
  EXPECT_FALSE(std::filesystem::exists(files[0])) << files[0];
  EXPECT_EQ(StoreFiles(), (std::set<std::string>{files[1], files[2]})) << Diagnose("keep");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(Sha256sum(files[i]), Field(Snapshot(names[i]), "status").value("sha256", "")) << files[i];
  }
  EXPECT_EQ(Notes("keep"), "note 1\nnote 2\nnote 3\n");
}

// Flips one byte in the middle of a file (0600, root's: the test runs as root).
bool FlipByte(const std::string& path) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) return false;
  f.seekg(0, std::ios::end);
  const std::streamoff middle = f.tellg() / 2;
  char c;
  f.seekg(middle);
  f.get(c);
  f.seekp(middle);
  f.put(static_cast<char>(c ^ 0x5a));
  return static_cast<bool>(f.flush());
}

TEST_F(SuspendE2eTest, CorruptSnapshotFallsBackToThePreviousGoodOne) {
  const std::string uid = Create("corrupt", 0);
  ASSERT_TRUE(Poll([&] { return Routed("corrupt"); })) << Diagnose("corrupt");
  ASSERT_TRUE(Login("corrupt"));
  ASSERT_TRUE(AddNote("corrupt", "A"));
  ASSERT_TRUE(SuspendAndWait("corrupt")) << Diagnose("corrupt");
  const std::string good = Field(StatusOf("corrupt"), "lastSnapshot").value("name", "");
  ASSERT_TRUE(ResumeAndWait("corrupt")) << Diagnose("corrupt");
  ASSERT_TRUE(AddNote("corrupt", "B"));
  ASSERT_EQ(Notes("corrupt"), "A\nB\n");
  ASSERT_TRUE(SuspendAndWait("corrupt")) << Diagnose("corrupt");
  const Json last = Field(StatusOf("corrupt"), "lastSnapshot");
  const std::string bad = last.value("name", "");
  ASSERT_NE(bad, good);
  ASSERT_EQ(Snapshots(uid).size(), 2u) << Diagnose("corrupt");

  const std::string location = Field(Snapshot(bad), "status").value("location", "");
  ASSERT_TRUE(FlipByte(location)) << location;
  ASSERT_NE(Sha256sum(location), last.value("sha256", ""));
  ASSERT_TRUE(ResumeAndWait("corrupt")) << Diagnose("corrupt");

  EXPECT_EQ(Condition("corrupt", "Restored", "status"), "False") << Diagnose("corrupt");
  EXPECT_EQ(Condition("corrupt", "Restored"), "SnapshotCorrupt");
  const Json b = Snapshot(bad);
  EXPECT_EQ(Field(b, "status").value("phase", ""), "Failed") << b.dump(2);
  EXPECT_EQ(ConditionOf(b, "Restorable", "status"), "False") << b.dump(2);
  EXPECT_EQ(ConditionOf(b, "Restorable"), "DigestMismatch") << b.dump(2);
  EXPECT_EQ(Field(Snapshot(good), "status").value("phase", ""), "Ready");
  EXPECT_EQ(Notes("corrupt"), "A\n") << "the previous good snapshot was restored";
  ExpectRunningCleanly("corrupt", uid, 0);
}

TEST_F(SuspendE2eTest, MissingOnlySnapshotStartsEmpty) {
  const std::string uid = Create("lost", 0);
  ASSERT_TRUE(Poll([&] { return Routed("lost"); })) << Diagnose("lost");
  ASSERT_TRUE(Login("lost"));
  ASSERT_TRUE(AddNote("lost", "A"));
  ASSERT_TRUE(SuspendAndWait("lost")) << Diagnose("lost");
  const std::string name = Field(StatusOf("lost"), "lastSnapshot").value("name", "");
  const std::string location = Field(Snapshot(name), "status").value("location", "");
  ASSERT_TRUE(std::filesystem::remove(location)) << location;

  ASSERT_TRUE(ResumeAndWait("lost")) << Diagnose("lost");
  EXPECT_EQ(Condition("lost", "Restored", "status"), "False") << Diagnose("lost");
  EXPECT_EQ(Condition("lost", "Restored"), "NoGoodSnapshot");
  const Json s = Snapshot(name);
  EXPECT_EQ(Field(s, "status").value("phase", ""), "Failed") << s.dump(2);
  EXPECT_EQ(ConditionOf(s, "Restorable", "status"), "False") << s.dump(2);
  EXPECT_EQ(ConditionOf(s, "Restorable"), "FileMissing") << s.dump(2);
  EXPECT_EQ(Notes("lost"), "") << "started empty";
  ExpectRunningCleanly("lost", uid, 0);
}

// spec.snapshots.keepOnDelete: deleting a running session captures it first
// and its Snapshot outlives it; a new session restores it with restoreFrom.
// Without keepOnDelete, a session's Snapshots and files go with it.
TEST_F(SuspendE2eTest, KeepOnDeleteAndRestoreFrom) {
  const std::string uid = Create("keeper", 0, {{"snapshots", {{"keepOnDelete", true}}}});
  ASSERT_TRUE(Poll([&] { return Routed("keeper"); })) << Diagnose("keeper");
  ASSERT_TRUE(Login("keeper"));
  ASSERT_TRUE(AddNote("keeper", "kept past deletion"));
  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/keeper").code, 200);
  ASSERT_TRUE(Poll([&] { return Get("keeper").empty(); })) << Diagnose("keeper", uid);
  EXPECT_TRUE(Containers(uid).empty());
  EXPECT_TRUE(Networks(uid).empty());
  std::vector<Json> kept;
  ASSERT_TRUE(Poll([&] {
    kept = Snapshots(uid);
    return kept.size() == 1u && Field(kept[0], "status").value("phase", "") == "Ready";
  }, std::chrono::seconds(10))) << "the Deletion snapshot outlives its session";
  EXPECT_EQ(Field(kept[0], "spec").value("reason", ""), "Deletion");
  EXPECT_TRUE(Field(kept[0], "metadata").value("ownerReferences", Json::array()).empty()) << kept[0].dump(2);
  const std::string kept_name = Field(kept[0], "metadata").value("name", "");
  const std::string location = Field(kept[0], "status").value("location", "");
  EXPECT_TRUE(std::filesystem::exists(location));

  // A new session restores it at its first start, and runs without keepOnDelete.
  const std::string uid2 = Create("heir", 0, {{"snapshots", {{"restoreFrom", kept_name}}}});
  ASSERT_TRUE(Poll([&] { return Routed("heir"); })) << Diagnose("heir");
  ASSERT_TRUE(Login("heir"));
  EXPECT_EQ(Notes("heir"), "kept past deletion\n");
  EXPECT_EQ(Condition("heir", "Restored"), "Restored") << Diagnose("heir");
  ASSERT_TRUE(SuspendAndWait("heir")) << Diagnose("heir");
  const std::string heir_snapshot = Field(StatusOf("heir"), "lastSnapshot").value("name", "");
  const std::string heir_file = Field(Snapshot(heir_snapshot), "status").value("location", "");
  ASSERT_TRUE(std::filesystem::exists(heir_file));
  ASSERT_EQ(admin_->Request("DELETE", kSessions + "/heir").code, 200);
  ASSERT_TRUE(Poll([&] { return Get("heir").empty() && Snapshots(uid2).empty(); })) << Diagnose("heir", uid2);
  EXPECT_TRUE(Poll([&] { return !std::filesystem::exists(heir_file); }, std::chrono::seconds(10)))
      << "the file goes with its Snapshot";
  EXPECT_TRUE(std::filesystem::exists(location)) << "the kept snapshot stays";

  // A restoreFrom that names nothing holds the start with a clear reason.
  Create("orphan", 0, {{"snapshots", {{"restoreFrom", "no-such-snapshot"}}}});
  ASSERT_TRUE(Poll([&] { return Condition("orphan", "Ready") == "RestoreSourceNotReady"; })) << Diagnose("orphan");
  EXPECT_NE(StatusOf("orphan").value("message", "").find("no-such-snapshot"), std::string::npos);
}

}  // namespace
}  // namespace visi::testing
