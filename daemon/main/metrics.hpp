// The daemon's metrics: what the replicator counts on its engine thread (DaemonCounters,
// published through CounterBoard) and how they and a mesh snapshot read in Prometheus text
// format (render_prometheus), served by net::MetricsServer for `--metrics HOST:PORT`.
//
// Thread-safety: CounterBoard is safe from any thread; render_prometheus is a pure function.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "daemon/net/mesh.hpp"

namespace wmd::daemon {

// Totals since the daemon started (the segment's sizes and clocks are current values).
struct DaemonCounters {
  std::uint64_t scans = 0;
  std::uint64_t scan_time_us = 0;  // summed over scans
  std::uint64_t pages_changed = 0;
  std::uint64_t bytes_changed = 0;
  std::uint64_t patches_applied = 0;
  std::uint64_t bytes_applied = 0;
  std::uint64_t pages_merged = 0;      // page states merged by catch-up
  std::uint64_t catchups_started = 0;  // our catch-up rounds towards peers
  std::uint64_t catchups_completed = 0;
  std::uint64_t digest_rounds_deferred = 0;   // peers' digest sets that waited for their gap
  std::uint64_t digest_rounds_coalesced = 0;  // waiting digest sets replaced by a newer one
  std::uint64_t clock_skew_refusals = 0;      // sessions refused for a timestamp too far ahead
  std::uint64_t bound_refusals = 0;           // ... for membership, fragmentation or new ids
  std::uint64_t errors = 0;
  std::uint64_t audit_findings = 0;  // pages an audit scan found changed behind the tracker
  std::uint64_t size_bytes = 0;
  std::uint64_t max_size_bytes = 0;
  std::uint64_t lamport = 0;  // hybrid logical clock: Unix ms << 16 | counter
  std::uint64_t local_seq = 0;
  std::string tracking_mode;
};

// The last counters the engine thread published, for readers on other threads.
class CounterBoard {
 public:
  void publish(const DaemonCounters& counters) {
    std::lock_guard lock(mutex_);
    counters_ = counters;
  }
  DaemonCounters read() const {
    std::lock_guard lock(mutex_);
    return counters_;
  }

 private:
  mutable std::mutex mutex_;
  DaemonCounters counters_;  // guarded by mutex_
};

struct MetricsIdentity {
  std::string segment;
  std::string peer_id;
  std::string version;
};

// Prometheus text exposition format (version 0.0.4): HELP and TYPE lines, then samples.
std::string render_prometheus(const MetricsIdentity& identity, const DaemonCounters& counters,
                              const net::MeshSnapshot& mesh);

// Escapes a label value (backslash, double quote, newline).
std::string escape_label_value(const std::string& value);

}  // namespace wmd::daemon
