#include "controller/base/status.h"

namespace visi {

const char* CodeReason(Code code) {
  switch (code) {
    case Code::kOk: return "Success";
    case Code::kBadRequest: return "BadRequest";
    case Code::kUnauthorized: return "Unauthorized";
    case Code::kForbidden: return "Forbidden";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kConflict: return "Conflict";
    case Code::kGone: return "Gone";
    case Code::kTooLarge: return "RequestEntityTooLarge";
    case Code::kInvalid: return "Invalid";
    case Code::kInternal: return "InternalError";
    case Code::kUnavailable: return "ServiceUnavailable";
    case Code::kDeadlineExceeded: return "Timeout";
  }
  return "Unknown";
}

int CodeHttpStatus(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kBadRequest: return 400;
    case Code::kUnauthorized: return 401;
    case Code::kForbidden: return 403;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kConflict: return 409;
    case Code::kGone: return 410;
    case Code::kTooLarge: return 413;
    case Code::kInvalid: return 422;
    case Code::kInternal: return 500;
    case Code::kUnavailable: return 503;
    case Code::kDeadlineExceeded: return 504;
  }
  return 500;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = std::string(CodeReason(code_)) + ": " + message_;
  for (const auto& c : causes_) out += "\n  " + c.field + ": " + c.message;
  return out;
}

}  // namespace visi
