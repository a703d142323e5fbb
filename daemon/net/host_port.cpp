#include "daemon/net/host_port.hpp"

#include <charconv>

namespace wmd::net {

std::string HostPort::to_string() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<HostPort> parse_host_port(std::string_view text) {
  std::string_view host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return errc::invalid_config;
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return errc::invalid_config;
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    // An unbracketed IPv6 address is ambiguous ("::1:80"): refuse it.
    if (host.find(':') != std::string_view::npos) return errc::invalid_config;
  }
  if (host.empty() || port_text.empty()) return errc::invalid_config;
  unsigned port = 0;
  const auto* end = port_text.data() + port_text.size();
  const auto [ptr, ec] = std::from_chars(port_text.data(), end, port);
  if (ec != std::errc{} || ptr != end || port == 0 || port > 65535) return errc::invalid_config;
  return HostPort{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace wmd::net
