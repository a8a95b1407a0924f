#pragma once

#include <string>
#include <utility>
#include <vector>

namespace visi {

// Canonical error codes. Each code tells the caller what to do next:
//   kUnavailable        retry the same call after a back-off
//   kConflict           re-read the object and reconcile again
//   kInvalid, kBadRequest, kTooLarge, kForbidden, kUnauthorized
//                       stop: the input or the caller must change
//   kGone               the requested history is compacted: re-list
// The API server maps the same codes to Kubernetes reasons and HTTP codes.
enum class Code {
  kOk = 0,
  kBadRequest,       // 400 BadRequest: malformed input (syntax, encoding)
  kUnauthorized,     // 401 Unauthorized
  kForbidden,        // 403 Forbidden
  kNotFound,         // 404 NotFound
  kAlreadyExists,    // 409 AlreadyExists
  kConflict,         // 409 Conflict: stale resourceVersion or precondition
  kGone,             // 410 Gone: resourceVersion too old
  kTooLarge,         // 413 RequestEntityTooLarge
  kInvalid,          // 422 Invalid: well-formed but violates the schema
  kInternal,         // 500 InternalError
  kUnavailable,      // 503 ServiceUnavailable: transient, retry
  kDeadlineExceeded, // 504 Timeout
};

// One offending field: Kubernetes' StatusCause.
struct FieldCause {
  std::string field;    // a field path such as "spec.spark.workers"
  std::string message;  // what was expected, e.g. "must be <= 64, got 100"
  bool operator==(const FieldCause&) const = default;
};

// An error value. Status() is OK.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::vector<FieldCause> causes = {})
      : code_(code), message_(std::move(message)), causes_(std::move(causes)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::vector<FieldCause>& causes() const { return causes_; }

  // "Invalid: message" plus one line per cause.
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::vector<FieldCause> causes_;
};

// The Kubernetes reason for a code ("NotFound", "Conflict", ...).
const char* CodeReason(Code code);
// The HTTP status for a code (404, 409, ...).
int CodeHttpStatus(Code code);

inline Status OkStatus() { return Status(); }
inline Status InvalidError(std::string msg, std::vector<FieldCause> causes = {}) {
  return Status(Code::kInvalid, std::move(msg), std::move(causes));
}
inline Status BadRequestError(std::string msg) { return Status(Code::kBadRequest, std::move(msg)); }
inline Status NotFoundError(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
inline Status AlreadyExistsError(std::string msg) {
  return Status(Code::kAlreadyExists, std::move(msg));
}
inline Status ConflictError(std::string msg) { return Status(Code::kConflict, std::move(msg)); }
inline Status GoneError(std::string msg) { return Status(Code::kGone, std::move(msg)); }
inline Status TooLargeError(std::string msg) { return Status(Code::kTooLarge, std::move(msg)); }
inline Status InternalError(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
inline Status UnavailableError(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }

}  // namespace visi

// Returns early from the enclosing function when `expr` is an error.
#define VISI_RETURN_IF_ERROR(expr)         \
  do {                                     \
    ::visi::Status visi_status_ = (expr);  \
    if (!visi_status_.ok()) return visi_status_; \
  } while (0)

#define VISI_CONCAT_INNER(a, b) a##b
#define VISI_CONCAT(a, b) VISI_CONCAT_INNER(a, b)
// `VISI_ASSIGN_OR_RETURN(auto x, MaybeX());`
#define VISI_ASSIGN_OR_RETURN(lhs, expr) \
  VISI_ASSIGN_OR_RETURN_IMPL(VISI_CONCAT(visi_or_, __LINE__), lhs, expr)
#define VISI_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
