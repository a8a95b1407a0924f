// Copying an embedded SQLite store into etcd (visid copy-store): everything
// arrives unchanged but for resourceVersions, a copy can be run again, and
// etcd is never overwritten.
#include <atomic>
#include <thread>

#include "controller/store/etcd/etcd_client.h"
#include "controller/store/etcd/etcd_copy.h"
#include "test/fakes/objects.h"
#include "test/integration/store_factories.h"

namespace visi::testing {
namespace {

class EtcdCopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = sqlite_.Make();
    ASSERT_NE(source_, nullptr);
    to_.endpoints = SharedEtcd().endpoints();
    to_.prefix = UniqueEtcdPrefix("etcd-copy-test");
    EtcdClientOptions raw;
    raw.endpoints = to_.endpoints;
    auto c = EtcdClient::Create(raw);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    raw_ = std::move(*c);
  }

  StatusOr<EtcdCopyReport> Copy(bool dry_run = false) {
    return CopyStoreToEtcd(*source_, *Scheme::Builtin(), to_, dry_run, [&](const std::string& line) {
      progress_.push_back(line);
    });
  }

  // Keys under the prefix.
  int64_t EtcdKeys() {
    EtcdRangeRequest r;
    r.key = to_.prefix;
    r.range_end = PrefixEnd(to_.prefix);
    r.count_only = true;
    auto got = raw_->Range(r);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? got->count : -1;
  }

  // Writes `value` at prefix + `relative` behind the copy's back.
  void PutRaw(const std::string& relative, const std::string& value) {
    auto t = raw_->Txn({}, {{EtcdOp::Type::kPut, to_.prefix + relative, value}}, {});
    ASSERT_TRUE(t.ok()) << t.status().ToString();
  }
  // What etcd holds at prefix + `relative` ("" when nothing).
  std::string RawValue(const std::string& relative) {
    EtcdRangeRequest read;
    read.key = to_.prefix + relative;
    auto got = raw_->Range(read);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() && !got->kvs.empty() ? got->kvs[0].value : "";
  }

