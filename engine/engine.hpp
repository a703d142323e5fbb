// wmd::Engine: the replication engine. Pure and deterministic: no I/O, no clocks, no threads,
// no logging. It owns the *decisions* about what the replicated bytes become:
// change detection (XXH3 per page against a shadow copy), diffs into runs, per-byte versions
// with last-writer-wins by Timestamp, vector clocks, apply/merge, digests for catch-up.
//
// Memory it works on:
//  * the replicated bytes ("memory"): owned by the caller (a heap buffer in tests, the shared
//    segment in the daemon). The caller grows it when the engine asks through GrowFn.
//  * its state ("state storage"): owned by the caller, at least state_bytes_required(config)
//    bytes, sized for the maximum size up front (pages beyond the current size are untouched,
//    so sparse storage such as tmpfs costs nothing for them). All-zero storage is formatted on
//    create(); storage holding a previous engine's state is validated and resumed, repairing
//    pages that a process killed mid-update left torn. The state holds the shadow copy, page
//    hashes and digests, version runs, peer table, vector clock and lamport counter.
//
// Timestamps are hybrid logical clock values (engine/hlc.hpp), so last-writer-wins follows real
// time up to the clock skew, and the one bound that matters holds: no accepted message carries a
// timestamp more than max_clock_offset_ms ahead of this replica's wall clock.
//
// Thread-safety: not thread-safe. One owner thread calls everything, except that
// find_changed_pages() may run concurrently with itself on other threads while the owner
// makes no other call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/result.hpp"
#include "engine/types.hpp"

