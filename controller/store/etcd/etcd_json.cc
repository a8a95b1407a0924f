#include "controller/store/etcd/etcd_json.h"

#include "controller/base/base64.h"

namespace visi {
namespace {

// An int64 field: a decimal string on the wire (a number is accepted too);
// absent means 0.
StatusOr<int64_t> Int64(const Json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return int64_t{0};
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_string()) {
    const std::string& s = it->get_ref<const std::string&>();
    try {
      size_t used = 0;
      int64_t v = std::stoll(s, &used);
      if (used == s.size()) return v;
    } catch (const std::exception&) {
    }
  }
  return InternalError(std::string("etcd sent a malformed \"") + field + "\": " + it->dump());
}

StatusOr<std::string> Bytes(const Json& j, const char* field) {
  auto it = j.find(field);
  if (it == j.end() || it->is_null()) return std::string();
  if (it->is_string()) {
    auto d = Base64Decode(it->get_ref<const std::string&>());
    if (d) return std::move(*d);
  }
  return InternalError(std::string("etcd sent a malformed \"") + field + "\" (not base64)");
}

bool Bool(const Json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

const Json& ObjectField(const Json& j, const char* field) {
  static const Json kEmpty = Json::object();
  auto it = j.find(field);
  return it != j.end() && it->is_object() ? *it : kEmpty;
}

const Json& ArrayField(const Json& j, const char* field) {
  static const Json kEmpty = Json::array();
  auto it = j.find(field);
  return it != j.end() && it->is_array() ? *it : kEmpty;
}

StatusOr<EtcdKeyValue> KeyValueFromJson(const Json& j) {
  if (!j.is_object()) return InternalError("etcd sent a key-value that is not an object");
  EtcdKeyValue kv;
  VISI_ASSIGN_OR_RETURN(kv.key, Bytes(j, "key"));
  VISI_ASSIGN_OR_RETURN(kv.value, Bytes(j, "value"));
  VISI_ASSIGN_OR_RETURN(kv.create_revision, Int64(j, "create_revision"));
  VISI_ASSIGN_OR_RETURN(kv.mod_revision, Int64(j, "mod_revision"));
  VISI_ASSIGN_OR_RETURN(kv.version, Int64(j, "version"));
  return kv;
}

std::string StringField(const Json& j, const char* field) {
  if (!j.is_object()) return "";
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

StatusOr<int64_t> HeaderRevision(const Json& j) {
  return Int64(ObjectField(j, "header"), "revision");
}

Json OpToJson(const EtcdOp& op) {
  switch (op.type) {
    case EtcdOp::Type::kPut:
      return {{"request_put", {{"key", Base64Encode(op.key)}, {"value", Base64Encode(op.value)}}}};
    case EtcdOp::Type::kRange:
      return {{"request_range", {{"key", Base64Encode(op.key)}}}};
    case EtcdOp::Type::kDelete:
      return {{"request_delete_range", {{"key", Base64Encode(op.key)}}}};
  }
  return Json::object();
}

}  // namespace

Json RangeToJson(const EtcdRangeRequest& r) {
  Json j = {{"key", Base64Encode(r.key)}};
  if (!r.range_end.empty()) j["range_end"] = Base64Encode(r.range_end);
  if (r.limit > 0) j["limit"] = std::to_string(r.limit);
  if (r.revision > 0) j["revision"] = std::to_string(r.revision);
  if (r.count_only) j["count_only"] = true;
  return j;
}

Json TxnToJson(const std::vector<EtcdCompare>& compares, const std::vector<EtcdOp>& success,
               const std::vector<EtcdOp>& failure) {
  Json j = {{"compare", Json::array()}, {"success", Json::array()}, {"failure", Json::array()}};
  for (const auto& c : compares) {
    bool create = c.target == EtcdCompare::Target::kCreateRevision;
    j["compare"].push_back(
        {{"key", Base64Encode(c.key)},
         {"result", "EQUAL"},
         {"target", create ? "CREATE" : "MOD"},
         {create ? "create_revision" : "mod_revision", std::to_string(c.value)}});
  }
  for (const auto& op : success) j["success"].push_back(OpToJson(op));
  for (const auto& op : failure) j["failure"].push_back(OpToJson(op));
  return j;
}

Json WatchRequestToJson(const EtcdWatchRequest& r) {
  Json c = {{"key", Base64Encode(r.key)}};
  if (!r.range_end.empty()) c["range_end"] = Base64Encode(r.range_end);
  if (r.start_revision > 0) c["start_revision"] = std::to_string(r.start_revision);
  if (r.prev_kv) c["prev_kv"] = true;
  if (r.progress_notify) c["progress_notify"] = true;
  return {{"create_request", c}};
}

StatusOr<EtcdRangeResponse> RangeFromJson(const Json& j) {
  if (!j.is_object()) return InternalError("etcd sent a range answer that is not an object");
  EtcdRangeResponse r;
  VISI_ASSIGN_OR_RETURN(r.revision, HeaderRevision(j));
  for (const auto& kv : ArrayField(j, "kvs")) {
    VISI_ASSIGN_OR_RETURN(EtcdKeyValue v, KeyValueFromJson(kv));
    r.kvs.push_back(std::move(v));
  }
  r.more = Bool(j, "more");
  VISI_ASSIGN_OR_RETURN(r.count, Int64(j, "count"));
  return r;
}

StatusOr<EtcdTxnResponse> TxnFromJson(const Json& j) {
  if (!j.is_object()) return InternalError("etcd sent a txn answer that is not an object");
  EtcdTxnResponse t;
  t.succeeded = Bool(j, "succeeded");
  VISI_ASSIGN_OR_RETURN(t.revision, HeaderRevision(j));
  for (const auto& op : ArrayField(j, "responses")) {
    EtcdRangeResponse r;
    if (op.contains("response_range")) {
      VISI_ASSIGN_OR_RETURN(r, RangeFromJson(op["response_range"]));
    }
    t.responses.push_back(std::move(r));
  }
  return t;
}

StatusOr<EtcdWatchResponse> ParseWatchLine(const std::string& endpoint, const std::string& line) {
  Json j;
  try {
    j = Json::parse(line);
  } catch (const std::exception& e) {
    return InternalError("etcd at " + endpoint + " sent a malformed watch message: " + e.what());
  }
  if (j.is_object() && j.contains("error")) {
    const Json& e = j["error"];
    std::string msg = StringField(e, "message");
    if (msg.empty()) msg = e.dump();
    return UnavailableError("etcd at " + endpoint + " ended the watch: " + msg);
  }
  if (!j.is_object() || !j.contains("result") || !j["result"].is_object()) {
    return InternalError("etcd at " + endpoint + " sent a watch message without a result");
  }
  const Json& r = j["result"];
  EtcdWatchResponse w;
  VISI_ASSIGN_OR_RETURN(w.revision, HeaderRevision(r));
  w.created = Bool(r, "created");
  w.canceled = Bool(r, "canceled");
  VISI_ASSIGN_OR_RETURN(w.compact_revision, Int64(r, "compact_revision"));
  w.cancel_reason = StringField(r, "cancel_reason");
  for (const auto& e : ArrayField(r, "events")) {
    if (!e.is_object() || !e.contains("kv") || !e["kv"].is_object()) {
      return InternalError("etcd at " + endpoint + " sent a watch event without a key-value");
    }
    EtcdEvent ev;
    ev.type = StringField(e, "type") == "DELETE" ? EtcdEvent::Type::kDelete : EtcdEvent::Type::kPut;
    VISI_ASSIGN_OR_RETURN(ev.kv, KeyValueFromJson(e["kv"]));
    if (e.contains("prev_kv")) {
      VISI_ASSIGN_OR_RETURN(EtcdKeyValue prev, KeyValueFromJson(e["prev_kv"]));
      ev.prev_kv = std::move(prev);
    }
    w.events.push_back(std::move(ev));
  }
  return w;
}

Status GatewayError(const std::string& endpoint, int http_status, const std::string& body) {
  std::string message;
  int64_t code = -1;
  try {
    Json j = Json::parse(body);
    if (j.contains("error") && j["error"].is_object()) j = j["error"];  // the streaming form
    message = StringField(j, "message");
    if (message.empty()) message = StringField(j, "error");
    if (j.contains("code") && j["code"].is_number_integer()) code = j["code"].get<int64_t>();
    if (j.contains("grpc_code") && j["grpc_code"].is_number_integer())
      code = j["grpc_code"].get<int64_t>();
  } catch (const std::exception&) {
    message = "HTTP " + std::to_string(http_status) + ": " + body.substr(0, 200);
  }
  std::string what = "etcd at " + endpoint + ": " + message;
  // "request is too large" comes as InvalidArgument, "too many requests" as
  // ResourceExhausted.
  if (message.find("too large") != std::string::npos) return TooLargeError(what);
  switch (code) {
    case 4:   // DeadlineExceeded
    case 14:  // Unavailable: no leader, request timed out, stopping
      return UnavailableError(what);
    case 11:  // OutOfRange: a revision outside the history
      if (message.find("compacted") != std::string::npos) return GoneError(what);
      if (message.find("future") != std::string::npos) return Status(Code::kDeadlineExceeded, what);
      return InternalError(what);
    case 8:  // ResourceExhausted: too many requests
      return UnavailableError(what);
    case 7:
      return Status(Code::kForbidden, what);
    case 16:
      return Status(Code::kUnauthorized, what);
    case -1:
      // Not etcd's error shape: a proxy, or not etcd at all.
      return http_status >= 500 ? UnavailableError(what) : InternalError(what);
    default:
      return InternalError(what);
  }
}

}  // namespace visi
