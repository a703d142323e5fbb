#include "client/node/src/napi_util.hpp"

#include <cmath>
#include <utility>

#include "engine/errors.hpp"

namespace wmd::node {
namespace {

// Stable JavaScript error codes for the engine's errors (errors a caller may want to tell
// apart); anything else is ERR_WMD.
const char* wmd_code_name(std::error_code error) {
  if (error.category() != wmd_category()) return "ERR_WMD_SYSTEM";
  switch (static_cast<errc>(error.value())) {
    case errc::invalid_page_size:
      return "ERR_WMD_INVALID_PAGE_SIZE";
    case errc::invalid_config:
      return "ERR_WMD_INVALID_CONFIG";
    case errc::invalid_peer_id:
      return "ERR_WMD_INVALID_PEER_ID";
    case errc::beyond_max_size:
      return "ERR_WMD_BEYOND_MAX_SIZE";
    case errc::out_of_range:
      return "ERR_WMD_OUT_OF_RANGE";
    case errc::malformed:
      return "ERR_WMD_MALFORMED";
    case errc::pool_exhausted:
      return "ERR_WMD_POOL_EXHAUSTED";
    case errc::peer_table_full:
      return "ERR_WMD_PEER_TABLE_FULL";
    case errc::io_error:
      return "ERR_WMD_IO";
    default:
      return "ERR_WMD";
  }
}

}  // namespace

void throw_type_error(const std::string& message) {
  throw JsError(JsError::Kind::type_error, message, "ERR_INVALID_ARG_TYPE");
}

void throw_range_error(const std::string& message) {
  throw JsError(JsError::Kind::range_error, message, "ERR_OUT_OF_RANGE");
}

void throw_wmd_error(const std::string& context, std::error_code error) {
  throw JsError(JsError::Kind::error, context + ": " + error.message(), wmd_code_name(error));
}

void check(napi_env env, napi_status status, const char* what) {
  if (status == napi_ok) return;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) throw JsError(JsError::Kind::pending, what);
  const napi_extended_error_info* info = nullptr;
  napi_get_last_error_info(env, &info);
  std::string message = std::string("Node-API call failed: ") + what;
  if (info != nullptr && info->error_message != nullptr)
    message += ": " + std::string(info->error_message);
  throw JsError(JsError::Kind::error, message, "ERR_WMD_NAPI");
}

void throw_js(napi_env env, const JsError& error) noexcept {
  if (error.kind() == JsError::Kind::pending) return;  // JavaScript already has its exception
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const char* code = error.code().empty() ? nullptr : error.code().c_str();
  switch (error.kind()) {
    case JsError::Kind::type_error:
      napi_throw_type_error(env, code, error.what());
      break;
    case JsError::Kind::range_error:
      napi_throw_range_error(env, code, error.what());
      break;
    default:
      napi_throw_error(env, code, error.what());
      break;
  }
}

CallInfo call_info(napi_env env, napi_callback_info info, std::size_t max_args) {
  CallInfo out;
  std::size_t argc = max_args;
  out.args.resize(max_args);
  check(env, napi_get_cb_info(env, info, &argc, out.args.data(), &out.self, &out.data),
        "napi_get_cb_info");
  // Missing arguments read as undefined, like in JavaScript.
  for (std::size_t i = argc; i < max_args; ++i) out.args[i] = undefined(env);
  return out;
}

napi_valuetype type_of(napi_env env, napi_value value) {
  napi_valuetype type = napi_undefined;
  check(env, napi_typeof(env, value, &type), "napi_typeof");
  return type;
}

bool is_nullish(napi_env env, napi_value value) {
  napi_valuetype type = type_of(env, value);
  return type == napi_undefined || type == napi_null;
}

napi_value property(napi_env env, napi_value object, const char* name) {
  napi_value value = nullptr;
  check(env, napi_get_named_property(env, object, name, &value), name);
  return value;
}

bool has_property(napi_env env, napi_value object, const char* name) {
  bool has = false;
  check(env, napi_has_named_property(env, object, name, &has), name);
  return has;
}

void set_property(napi_env env, napi_value object, const char* name, napi_value value) {
  check(env, napi_set_named_property(env, object, name, value), name);
}

std::string to_string(napi_env env, napi_value value, const char* what) {
  if (type_of(env, value) != napi_string) throw_type_error(std::string(what) + " must be a string");
  std::size_t length = 0;
  check(env, napi_get_value_string_utf8(env, value, nullptr, 0, &length), what);
  std::string text(length, '\0');
  check(env, napi_get_value_string_utf8(env, value, text.data(), length + 1, &length), what);
  return text;
}

double to_double(napi_env env, napi_value value, const char* what) {
  if (type_of(env, value) != napi_number) throw_type_error(std::string(what) + " must be a number");
  double number = 0;
  check(env, napi_get_value_double(env, value, &number), what);
  return number;
}

