// Errors as values at module boundaries.
//
// Every function that can fail because of input from a file, the network or
// another process returns a Status or a StatusOr<T>. Exceptions are not used
// for such failures; the only exceptions that may escape the project's code
// are std::bad_alloc and those thrown by third-party libraries on programming
// errors (which are bugs to fix, not conditions to handle).
#pragma once

#include <cassert>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tvd {

// Broad classes of failure. Callers branch on the code; people read the
// message, which must say what failed, where, and why.
enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,     // bad input: a malformed file, message or argument
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // creating something that is already there
  kPermissionDenied,    // authenticated but not allowed (policy says no)
  kUnauthenticated,     // identity or attestation could not be established
  kFailedPrecondition,  // the system is not in a state that allows this
  kUnavailable,         // a peer or daemon could not be reached; may retry
  kTimeout,             // a deadline passed
  kProtocol,            // a peer broke the wire protocol
  kIo,                  // an operating-system call failed
  kInternal,            // a bug or an invariant that did not hold
  // Added after the wire formats fixed kInternal as their last code: a quota
  // or limit is used up (the same request may succeed once usage drops).
  kResourceExhausted,
};

// Returns a stable lower-case name for `code` ("invalid-argument", ...).
std::string_view ErrorCodeName(ErrorCode code);

// The inverse of ErrorCodeName for an error a peer reported by name (the
// control protocol, the rm query protocol): the code named `name`, or
// kInternal when the name is unknown or is "ok", so that a peer can neither
// invent codes nor turn an error reply into a success.
ErrorCode ErrorCodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // "code: message", or "ok".
  std::string ToString() const;

  // Returns a copy whose message is "context: message" (no-op when OK).
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {ErrorCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {ErrorCode::kNotFound, std::move(m)};
}
inline Status AlreadyExists(std::string m) {
  return {ErrorCode::kAlreadyExists, std::move(m)};
}
inline Status PermissionDenied(std::string m) {
  return {ErrorCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {ErrorCode::kUnauthenticated, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {ErrorCode::kFailedPrecondition, std::move(m)};
}
inline Status Unavailable(std::string m) {
  return {ErrorCode::kUnavailable, std::move(m)};
}
inline Status Timeout(std::string m) {
  return {ErrorCode::kTimeout, std::move(m)};
}
inline Status ProtocolError(std::string m) {
  return {ErrorCode::kProtocol, std::move(m)};
}
inline Status IoError(std::string m) { return {ErrorCode::kIo, std::move(m)}; }
inline Status Internal(std::string m) {
  return {ErrorCode::kInternal, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {ErrorCode::kResourceExhausted, std::move(m)};
}

// Prints ToString(); also what GoogleTest shows for a Status in a failure.
std::ostream& operator<<(std::ostream& out, const Status& status);

// An IoError whose message ends with strerror(err): "what: No such file".
Status ErrnoError(std::string_view what, int err);

namespace internal {
// Prints "StatusOr::value() on an error: <status>" to stderr and aborts.
[[noreturn]] void DieOnValueOfError(const Status& status);
}  // namespace internal

// Either a value or a non-OK Status. Reading the value of an error (value(),
// *, ->) is a bug in the caller: it aborts with the status message in every
// build flavour (never undefined behaviour), so check ok() first.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT
    assert(!status_.ok() && "StatusOr constructed from an OK Status");
    if (status_.ok()) status_ = Internal("StatusOr built from OK status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  T& value() & {
    if (!ok()) internal::DieOnValueOfError(status_);
    return *value_;
  }
  const T& value() const& {
    if (!ok()) internal::DieOnValueOfError(status_);
    return *value_;
  }
  T&& value() && {
    if (!ok()) internal::DieOnValueOfError(status_);
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tvd

#define TVD_STATUS_CONCAT_INNER_(a, b) a##b
#define TVD_STATUS_CONCAT_(a, b) TVD_STATUS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define TVD_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::tvd::Status tvd_status_ = (expr);        \
    if (!tvd_status_.ok()) return tvd_status_; \
  } while (0)

// `lhs = value of expr`, or returns its Status from the enclosing function.
#define TVD_ASSIGN_OR_RETURN(lhs, expr)                                        \
  TVD_ASSIGN_OR_RETURN_IMPL_(TVD_STATUS_CONCAT_(tvd_statusor_, __LINE__), lhs, \
                             expr)
#define TVD_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) return tmp.status();              \
  lhs = std::move(tmp).value()
