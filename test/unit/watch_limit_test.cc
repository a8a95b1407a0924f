// The API handler's limit on open watches (ApiHandlerOptions::max_watches):
// a slot is taken when the watch request is handled, so that watches opened
// at once cannot overshoot the limit, and it is given back when the stream
// ends or when its response is dropped without a stream ever running.
#include <gtest/gtest.h>

#include <optional>

#include "controller/server/api_handler.h"
#include "controller/server/metrics.h"
#include "controller/store/memory/memory_store.h"

namespace visi {
namespace {

HttpRequest WatchRequest() {
  HttpRequest r;
  r.method = "GET";
  r.path = "/apis/visi.dev/v1alpha1/namespaces/alice/visisessions";
  r.query = {{"watch", "1"}, {"timeoutSeconds", "1"}};
  r.user = UserInfo{"admin", true, {}};
  return r;
}

TEST(WatchLimitTest, SlotsAreTakenWhenHandledAndGivenBackWithTheStream) {
  FakeClock clock(*ParseRfc3339("2026-11-24T12:00:00Z"));
  auto store = NewMemoryStore(Scheme::Builtin(), &clock);
  Metrics metrics;
  ApiHandlerOptions opts;
  opts.max_watches = 2;
  ApiHandler handler(store.get(), Scheme::Builtin(), &metrics, opts);

  std::optional<HttpResponse> a = handler.Handle(WatchRequest());
  std::optional<HttpResponse> b = handler.Handle(WatchRequest());
  ASSERT_EQ(a->code, 200);
  ASSERT_EQ(b->code, 200);
  ASSERT_TRUE(a->stream && b->stream);
  EXPECT_EQ(metrics.open_watches(), 2) << "counted before any stream runs";
  HttpResponse c = handler.Handle(WatchRequest());
  EXPECT_EQ(c.code, 503);
  EXPECT_NE(c.body.find("too many open watches (2)"), std::string::npos) << c.body;
  EXPECT_EQ(metrics.open_watches(), 2);

  // A response dropped without its stream running gives its slot back.
  a.reset();
  EXPECT_EQ(metrics.open_watches(), 1);
  HttpResponse d = handler.Handle(WatchRequest());
  EXPECT_EQ(d.code, 200);
  EXPECT_EQ(metrics.open_watches(), 2);

  // A stream that runs to its end (the client went away) gives it back
  // once the response goes.
  b->stream([](const std::string&) { return false; });
  b.reset();
  EXPECT_EQ(metrics.open_watches(), 1);
}

}  // namespace
}  // namespace visi
