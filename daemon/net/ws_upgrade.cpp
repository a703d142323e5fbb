#include "daemon/net/ws_upgrade.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cctype>
#include <fstream>
#include <sstream>

namespace wmd::net {
namespace {

std::array<std::uint8_t, 32> sha256(std::string_view text) {
  std::array<std::uint8_t, 32> digest{};
  static_assert(SHA256_DIGEST_LENGTH == 32);
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return digest;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;  // '%' needs two hex digits
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

bool is_token_text(std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

// "Bearer TOKEN" (the scheme is case-insensitive, RFC 6750) -> TOKEN.
std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  }
  auto token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

}  // namespace

WsToken::WsToken(std::string_view secret) : digest_(sha256(secret)) {}

Result<WsToken> WsToken::from_file(const std::string& path) {
  const auto fail = [&](const std::string& why) -> Result<WsToken> {
    return Error(errc::invalid_config, "--ws-token-file " + path + ": " + why);
  };
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("cannot read it");
  std::ostringstream content;
  content << in.rdbuf();
  std::string text = content.str();
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return fail("the file is empty");
  const auto last = text.find_last_not_of(" \t\r\n");
  text = text.substr(first, last - first + 1);
  if (text.size() > kMaxWsTokenBytes) {
    return fail("the token is longer than " + std::to_string(kMaxWsTokenBytes) + " bytes");
  }
  if (!is_token_text(text)) return fail("the token contains spaces or control characters");
  return WsToken(text);
}

bool WsToken::matches(std::string_view presented) const {
  const auto digest = sha256(presented);
  return CRYPTO_memcmp(digest.data(), digest_.data(), digest.size()) == 0;
}

std::optional<std::string> query_parameter(std::string_view target, std::string_view name) {
  const auto question = target.find('?');
  if (question == std::string_view::npos) return std::nullopt;
  auto query = target.substr(question + 1);
  if (const auto hash = query.find('#'); hash != std::string_view::npos) {
    query = query.substr(0, hash);
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const auto eq = pair.find('=');
    const auto key = pair.substr(0, eq);
    if (key != name) continue;
    return percent_decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
  }
  return std::nullopt;
}

UpgradeVerdict check_upgrade(const UpgradeRequest& request, const WsToken& token) {
  if (!request.is_websocket_upgrade) return UpgradeVerdict::not_websocket;
  if (request.target.size() > 2 * kMaxWsTokenBytes + 1024) return UpgradeVerdict::unauthorized;
  if (const auto presented = query_parameter(request.target, "token")) {
    if (!presented->empty() && token.matches(*presented)) return UpgradeVerdict::accept;
  }
  if (const auto presented = bearer_token(request.authorization)) {
    if (!presented->empty() && token.matches(*presented)) return UpgradeVerdict::accept;
  }
  return UpgradeVerdict::unauthorized;
}

}  // namespace wmd::net
