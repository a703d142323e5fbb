// wmd::errc: every error the daemon, engine, protocol and shared-memory code report, as
// std::error_code; wmd::Error: one such code with the detail text that says which call, path or
// value failed. Thread-safety: errc is stateless; Error is a value type.
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
  // Shared memory (added when shm/'s own codes were folded in).
  not_found,      // the segment does not exist and creation was not asked for
  permission,     // refused by the system or by the owner/mode checks
  timed_out,      // a bounded wait ended first
  busy,           // a consistent copy could not be taken in bounded time
  no_daemon,      // no live daemon serves the segment
  no_slot,        // every writer registry slot is taken by a live process
  out_of_memory,  // the system could not provide memory (ENOMEM)
  // Bounds on what a peer may claim (issue 11).
  clock_skew,           // a timestamp too far ahead of the local wall clock
  too_fragmented,       // more version runs in one page than the per-page limit
  pool_share_exceeded,  // one peer id would own more than its share of the version pool
  not_a_member,         // a peer id outside the configured membership
  too_many_new_ids,     // a session introduced more new peer ids than allowed
};

const std::error_category& wmd_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), wmd_category()};
}

// An error code and the detail text that says which call, path or value failed. Default: success.
// The code is usually an errc (any std::error_code enum is accepted: the kernel tracker's too).
class Error {
 public:
  Error() = default;
  Error(errc code, std::string detail = {})  // NOLINT: implicit, so `return errc::x;` reads
      : code_(make_error_code(code)), detail_(std::move(detail)) {}
  Error(std::error_code code, std::string detail = {})  // NOLINT: implicit by design
      : code_(code), detail_(std::move(detail)) {}

  explicit operator bool() const noexcept { return static_cast<bool>(code_); }
  const std::error_code& code() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }
  // "<code text>: <detail>", or the code text alone when there is no detail.
  std::string message() const;

  friend bool operator==(const Error& error, const std::error_code& code) noexcept {
    return error.code_ == code;
  }
  template <typename E, typename = std::enable_if_t<std::is_error_code_enum_v<E>>>
  friend bool operator==(const Error& error, E code) noexcept {
    return error.code_ == make_error_code(code);
  }

 private:
  std::error_code code_;
  std::string detail_;
};

}  // namespace wmd

template <>
struct std::is_error_code_enum<wmd::errc> : std::true_type {};
