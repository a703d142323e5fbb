#include "daemon/net/handshake.hpp"

#include <doctest/doctest.h>

namespace wmd::net {
namespace {

LocalIdentity ours() {
  return LocalIdentity{"b-peer", "wmd", 8192, 1 << 30};
}

proto::Hello hello_from(const std::string& id) {
  proto::Hello hello;
  hello.cluster = "wmd";
  hello.peer_id = id;
  hello.page_size_bytes = 8192;
  hello.size_bytes = 1 << 20;
  return hello;
}

}  // namespace

TEST_CASE("a hello of the same cluster, page size and protocol version is accepted") {
  const auto decision = check_hello(ours(), hello_from("a-peer"));
  CHECK(decision.verdict == HelloVerdict::accept);
  CHECK(decision.reason == errc::ok);
}

TEST_CASE("a hello from another cluster is refused with cluster_mismatch") {
  auto hello = hello_from("a-peer");
  hello.cluster = "other";
  const auto decision = check_hello(ours(), hello);
  CHECK(decision.verdict == HelloVerdict::refuse);
  CHECK(decision.reason == errc::cluster_mismatch);
  CHECK(decision.detail.find("other") != std::string::npos);
}

TEST_CASE("a hello with another page size is refused with page_size_mismatch") {
  auto hello = hello_from("a-peer");
  hello.page_size_bytes = 4096;
  const auto decision = check_hello(ours(), hello);
  CHECK(decision.verdict == HelloVerdict::refuse);
  CHECK(decision.reason == errc::page_size_mismatch);
}

TEST_CASE("a hello with another protocol version is refused first") {
  auto hello = hello_from("a-peer");
  hello.protocol_version = 99;
  hello.cluster = "other";
  const auto decision = check_hello(ours(), hello);
  CHECK(decision.verdict == HelloVerdict::refuse);
  CHECK(decision.reason == errc::protocol_version_mismatch);
}

TEST_CASE("a hello larger than our maximum size is refused") {
  auto hello = hello_from("a-peer");
  hello.size_bytes = (1ull << 30) + 8192;
  CHECK(check_hello(ours(), hello).reason == errc::beyond_max_size);
}

TEST_CASE("a hello carrying our own id means we reached ourselves") {
  CHECK(check_hello(ours(), hello_from("b-peer")).verdict == HelloVerdict::self);
}

TEST_CASE("a hello with an invalid peer id is refused") {
  CHECK(check_hello(ours(), hello_from("bad id")).reason == errc::invalid_peer_id);
}

TEST_CASE("both sides keep the connection dialed by the smaller id") {
  // "a" < "b": the connection a dialed survives. On a it is outbound, on b inbound.
  CHECK(keeps_connection("a", "b", /*outbound=*/true));
  CHECK_FALSE(keeps_connection("a", "b", /*outbound=*/false));
  CHECK(keeps_connection("b", "a", /*outbound=*/false));
  CHECK_FALSE(keeps_connection("b", "a", /*outbound=*/true));
}

TEST_CASE("the tie-break agrees on both sides for any pair of ids") {
  const std::vector<std::string> ids{"a", "b", "host:7411", "host:7412", "z9"};
  for (const auto& x : ids) {
    for (const auto& y : ids) {
      if (x == y) continue;
      // The connection dialed by x: outbound on x, inbound on y. Both must agree.
      CHECK(keeps_connection(x, y, true) == keeps_connection(y, x, false));
    }
  }
}

TEST_CASE("under TLS a peer id must be a name of its certificate") {
  CHECK(check_certified_id("n1", {"n1", "n1.example"}).verdict == HelloVerdict::accept);
  CHECK(check_certified_id("n1.example", {"n1", "n1.example"}).verdict == HelloVerdict::accept);
  const auto refused = check_certified_id("n1", {"n3"});
  CHECK(refused.verdict == HelloVerdict::refuse);
  CHECK(refused.reason == errc::invalid_peer_id);
  CHECK(refused.detail.find("n3") != std::string::npos);
  CHECK(check_certified_id("n1", {}).verdict == HelloVerdict::refuse);
}

TEST_CASE("a settled, live session keeps its place; a dead or young one follows the tie-break") {
  using std::chrono::milliseconds;
  const auto settle = milliseconds(2000);
  const auto silence = milliseconds(2000);
  const ExistingSession live{false, milliseconds(5000), milliseconds(100)};
  CHECK_FALSE(keeps_newcomer("a", "b", live, false, settle, silence));
  CHECK_FALSE(keeps_newcomer("a", "b", live, true, settle, silence));
  const ExistingSession dead{false, milliseconds(5000), milliseconds(2500)};
  CHECK(keeps_newcomer("a", "b", dead, false, settle, silence));
  const ExistingSession young{false, milliseconds(10), milliseconds(0)};
  CHECK(keeps_newcomer("a", "b", young, true, settle, silence) == keeps_connection("a", "b", true));
  CHECK(keeps_newcomer("a", "b", young, false, settle, silence));  // same direction: the newer
}

}  // namespace wmd::net
