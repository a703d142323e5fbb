#include "daemon/main/options.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace wmd::daemon {
namespace {

Options parse(std::vector<std::string> args) {
  args.insert(args.begin(), "wmdd");
  return parse_options(args, "hostx");
}

int exit_code_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const OptionsError& e) {
    return e.exit_code();
  }
  return -1;
}

std::string error_of(std::vector<std::string> args) {
  try {
    parse(std::move(args));
  } catch (const OptionsError& e) {
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("only --segment is required and every other option has its documented default") {
  const auto o = parse({"--segment", "/wasm0"});
  CHECK(o.segment == "/wasm0");
  CHECK_FALSE(o.size_bytes.has_value());
  CHECK(o.segment_mode == 0600);
  CHECK(o.listen == net::HostPort{"0.0.0.0", 7411});
  CHECK(o.peers.empty());
  CHECK(o.id == "hostx:7411");
  CHECK(o.cluster == "wmd");
  CHECK(o.page_size_bytes == 8192);
  CHECK(o.scan_interval_ms == 100);
  CHECK(o.max_size_bytes == 4ull << 30);
  CHECK(o.max_frame_bytes == 16u << 20);
  CHECK(o.send_queue_bytes == 64ull << 20);
  CHECK(o.heartbeat_interval_ms == 1000);
  CHECK(o.heartbeat_timeout_ms == 5000);
  CHECK(o.handshake_timeout_ms == 5000);
  CHECK(o.stats_interval_s == 10);
  CHECK(o.log_level == "info");
}

TEST_CASE("a missing --segment is a usage error with exit code 2") {
  CHECK(exit_code_of({}) == 2);
}

TEST_CASE("--help exits 0 and describes every option") {
  try {
    parse({"--help"});
    FAIL("no help");
  } catch (const OptionsError& e) {
    CHECK(e.exit_code() == 0);
    const std::string text = e.what();
    for (const char* flag :
         {"--segment", "--size", "--segment-mode", "--listen", "--peers", "--id", "--cluster",
          "--page-size", "--scan-interval", "--max-size", "--max-frame", "--send-queue",
          "--heartbeat-interval", "--heartbeat-timeout", "--handshake-timeout", "--stats-interval",
          "--config", "--log-level"}) {
      CAPTURE(flag);
      CHECK(text.find(flag) != std::string::npos);
    }
  }
}

TEST_CASE("sizes take binary suffixes") {
  CHECK(parse_size("4096") == 4096u);
  CHECK(parse_size("64K") == 64u << 10);
  CHECK(parse_size("64KiB") == 64u << 10);
  CHECK(parse_size("16M") == 16u << 20);
  CHECK(parse_size("16mib") == 16u << 20);
  CHECK(parse_size("4GiB") == 4ull << 30);
  CHECK(parse_size("1G") == 1ull << 30);
  CHECK(parse_size("2T") == 2ull << 40);
  CHECK_FALSE(parse_size("").has_value());
  CHECK_FALSE(parse_size("M").has_value());
  CHECK_FALSE(parse_size("12X").has_value());
  CHECK_FALSE(parse_size("-1").has_value());
  CHECK_FALSE(parse_size("99999999999999999999").has_value());
  CHECK_FALSE(parse_size("18446744073709551615K").has_value());
}

TEST_CASE("flags set their values") {
  const auto o = parse({"--segment",
                        "/m",
                        "--size",
                        "1MiB",
                        "--segment-mode",
                        "0640",
                        "--listen",
                        "127.0.0.1:9000",
                        "--peers",
                        "a:1,b:2",
                        "--peers",
                        "[::1]:3",
                        "--id",
                        "me",
                        "--cluster",
                        "c1",
                        "--page-size",
                        "4K",
                        "--scan-interval",
                        "0",
                        "--max-size",
                        "1G",
                        "--max-frame",
                        "1M",
                        "--send-queue",
                        "2M",
                        "--heartbeat-interval",
                        "200",
                        "--heartbeat-timeout",
                        "2000",
                        "--handshake-timeout",
                        "300",
                        "--stats-interval",
                        "0",
                        "--log-level",
                        "debug"});
  CHECK(o.size_bytes == 1u << 20);
  CHECK(o.segment_mode == 0640);
  CHECK(o.listen == net::HostPort{"127.0.0.1", 9000});
  REQUIRE(o.peers.size() == 3);
  CHECK(o.peers[0] == net::HostPort{"a", 1});
  CHECK(o.peers[1] == net::HostPort{"b", 2});
  CHECK(o.peers[2] == net::HostPort{"::1", 3});
  CHECK(o.id == "me");
  CHECK(o.cluster == "c1");
  CHECK(o.page_size_bytes == 4096);
  CHECK(o.scan_interval_ms == 0);
  CHECK(o.max_size_bytes == 1u << 30);
  CHECK(o.max_frame_bytes == 1u << 20);
  CHECK(o.send_queue_bytes == 2u << 20);
  CHECK(o.heartbeat_interval_ms == 200);
  CHECK(o.heartbeat_timeout_ms == 2000);
  CHECK(o.handshake_timeout_ms == 300);
  CHECK(o.stats_interval_s == 0);
  CHECK(o.log_level == "debug");
}

TEST_CASE("the default id follows the listen port") {
  CHECK(parse({"--segment", "/m", "--listen", "0.0.0.0:9001"}).id == "hostx:9001");
}

TEST_CASE("bad values are refused with exit code 2 and a message naming the option") {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--segment", "wasm0"}, "--segment"},
      {{"--segment", "/a/b"}, "--segment"},
      {{"--segment", "/m", "--size", "lots"}, "--size"},
      {{"--segment", "/m", "--page-size", "5000"}, "--page-size"},
      {{"--segment", "/m", "--page-size", "2K"}, "--page-size"},
      {{"--segment", "/m", "--page-size", "2M"}, "--page-size"},
      {{"--segment", "/m", "--listen", "nowhere"}, "--listen"},
      {{"--segment", "/m", "--peers", "a:1,b"}, "--peers"},
      {{"--segment", "/m", "--segment-mode", "0999"}, "--segment-mode"},
      {{"--segment", "/m", "--scan-interval", "-5"}, "--scan-interval"},
      {{"--segment", "/m", "--scan-interval", "10ms"}, "--scan-interval"},
      {{"--segment", "/m", "--max-frame", "1K"}, "--max-frame"},
      {{"--segment", "/m", "--size", "2G", "--max-size", "1G"}, "--size"},
      {{"--segment", "/m", "--heartbeat-interval", "5000"}, "--heartbeat-timeout"},
      {{"--segment", "/m", "--id", "has space"}, "--id"},
      {{"--segment", "/m", "--log-level", "loud"}, "--log-level"},
      {{"--segment", "/m", "--cluster", std::string(65, 'c')}, "--cluster"},
      {{"--segment", "/m", "--no-such-flag"}, "no-such-flag"},
  };
  for (const auto& [args, needle] : cases) {
    CAPTURE(needle);
    CHECK(exit_code_of(args) == 2);
    CHECK(error_of(args).find(needle) != std::string::npos);
  }
}

TEST_CASE("a config file takes the same keys as the flags, and flags override it") {
  const std::string path = "wmdd_options_test.conf";
  {
    std::ofstream file(path);
    file << "# wmdd test\n"
         << "segment = /fromfile\n"
         << "peers = \"x:1,y:2\"\n"
         << "scan-interval = 25\n"
         << "send-queue = 8M\n"
         << "cluster = \"filecluster\"\n";
  }
  const auto o = parse({"--config", path, "--scan-interval", "30"});
  std::remove(path.c_str());
  CHECK(o.segment == "/fromfile");
  REQUIRE(o.peers.size() == 2);
  CHECK(o.peers[1] == net::HostPort{"y", 2});
  CHECK(o.scan_interval_ms == 30);
  CHECK(o.send_queue_bytes == 8u << 20);
  CHECK(o.cluster == "filecluster");
  CHECK(o.config_file == path);
}

TEST_CASE("a config file with an unknown key or a bad value is refused with exit code 2") {
  const std::string path = "wmdd_options_bad.conf";
  {
    std::ofstream file(path);
    file << "segment = /m\nscan-intervall = 5\n";
  }
  CHECK(exit_code_of({"--config", path}) == 2);
  {
    std::ofstream file(path);
    file << "segment = /m\npage-size = 1000\n";
  }
  CHECK(exit_code_of({"--config", path}) == 2);
  std::remove(path.c_str());
  CHECK(exit_code_of({"--config", "/nonexistent/wmdd.conf"}) == 2);
}

}  // namespace wmd::daemon

