/* wmd/segment_layout.h: the shared-memory ABI between libwmd (runtimes) and wmdd (the daemon).
 *
 * Thread-safety: this header only describes memory. Every field of the control object is shared
 * between processes and must be read and written with atomic operations (__atomic builtins in
 * C, std::atomic_ref in C++), as each field's comment says.
 *
 * A segment NAME ("/wasm0") is three POSIX shared-memory objects:
 *   /NAME        the data object: exactly the bytes of the linear memory, nothing else, so any
 *                tool can mmap /dev/shm/NAME and see the memory. Its size is a multiple of the
 *                segment's page size and only ever grows.
 *   /NAME.ctl    the control object: one struct wmd_ctl (below).
 *   /NAME.state  the daemon's private replication state (not described here).
 *
 * Creation protocol: the creator creates /NAME.ctl exclusively, sizes it, fills every field and
 * stores `magic` LAST with release ordering. An attacher waits a bounded time for a non-zero
 * magic (acquire), then checks magic, layout_version and page size before touching anything.
 *
 * Growth protocol: whoever grows (a runtime after memory.grow, or the daemon after a peer's
 * growth) takes flock(LOCK_EX) on the data object, enlarges it with ftruncate (never shrinking),
 * raises `size_bytes` with an atomic maximum, then increments `generation`. Other processes
 * compare `generation` with the value they saw and map the new extent.
 *
 * Doorbells (32-bit futex words, FUTEX_WAIT/FUTEX_WAKE without FUTEX_PRIVATE_FLAG):
 *   flush_request   a client increments it (its ticket is the new value) and wakes it; the
 *                   daemon scans, queues the patches to its peers and then
 *   flush_done      stores the request count it has served and wakes it. A client's flush is
 *                   complete once (int32_t)(flush_done - ticket) >= 0; it failed (a local change
 *                   is still pending) when flush_pending != 0 and
 *                   (int32_t)(flush_pending - ticket) >= 0.
 *   remote_applied  the daemon increments it and wakes it whenever it applied remote changes.
 *
 * Status: the daemon is the only writer of `status`; it uses `status.seq` as a seqlock (odd
 * while writing). Readers copy the block word by word and retry while seq is odd or changed.
 *
 * Writer registry: a process that writes the data object claims a slot by compare-and-swap of
 * `pid` from 0 (or from a dead pid, checked with start_time_ticks against pid reuse), fills the
 * other fields, then sets WMD_WRITER_READY in `flags` with release ordering. It frees the slot
 * by clearing `flags` and then `pid`.
 */
#ifndef WMD_SEGMENT_LAYOUT_H_
#define WMD_SEGMENT_LAYOUT_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WMD_CTL_MAGIC UINT64_C(0x31306C7463646D77) /* "wmdctl01" in little-endian byte order */
#define WMD_LAYOUT_VERSION 1u
#define WMD_CTL_SUFFIX ".ctl"
#define WMD_STATE_SUFFIX ".state"

#define WMD_MAX_PEERS 32
#define WMD_MAX_WRITERS 64
#define WMD_PEER_ID_BYTES 64       /* NUL-terminated, truncated when longer */
#define WMD_LAST_ERROR_BYTES 256   /* NUL-terminated, truncated when longer */
#define WMD_TRACKING_MODE_BYTES 16 /* "hash" or "kernel", NUL-terminated */

/* Writer flags. */
#define WMD_WRITER_READY 1u           /* the slot's fields are complete */
#define WMD_WRITER_KERNEL_TRACKING 2u /* mapping registered with userfaultfd WP_ASYNC */

typedef struct wmd_ctl_peer {
  char peer_id[WMD_PEER_ID_BYTES];
  uint64_t connected; /* 0 or 1 */
  uint64_t rtt_us;
  uint64_t queue_bytes;
  uint64_t last_catchup_unix_ms;
  uint64_t patches_sent;
  uint64_t patches_received;
} wmd_ctl_peer;

