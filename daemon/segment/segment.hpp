// wmd::Segment: the daemon's view of a shared segment: the data object /NAME (exactly the
// replicated bytes) and its control object /NAME.ctl (layout in
// shm/include/wmd/segment_layout.h, owned by libwmd). The whole maximum size is reserved in the
// address space up front, so bytes().data() never moves when the segment grows.
//
// Thread-safety: grow() and the status/registry calls are for the owner thread. The doorbell
// calls (wait_flush_request, wake_flush_waiter, flush_completed, notify_remote_applied) are
// safe from any thread. The control object is shared with other processes; every shared field
// is accessed atomically.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/engine.hpp"
#include "engine/result.hpp"

namespace wmd {

struct SegmentConfig {
  std::string name;                  // POSIX shm name, "/wasm0"
  std::uint64_t size_bytes = 0;      // create with / grow to at least this; 0: must exist
  std::uint64_t max_size_bytes = 0;  // address range reserved; a page multiple
  std::uint32_t page_size_bytes = 0;
  std::uint32_t mode = 0600;            // permissions for objects this call creates
  bool allow_foreign_writable = false;  // accept objects other users can write
  // The caller holds the ServingLock: a damaged control object is rebuilt, not refused (see
  // core::OpenParams::rebuild_damaged_control); repair_note() says what was done.
  bool rebuild_damaged_control = false;
};

// A process registered as a writer of the segment (for kernel dirty tracking).
struct WriterRecord {
  std::uint32_t slot = 0;
  std::int32_t pid = 0;
  std::uint64_t start_time_ticks = 0;  // /proc/PID/stat field 22, against pid reuse
  std::uint64_t address = 0;           // start of its mapping of the data object
  std::uint64_t length_bytes = 0;
  bool kernel_tracking = false;  // registered with userfaultfd WP_ASYNC
};

// Daemon totals since it started (wmd_ctl_counters).
struct SegmentCounters {
  std::uint64_t scans = 0;
  std::uint64_t pages_changed = 0;
  std::uint64_t bytes_changed = 0;
  std::uint64_t patches_applied = 0;
  std::uint64_t catchups = 0;
  std::uint64_t connection_errors = 0;
};

// What the daemon publishes for clients and wmdctl (see segment_layout.h for limits).
struct SegmentPeerStatus {
  std::string peer_id;
  bool connected = false;
  std::uint64_t rtt_us = 0;
  std::uint64_t queue_bytes = 0;
  std::uint64_t last_catchup_unix_ms = 0;
  std::uint64_t patches_sent = 0;
  std::uint64_t patches_received = 0;
};

struct SegmentStatus {
  std::uint64_t lamport = 0;
  std::uint32_t pending_pages = 0;  // changed pages the last scan could not stamp
  std::uint64_t local_seq = 0;
  std::uint64_t last_sync_unix_ms = 0;  // last time remote changes were applied
  std::uint64_t errors = 0;
  std::string last_error;
  std::string tracking_mode;  // "hash" or "kernel"
  std::vector<SegmentPeerStatus> peers;
  SegmentCounters counters;
};

// Where the data object holds memory, in whole pages: a never-written page of a shared-memory
// object holds none and reads as zero, but reading it through a mapping would give it some.
struct DataExtent {
  bool holds_memory = true;     // false: every page of the extent is a hole
  std::uint64_t end_bytes = 0;  // the answer holds from the offset asked about up to here
};

class Segment {
 public:
  // Creates the objects when missing (config.size_bytes > 0), attaches when present, grows the
  // data object when smaller than config.size_bytes. Errors (the objects left untouched):
  // bad_magic, bad_layout_version, page_size_mismatch, beyond_max_size, invalid_config
  // (foreign-writable objects), io_error (with the call and path in the message logged by the
  // caller from the error's detail).
  static Result<std::unique_ptr<Segment>> open(const SegmentConfig& config);