namespace wmd::daemon {
namespace {

TEST_CASE("operations options: TLS files, metrics address, connection limit, foreign segments") {
  const auto defaults = parse({"--segment", "/s"});
  CHECK(defaults.tls_cert.empty());
  CHECK(defaults.metrics.port == 0);
  CHECK(defaults.max_connections == 64);
  CHECK_FALSE(defaults.allow_foreign_writable);
  const auto set =
      parse({"--segment", "/s", "--tls-cert", "n.crt", "--tls-key", "n.key", "--tls-ca", "ca.crt",
             "--metrics", "127.0.0.1:9411", "--max-connections", "8", "--allow-foreign-writable"});
  CHECK(set.tls_cert == "n.crt");
  CHECK(set.tls_key == "n.key");
  CHECK(set.tls_ca == "ca.crt");
  CHECK(set.metrics == net::HostPort{"127.0.0.1", 9411});
  CHECK(set.max_connections == 8);
  CHECK(set.allow_foreign_writable);
}

TEST_CASE("TLS files go together: one or two of them is a usage error naming all three") {
  CHECK(exit_code_of({"--segment", "/s", "--tls-cert", "n.crt"}) == 2);
  CHECK(
      error_of({"--segment", "/s", "--tls-cert", "n.crt", "--tls-key", "n.key"}).find("--tls-ca") !=
      std::string::npos);
  CHECK(exit_code_of({"--segment", "/s", "--max-connections", "0"}) == 2);
}

}  // namespace
}  // namespace wmd::daemon

