// wmdd's options: one declarative table (name, value name, default, help, kind, bounds) drives
// the CLI11 command line, the config file (--config FILE, `key = value` lines with the same
// keys) and --help. Values are checked before anything is touched.
// Thread-safety: parse_options() is reentrant; Options is a value type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/net/host_port.hpp"

namespace wmd::daemon {

struct Options {
  std::string segment;                      // "/wasm0"
  std::optional<std::uint64_t> size_bytes;  // create when missing / grow when smaller
  std::uint32_t segment_mode = 0600;
  net::HostPort listen{"0.0.0.0", 7411};
  std::vector<net::HostPort> peers;
  std::string id;  // defaults to hostname:listen-port
  std::string cluster = "wmd";
  std::uint32_t page_size_bytes = 8192;
  std::uint64_t scan_interval_ms = 100;  // 0: scan only on flush requests
  std::uint64_t max_size_bytes = 4ull << 30;
  std::uint32_t max_frame_bytes = 16u << 20;
  std::uint64_t send_queue_bytes = 64ull << 20;
  std::uint64_t heartbeat_interval_ms = 1000;
  std::uint64_t heartbeat_timeout_ms = 5000;
  std::uint64_t handshake_timeout_ms = 5000;
  std::uint64_t stats_interval_s = 10;       // 0: no periodic stats line
  std::string tracking = "auto";             // auto | hash | kernel (wmd::kernel::TrackingMode)
  std::uint64_t audit_interval_ms = 10'000;  // kernel tracking: full hash scan this often
  bool allow_foreign_writable = false;       // accept a segment other users can write
  std::uint64_t max_connections = 64;
  std::uint64_t max_pending_connections = 8;
  std::uint64_t max_buffered_bytes = 256ull << 20;
  std::uint64_t catchup_rate_bytes = 32ull << 20;  // per peer per second, after the first round
  // Remote timestamps more than this ahead of the local wall clock are refused.
  std::uint64_t max_clock_offset_ms = 500;
  std::uint64_t max_peers = 1024;  // peer ids the replication state can record
  std::string members;             // "ID,ID,...": only these ids may own bytes; empty: anyone
  // Mutual TLS: all three or none.
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  net::HostPort metrics;      // port 0: no metrics endpoint
  net::HostPort ws_listen;    // port 0: no WebSocket endpoint
  std::string ws_token_file;  // required with ws_listen
  std::string config_file;
  std::string log_level = "info";
};

// Thrown by parse_options. exit_code 0 for --help/--version (message is the text to print on
// stdout); 2 for bad options or config (message says which value and why).
class OptionsError : public std::runtime_error {
 public:
  OptionsError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const noexcept { return exit_code_; }

 private:
  int exit_code_;
};

// REQUIRES: args[0] is the program name. hostname: for the default --id.
Options parse_options(std::span<const std::string> args, const std::string& hostname);

// The ids of --members, in order (empty: no membership configured). Each is checked by
// parse_options().
std::vector<std::string> member_ids(const Options& options);

// "64M", "1GiB", "4096": a byte count with an optional binary suffix (K, M, G, T, with or
// without "iB"/"B"; all powers of 1024). nullopt when malformed or overflowing.
std::optional<std::uint64_t> parse_size(std::string_view text);

}  // namespace wmd::daemon
