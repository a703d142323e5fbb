// wmd::Result<T>: a value or a std::error_code (std::expected arrives only in C++23).
// Thread-safety: a value type; the usual rules for values apply.
#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include "engine/errors.hpp"

namespace wmd {

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(std::error_code error) : state_(std::in_place_index<1>, error) {  // NOLINT
    assert(error);
  }
  Result(errc error) : Result(make_error_code(error)) {}  // NOLINT

  bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  // REQUIRES: ok()
  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  // The error, or a default (success) error_code when ok().
  std::error_code error() const noexcept { return ok() ? std::error_code{} : std::get<1>(state_); }

 private:
  std::variant<T, std::error_code> state_;
};

// Result<void>: success or an error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(std::error_code error) : error_(error) {}        // NOLINT
  Result(errc error) : error_(make_error_code(error)) {}  // NOLINT

  bool ok() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return error_; }

 private:
  std::error_code error_;
};

using Status = Result<void>;

}  // namespace wmd