namespace wmd {

inline constexpr std::uint32_t kMinPageSize = 4 * 1024;
inline constexpr std::uint32_t kMaxPageSize = 1024 * 1024;
inline constexpr std::uint32_t kDefaultPageSize = 8 * 1024;

struct EngineConfig {
  std::uint32_t page_size_bytes = kDefaultPageSize;  // power of two, 4 KiB..1 MiB
  std::string peer_id;                               // see is_valid_peer_id()
  std::uint64_t max_size_bytes = 0;                  // > 0; rounded up to a page multiple
  // A local change round is split into patches of at most this many payload bytes (all with
  // the same timestamp), so that each fits a frame.
  std::uint32_t max_patch_bytes = 1024 * 1024;
  // Gaps of unchanged bytes up to this length between two changed runs are sent as part of one
  // run (re-stamping them). 0 keeps patches exact; see README "wire efficiency".
  std::uint32_t max_merge_gap_bytes = 0;
  // Distinct peer ids the persistent state can record.
  std::uint32_t max_peers = 1024;
  // Blocks (256 bytes, 15 version runs each) in the persistent version pool; 0 = automatic
  // (one block per 512 bytes of the max size, at least 1024: 240 runs per 8 KiB page on
  // average). The pool lives in sparse state storage, so unused blocks cost nothing;
  // apply/merge report pool_exhausted and scans defer pages when it runs out.
  std::uint32_t version_pool_blocks = 0;
  // Wall-clock time in Unix milliseconds, for hybrid logical clock stamps (engine/hlc.hpp).
  // The engine stays pure: the caller passes the clock in (tests pass a fake one). Empty: no
  // clock, so stamps are plain Lamport counters (highest seen + 1) and remote timestamps are
  // not bounded (tests, the demo, the Node and browser engines; wmdd always passes one).
  std::function<std::uint64_t()> wall_clock_ms;
  // With a clock, a remote timestamp whose wall part is more than this ahead of
  // wall_clock_ms() is refused (clock_skew): no peer can move this replica's clock further
  // into the future.
  std::uint64_t max_clock_offset_ms = 500;
  // When not empty, the only peer ids (besides peer_id) that may own bytes: a patch or page
  // state with a version run of another id is refused whole (not_a_member).
  std::vector<std::string> members;
  // Most version runs a remote page state or patch may put in one page (too_fragmented);
  // 0: no limit beyond the page size. Any limit below the page size refuses honest byte-
  // interleaved writers of one page (two writers alternating bytes make page-size runs).
  std::uint32_t max_runs_per_page = 0;
  // Most version runs one peer id other than peer_id may own in the whole state: a remote
  // message that would raise an id past it is refused whole (pool_share_exceeded), so that no
  // one peer can exhaust the version pool for everyone. 0: a quarter of the pool's entries.
  std::uint64_t max_runs_per_peer = 0;
};

Status validate(const EngineConfig& config);

// Grows the caller's memory to at least new_size_bytes and returns the (possibly moved) view.
// REQUIRES: new_size_bytes <= max size. The returned view must hold >= new_size_bytes bytes,
// the old bytes unchanged and the new ones zero.
using GrowFn = std::function<Result<std::span<std::uint8_t>>(std::uint64_t new_size_bytes)>;

// Whether a run of pages holds memory (see Engine::set_backing_probe()).
struct BackingExtent {
  bool backed = true;          // false: the pages read as zero and hold no memory yet
  std::uint64_t end_page = 0;  // the extent runs from the page asked about up to here (exclusive)
};
// Answers for the extent that starts at `page`, looking no further than end_page (the answer
// may stop there: a caller that needs one page asks for one). Must be safe to call from two
// threads at once.
using BackingProbe = std::function<BackingExtent(std::uint64_t page, std::uint64_t end_page)>;

// Where a bulk write lands: the caller's memory, or the engine's state storage (offsets are
// from the start of each span given to Engine::create()).
enum class Storage { memory, state };
struct StorageWrite {
  std::uint64_t offset_bytes = 0;
  std::span<const std::uint8_t> bytes;
};
// Writes bytes into memory or state storage, mostly never-written pages, by a path that does
// not fault them in one page at a time through the mappings the engine reads (pwrite() on the
// shared-memory objects, in the daemon). When it returns, the bytes read back through those
// mappings. Writes are sorted by offset and never overlap. Errors leave the engine to write
// the same bytes through its mappings instead.
using BulkPageWriter = std::function<Status(Storage, std::span<const StorageWrite>)>;
struct StorageRead {
  std::uint64_t offset_bytes = 0;
  std::span<std::uint8_t> bytes;  // filled by the reader
};
// Reads bytes of memory or state storage at offsets by a path that does not go through the
// mappings the engine reads (preadv() in the daemon): a catch-up round copies every page it
// exports, and on some machines the first touch of each page through a mapping costs more than
// the copy. A call reads a batch of pages (see replicated_page_states()), in the order given,
// never overlapping. Errors leave the engine to read the whole batch through its mapping.
using PageReader = std::function<Status(Storage, std::span<const StorageRead>)>;

// Whether absorbing a candidate page first re-checks its hash (see Engine::absorb_pages()).
enum class PageCheck { recheck, known_changed };

struct ScanStats {
  std::uint64_t pages_checked = 0;
  std::uint64_t pages_changed = 0;
  std::uint64_t bytes_changed = 0;  // payload bytes of the produced patches
  // Changed pages left pending because the version pool was full (found again next scan).
  std::uint64_t pages_deferred = 0;
};

struct ApplyStats {
  std::uint64_t bytes_written = 0;  // bytes whose version was older and now hold the patch's
  std::uint64_t pages_touched = 0;
  std::uint64_t pages_absorbed = 0;  // pages whose pending local changes were absorbed first
  bool grew = false;
  std::vector<Patch> local_patches;  // the patches of those local changes (also to on_diff)
};

struct MergeStats {
  std::uint64_t bytes_taken = 0;  // bytes whose remote version won
  bool absorbed_local = false;
  bool grew = false;
  std::vector<Patch> local_patches;  // of the pending local changes absorbed first
};

// A page's state, and the patches of its pending local changes absorbed first.
struct ExportedPage {
  PageState state;
  std::vector<Patch> local_patches;
};

struct RecoveryStats {
  bool resumed = false;             // false: storage was formatted fresh
  std::uint64_t torn_pages = 0;     // pages found mid-update and repaired
  std::uint64_t leaked_blocks = 0;  // overflow blocks reclaimed
  // Pages whose version list was unreadable: reset to the never-written state (shadow zeroed),
  // so the next scan re-absorbs their bytes as local changes and catch-up refills the rest.
  std::uint64_t corrupt_pages = 0;
  bool clean_shutdown = false;  // the previous engine on this state was destroyed normally
};

class Engine {
 public:
  // Bytes of state storage needed for this configuration.
  static Result<std::uint64_t> state_bytes_required(const EngineConfig& config);

