#pragma once

namespace visi {

// Crash points for crash tests (as etcd's gofail): when the environment
// variable VISI_FAILPOINTS lists `name` (comma-separated), reaching
// Failpoint(name) prints "failpoint NAME: killing visid" to stderr and the
// process SIGKILLs itself, exactly as an operator's kill -9 would. Without
// the variable it is one relaxed load. Names are documented where they are
// placed (docs/snapshots.md, "Crash safety").
void Failpoint(const char* name);

}  // namespace visi
