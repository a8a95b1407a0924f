#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "controller/base/status.h"
#include "controller/base/statusor.h"

namespace visi {

// The machine an exec create program reports (docs/farm.md, "The exec
// provider's contract"); becomes a FarmMachine's spec.
struct ExecMachine {
  std::string endpoint;         // "unix:///path" or "tcp://host:port"
  std::string tls_secret_path;  // absolute directory, or empty
  std::string provider_id;      // what the provider calls the machine, or empty
  bool operator==(const ExecMachine&) const = default;
};

// How to run one operator program.
struct ExecOptions {
  // Program and arguments, run without a shell. argv[0] without a '/' is
  // looked up in visid's PATH.
  std::vector<std::string> argv;
  // How long the program may run before its process group is killed.
  std::chrono::milliseconds timeout{300'000};
  // Most bytes read from stdout, and separately from stderr.
  size_t max_output_bytes = 64 * 1024;
  // Set in the program's environment on top of visid's own (see
  // ExecCreateEnv and ExecDeleteEnv).
  std::map<std::string, std::string> env;
};

// The environment of a create program: VISI_POOL and VISI_MACHINE.
std::map<std::string, std::string> ExecCreateEnv(const std::string& pool,
                                                 const std::string& machine);
// The environment of a delete program: VISI_POOL, VISI_MACHINE,
// VISI_PROVIDER_ID and VISI_ENDPOINT.
std::map<std::string, std::string> ExecDeleteEnv(const std::string& pool,
                                                 const std::string& machine,
                                                 const ExecMachine& created);

// Runs a create program and parses the one JSON object it prints on stdout:
//   {"endpoint": "unix:///..." | "tcp://host:port",
//    "tlsSecretPath": "/dir" (optional), "providerID": "..." (optional)}
//
// The program runs with stdin on /dev/null, in a process group of its own.
// Whatever is left of that group when the program exits is killed, so
// nothing it started outlives it (a daemon must start its own session).
// Errors:
//   kInvalid           empty argv or a timeout <= 0; the program cannot be
//                      started (missing, not executable); it wrote more than
//                      max_output_bytes on stdout or stderr; its output is
//                      not a JSON object with a valid "endpoint" and
//                      string-typed optional fields (the message names the
//                      field). Retrying will not help until the program or
//                      the pool changes.
//   kUnavailable       it exited non-zero or died by a signal: the message
//                      has the code or signal and the end of its stderr.
//                      Retry after a back-off.
//   kDeadlineExceeded  it ran longer than the timeout: its group got SIGTERM,
//                      then SIGKILL 2 s later.
//   kInternal          pipes or processes could not be created.
// Blocks for up to timeout + 2 s. Thread-safe, as long as nothing else in
// the process reaps children it did not start (waitpid(-1, ...)).
StatusOr<ExecMachine> ExecCreate(const ExecOptions& options);

// Runs a delete program; exit code 0 means the machine is gone (or was never
// there). Its stdout is read (within the cap) and ignored. Errors as for
// ExecCreate, without the ones about the output's JSON.
Status ExecDelete(const ExecOptions& options);

}  // namespace visi