  // Creates an engine over memory (current size = memory.size(), rounded down to a page
  // multiple when formatting fresh state; when resuming, the stored size wins and memory must
  // hold it) and state storage.
  // REQUIRES: memory and state stay valid (or are replaced through GrowFn) for the engine's
  // lifetime. Errors: invalid config, state_too_small, bad_magic, bad_layout_version,
  // page_size_mismatch, invalid_config (state of another peer id or max size), state_corrupt.
  static Result<std::unique_ptr<Engine>> create(const EngineConfig& config,
                                                std::span<std::uint8_t> memory,
                                                std::span<std::uint8_t> state, GrowFn grow);

  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // --- seed API: onDiff ---------------------------------------------------------------
  // Called with every patch the engine produces locally: from scan()/absorb_pages(), and from
  // absorbing pending local changes before apply()/merge_page()/export_page(). Each of those
  // also returns the patches it produced (ApplyStats/MergeStats::local_patches,
  // export_page_and_patches()); the daemon sends those to its peers, the Node addon uses this.
  void on_diff(std::function<void(const Patch&)> listener);
  // Called whenever the size grows, for any reason, with the new size.
  void on_growth(std::function<void(std::uint64_t new_size_bytes)> listener);

  // Optional; without it every page counts as backed. Memory that is a sparse shared-memory
  // object backs a page the first time anyone reads it through a mapping, so hashing a never-
  // written page to see whether it changed would give every page of a fresh segment memory at
  // the first scan. With a probe, a page it reports unbacked whose stored hash is the zero
  // page's is known unchanged (it reads as zero): scans and the absorb before apply/merge skip
  // it without reading it. A page backed between the probe and the read is caught next scan,
  // like any write racing a scan.
  void set_backing_probe(BackingProbe probe);

  // Optional, used together with the backing probe: merge_pages() writes the bytes of a page
  // the probe reports unbacked and that was never written (the initial-sync case), its shadow
  // copy and its version list's pool blocks (256 bytes each) through it, batched, instead of
  // faulting the pages in through the mappings (backing fresh shared memory by page faults
  // costs several times a pwrite() of the same bytes).
  void set_bulk_page_writer(BulkPageWriter writer);
  // Optional: how replicated_page_state() reads a page's shadow copy (see PageReader).
  void set_page_reader(PageReader reader);

  // --- seed API: scan -----------------------------------------------------------------
  // Hash-scans every page and absorbs the changed ones into one change round (one timestamp,
  // split into patches of at most max_patch_bytes). Returns the round's patches, which have
  // also been given to on_diff.
  std::vector<Patch> scan(ScanStats* stats = nullptr);

  // Pages in [first_page, end_page) whose bytes no longer match their stored hash.
  // Read-only; see the class comment for concurrency. end_page is clamped to page_count().
  std::vector<std::uint64_t> find_changed_pages(std::uint64_t first_page,
                                                std::uint64_t end_page) const;

  // Absorbs the given candidate pages (sorted or not, duplicates allowed) into one change
  // round, like scan(). Out-of-range pages are ignored. Each is re-checked against its stored
  // hash first, unless the caller has just found it changed (find_changed_pages): hashing it
  // again would only repeat that work, and a page that went back to its shadow's bytes since
  // yields no runs either way.
  std::vector<Patch> absorb_pages(std::span<const std::uint64_t> pages, ScanStats* stats = nullptr,
                                  PageCheck check = PageCheck::recheck);

  // --- seed API: applyPatches ---------------------------------------------------------
  // Applies a remote (or any) patch: validates it whole first (nothing is applied when it is
  // invalid or reaches past the max size), grows memory when it reaches past the current size,
  // absorbs touched pages' pending local changes, then writes exactly the bytes whose version is
  // older than patch.ts(), into memory and shadow. Idempotent, commutative, associative.
  // (A page the patch rewrites entirely, with a timestamp above the one a local round would take
  // now, is not checked for pending changes: they would lose every byte to the patch on every
  // replica anyway, and skipping the read makes bulk transfers cheaper.)
  // A new origin takes a slot in the persistent peer table (max_peers) only once the patch
  // passed every check and stores at least one byte: a refused patch, or one whose every byte
  // loses, leaves the table as it was.
  // Errors: malformed, invalid_peer_id, not_a_member, beyond_max_size, clock_skew (its
  // timestamp too far ahead: refused whole, the clock not advanced), pool_exhausted,
  // peer_table_full (a new origin that would store bytes, the table full), or GrowFn's error.
  Result<ApplyStats> apply(const Patch& patch);
  Result<ApplyStats> apply_patches(std::span<const Patch> patches);