  std::unique_ptr<Store> OpenTarget() {
    auto s = OpenEtcdStore(to_, Scheme::Builtin(), &sqlite_.clock_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  SqliteFactory sqlite_;
  std::unique_ptr<Store> source_;
  EtcdStoreOptions to_;
  std::unique_ptr<EtcdClient> raw_;
  std::vector<std::string> progress_;
};

// Every field the API shows comes across: uid, timestamps, generation,
// labels, annotations, finalizers, owners, a pending deletion, spec and
// status, for namespaced and cluster-scoped kinds.
TEST_F(EtcdCopyTest, EveryObjectArrivesWithItsMetadataAndStatus) {
  Object pool = Pool("gpu");
  pool.metadata.labels = {{"tier", "gold"}};
  auto p = source_->Create(pool);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  Object owner = Session("alice", "nb");
  owner.metadata.annotations = {{"note", "kept"}};
  auto o = source_->Create(owner);
  ASSERT_TRUE(o.ok());
  Object spec_change = **o;
  spec_change.spec["spark"]["workers"] = 3;
  o = source_->Update(spec_change);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  ASSERT_EQ((*o)->metadata.generation, 2);
  Object with_status = **o;
  with_status.status = {{"phase", "Running"}, {"frontEndAddress", "10.0.0.2"}};
  o = source_->UpdateStatus(with_status);
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  Object dependent = Session("alice", "dep");
  dependent.metadata.finalizers = {"visi.dev/test"};
  dependent.metadata.owner_references = {{"visi.dev/v1alpha1", "VisiSession", "nb", (*o)->metadata.uid}};
  ASSERT_TRUE(source_->Create(dependent).ok());
  // Deleting it leaves it terminating, held by its finalizer.
  auto deleting = source_->Delete("VisiSession", "alice", "dep", {});
  ASSERT_TRUE(deleting.ok()) << deleting.status().ToString();
  ASSERT_TRUE((*deleting)->metadata.deletion_timestamp.has_value());
  ASSERT_TRUE(source_->Create(Session("bob", "nb", "bob")).ok());

  auto report = Copy();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->copied, 4u);
  EXPECT_EQ(report->already, 0u);
  EXPECT_EQ(report->objects["VisiSession"], 3u);
  EXPECT_EQ(report->objects["FarmPool"], 1u);
  EXPECT_GT(report->revision, 0);

  auto target = OpenTarget();
  ASSERT_NE(target, nullptr);
  for (const char* kind : {"VisiSession", "FarmPool"}) {
    ListOptions all;
    all.kind = kind;
    auto from = source_->List(all);
    auto to = target->List(all);
    ASSERT_TRUE(from.ok() && to.ok());
    ASSERT_EQ(from->items.size(), to->items.size()) << kind;
    for (size_t i = 0; i < from->items.size(); ++i) {
      Object a = *from->items[i], b = *to->items[i];
      EXPECT_GT(b.metadata.resource_version, 0u);
      a.metadata.resource_version = b.metadata.resource_version = 0;
      EXPECT_EQ(ObjectToJsonText(a), ObjectToJsonText(b)) << kind << " " << i;
    }
  }
  // The copy is a working store: the terminating object goes once its
  // finalizer is removed, and updates are conditioned on etcd's revisions.
  auto dep = target->Get("VisiSession", "alice", "dep");
  ASSERT_TRUE(dep.ok());
  EXPECT_EQ((*dep)->metadata.finalizers, std::vector<std::string>{"visi.dev/test"});
  Object release = **dep;
  release.metadata.finalizers.clear();
  ASSERT_TRUE(target->Update(release).ok());
  EXPECT_EQ(target->Get("VisiSession", "alice", "dep").status().code(), Code::kNotFound);
  auto nb = target->Get("VisiSession", "alice", "nb");
  ASSERT_TRUE(nb.ok());
  EXPECT_EQ((*nb)->metadata.uid, (*o)->metadata.uid);
  Object stale = **nb;
  stale.metadata.resource_version = (*o)->metadata.resource_version + 100000;
  EXPECT_EQ(target->Update(stale).status().code(), Code::kConflict);
}

// An interrupted copy is run again: what is there already is recognised,
// the rest is written; more objects than a page and a transaction.
TEST_F(EtcdCopyTest, ACopyRunAgainWritesOnlyWhatIsMissing) {
  constexpr int kObjects = 1100;  // over the source's page (1000) and etcd's (500)
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = t; i < kObjects; i += 4) {
        if (!source_->Create(Session("ns-" + std::to_string(i % 7), "s-" + std::to_string(i))).ok()) ++failed;
      }
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failed.load(), 0);

  // A dry run writes nothing.
  auto dry = Copy(/*dry_run=*/true);
  ASSERT_TRUE(dry.ok()) << dry.status().ToString();
  EXPECT_EQ(dry->objects["VisiSession"], static_cast<size_t>(kObjects));
  EXPECT_EQ(EtcdKeys(), 0);

  // Half of it made it before an interruption (copied by hand here).
  ListOptions some;
  some.kind = "VisiSession";
  some.namespace_ = "ns-3";
  auto part = source_->List(some);
  ASSERT_TRUE(part.ok());
  for (const auto& obj : part->items) {
    ASSERT_NO_FATAL_FAILURE(PutRaw("VisiSession/ns-3/" + obj->metadata.name, ObjectToJsonText(*obj)));
  }
  auto report = Copy();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->already, part->items.size());
  EXPECT_EQ(report->copied, kObjects - part->items.size());
  EXPECT_EQ(EtcdKeys(), kObjects);

  auto again = Copy();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->copied, 0u);
  EXPECT_EQ(again->already, static_cast<size_t>(kObjects));
  auto target = OpenTarget();
  ASSERT_NE(target, nullptr);
  ListOptions all;
  all.kind = "VisiSession";
  auto listed = target->List(all);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->items.size(), static_cast<size_t>(kObjects));
}

// etcd holding another object at a key of the source's: nothing is written,
// and the error names the object.
TEST_F(EtcdCopyTest, AnotherObjectInEtcdStopsTheCopyBeforeAnyWrite) {
  ASSERT_TRUE(source_->Create(Session("alice", "a")).ok());
  ASSERT_TRUE(source_->Create(Session("alice", "b")).ok());
  ASSERT_TRUE(source_->Create(Pool("p")).ok());
  Object other = Session("alice", "b", "mallory");
  other.metadata.uid = "not-the-same";
  ASSERT_NO_FATAL_FAILURE(PutRaw("VisiSession/alice/b", ObjectToJsonText(other)));
  // Garbage at a key is another object too.
  ASSERT_NO_FATAL_FAILURE(PutRaw("FarmPool//p", "\x01not json"));

  auto report = Copy();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kConflict);
  EXPECT_NE(report.status().message().find("VisiSession alice/b"), std::string::npos) << report.status().message();
  EXPECT_NE(report.status().message().find("FarmPool p"), std::string::npos) << report.status().message();
  EXPECT_EQ(EtcdKeys(), 2) << "nothing was written";
  EXPECT_NE(RawValue("VisiSession/alice/b").find("not-the-same"), std::string::npos) << "not overwritten";
}