  ~Segment();  // unmaps and closes; never unlinks
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  const std::string& name() const noexcept;
  std::span<std::uint8_t> bytes() noexcept;  // the mapped size, base address stable
  std::uint64_t mapped_size_bytes() const noexcept;
  std::uint64_t max_size_bytes() const noexcept;
  std::uint32_t page_size_bytes() const noexcept;
  // Why open() rebuilt the control object; "" when it did not.
  const std::string& repair_note() const noexcept;
  // From now on a truncation of the data or control object by another process restores its
  // size instead of killing this process (see truncation_guard.hpp); grow() keeps the guard
  // up to date.
  void guard_against_truncation();
  // Rewrites the control object's header after another process truncated or zeroed it
  // (the serving daemon only; then publish the daemon pid and status again).
  void rewrite_control_header() noexcept;
  // The extent of pages from offset_bytes (a page multiple), looking no further than
  // limit_bytes: finding where memory ends costs a walk of the memory's pages in the kernel,
  // so a caller asking about one page gets an answer for one page. Conservative: when unsure
  // (an error, or a file system without hole reporting) it says the page holds memory. Safe from
  // any thread (SEEK_DATA/SEEK_HOLE; nothing here reads or writes at the file position).
  DataExtent data_extent(std::uint64_t offset_bytes, std::uint64_t limit_bytes) const;
  // Writes bytes into the data object by pwritev() (see bulk_write.hpp), within the mapped size.
  // Safe from any thread.
  Status write_data(std::span<const StorageWrite> writes) const;

  // Size recorded in the control object; a runtime that grew its memory raised it.
  std::uint64_t control_size_bytes() const noexcept;
  // Grows data object and mapping to at least new_size_bytes, raises the control size and bumps
  // the generation when anything changed. Idempotent; usable as the engine's GrowFn.
  Result<std::span<std::uint8_t>> grow(std::uint64_t new_size_bytes);
  std::uint64_t generation() const noexcept;

  // Doorbells. Clients ring flush (ticket = number of requests so far); the daemon scans,
  // queues the patches, and calls flush_completed(ticket).
  std::uint32_t flush_requested() const noexcept;
  // Blocks until flush_requested() != seen, wake_flush_waiter() is called, or timeout.
  // Pass the last ticket given to flush_completed() (0 at start) as `seen`, not a fresh
  // flush_requested(): a request rung in between would otherwise wait a whole timeout.
  void wait_flush_request(std::uint32_t seen, std::chrono::milliseconds timeout) const;
  // Ends the current wait_flush_request() early. A wake that lands between the waiter's last
  // check and its sleep is missed (the futex word is the clients', so waking cannot change
  // it): a caller that must see the waiter return repeats it until the waiter says so.
  void wake_flush_waiter() const;
  // changes_pending: the scan left local changes it could not stamp; the client's flush fails.
  void flush_completed(std::uint32_t ticket, bool changes_pending = false) const;
  // Remote changes were applied: bump the counter clients wait on and wake them.
  void notify_remote_applied() const;

  // Daemon presence, for clients: pid of the daemon serving the segment (0 when none).
  void set_daemon_pid(std::int32_t pid);
  // The live daemon recorded in the control object (its start time checked against pid
  // reuse), 0 when none: lets a starting daemon refuse a segment another daemon serves.
  std::int32_t serving_daemon_pid() const noexcept;
  void publish_status(const SegmentStatus& status);
  // The registered writers whose process is still alive (dead ones and pid reuse left out).
  // Each live writer's /proc/PID/stat stays open between calls, so asking again each scan
  // round costs one read per writer. Owner thread.
  std::vector<WriterRecord> writers() const;

  class Impl;

 private:
  explicit Segment(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The engine's persistent state: shared memory object "/NAME.state" (Boost.Interprocess),
// created zero-filled (sparse) at the size the engine asks for, so a restarted daemon resumes.
// Private to the daemon: wmdd opens it with mode 0600 whatever the segment's mode. A state that
// was truncated while no daemon ran reads as zeros past the cut: the engine's recovery forgets
// the pages whose versions it cannot read, and catch-up restores them.
// Thread-safety: owner thread only.
class StateStore {
 public:
  static Result<std::unique_ptr<StateStore>> open(const std::string& segment_name,
                                                  std::uint64_t size_bytes, std::uint32_t mode);
  ~StateStore();
  std::span<std::uint8_t> bytes() noexcept;
  bool created() const noexcept;  // true when this call created the object
  // As Segment::guard_against_truncation, for the state object.
  void guard_against_truncation();
  // Writes bytes into the state object by pwritev() (see bulk_write.hpp), within its size.
  Status write(std::span<const StorageWrite> writes) const;
  // Reads bytes of the state object by preadv() (see bulk_write.hpp), within its size.
  Status read(std::span<const StorageRead> reads) const;

  class Impl;

 private:
  explicit StateStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wmd
