#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/base/statusor.h"

namespace visi {

// A small client of etcd v3's JSON gateway (/v3/kv/*, /v3/watch): the calls
// the etcd store needs, with plain types. Keys and values are raw bytes here;
// the base64 of the wire stays inside. Revisions are etcd's int64 revisions.

struct EtcdClientOptions {
  // Client URLs of the members ("http://127.0.0.1:2379", "https://h:2379").
  std::vector<std::string> endpoints;
  // PEM files: the CA that signed the members' certificates (empty: the
  // system's CAs), and the client certificate and key (both or neither).
  std::string tls_ca_file, tls_cert_file, tls_key_file;
  // Bounds each request but watches.
  std::chrono::milliseconds request_timeout{10000};
  // A watch stream silent for this long is dropped (the member may be gone);
  // EtcdWatchStream::Read then fails and the caller reconnects.
  std::chrono::milliseconds watch_idle_timeout{60000};
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
};

struct EtcdRangeRequest {
  std::string key;
  std::string range_end;  // empty: `key` alone; see PrefixEnd
  int64_t limit = 0;      // 0: no limit
  int64_t revision = 0;   // 0: the newest
  bool count_only = false;
};

struct EtcdRangeResponse {
  int64_t revision = 0;  // the header revision: the store's at the read
  std::vector<EtcdKeyValue> kvs;
  bool more = false;  // the limit cut the range short
  int64_t count = 0;  // keys in the range
};

// A compare of a transaction: `target` of `key` == `value`.
struct EtcdCompare {
  enum class Target { kCreateRevision, kModRevision };
  std::string key;
  Target target = Target::kModRevision;
  int64_t value = 0;
};

// One operation of a transaction on one key.
struct EtcdOp {
  enum class Type { kPut, kRange, kDelete };
  Type type = Type::kPut;
  std::string key;
  std::string value;  // kPut
};

struct EtcdTxnResponse {
  bool succeeded = false;
  int64_t revision = 0;  // the header revision: the new one after a write
  // One per operation of the branch taken; only kRange fills kvs.
  std::vector<EtcdRangeResponse> responses;
};

struct EtcdWatchRequest {
  std::string key;
  std::string range_end;
  int64_t start_revision = 0;  // 0: from now
  bool prev_kv = true;
  bool progress_notify = true;
};

struct EtcdEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  EtcdKeyValue kv;                      // for kDelete: the key and mod_revision only
  std::optional<EtcdKeyValue> prev_kv;  // with prev_kv requested, when etcd still has it
};

// One message of a watch stream.
struct EtcdWatchResponse {
  int64_t revision = 0;  // the header revision
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // set when canceled because history is compacted
  std::string cancel_reason;
  std::vector<EtcdEvent> events;
  // A progress notification: all events up to `revision` were sent.
  bool IsProgress() const { return !created && !canceled && events.empty() && revision > 0; }
};

class EtcdClient;

// One /v3/watch stream, on the member that accepted it. Cancel() is safe
// from any thread, at any time, and ends a blocked Start() or Read() at once.
class EtcdWatchStream {
 public:
  virtual ~EtcdWatchStream() = default;
  // Opens the stream on the first member that answers.
  virtual Status Start(const EtcdWatchRequest& request) = 0;
  // The next message. Unavailable when the stream broke or went silent for
  // watch_idle_timeout, or after Cancel().
  virtual StatusOr<EtcdWatchResponse> Read() = 0;
  virtual void Cancel() = 0;
  // The member the stream is on, once started.
  virtual std::string endpoint() const = 0;
};

// Thread-safe. Each call goes to the member that answered last and moves on
// to the next one when a member does not answer (a connection error, a
// timeout of a read, or etcd's "unavailable"); Unavailable naming every
// member tried when none answers. A write that timed out is not retried
// elsewhere: it may have been applied (Unavailable says so).
class EtcdClient {
 public:
  // kInvalid for an endpoint that is not an http(s) URL or a TLS file that
  // cannot be read.
  static StatusOr<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);
  virtual ~EtcdClient() = default;

  virtual StatusOr<EtcdRangeResponse> Range(const EtcdRangeRequest& request) = 0;
  // Compares (all must hold) then the success or the failure operations.
  virtual StatusOr<EtcdTxnResponse> Txn(const std::vector<EtcdCompare>& compares,
                                        const std::vector<EtcdOp>& success,
                                        const std::vector<EtcdOp>& failure) = 0;
  // Drops history before `revision`. kGone when it is already compacted.
  virtual Status Compact(int64_t revision) = 0;
  virtual std::unique_ptr<EtcdWatchStream> NewWatchStream() = 0;
  virtual const EtcdClientOptions& options() const = 0;
};

// The range_end that covers every key starting with `prefix`.
std::string PrefixEnd(const std::string& prefix);

}  // namespace visi