std::uint64_t to_u64(napi_env env, napi_value value, const char* what) {
  double number = to_double(env, value, what);
  if (!std::isfinite(number) || number < 0 || number != std::floor(number) ||
      number > 9007199254740992.0) {
    throw_range_error(std::string(what) + " must be a non-negative integer");
  }
  return static_cast<std::uint64_t>(number);
}

bool to_bool(napi_env env, napi_value value) {
  bool result = false;
  napi_value coerced = nullptr;
  check(env, napi_coerce_to_bool(env, value, &coerced), "napi_coerce_to_bool");
  check(env, napi_get_value_bool(env, coerced, &result), "napi_get_value_bool");
  return result;
}

napi_value make_string(napi_env env, const std::string& text) {
  napi_value value = nullptr;
  check(env, napi_create_string_utf8(env, text.data(), text.size(), &value), "string");
  return value;
}

napi_value make_number(napi_env env, double value) {
  napi_value result = nullptr;
  check(env, napi_create_double(env, value, &result), "number");
  return result;
}

napi_value make_u64(napi_env env, std::uint64_t value) {
  return make_number(env, static_cast<double>(value));
}

napi_value make_bool(napi_env env, bool value) {
  napi_value result = nullptr;
  check(env, napi_get_boolean(env, value, &result), "boolean");
  return result;
}

napi_value make_object(napi_env env) {
  napi_value result = nullptr;
  check(env, napi_create_object(env, &result), "object");
  return result;
}

napi_value make_array(napi_env env, std::size_t length) {
  napi_value result = nullptr;
  check(env, napi_create_array_with_length(env, length, &result), "array");
  return result;
}

napi_value undefined(napi_env env) {
  napi_value result = nullptr;
  check(env, napi_get_undefined(env, &result), "undefined");
  return result;
}

napi_value call_method(napi_env env, napi_value object, const char* name,
                       std::span<const napi_value> args) {
  napi_value function = property(env, object, name);
  if (type_of(env, function) != napi_function)
    throw_type_error(std::string(name) + " is not a function");
  napi_value result = nullptr;
  check(env, napi_call_function(env, object, function, args.size(), args.data(), &result), name);
  return result;
}

std::span<std::uint8_t> bytes_of(napi_env env, napi_value value, const char* what) {
  bool is = false;
  void* data = nullptr;
  std::size_t length = 0;
  check(env, napi_is_arraybuffer(env, value, &is), what);
  if (is) {
    check(env, napi_get_arraybuffer_info(env, value, &data, &length), what);
    return {static_cast<std::uint8_t*>(data), length};
  }
  check(env, napi_is_typedarray(env, value, &is), what);
  if (is) {
    napi_typedarray_type type{};
    std::size_t element_count = 0;
    napi_value buffer = nullptr;
    std::size_t offset = 0;
    check(env, napi_get_typedarray_info(env, value, &type, &element_count, &data, &buffer, &offset),
          what);
    std::size_t element_bytes = 1;
    switch (type) {
      case napi_int16_array:
      case napi_uint16_array:
        element_bytes = 2;
        break;
      case napi_int32_array:
      case napi_uint32_array:
      case napi_float32_array:
        element_bytes = 4;
        break;
      case napi_float64_array:
      case napi_bigint64_array:
      case napi_biguint64_array:
        element_bytes = 8;
        break;
      default:
        break;
    }
    return {static_cast<std::uint8_t*>(data), element_count * element_bytes};
  }
  check(env, napi_is_dataview(env, value, &is), what);
  if (is) {
    napi_value buffer = nullptr;
    std::size_t offset = 0;
    check(env, napi_get_dataview_info(env, value, &length, &data, &buffer, &offset), what);
    return {static_cast<std::uint8_t*>(data), length};
  }
  throw_type_error(std::string(what) + " must be a Uint8Array, an ArrayBuffer or a DataView");
}

Reference::Reference(napi_env env, napi_value value) : env_(env) {
  check(env, napi_create_reference(env, value, 1, &ref_), "napi_create_reference");
}

Reference::~Reference() {
  reset();
}

Reference::Reference(Reference&& other) noexcept
    : env_(std::exchange(other.env_, nullptr)), ref_(std::exchange(other.ref_, nullptr)) {}

Reference& Reference::operator=(Reference&& other) noexcept {
  if (this != &other) {
    reset();
    env_ = std::exchange(other.env_, nullptr);
    ref_ = std::exchange(other.ref_, nullptr);
  }
  return *this;
}

void Reference::reset() {
  if (ref_ != nullptr) napi_delete_reference(env_, ref_);
  ref_ = nullptr;
}

napi_value Reference::get(napi_env env) const {
  napi_value value = nullptr;
  if (ref_ != nullptr)
    check(env, napi_get_reference_value(env, ref_, &value), "napi_get_reference_value");
  return value;
}

}  // namespace wmd::node