// etcd holding objects the source does not have at all (another
// installation on the prefix, or objects made since an earlier copy): never
// merged into.
TEST_F(EtcdCopyTest, ObjectsInEtcdThatTheSourceLacksStopTheCopy) {
  ASSERT_TRUE(source_->Create(Session("alice", "a")).ok());
  Object theirs = Session("bob", "theirs", "bob");
  theirs.metadata.uid = "another-installation";
  ASSERT_NO_FATAL_FAILURE(PutRaw("VisiSession/bob/theirs", ObjectToJsonText(theirs)));
  auto report = Copy();
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), Code::kConflict);
  EXPECT_NE(report.status().message().find("VisiSession/bob/theirs"), std::string::npos) << report.status().message();
  EXPECT_EQ(EtcdKeys(), 1) << "nothing was written";
  // A dry run says the same.
  EXPECT_EQ(Copy(/*dry_run=*/true).status().code(), Code::kConflict);
}

// A writer racing the copy, between its read of etcd and its writes (played
// from the progress callback, which runs right there): a key that gets the
// same object counts as copied; one that gets another object stops the copy
// with the object named, and is not overwritten.
TEST_F(EtcdCopyTest, AWriterRacingTheCopyIsNeverOverwritten) {
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(source_->Create(Session("alice", name)).ok());
  ListOptions all;
  all.kind = "VisiSession";
  auto objects = source_->List(all);
  ASSERT_TRUE(objects.ok());
  ASSERT_EQ(objects->items.size(), 3u);
  auto put = [&](const Object& o) { PutRaw("VisiSession/alice/" + o.metadata.name, ObjectToJsonText(o)); };
  // "a" is there from an earlier copy, so the copy reports it after its
  // read; right then "b" appears, the same object (another copy running).
  put(*objects->items[0]);
  auto racing = [&](const Object& b) {
    return CopyStoreToEtcd(*source_, *Scheme::Builtin(), to_, false, [&](const std::string& line) {
      if (line.find("in etcd already") != std::string::npos) put(b);
    });
  };
  auto report = racing(*objects->items[1]);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->already, 2u);
  EXPECT_EQ(report->copied, 1u);
  EXPECT_EQ(EtcdKeys(), 3);

  // Again into a fresh prefix, and now "b" gets another object.
  to_.prefix = UniqueEtcdPrefix("etcd-copy-test");
  put(*objects->items[0]);
  Object other = *objects->items[1];
  other.metadata.uid = "someone-else";
  auto stopped = racing(other);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), Code::kConflict);
  EXPECT_NE(stopped.status().message().find("VisiSession alice/b was written by someone else"), std::string::npos)
      << stopped.status().message();
  EXPECT_NE(RawValue("VisiSession/alice/b").find("someone-else"), std::string::npos) << "not overwritten";
}

// The source is the store of a stopped visid: one still running holds its
// lock. A bad prefix or an unreachable etcd are named.
TEST_F(EtcdCopyTest, ABusySourceABadPrefixAndNoEtcdAreRefused) {
  auto busy = OpenSqliteStore(sqlite_.dir_ + "/store-1.db", Scheme::Builtin(), &sqlite_.clock_);
  ASSERT_FALSE(busy.ok());
  EXPECT_NE(busy.status().message().find("in use"), std::string::npos) << busy.status().message();

  ASSERT_TRUE(source_->Create(Session("alice", "a")).ok());
  to_.prefix = "no-slash";
  auto bad = Copy();
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalid);
  EXPECT_NE(bad.status().message().find("no-slash"), std::string::npos);

  to_.prefix = UniqueEtcdPrefix("etcd-copy-test");
  to_.endpoints = {"http://127.0.0.1:1"};
  to_.request_timeout = std::chrono::milliseconds(2000);
  auto none = Copy();
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kUnavailable) << none.status().ToString();
  EXPECT_NE(none.status().message().find("127.0.0.1:1"), std::string::npos) << none.status().message();
}

}  // namespace
}  // namespace visi::testing
