#include "daemon/main/metrics.hpp"

#include <fmt/format.h>

#include <iterator>

namespace wmd::daemon {
namespace {

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(const char* name, const char* type, const char* help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void sample(const char* name, double value) {
    fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
  }
  void sample(const char* name, std::uint64_t value) {
    fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
  }
  void peer_sample(const char* name, const std::string& peer, double value) {
    fmt::format_to(std::back_inserter(out_), "{}{{peer=\"{}\"}} {}\n", name,
                   escape_label_value(peer), value);
  }
  void peer_sample(const char* name, const std::string& peer, std::uint64_t value) {
    fmt::format_to(std::back_inserter(out_), "{}{{peer=\"{}\"}} {}\n", name,
                   escape_label_value(peer), value);
  }
  void one(const char* name, const char* type, const char* help, std::uint64_t value) {
    family(name, type, help);
    sample(name, value);
  }

 private:
  std::string& out_;
};

}  // namespace

std::string escape_label_value(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string render_prometheus(const MetricsIdentity& identity, const DaemonCounters& c,
                              const net::MeshSnapshot& mesh) {
  std::string out;
  out.reserve(4096 + mesh.peers.size() * 1024);
  Writer w(out);
  w.family("wmd_info", "gauge", "Always 1; labels describe this daemon.");
  fmt::format_to(std::back_inserter(out),
                 "wmd_info{{segment=\"{}\",peer_id=\"{}\",version=\"{}\",tracking=\"{}\"}} 1\n",
                 escape_label_value(identity.segment), escape_label_value(identity.peer_id),
                 escape_label_value(identity.version), escape_label_value(c.tracking_mode));

  // Change detection.
  w.one("wmd_scans_total", "counter", "Change scans of the segment.", c.scans);
  w.family("wmd_scan_seconds_total", "counter", "Time spent scanning, summed over scans.");
  w.sample("wmd_scan_seconds_total", static_cast<double>(c.scan_time_us) / 1e6);
  w.one("wmd_pages_changed_total", "counter", "Pages found changed by scans.", c.pages_changed);
  w.one("wmd_bytes_changed_total", "counter", "Bytes found changed by scans.", c.bytes_changed);
  w.one("wmd_audit_findings_total", "counter",
        "Pages an audit scan found changed that the kernel tracker had missed.", c.audit_findings);

  // Applying what peers send.
  w.one("wmd_patches_applied_total", "counter", "Patches from peers applied.", c.patches_applied);
  w.one("wmd_bytes_applied_total", "counter", "Bytes written into the segment by peers' patches.",
        c.bytes_applied);
  w.one("wmd_catchup_pages_merged_total", "counter", "Page states merged during catch-up.",
        c.pages_merged);
  w.one("wmd_catchups_total", "counter", "Catch-up rounds started towards peers.",
        c.catchups_started);
  w.one("wmd_catchups_completed_total", "counter", "Catch-up rounds completed towards peers.",
        c.catchups_completed);
  w.one("wmd_digest_rounds_deferred_total", "counter",
        "Peers' digest sets whose catch-up round waited (at most one round per peer per gap).",
        c.digest_rounds_deferred);
  w.one("wmd_digest_rounds_coalesced_total", "counter",
        "Peers' waiting digest sets replaced by a newer one (their round never ran).",
        c.digest_rounds_coalesced);

  // The mesh as a whole.
  w.one("wmd_patches_sent_total", "counter", "Patches queued to peers, all sessions.",
        mesh.patches_sent);
  w.one("wmd_patches_received_total", "counter", "Patches received from peers, all sessions.",
        mesh.patches_received);
  w.one("wmd_wire_bytes_sent_total", "counter", "Bytes written to peer connections.",
        mesh.bytes_sent);
  w.one("wmd_wire_bytes_received_total", "counter", "Bytes read from peer connections.",
        mesh.bytes_received);
  w.one("wmd_queue_bytes", "gauge", "Bytes waiting in send queues, all peers.", mesh.queue_bytes);
  w.one("wmd_send_queue_overflows_total", "counter",
        "Send queues that overflowed (the peer was resynced by catch-up).", mesh.overflows);
  w.one("wmd_connection_errors_total", "counter",
        "Connections that ended in an error (refused, failed handshake, bad frame, timeout, "
        "reset).",
        mesh.connection_errors);
  w.one("wmd_connections_rejected_total", "counter",
        "Inbound connections closed at once because --max-connections was reached.",
        mesh.connections_rejected);
  w.one("wmd_peers_connected", "gauge", "Peers with an established session.", mesh.peers.size());

  // Per connected peer: counters cover every session with that peer id since the daemon
  // started; RTT and queue are the current session's.
  const auto per_peer = [&](const char* name, const char* type, const char* help, auto field) {
    if (mesh.peers.empty()) return;
    w.family(name, type, help);
    for (const auto& peer : mesh.peers) w.peer_sample(name, peer.peer_id, field(peer));
  };
  using P = net::PeerSnapshot;
  per_peer("wmd_peer_patches_sent_total", "counter", "Patches queued to this peer.",
           [](const P& p) { return p.patches_sent; });
  per_peer("wmd_peer_patches_received_total", "counter", "Patches received from this peer.",
           [](const P& p) { return p.patches_received; });
  per_peer("wmd_peer_bytes_sent_total", "counter", "Bytes written to this peer.",
           [](const P& p) { return p.bytes_sent; });
  per_peer("wmd_peer_bytes_received_total", "counter", "Bytes read from this peer.",
           [](const P& p) { return p.bytes_received; });
  per_peer("wmd_peer_queue_bytes", "gauge", "Bytes waiting in this peer's send queue.",
           [](const P& p) { return p.queue_bytes; });
  per_peer("wmd_peer_rtt_seconds", "gauge", "Heartbeat round-trip time to this peer.",
           [](const P& p) { return static_cast<double>(p.rtt_us) / 1e6; });

  // The segment.
  w.one("wmd_segment_size_bytes", "gauge", "Current size of the segment.", c.size_bytes);
  w.one("wmd_segment_max_size_bytes", "gauge", "Largest size the segment may grow to.",
        c.max_size_bytes);
  w.one("wmd_lamport", "gauge",
        "This daemon's hybrid logical clock: Unix milliseconds times 65536 plus a counter.",
        c.lamport);
  w.one("wmd_local_seq", "gauge", "Sequence number of this daemon's last local patch.",
        c.local_seq);
  w.one("wmd_clock_skew_refusals_total", "counter",
        "Peer sessions closed because a timestamp ran more than --max-clock-offset ahead.",
        c.clock_skew_refusals);
  w.one("wmd_bound_refusals_total", "counter",
        "Peer sessions closed for a peer id outside --members, a too fragmented page, more "
        "than its share of the version pool, or too many new peer ids.",
        c.bound_refusals);
  w.one("wmd_errors_total", "counter", "Errors recorded in the status block.", c.errors);
  return out;
}

}  // namespace wmd::daemon
