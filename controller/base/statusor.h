#pragma once

#include <cstdlib>
#include <optional>
#include <utility>

#include "controller/base/status.h"

namespace visi {

// Either a value or an error Status. Accessing value() of an error aborts:
// that is a programming bug, not a runtime condition.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) std::abort();  // an OK StatusOr must carry a value
  }
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }

  const T& value() const& { Check(); return *value_; }
  T& value() & { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void Check() const {
    if (!value_) std::abort();
  }
  Status status_;
  std::optional<T> value_;
};

}  // namespace visi