  // --- seed API: getVectorClock -------------------------------------------------------
  // Highest sequence number seen per origin in the peer table: our own, and every origin one of
  // whose patches or page states stored a byte (an origin that never won a byte has no slot,
  // so no entry).
  VectorClock vector_clock() const;

  // --- seed API: resizeMemory ---------------------------------------------------------
  // Grows to new_size_bytes (rounded up to a page multiple). Grow-only: a smaller size is a
  // no-op. Errors: beyond_max_size, or GrowFn's error.
  Status resize(std::uint64_t new_size_bytes);

  // --- catch-up / anti-entropy ---------------------------------------------------------
  std::uint64_t zero_page_digest() const noexcept;
  // REQUIRES: page < page_count()
  std::uint64_t page_digest(std::uint64_t page) const;
  // Digests of all pages whose digest differs from zero_page_digest(), by page index.
  std::vector<PageDigest> nonzero_digests() const;
  // Full state of one page, after absorbing its pending local changes. Errors: out_of_range.
  Result<PageState> export_page(std::uint64_t page);
  // The same, with the patches of the local changes it absorbed.
  Result<ExportedPage> export_page_and_patches(std::uint64_t page);
  // The page's state as replicated so far: its shadow bytes and their versions, leaving pending
  // local changes for the next scan to stamp and send (so they travel once, as a patch). No
  // hash or diff of the page: what a catch-up round exports page after page. Errors:
  // out_of_range.
  Result<PageState> replicated_page_state(std::uint64_t page);
  // The same for each of `pages` (any order), one result per page in their order, read with
  // one page reader call for the batch.
  std::vector<Result<PageState>> replicated_page_states(std::span<const std::uint64_t> pages);
  // The same in the table form (what a catch-up frame carries), read with one page reader call:
  // the pages in range, in their order (a page out of range is left out).
  StampedPageStates replicated_stamped_states(std::span<const std::uint64_t> pages);
  // Merges a page state with the per-byte rule (higher version wins). Validates first
  // (page size, canonical versions, max size); grows when the page is past the current size.
  // Only the peer ids of runs that win bytes take peer table slots (as for apply()).
  // Errors: malformed, invalid_peer_id, not_a_member, beyond_max_size, clock_skew (any run's
  // timestamp too far ahead: nothing merged), pool_exhausted, peer_table_full (nothing
  // interned), or GrowFn's error.
  Result<MergeStats> merge_page(const PageState& state);
  // merge_page() for each state in order, the totals summed. Never-written, unbacked pages go
  // through the bulk page writer in one batch (see set_bulk_page_writer()). On an error, the
  // states before the failing one are merged and the rest are not.
  Result<MergeStats> merge_pages(std::span<const PageState> states);
  // The same for a batch in the table form (what a decoded catch-up frame holds). Also
  // malformed, with nothing merged: a table not strictly increasing.
  Result<MergeStats> merge_pages(const StampedPageStates& batch);

  // --- accessors ------------------------------------------------------------------------
  const std::string& peer_id() const noexcept;
  std::uint32_t page_size() const noexcept;
  std::uint64_t size_bytes() const noexcept;      // always a page multiple
  std::uint64_t max_size_bytes() const noexcept;  // always a page multiple
  std::uint64_t page_count() const noexcept;
  std::uint64_t lamport() const noexcept;  // highest timestamp (HLC value) seen or issued
  // The wall clock the engine stamps with (EngineConfig::wall_clock_ms), in Unix ms.
  std::uint64_t wall_clock_ms() const;
  // clock_skew when a remote timestamp (HLC value) is more than max_clock_offset_ms ahead of
  // wall_clock_ms(): what apply() and merge_page() check, for a Hello's clock.
  Status check_remote_timestamp(std::uint64_t hlc) const;
  std::uint64_t local_seq() const noexcept;  // last sequence number issued locally
  const RecoveryStats& recovery_stats() const noexcept;
  // Whether id has a slot in the peer table (owns bytes, or is this engine's own id).
  bool knows_peer(const std::string& id) const;
  // Version runs of one page (canonical). REQUIRES: page < page_count()
  std::vector<VersionRun> page_versions(std::uint64_t page) const;

  class Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wmd
