/* wmd.h: libwmd's C API. A WebAssembly runtime uses it to put its linear memory in a wmd
 * segment that the wmdd daemon replicates to other machines.
 *
 * Conventions of this API:
 *  1. A segment is an opaque wmd_segment*, made by wmd_open() and released by wmd_close().
 *  2. Functions that can fail return int: WMD_OK (0) on success, otherwise a negative
 *     wmd_error. wmd_strerror(code) describes a code; wmd_last_error_text() gives the details
 *     of the last failure on the calling thread (the system call and the path, or which check
 *     refused the segment).
 *  3. Pointers: `name`, handles and out-pointers must not be NULL unless a comment says so
 *     (WMD_EINVAL otherwise). `opts` may be NULL (defaults). wmd_close(NULL) does nothing.
 *     Strings returned are static or thread-local and never NULL.
 *  4. Thread-safety: a wmd_segment may be used from several threads at once, except that
 *     wmd_close() must not race any other call on the same handle. The memory at wmd_base()
 *     is shared with other processes; synchronising access to it is the caller's business.
 *  5. Nothing aborts, exits, prints, raises a signal or lets a C++ exception escape.
 *  6. Sizes are bytes (uint64_t); timeouts are milliseconds (int64_t, negative: no limit).
 *  7. Address space: wmd_open() reserves reserve_bytes of address space once and maps the
 *     segment at its start, so wmd_base() never changes, even across growth. By default it
 *     reserves max(max_size, 4 GiB) + 4 GiB, like WebAssembly runtimes do, so that any
 *     32-bit address plus 32-bit offset past the current size lands in inaccessible memory
 *     and faults instead of touching other memory.
 *  8. Fork: a child inherits the mapping but not the writer registration; it must not call
 *     wmd_close() on an inherited handle from more than one process.
 *
 * Link with -lwmd (pkg-config wmd, or CMake target wmd::wmd / wmd::wmd_static).
 */
#ifndef WMD_WMD_H_
#define WMD_WMD_H_

#include <stddef.h>
#include <stdint.h>

#include <wmd/segment_layout.h>

#if defined(__GNUC__)
#define WMD_API __attribute__((visibility("default")))
#else
#define WMD_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wmd_segment wmd_segment;

typedef enum wmd_error {
  WMD_OK = 0,
  WMD_EINVAL = -1,     /* a bad argument (name, size, page size, flag, NULL pointer) */
  WMD_ENOENT = -2,     /* the segment does not exist and WMD_OPEN_CREATE was not given */
  WMD_EBADMAGIC = -3,  /* the control object is not a wmd segment (or never initialised) */
  WMD_EVERSION = -4,   /* the control object has an incompatible layout version */
  WMD_EPAGESIZE = -5,  /* the segment's page size differs from the one asked for */
  WMD_ETOOBIG = -6,    /* a size beyond the segment's (or this mapping's) maximum */
  WMD_EPERM = -7,      /* owned by another user or writable by others, or access denied */
  WMD_EIO = -8,        /* a system call failed: see wmd_last_error_text() */
  WMD_ETIMEDOUT = -9,  /* the timeout passed first */
  WMD_ENODAEMON = -10, /* no live daemon serves the segment */
  WMD_EBUSY = -11,     /* the status could not be read consistently; retry */
  WMD_ENOSLOT = -12,   /* the writer registry is full of live writers */
  WMD_ENOMEM = -13,    /* out of memory */
  WMD_EINTERNAL = -14, /* an unexpected internal failure */
  WMD_EPENDING = -15   /* the daemon could not stamp a local change: it is still pending */
} wmd_error;

/* wmd_options.flags */
#define WMD_OPEN_CREATE 1u        /* create the segment when it does not exist */
#define WMD_OPEN_ALLOW_FOREIGN 2u /* accept objects of other users or writable by others */

typedef struct wmd_options {
  uint32_t struct_size;     /* sizeof(wmd_options); set by wmd_options_init() */
  uint32_t flags;           /* WMD_OPEN_* */
  uint64_t min_size_bytes;  /* create with / grow to at least this; 0: the current size */
  uint64_t max_size_bytes;  /* 0: the segment's own maximum; 4 GiB when creating */
  uint64_t reserve_bytes;   /* address space to reserve; 0: the default of convention 7 */
  uint32_t page_size_bytes; /* 0: the segment's own; 8192 when creating */
  uint32_t mode;            /* permissions of created objects; default 0600 */
} wmd_options;

typedef struct wmd_peer_info {
  char peer_id[WMD_PEER_ID_BYTES];
  int32_t connected; /* 0 or 1 */
  int32_t reserved;
  uint64_t rtt_us;
  uint64_t queue_bytes;
  uint64_t last_catchup_unix_ms;
  uint64_t patches_sent;
  uint64_t patches_received;
} wmd_peer_info;

