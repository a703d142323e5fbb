#include "daemon/net/ws_upgrade.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace wmd::net {
namespace {

UpgradeRequest upgrade(std::string_view target, std::string_view authorization = {}) {
  return UpgradeRequest{true, target, authorization};
}

// A file under /tmp holding text, removed at the end of the scope.
struct TempFile {
  explicit TempFile(const std::string& text)
      : path("/tmp/wmd-ws-token-test-" + std::to_string(getpid())) {
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

}  // namespace

TEST_CASE("a token matches itself and nothing else, not even a prefix or an extension") {
  const WsToken token("s3cret");
  CHECK(token.matches("s3cret"));
  CHECK_FALSE(token.matches("s3cre"));
  CHECK_FALSE(token.matches("s3cret!"));
  CHECK_FALSE(token.matches("S3cret"));
  CHECK_FALSE(token.matches(""));
}

TEST_CASE("query parameters are found by exact name and percent-decoded") {
  CHECK(query_parameter("/?token=abc", "token") == "abc");
  CHECK(query_parameter("/ws?x=1&token=a%2Bb%2fc&y=2", "token") == "a+b/c");
  CHECK(query_parameter("/?mytoken=1&token=2", "token") == "2");
  CHECK(query_parameter("/?token=a+b", "token") == "a+b");  // not form data
  CHECK(query_parameter("/?token=", "token") == "");
  CHECK(query_parameter("/?token", "token") == "");
  CHECK(query_parameter("/?token=abc#frag", "token") == "abc");
  CHECK_FALSE(query_parameter("/", "token").has_value());
  CHECK_FALSE(query_parameter("/?tokens=abc", "token").has_value());
  CHECK_FALSE(query_parameter("/?token=ab%2", "token").has_value());
  CHECK_FALSE(query_parameter("/?token=ab%zz", "token").has_value());
  CHECK_FALSE(query_parameter("/?token=ab%", "token").has_value());
}

TEST_CASE("an upgrade with the token in the query or as a bearer header is accepted") {
  const WsToken token("a+b/c");
  CHECK(check_upgrade(upgrade("/?token=a%2Bb%2Fc"), token) == UpgradeVerdict::accept);
  CHECK(check_upgrade(upgrade("/", "Bearer a+b/c"), token) == UpgradeVerdict::accept);
  CHECK(check_upgrade(upgrade("/", "bearer  a+b/c "), token) == UpgradeVerdict::accept);
}

TEST_CASE("an upgrade without the right token is unauthorized; a plain request is refused") {
  const WsToken token("right");
  CHECK(check_upgrade(upgrade("/"), token) == UpgradeVerdict::unauthorized);
  CHECK(check_upgrade(upgrade("/?token=wrong"), token) == UpgradeVerdict::unauthorized);
  CHECK(check_upgrade(upgrade("/?token="), token) == UpgradeVerdict::unauthorized);
  CHECK(check_upgrade(upgrade("/", "Basic cmlnaHQ="), token) == UpgradeVerdict::unauthorized);
  CHECK(check_upgrade(upgrade("/", "Bearer "), token) == UpgradeVerdict::unauthorized);
  CHECK(check_upgrade(upgrade("/?token=" + std::string(20000, 'x')), token) ==
        UpgradeVerdict::unauthorized);
  CHECK(check_upgrade(UpgradeRequest{false, "/?token=right", {}}, token) ==
        UpgradeVerdict::not_websocket);
}

TEST_CASE("a token file is read without surrounding whitespace; bad files are refused") {
  {
    TempFile file("  tok-123\n");
    auto token = WsToken::from_file(file.path);
    REQUIRE(token.ok());
    CHECK(token->matches("tok-123"));
  }
  for (const std::string& bad :
       {std::string(), std::string(" \n"), std::string("two words\n"), std::string(5000, 'x')}) {
    TempFile file(bad);
    auto token = WsToken::from_file(file.path);
    CHECK_FALSE(token.ok());
    CHECK(token.error() == errc::invalid_config);
    CHECK(token.error().detail().find("--ws-token-file") != std::string::npos);
  }
  const auto missing = WsToken::from_file("/nonexistent/wmd-token");
  CHECK_FALSE(missing.ok());
  CHECK(missing.error().detail().find("/nonexistent/wmd-token") != std::string::npos);
}

}  // namespace wmd::net
