#include "controller/base/failpoint.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace visi {
namespace {

// ",a,b," for VISI_FAILPOINTS=a,b; empty when unset. Read once.
const std::string& Armed() {
  static const std::string armed = [] {
    const char* v = std::getenv("VISI_FAILPOINTS");
    return v && *v ? "," + std::string(v) + "," : std::string();
  }();
  return armed;
}

}  // namespace

void Failpoint(const char* name) {
  const std::string& armed = Armed();
  if (armed.empty() || armed.find("," + std::string(name) + ",") == std::string::npos) return;
  std::fprintf(stderr, "failpoint %s: killing visid\n", name);
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
  ::_exit(137);  // not reached
}

}  // namespace visi
