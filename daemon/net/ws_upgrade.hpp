// WebSocket upgrade decisions as pure functions (`--ws-listen`, `--ws-token-file`): whether an
// HTTP request may become a wmd peer session. A browser cannot set request headers on
// `new WebSocket(url)`, so the token travels in the URL query (`?token=...`); other clients
// may send `Authorization: Bearer TOKEN` instead. Tokens are compared through their SHA-256
// digests with a constant-time comparison, so neither the content nor the length of the
// secret leaks through timing.
//
// Thread-safety: WsToken is immutable after construction and safe to share between threads;
// the functions are stateless.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace wmd::net {

// Longest token accepted in the file and in a request.
inline constexpr std::size_t kMaxWsTokenBytes = 4096;

class WsToken {
 public:
  // REQUIRES: secret is not empty.
  explicit WsToken(std::string_view secret);

  // Reads the token from a file: its content without surrounding whitespace (a trailing
  // newline from `echo` is fine). Errors: invalid_config (the detail says why: unreadable,
  // empty, longer than kMaxWsTokenBytes, or containing control characters or spaces).
  static Result<WsToken> from_file(const std::string& path);

  // True when presented equals the secret. Constant time in the content of both.
  bool matches(std::string_view presented) const;

 private:
  std::array<std::uint8_t, 32> digest_{};
};

// The value of query parameter `name` in a request target ("/path?a=1&token=x%2By"),
// percent-decoded ('+' stays '+': tokens are not form data). nullopt when absent or when its
// percent-encoding is malformed.
std::optional<std::string> query_parameter(std::string_view target, std::string_view name);

// What an upgrade request carries, as read from the HTTP request.
struct UpgradeRequest {
  bool is_websocket_upgrade = false;  // a GET with the Upgrade: websocket headers
  std::string_view target;            // request target, e.g. "/?token=..."
  std::string_view authorization;     // the Authorization header; "" when absent
};

enum class UpgradeVerdict {
  accept,
  not_websocket,  // answer 426 Upgrade Required
  unauthorized,   // answer 401 Unauthorized
};

// REQUIRES: token outlives the call. A request must be a WebSocket upgrade and present the
// token, in the query or as a bearer token.
UpgradeVerdict check_upgrade(const UpgradeRequest& request, const WsToken& token);

}  // namespace wmd::net
