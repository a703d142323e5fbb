// Small helpers over the C Node-API: every failing napi_* call becomes a C++ exception
// (JsError) that the outermost native function turns into a thrown JavaScript error, so the
// binding code reads top to bottom without a status check on every line.
//
// Thread-safety: a napi_env is bound to its JavaScript thread; call these on that thread only.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

namespace wmd::node {

// An error to throw into JavaScript. code is a stable string ("ERR_WMD_BEYOND_MAX_SIZE").
class JsError : public std::runtime_error {
 public:
  enum class Kind { error, type_error, range_error, pending };
  JsError(Kind kind, std::string message, std::string code = {})
      : std::runtime_error(std::move(message)), kind_(kind), code_(std::move(code)) {}
  Kind kind() const noexcept { return kind_; }
  const std::string& code() const noexcept { return code_; }

 private:
  Kind kind_;
  std::string code_;
};

[[noreturn]] void throw_type_error(const std::string& message);
[[noreturn]] void throw_range_error(const std::string& message);
// A wmd error code as a JavaScript Error with code "ERR_WMD_<NAME>".
[[noreturn]] void throw_wmd_error(const std::string& context, std::error_code error);

// Throws JsError when status is not napi_ok (a pending JavaScript exception is left in place).
void check(napi_env env, napi_status status, const char* what);

// Runs body, converting exceptions into a thrown JavaScript error; returns body's value or
// nullptr after throwing. Use as the whole body of every napi_callback.
template <typename Body>
napi_value boundary(napi_env env, Body&& body) noexcept;

// Argument access.
struct CallInfo {
  napi_value self = nullptr;
  std::vector<napi_value> args;
  void* data = nullptr;
};
CallInfo call_info(napi_env env, napi_callback_info info, std::size_t max_args);

napi_valuetype type_of(napi_env env, napi_value value);
bool is_nullish(napi_env env, napi_value value);
napi_value property(napi_env env, napi_value object, const char* name);
bool has_property(napi_env env, napi_value object, const char* name);
void set_property(napi_env env, napi_value object, const char* name, napi_value value);

std::string to_string(napi_env env, napi_value value, const char* what);
double to_double(napi_env env, napi_value value, const char* what);
// A non-negative integer that a double holds exactly (up to 2^53).
std::uint64_t to_u64(napi_env env, napi_value value, const char* what);
bool to_bool(napi_env env, napi_value value);

napi_value make_string(napi_env env, const std::string& text);
napi_value make_number(napi_env env, double value);
napi_value make_u64(napi_env env, std::uint64_t value);  // a Number; exact below 2^53
napi_value make_bool(napi_env env, bool value);
napi_value make_object(napi_env env);
napi_value make_array(napi_env env, std::size_t length);
napi_value undefined(napi_env env);
napi_value call_method(napi_env env, napi_value object, const char* name,
                       std::span<const napi_value> args);

// The bytes behind an ArrayBuffer, a TypedArray or a DataView.
std::span<std::uint8_t> bytes_of(napi_env env, napi_value value, const char* what);

// Holds a napi_ref for the lifetime of this object.
class Reference {
 public:
  Reference() = default;
  Reference(napi_env env, napi_value value);
  ~Reference();
  Reference(Reference&& other) noexcept;
  Reference& operator=(Reference&& other) noexcept;
  Reference(const Reference&) = delete;
  Reference& operator=(const Reference&) = delete;
  napi_value get(napi_env env) const;
  void reset();

 private:
  napi_env env_ = nullptr;
  napi_ref ref_ = nullptr;
};

// --- implementation of the template ------------------------------------------------------

void throw_js(napi_env env, const JsError& error) noexcept;

template <typename Body>
napi_value boundary(napi_env env, Body&& body) noexcept {
  try {
    return body();
  } catch (const JsError& error) {
    throw_js(env, error);
  } catch (const std::bad_alloc&) {
    throw_js(env, JsError(JsError::Kind::error, "out of memory", "ERR_WMD_NO_MEMORY"));
  } catch (const std::exception& error) {
    throw_js(env, JsError(JsError::Kind::error, error.what(), "ERR_WMD_INTERNAL"));
  }
  return nullptr;
}

}  // namespace wmd::node
