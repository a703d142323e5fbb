#include "daemon/net/backoff.hpp"
#include "daemon/net/host_port.hpp"

#include <doctest/doctest.h>

namespace wmd::net {

using std::chrono::milliseconds;

TEST_CASE("backoff doubles from the initial delay up to the cap, with bounded jitter") {
  const std::uint64_t seed = 42;
  CAPTURE(seed);
  Backoff backoff(milliseconds(100), milliseconds(5000), seed);
  milliseconds base(100);
  for (int i = 0; i < 12; ++i) {
    const auto delay = backoff.next_delay();
    CHECK(delay >= std::min(base, milliseconds(5000)));
    CHECK(delay <= std::min(base + base / 2, milliseconds(5000)));
    base = std::min(base * 2, milliseconds(5000));
  }
  CHECK(backoff.next_delay() == milliseconds(5000));
}

TEST_CASE("backoff starts over after reset") {
  Backoff backoff(milliseconds(100), milliseconds(5000), 7);
  for (int i = 0; i < 6; ++i) (void)backoff.next_delay();
  backoff.reset();
  CHECK(backoff.next_delay() <= milliseconds(150));
}

TEST_CASE("two daemons with different seeds do not retry in lock-step") {
  Backoff a(milliseconds(1000), milliseconds(5000), 1);
  Backoff b(milliseconds(1000), milliseconds(5000), 2);
  bool differ = false;
  for (int i = 0; i < 3; ++i) differ = differ || a.next_delay() != b.next_delay();
  CHECK(differ);
}

TEST_CASE("host:port parses names, IPv4 and bracketed IPv6") {
  CHECK(parse_host_port("hostb:7411").value() == HostPort{"hostb", 7411});
  CHECK(parse_host_port("10.0.0.1:1").value() == HostPort{"10.0.0.1", 1});
  CHECK(parse_host_port("[::1]:7411").value() == HostPort{"::1", 7411});
  CHECK(HostPort{"::1", 7411}.to_string() == "[::1]:7411");
}

TEST_CASE("host:port refuses missing parts, bad ports and bare IPv6") {
  for (const char* bad : {"", "host", "host:", ":80", "host:0", "host:65536", "host:8x", "::1:80",
                          "[::1]80", "[::1]:"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_host_port(bad).ok());
  }
}

}  // namespace wmd::net