typedef struct wmd_status_info {
  int32_t daemon_pid; /* 0 when no live daemon serves the segment */
  uint32_t peer_count;
  uint64_t size_bytes; /* the segment's current size (control object) */
  uint64_t max_size_bytes;
  uint64_t generation;
  uint64_t lamport;
  uint64_t local_seq;
  uint64_t last_sync_unix_ms; /* last time the daemon applied remote changes; 0: never */
  uint64_t errors;
  char tracking_mode[WMD_TRACKING_MODE_BYTES]; /* "hash" or "kernel"; "" before a daemon */
  char last_error[WMD_LAST_ERROR_BYTES];
  wmd_peer_info peers[WMD_MAX_PEERS];
} wmd_status_info;

/* "0.1.0": the library's version. */
WMD_API const char* wmd_version(void);
/* A static description of a wmd_error code. */
WMD_API const char* wmd_strerror(int code);
/* Details of the last failure on this thread ("" when none). */
WMD_API const char* wmd_last_error_text(void);

/* Fills *opts with the defaults (attach only, 0600). */
WMD_API void wmd_options_init(wmd_options* opts);

/* Opens segment `name` ("/wasm0"): attaches, or creates it with WMD_OPEN_CREATE, and grows it
 * to opts->min_size_bytes when smaller. A segment with the wrong magic, layout version or page
 * size is refused and left untouched. On success *out is the new handle. */
WMD_API int wmd_open(const char* name, const wmd_options* opts, wmd_segment** out);
/* Unregisters the writer (if registered), unmaps and frees. Never removes the segment. */
WMD_API void wmd_close(wmd_segment* seg);
/* Removes the segment's shared-memory objects (data, control, daemon state). Mappings that
 * exist stay valid until closed. WMD_ENOENT when there was nothing to remove. */
WMD_API int wmd_unlink(const char* name);

/* The start of the mapped memory; constant for the handle's life. */
WMD_API void* wmd_base(const wmd_segment* seg);
/* Bytes mapped in this process (grows with wmd_grow / wmd_refresh). */
WMD_API uint64_t wmd_size(const wmd_segment* seg);
/* The largest size this handle can grow to. */
WMD_API uint64_t wmd_max_size(const wmd_segment* seg);
/* Address space reserved at wmd_base(): the mapping plus its guard region. */
WMD_API uint64_t wmd_reserved_size(const wmd_segment* seg);
WMD_API uint32_t wmd_page_size(const wmd_segment* seg);
/* The segment's growth counter; when it differs from the value seen before, call
 * wmd_refresh(). */
WMD_API uint64_t wmd_generation(const wmd_segment* seg);

/* Grows the segment to at least new_size_bytes (rounded up to the page size), for example
 * after the module's memory.grow: enlarges the data object, maps the new extent at
 * wmd_base() + old size, raises the size in the control object and bumps the generation.
 * Never shrinks; growing to the current size or less succeeds and changes nothing. */
WMD_API int wmd_grow(wmd_segment* seg, uint64_t new_size_bytes);
/* Maps growth made by another process or the daemon. new_size_bytes may be NULL; otherwise
 * it receives the mapped size. */
WMD_API int wmd_refresh(wmd_segment* seg, uint64_t* new_size_bytes);

/* Asks the daemon to scan now and returns once the resulting patches are queued to every
 * connected peer. WMD_ENODAEMON when no live daemon serves the segment (also when it dies
 * while waiting), WMD_ETIMEDOUT when it did not answer in time, WMD_EPENDING when the scan
 * left changed pages it could not stamp (they stay pending and go with a later scan; the
 * status's last_error says why). */
WMD_API int wmd_flush(wmd_segment* seg, int64_t timeout_ms);
/* Blocks until the daemon applied remote changes after the previous wmd_wait() on this handle
 * (or after wmd_open), or the timeout passed (WMD_ETIMEDOUT). */
WMD_API int wmd_wait(wmd_segment* seg, int64_t timeout_ms);
/* A consistent copy of what the daemon publishes. */
WMD_API int wmd_status(const wmd_segment* seg, wmd_status_info* out);
/* Changed pages the daemon's last scan could not stamp (0 when every change went out).
 * Kept out of wmd_status_info so that struct keeps its size. */
WMD_API int wmd_pending_pages(const wmd_segment* seg, uint64_t* pending_pages);

/* Records this process in the segment's writer registry (pid, start time, mapping), so the
 * daemon can use kernel dirty tracking for it; flags: 0 or WMD_WRITER_KERNEL_TRACKING, which
 * asks libwmd to register the mapping with userfaultfd write-protection (async mode, Linux
 * 6.7+; no handler thread) and growth to extend it. Where the kernel or its settings refuse,
 * the writer is registered without the flag and the daemon hash-scans it: not an error.
 * Registering again replaces the record. Slots of dead processes are reclaimed. */
WMD_API int wmd_register_writer(wmd_segment* seg, uint32_t flags);
WMD_API int wmd_unregister_writer(wmd_segment* seg);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* WMD_WMD_H_ */
