// wmd::errc: every error the daemon, engine and protocol report, as std::error_code.
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <string>
#include <system_error>

namespace wmd {

enum class errc {
  ok = 0,
  // Configuration and start-up.
  invalid_page_size = 1,  // not a power of two in [4 KiB, 1 MiB]
  invalid_config,         // any other bad configuration value
  invalid_peer_id,        // empty, too long, or not printable
  // Sizes and ranges.
  beyond_max_size,  // a size, offset or growth past the configured maximum
  out_of_range,     // an index or offset past the current size
  // Persistent state and segments.
  state_too_small,     // caller-provided state storage smaller than required
  bad_magic,           // state or segment header is not ours
  bad_layout_version,  // state or segment from an incompatible version
  page_size_mismatch,  // stored or remote page size differs from ours
  state_corrupt,       // structural damage that cannot be repaired
  pool_exhausted,      // interval overflow pool is full
  // Wire protocol.
  frame_too_large,  // a frame longer than the configured maximum
  truncated,        // a message shorter than its fields say
  malformed,        // any other structurally invalid message
  unknown_message_type,
  protocol_version_mismatch,
  cluster_mismatch,
  duplicate_connection,  // the pair already has a connection that wins the tie-break
  handshake_timeout,
  heartbeat_timeout,
  // System.
  io_error,
  // Engine (added with the engine).
  peer_table_full,  // the persistent peer table has no free slot
};

const std::error_category& wmd_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), wmd_category()};
}

}  // namespace wmd

template <>
struct std::is_error_code_enum<wmd::errc> : std::true_type {};