typedef struct wmd_ctl_status {
  uint64_t seq; /* seqlock: odd while the daemon writes the rest of the block */
  uint64_t lamport;
  uint64_t local_seq;
  uint64_t last_sync_unix_ms; /* last time remote changes were applied */
  uint64_t errors;
  uint32_t peer_count;    /* entries of peers[] in use, at most WMD_MAX_PEERS */
  uint32_t pending_pages; /* changed pages the last scan could not stamp (was reserved, 0) */
  char tracking_mode[WMD_TRACKING_MODE_BYTES];
  char last_error[WMD_LAST_ERROR_BYTES];
  wmd_ctl_peer peers[WMD_MAX_PEERS];
} wmd_ctl_status;

/* The daemon's totals since it started, for wmdctl. Each word is stored atomically (relaxed) by
 * the daemon once per status update and read word by word: monotonic counters, outside the
 * status seqlock. They took the place of padding after layout version 1 was fixed, so a daemon
 * that predates them leaves them zero. */
typedef struct wmd_ctl_counters {
  uint64_t scans;
  uint64_t pages_changed;
  uint64_t bytes_changed;
  uint64_t patches_applied;   /* patches from peers applied */
  uint64_t catchups;          /* catch-up rounds started towards peers */
  uint64_t connection_errors; /* peer connections that ended in an error */
} wmd_ctl_counters;

typedef struct wmd_ctl_writer {
  int32_t pid;               /* 0: free; claimed by compare-and-swap */
  uint32_t flags;            /* WMD_WRITER_* */
  uint64_t start_time_ticks; /* field 22 of /proc/PID/stat, detects pid reuse */
  uint64_t address;          /* start of the writer's mapping of the data object */
  uint64_t length_bytes;     /* length of that mapping */
} wmd_ctl_writer;

typedef struct wmd_ctl {
  uint64_t magic;                   /* WMD_CTL_MAGIC, stored last by the creator (release) */
  uint32_t layout_version;          /* WMD_LAYOUT_VERSION */
  uint32_t page_size_bytes;         /* power of two, fixed at creation */
  uint64_t size_bytes;              /* current data size; raised by atomic maximum, never lowered */
  uint64_t max_size_bytes;          /* maximum the creator allowed */
  uint64_t generation;              /* incremented after every growth */
  int32_t daemon_pid;               /* pid of the daemon serving the segment, 0 when none */
  uint32_t ctl_size_bytes;          /* sizeof(wmd_ctl) as written by the creator */
  uint64_t daemon_start_time_ticks; /* with daemon_pid, against pid reuse */
  uint64_t reserved1;
  /* Doorbells on their own cache line, away from fields that are read in loops. */
  uint32_t flush_request;
  uint32_t flush_done;
  uint32_t remote_applied;
  uint32_t flush_pending; /* the last flush_request value served while local changes stayed
                           * pending (they could not be stamped); 0: none. Stored before
                           * flush_done. Was reserved (zero) before wmd 0.2. */
  wmd_ctl_counters counters; /* rest of the doorbell line; written about once a second */
  wmd_ctl_status status;
  wmd_ctl_writer writers[WMD_MAX_WRITERS];
} wmd_ctl;

#if defined(__cplusplus)
#define WMD_LAYOUT_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define WMD_LAYOUT_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

WMD_LAYOUT_ASSERT(sizeof(wmd_ctl_peer) == 112, "wmd_ctl_peer layout");
WMD_LAYOUT_ASSERT(sizeof(wmd_ctl_writer) == 32, "wmd_ctl_writer layout");
WMD_LAYOUT_ASSERT(sizeof(wmd_ctl_counters) == 48, "wmd_ctl_counters layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, counters) == 80, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(sizeof(wmd_ctl_status) == 3904, "wmd_ctl_status layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, page_size_bytes) == 12, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, generation) == 32, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, daemon_pid) == 40, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, flush_request) == 64, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, status) == 128, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(__builtin_offsetof(wmd_ctl, writers) == 4032, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(sizeof(wmd_ctl) == 6080, "wmd_ctl layout");
WMD_LAYOUT_ASSERT(sizeof(wmd_ctl_status) % 8 == 0, "status is copied in 8-byte words");

#undef WMD_LAYOUT_ASSERT

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WMD_SEGMENT_LAYOUT_H_ */
