#include "controller/drivers/docker/tar_archive.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>

namespace visi {
namespace {

TarEntry File(std::string name, std::string content, uint32_t mode = 0644) {
  TarEntry e;
  e.name = std::move(name);
  e.content = std::move(content);
  e.mode = mode;
  return e;
}

TarEntry Dir(std::string name, uint32_t mode = 0755) {
  TarEntry e;
  e.name = std::move(name);
  e.type = TarEntry::Type::kDirectory;
  e.mode = mode;
  return e;
}

TarEntry Link(std::string name, std::string target) {
  TarEntry e;
  e.name = std::move(name);
  e.type = TarEntry::Type::kSymlink;
  e.link_target = std::move(target);
  e.mode = 0777;
  return e;
}

TEST(TarArchive, RoundTripsFilesDirectoriesAndLinks) {
  std::vector<TarEntry> in = {Dir("bin"),
                              File("bin/busybox", std::string(100000, '\x7f'), 0755),
                              Link("bin/sh", "busybox"),
                              Dir("tmp", 01777),
                              File("tmp/empty", ""),
                              File("a/" + std::string(120, 'n'), "long name"),
                              Link("b/" + std::string(300, 'm'), std::string(150, 't'))};
  in[5].uid = 65534;
  in[5].gid = 65534;
  auto tar = WriteTar(in);
  ASSERT_TRUE(tar.ok()) << tar.status().ToString();
  EXPECT_EQ(tar->size() % 512, 0u);
  auto out = ReadTar(*tar);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, in);
}

TEST(TarArchive, RefusesNamesItMustNotWrite) {
  for (const std::string& name :
       {std::string(""), std::string("/etc/passwd"), std::string("a/../../x"), std::string("..")}) {
    auto tar = WriteTar({File(name, "x")});
    ASSERT_FALSE(tar.ok()) << name;
    EXPECT_EQ(tar.status().code(), Code::kInvalid);
  }
}

// A pax header as Go's archive/tar (the daemon) writes for long names.
std::string PaxArchive(const std::string& long_name, const std::string& content) {
  std::string record = " path=" + long_name + "\n";
  size_t len = record.size() + 1;
  while (std::to_string(len).size() + record.size() != len) len = std::to_string(len).size() + record.size();
  std::string pax_data = std::to_string(len) + record;
  auto header_tar = WriteTar({File("PaxHeaders/x", pax_data), File("short", content)});
  std::string tar = *header_tar;
  tar[156] = 'x';  // turn the first member into a pax extended header
  // Fix its checksum.
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(tar[i]);
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%06o", sum);
  std::memcpy(&tar[148], buf, 7);
  return tar;
}

TEST(TarArchive, ReadsPaxLongNames) {
  const std::string long_name = "data/" + std::string(200, 'p') + "/file";
  auto out = ReadTar(PaxArchive(long_name, "hello"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].name, long_name);
  EXPECT_EQ((*out)[0].content, "hello");
}

TEST(TarArchive, EmptyInputAndEndBlocksAreEmptyArchives) {
  EXPECT_TRUE(ReadTar("").ok());
  auto out = ReadTar(std::string(1024, '\0'));
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());
}

TEST(TarArchive, CorruptArchivesAreInvalid) {
  auto tar = WriteTar({File("f", std::string(2000, 'a'))});
  ASSERT_TRUE(tar.ok());
  std::string truncated_header = tar->substr(0, 300);
  std::string truncated_body = tar->substr(0, 1024);
  std::string bad_checksum = *tar;
  bad_checksum[10] ^= 1;
  std::string huge_size = *tar;
  std::memcpy(&huge_size[124], "77777777777", 11);  // claims 8 GiB
  // Recompute the checksum so only the size is wrong.
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(huge_size[i]);
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%06o", sum);
  std::memcpy(&huge_size[148], buf, 7);
  for (const std::string& bad : {truncated_header, truncated_body, bad_checksum, huge_size, std::string(512, 'x'),
                                 PaxArchive("x", "y").replace(512, 3, "999")}) {
    auto out = ReadTar(bad);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), Code::kInvalid) << out.status().message();
  }
}

TEST(TarArchive, RandomMutationsNeverCrash) {
  auto tar = WriteTar({Dir("d"), File("d/f", std::string(3000, 'q')), Link("d/l", "f")});
  ASSERT_TRUE(tar.ok());
  std::mt19937 rng(42);
  for (int round = 0; round < 3000; ++round) {
    std::string mutated = *tar;
    const int flips = 1 + static_cast<int>(rng() % 8);
    for (int i = 0; i < flips; ++i) mutated[rng() % mutated.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) mutated.resize(rng() % mutated.size());
    auto out = ReadTar(mutated);  // any answer is fine; no crash, no hang
    if (out.ok()) {
      for (const TarEntry& e : *out) EXPECT_LE(e.content.size(), mutated.size());
    }
  }
}

TEST(TarArchive, ReadTarViewsPointsIntoTheArchiveAndAgreesWithReadTar) {
  auto tar = WriteTar({Dir("d"), File("d/f", std::string(3000, 'q')), Link("d/l", "f"),
                       File(std::string(150, 'n') + "/g", "long name")});
  ASSERT_TRUE(tar.ok());
  auto views = ReadTarViews(*tar);
  auto copies = ReadTar(*tar);
  ASSERT_TRUE(views.ok()) << views.status().message();
  ASSERT_TRUE(copies.ok());
  ASSERT_EQ(views->size(), copies->size());
  for (size_t i = 0; i < views->size(); ++i) {
    const TarEntryView& v = (*views)[i];
    const TarEntry& c = (*copies)[i];
    EXPECT_EQ(v.name, c.name);
    EXPECT_EQ(v.type, c.type);
    EXPECT_EQ(v.mode, c.mode);
    EXPECT_EQ(v.content, c.content);
    EXPECT_EQ(v.link_target, c.link_target);
    EXPECT_EQ(v.uid, c.uid);
    EXPECT_EQ(v.gid, c.gid);
  }
  const std::string_view f = (*views)[1].content;
  EXPECT_EQ(f, std::string(3000, 'q'));
  EXPECT_GE(f.data(), tar->data());
  EXPECT_LE(f.data() + f.size(), tar->data() + tar->size()) << "content must be a view into the archive";
}

TEST(TarArchive, ReadTarViewsRefusesWhatReadTarRefuses) {
  auto tar = WriteTar({File("f", std::string(2000, 'a'))});
  ASSERT_TRUE(tar.ok());
  std::string bad_checksum = *tar;
  bad_checksum[10] ^= 1;
  for (const std::string& bad : {tar->substr(0, 300), tar->substr(0, 1024), bad_checksum, std::string(512, 'x')}) {
    auto out = ReadTarViews(bad);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), Code::kInvalid) << out.status().message();
    EXPECT_EQ(out.status().message(), ReadTar(bad).status().message());
  }
}

}  // namespace
}  // namespace visi
