#pragma once

#include <string>
#include <vector>

#include "controller/api/object.h"
#include "controller/store/etcd/etcd_client.h"

namespace visi {

// The JSON of etcd v3's gateway: bytes travel as base64, int64 as decimal
// strings, and fields with zero values are left out. Pure functions, so the
// client's wire format is tested without a member.

Json RangeToJson(const EtcdRangeRequest& r);
Json TxnToJson(const std::vector<EtcdCompare>& compares, const std::vector<EtcdOp>& success,
               const std::vector<EtcdOp>& failure);
Json WatchRequestToJson(const EtcdWatchRequest& r);

// kInternal naming the field when the answer is not what etcd sends.
StatusOr<EtcdRangeResponse> RangeFromJson(const Json& j);
StatusOr<EtcdTxnResponse> TxnFromJson(const Json& j);
// One line of a /v3/watch stream: {"result": ...} or {"error": ...}.
StatusOr<EtcdWatchResponse> ParseWatchLine(const std::string& endpoint, const std::string& line);

// A non-200 answer of the member at `endpoint` as a Status: etcd's gRPC code
// decides (unavailable, compacted -> kGone, future revision ->
// kDeadlineExceeded, too large -> kTooLarge, ...); the message names the
// member and carries etcd's.
Status GatewayError(const std::string& endpoint, int http_status, const std::string& body);

}  // namespace visi