namespace wmd::daemon {
namespace {

TEST_CASE("change detection options: --tracking defaults to auto and --audit-interval to 10 s") {
  const auto defaults = parse({"--segment", "/s"});
  CHECK(defaults.tracking == "auto");
  CHECK(defaults.audit_interval_ms == 10'000);
  for (const char* mode : {"auto", "hash", "kernel"}) {
    CAPTURE(mode);
    CHECK(parse({"--segment", "/s", "--tracking", mode}).tracking == mode);
  }
  CHECK(parse({"--segment", "/s", "--audit-interval", "500"}).audit_interval_ms == 500);
}

TEST_CASE(
    "--tracking takes only auto, hash or kernel, and --audit-interval is at least the "
    "scan interval") {
  CHECK(exit_code_of({"--segment", "/s", "--tracking", "fast"}) == 2);
  CHECK(error_of({"--segment", "/s", "--tracking", "fast"}).find("--tracking") !=
        std::string::npos);
  CHECK(exit_code_of({"--segment", "/s", "--audit-interval", "0"}) == 2);
  CHECK(error_of({"--segment", "/s", "--scan-interval", "200", "--audit-interval", "100"})
            .find("--audit-interval") != std::string::npos);
  CHECK(parse({"--segment", "/s", "--scan-interval", "0", "--audit-interval", "1"})
            .audit_interval_ms == 1);
}

TEST_CASE("--help and the config file know the change detection options") {
  try {
    parse({"--help"});
    FAIL("no help");
  } catch (const OptionsError& e) {
    const std::string text = e.what();
    CHECK(text.find("--tracking") != std::string::npos);
    CHECK(text.find("--audit-interval") != std::string::npos);
  }
  const std::string path = "wmdd_options_tracking.conf";
  {
    std::ofstream file(path);
    file << "segment = /m\ntracking = hash\naudit-interval = 2000\n";
  }
  const auto o = parse({"--config", path});
  std::remove(path.c_str());
  CHECK(o.tracking == "hash");
  CHECK(o.audit_interval_ms == 2000);
}

}  // namespace
}  // namespace wmd::daemon

namespace wmd::daemon {
namespace {

TEST_CASE("--ws-listen is off by default; a bare port listens on loopback") {
  CHECK(parse({"--segment", "/s"}).ws_listen.port == 0);
  const auto bare = parse({"--segment", "/s", "--ws-listen", "7412", "--ws-token-file", "t"});
  CHECK(bare.ws_listen == net::HostPort{"127.0.0.1", 7412});
  CHECK(bare.ws_token_file == "t");
  const auto wide =
      parse({"--segment", "/s", "--ws-listen", "0.0.0.0:7412", "--ws-token-file", "t"});
  CHECK(wide.ws_listen == net::HostPort{"0.0.0.0", 7412});
  CHECK(exit_code_of({"--segment", "/s", "--ws-listen", "70000", "--ws-token-file", "t"}) == 2);
}

TEST_CASE("--ws-listen needs --ws-token-file, and the token file needs --ws-listen") {
  CHECK(error_of({"--segment", "/s", "--ws-listen", "7412"}).find("--ws-token-file") !=
        std::string::npos);
  CHECK(error_of({"--segment", "/s", "--ws-token-file", "t"}).find("--ws-listen") !=
        std::string::npos);
}

}  // namespace
}  // namespace wmd::daemon
