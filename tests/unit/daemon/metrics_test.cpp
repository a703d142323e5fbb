#include "daemon/main/metrics.hpp"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

namespace wmd::daemon {
namespace {

// Every sample line's metric name has HELP and TYPE lines before it.
bool every_sample_is_declared(const std::string& text) {
  std::istringstream lines(text);
  std::string line;
  std::string declared;
  while (std::getline(lines, line)) {
    if (line.rfind("# TYPE ", 0) == 0) {
      declared = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    const auto name = line.substr(0, line.find_first_of(" {"));
    if (name != declared) return false;
  }
  return true;
}

TEST_CASE("label values escape backslashes, quotes and newlines") {
  CHECK(escape_label_value("a\\b\"c\nd") == "a\\\\b\\\"c\\nd");
  CHECK(escape_label_value("plain") == "plain");
}

TEST_CASE("the Prometheus text has the daemon totals, per-peer samples and TYPE lines") {
  DaemonCounters counters;
  counters.scans = 12;
  counters.scan_time_us = 1500;
  counters.pages_changed = 3;
  counters.tracking_mode = "hash";
  net::MeshSnapshot mesh;
  mesh.connection_errors = 2;
  mesh.queue_bytes = 4096;
  net::PeerSnapshot peer;
  peer.peer_id = "b\"1";
  peer.patches_sent = 5;
  peer.rtt_us = 250;
  mesh.peers.push_back(peer);
  const auto text = render_prometheus({"/wasm0", "a", "0.1.0"}, counters, mesh);
  CHECK(text.find("wmd_scans_total 12\n") != std::string::npos);
  CHECK(text.find("wmd_scan_seconds_total 0.0015\n") != std::string::npos);
  CHECK(text.find("wmd_connection_errors_total 2\n") != std::string::npos);
  CHECK(text.find("wmd_queue_bytes 4096\n") != std::string::npos);
  CHECK(text.find("wmd_audit_findings_total 0\n") != std::string::npos);
  CHECK(text.find("wmd_peer_patches_sent_total{peer=\"b\\\"1\"} 5\n") != std::string::npos);
  CHECK(text.find("wmd_peer_rtt_seconds{peer=\"b\\\"1\"} 0.00025\n") != std::string::npos);
  CHECK(text.find("wmd_info{segment=\"/wasm0\",peer_id=\"a\"") != std::string::npos);
  CHECK(every_sample_is_declared(text));
}

TEST_CASE("without peers there are no per-peer families at all") {
  const auto text = render_prometheus({"/wasm0", "a", "0.1.0"}, {}, {});
  CHECK(text.find("wmd_peer_") == std::string::npos);
  CHECK(every_sample_is_declared(text));
}

}  // namespace
}  // namespace wmd::daemon
