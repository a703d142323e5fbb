// HostPort: a "host:port" endpoint as written in --listen and --peers ("[::1]:7411" for IPv6).
// Thread-safety: value type.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/result.hpp"

namespace wmd::net {

struct HostPort {
  std::string host;
  std::uint16_t port = 0;

  // "host:port", with brackets around hosts that contain ':'.
  std::string to_string() const;
  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses "host:port" or "[v6addr]:port". The port must be 1..65535 and the host non-empty.
// Errors: invalid_config.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace wmd::net
