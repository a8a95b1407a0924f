#include "controller/base/base64.h"
#include "controller/base/clock.h"
#include "controller/base/duration.h"

#include <gtest/gtest.h>

namespace visi {
namespace {

TEST(ClockTest, Rfc3339RoundTrip) {
  auto t = ParseRfc3339("2026-11-23T22:10:05Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-23T22:10:05Z");
  auto offset = ParseRfc3339("2026-11-23T23:10:05.250+01:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(FormatRfc3339(*offset), "2026-11-23T22:10:05Z");
  EXPECT_EQ(FormatRfc3339Micro(*offset), "2026-11-23T22:10:05.250000Z");
  EXPECT_EQ(FormatRfc3339Micro(*t), "2026-11-23T22:10:05.000000Z");
  EXPECT_EQ(ParseRfc3339(FormatRfc3339Micro(*offset)), offset) << "round trip";
  for (const char* bad : {"", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T22:10:05",
                          "2026-11-23T22:10:05ZZ", "2026-11-23 22:10:05Z", "yesterday"}) {
    EXPECT_FALSE(ParseRfc3339(bad)) << bad;
  }
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock c(*ParseRfc3339("2026-01-01T00:00:00Z"));
  auto a = c.Now();
  c.Advance(std::chrono::seconds(90));
  EXPECT_EQ(FormatRfc3339(c.Now()), "2026-01-01T00:01:30Z");
  EXPECT_EQ(c.Now() - a, std::chrono::seconds(90));
}

TEST(DurationTest, GoStyleDurations) {
  using std::chrono::milliseconds;
  EXPECT_EQ(ParseDuration("30"), milliseconds(30000));
  EXPECT_EQ(ParseDuration("30s"), milliseconds(30000));
  EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(ParseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(ParseDuration("2h"), milliseconds(7200000));
  EXPECT_EQ(ParseDuration("1h0m5s"), milliseconds(3605000));
  EXPECT_EQ(ParseDuration("0s"), milliseconds(0));
  for (const char* bad : {"", "s", "-5s", "5x", "1.5s", "5 s", "ms", "1m30", "99999999999s",
                          "241h", "5sec", "1d"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
  EXPECT_EQ(FormatDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatDuration(milliseconds(3600000)), "1h");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  for (int64_t ms : {1, 999, 1000, 61000, 3600500, 86400000}) {
    EXPECT_EQ(ParseDuration(FormatDuration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

TEST(Base64Test, RoundTripAndRejectsGarbage) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)}) {
    auto d = Base64Decode(Base64Encode(s));
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, s);
  }
  EXPECT_EQ(Base64Encode("visi"), "dmlzaQ==");
  EXPECT_FALSE(Base64Decode("abc"));
  EXPECT_FALSE(Base64Decode("ab!d"));
  EXPECT_FALSE(Base64Decode("a=bc"));
}

}  // namespace
}  // namespace visi
