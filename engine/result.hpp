// wmd::Result<T>: a value or a wmd::Error (std::expected arrives only in C++23).
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
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {  // NOLINT
    assert(std::get<1>(state_));
  }
  Result(std::error_code error) : Result(Error(error)) {}  // NOLINT
  Result(errc error) : Result(Error(error)) {}             // NOLINT

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

  // The error, or a default (success) Error when ok().
  Error error() const { return ok() ? Error{} : std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT
  Result(std::error_code error) : error_(error) {}   // NOLINT
  Result(errc error) : error_(error) {}              // NOLINT

  bool ok() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const noexcept { return error_; }

 private:
  Error error_;
};

using Status = Result<void>;

}  // namespace wmd
