// Engine::Impl: the engine's state and its operations, shared by the engine_*.cpp files
// (engine.cpp: creation, recovery, accessors; engine_scan.cpp: local change rounds;
// engine_apply.cpp: apply, merge, export, resize).
// Thread-safety: as Engine (owner thread only; find_changed_pages() may run concurrently with
// itself).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/engine.hpp"
#include "engine/peer_table.hpp"
#include "engine/state_layout.hpp"
#include "engine/version_list.hpp"
#include "engine/version_pool.hpp"

namespace wmd {

// Timestamps above this are malformed whatever the clock says (a sanity bound on stored and
// decoded values; the real bound is the clock offset, see check_remote_timestamp()).
inline constexpr std::uint64_t kMaxLamport = std::uint64_t{1} << 62;

class Engine::Impl {
 public:
  static Result<std::unique_ptr<Impl>> create(const EngineConfig& config,
                                              std::span<std::uint8_t> memory,
                                              std::span<std::uint8_t> state, GrowFn grow);
  ~Impl();
  void recover();  // torn pages, unreadable lists, leaked blocks (see RecoveryStats)

  // A local change round being built: one timestamp, runs in page order, their bytes.
  struct LocalRound {
    bool started = false;
    engine_detail::Stamp ts;
    std::vector<Patch> patches;  // filled as pages are absorbed; ids stamped by finish_round
    std::uint64_t payload_bytes = 0;
    std::uint64_t pages_checked = 0;
    std::uint64_t pages_changed = 0;
    std::uint64_t pages_deferred = 0;
  };

  // --- engine_scan.cpp
  bool page_changed(std::uint64_t page) const;
  // page_changed(), except that a never-written page the backing probe reports unbacked is
  // known unchanged without reading it.
  bool page_may_have_changed(std::uint64_t page) const;
  // The stored hash is the zero page's (hash_x is stored relative to it).
  bool stored_zero(std::uint64_t page) const { return records_[page].hash_x == 0; }
  std::vector<std::uint64_t> find_changed_pages(std::uint64_t first, std::uint64_t end) const;
  // Absorbs the page's pending local changes into round; false when it had none (or the
  // version pool could not take it, leaving it pending).
  bool absorb_page(LocalRound& round, std::uint64_t page, PageCheck check);
  // Appends a run to the round's patches, splitting it at max_patch_bytes.
  void add_run(LocalRound& round, std::uint64_t offset, const std::uint8_t* bytes,
               std::uint32_t length);
  // Issues the round's sequence numbers and emits its patches.
  std::vector<Patch> finish_round(LocalRound& round, ScanStats* stats);
  std::vector<Patch> absorb_pages(std::span<const std::uint64_t> pages, ScanStats* stats,
                                  PageCheck check);
  // Absorbs the changed pages among `pages` (sorted, unique) as one round.
  struct AbsorbedRound {
    std::vector<Patch> patches;
    std::uint64_t pages_changed = 0;
  };
  AbsorbedRound absorb_before_write(std::span<const std::uint64_t> pages, PageCheck check);

  // --- engine_apply.cpp
  Result<ApplyStats> apply(const Patch& patch);
  // One page state: the per-byte merge; a never-written unbacked page is queued for the bulk
  // writer instead (engine_bulk_merge.cpp).
  Result<MergeStats> merge_one(const StampedPageStates& batch, const StampedPage& state);
  Result<MergeStats> merge_pages(const StampedPageStates& batch);
  // A table entry a page names: errors as merge_page() reports them for a run's timestamp.
  Status check_stamp(const Timestamp& ts);
  // The ref to decide with for stamp (0: the zero timestamp), cached for the call once it is
  // a table ref. REQUIRES: stamp <= batch.stamps.size(), its entry checked.
  std::uint32_t stamp_ref(const StampedPageStates& batch, std::uint32_t stamp);
  Result<ExportedPage> export_page(std::uint64_t page);
  std::vector<Result<PageState>> replicated_page_states(std::span<const std::uint64_t> pages);
  StampedPageStates replicated_stamped_states(std::span<const std::uint64_t> pages);
  Status resize(std::uint64_t new_size_bytes);
  Status grow_to(std::uint64_t new_size_bytes);  // REQUIRES: page multiple <= max
  void note_lamport(std::uint64_t lamport);
  std::uint64_t wall_now() const { return config_.wall_clock_ms ? config_.wall_clock_ms() : 0; }
  Status check_remote_timestamp(std::uint64_t hlc, std::uint64_t now_ms) const;
  // The stamp a local round would take now (HLC send rule); nullopt while the logical counter
  // of the current millisecond is spent (the round waits).
  std::optional<std::uint64_t> next_local_stamp() const;

  // --- engine_bulk_merge.cpp: never-written pages merged through the bulk page writer
  // The page was never written (zero record) and the backing probe reports it unbacked; the
  // answers are cached for the span of one merge_pages() call.
  bool is_unbacked_hole(std::uint64_t page);
  // Decides a never-written page against the remote versions (remote_list_) and queues its new
  // bytes for flush_hole_pages(), the page's update counter left odd until then.
  Result<MergeStats> queue_hole_page(std::uint64_t page, std::span<const std::uint8_t> state_bytes,
                                     std::uint64_t max_lamport, MergeStats stats);
  // Writes the queued pages' bytes (memory and shadow) and their version lists' blocks through
  // the bulk writer, or through the mappings when it fails, then publishes their records and
  // closes their updates.
  void flush_hole_pages();
  struct HolePage {
    std::uint64_t page = 0;
    std::uint32_t head = 0;  // stored version list, published at the flush
    std::uint64_t hash = 0;
    std::uint64_t digest = 0;
    const std::uint8_t* bytes = nullptr;  // the state's bytes, or nullptr: scratch_index's
    std::size_t scratch_index = 0;
  };
  std::vector<HolePage> hole_pages_;
  std::vector<std::uint8_t> hole_scratch_;  // pages whose state bytes needed fixing up
  std::vector<engine_detail::VersionPool::StagedBlock> hole_blocks_;  // their version lists
  std::vector<StorageWrite> hole_writes_;
  std::vector<StorageRead> page_reads_;  // replicated_page_states(): one batch's reads
  // replicated_stamped_states(): the batch's table entry for key (1-based), added when new.
  std::uint32_t stamp_in_table(StampedPageStates& batch, const engine_detail::Stamp& key);
  struct StampHash {
    std::size_t operator()(const engine_detail::Stamp& s) const noexcept {
      return std::hash<std::uint64_t>()(s.lamport * 0x9e3779b97f4a7c15ull ^ s.peer_ref);
    }
  };
  std::unordered_map<engine_detail::Stamp, std::uint32_t, StampHash> export_stamps_;
  std::uint64_t hole_cache_first_ = 0, hole_cache_end_ = 0;  // unbacked pages, this call
  BulkPageWriter bulk_writer_;
  PageReader page_reader_;

  // --- engine.cpp: page record helpers
  std::uint8_t* memory_page(std::uint64_t page) { return memory_.data() + page * page_size_; }
  const std::uint8_t* memory_page(std::uint64_t page) const {
    return memory_.data() + page * page_size_;
  }
  std::uint8_t* shadow_page(std::uint64_t page) { return shadow_ + page * page_size_; }
  std::uint64_t stored_hash(std::uint64_t page) const { return records_[page].hash_x ^ zero_hash_; }
  // REQUIRES: page < page_count(); the list was validated at create().
  void load_versions(std::uint64_t page, engine_detail::VersionList& out) const;
  void begin_update(std::uint64_t page);
  void end_update(std::uint64_t page);
  void publish_head(std::uint64_t page, std::uint32_t head);
  // Stores list in fresh blocks, publishes it as the page's versions and keeps runs_per_ref_;
  // returns the old head, for the caller to release once the page update has ended.
  // REQUIRES: pool_->available() >= VersionPool::blocks_for(list); every ref interned.
  std::uint32_t publish_versions(std::uint64_t page, const engine_detail::VersionList& list);
  void count_runs(const engine_detail::VersionList& list, bool add);
  // Releases the peer table slots of ids whose last run went (see runs_per_ref_).
  void release_unowned_peers();
  // Recomputes the record's hash (from the shadow page) and digest (with versions).
  void refresh_record(std::uint64_t page, const engine_detail::VersionList& versions);
  // Same, with the shadow page's hash already known.
  void set_record(std::uint64_t page, std::uint64_t shadow_hash,
                  const engine_detail::VersionList& versions);
  std::vector<VersionRun> to_version_runs(const engine_detail::VersionList& list) const;
  std::uint64_t page_count() const { return header_->size_bytes / page_size_; }
  engine_detail::StampOrder order() const {
    return engine_detail::StampOrder(&peers_->names(), &pending_names_);
  }

  // --- engine_apply.cpp: peer ids of a message being decided
  // A remote message is decided before any of its new peer ids takes a slot in the persistent
  // peer table: an id not in the table gets a pending ref past it (see StampOrder) for the
  // time of one apply()/merge_page(), and is interned only when a version run that carries it
  // is about to be stored. So a refused message, or one whose every byte loses, leaves the
  // table as it was (a hostile peer cannot fill it with made-up ids).
  // The ref to decide with for a valid peer id: its table ref, else a pending ref.
  std::uint32_t ref_for_deciding(const std::string& id);
  void clear_pending_peers();
  // Interns the pending ids that `lists` references and renumbers those entries to the refs
  // they got (released slots first, so not necessarily the pending refs themselves). Errors:
  // peer_table_full, with nothing interned.
  // freed_ids: how many interned ids the message leaves without a run (they may use the
  // table's reserve, see PeerTable::has_room_for()).
  Status intern_pending_peers(engine_detail::VersionList& lists, std::uint32_t freed_ids);
  // How many interned ids (other than our own) own runs only in the `replaced` lists, none in
  // `replacing` nor elsewhere: the ids a message writing `replacing` over them leaves unowned.
  // ids_left_unowned() for the patch apply() decided (0 unless the table is down to its
  // reserve and the origin is new).
  std::uint32_t apply_ids_freed();
  // The stored lists of every page apply() decided, concatenated (apply_replaced_).
  const engine_detail::VersionList& apply_replaced_lists();
  // pool_share_exceeded when replacing `replaced` lists by `replacing` ones would leave an id
  // other than our own with more than peer_run_share_ runs (and more than it has now).
  // REQUIRES: refs of both lists interned or pending.
  Status check_run_share(const engine_detail::VersionList& replaced,
                         const engine_detail::VersionList& replacing);
  std::uint32_t ids_left_unowned(const engine_detail::VersionList& replaced,
                                 const engine_detail::VersionList& replacing);

  // EngineConfig::members (with peer_id); empty: anyone may own bytes.
  std::unordered_set<std::string> members_;
  bool is_member(const std::string& id) const { return members_.empty() || members_.contains(id); }

  EngineConfig config_;
  std::uint32_t page_size_ = 0;
  std::uint64_t max_pages_ = 0;
  engine_detail::StateHeader* header_ = nullptr;
  engine_detail::PageRecord* records_ = nullptr;
  std::uint8_t* shadow_ = nullptr;
  std::optional<engine_detail::VersionPool> pool_;
  std::uint64_t pool_offset_bytes_ = 0;  // of the pool's first block in state storage
  std::optional<engine_detail::PeerTable> peers_;
  std::span<std::uint8_t> memory_;
  GrowFn grow_;
  std::function<void(const Patch&)> diff_listener_;
  std::function<void(std::uint64_t)> growth_listener_;
  BackingProbe backing_probe_;
  RecoveryStats recovery_;
  std::uint64_t zero_hash_ = 0;
  std::uint64_t zero_digest_ = 0;
  std::uint32_t own_ref_ = 1;

  // Version runs stored per peer ref (index = ref). An id whose count drops to zero owns no
  // byte any more: its peer table slot is released at the end of the call (so made-up ids
  // whose bytes were overwritten stop taking slots). In memory only, rebuilt from the stored
  // lists at create(), so a process killed mid-update can never leave it wrong.
  std::vector<std::uint64_t> runs_per_ref_;
  std::uint32_t run_limit_ = 0;              // EngineConfig::max_runs_per_page, resolved
  std::uint64_t peer_run_share_ = 0;         // EngineConfig::max_runs_per_peer, resolved
  std::vector<std::uint32_t> unowned_refs_;  // counts that reached zero, not yet released
  std::unordered_map<std::uint32_t, std::int64_t> run_delta_;  // ids_left_unowned() scratch

  // Scratch buffers reused across calls (owner thread only).
  engine_detail::VersionList old_list_;
  engine_detail::VersionList replaced_list_;  // publish_versions(): the list it replaces
  engine_detail::VersionList new_list_;
  std::vector<engine_detail::PageRange> ranges_;
  std::vector<engine_detail::PageRange> written_;
  std::vector<std::uint8_t> page_scratch_;  // one page
  engine_detail::VersionList
      remote_list_;  // merge_page(): the remote versions (table or pending refs)
  std::vector<std::string> pending_names_;  // index = pending ref - peers_->ref_count()
  std::unordered_map<std::string, std::uint32_t> pending_refs_;
  std::vector<std::uint32_t> pending_new_refs_;  // intern_pending_peers(): index as above
  // merge_pages(), per entry of the batch's timestamp table: checked yet, and its table ref
  // (0: not known yet, or pending).
  std::vector<std::uint8_t> stamp_checked_;
  std::vector<std::uint32_t> stamp_refs_;

  // apply(): one touched page and where its parts live in the arenas below.
  struct ApplyPage {
    std::uint64_t page = 0;
    std::uint32_t ranges_first = 0, ranges_count = 0;
    std::uint32_t list_first = 0, list_count = 0;
    std::uint32_t written_first = 0, written_count = 0;
  };
  // apply()'s steps, over the arenas below. split_into_pages: the patch's runs as page-local
  // ranges. decide_apply_page(s): each page's new list and the ranges to write, into emptied
  // arenas. absorb_before_apply: the touched pages' pending local changes (into stats), then
  // decides again. write_apply_pages: bytes, then versions; returns bytes written.
  void split_into_pages(const Patch& patch);
  void decide_apply_page(ApplyPage& work, engine_detail::Stamp ts);
  void decide_apply_pages(engine_detail::Stamp ts);
  void absorb_before_apply(engine_detail::Stamp ts, ApplyStats& stats);
  std::uint64_t apply_blocks_needed() const;  // new version pool blocks the writes take
  std::uint64_t write_apply_pages(const Patch& patch);
  std::vector<ApplyPage> apply_pages_;
  std::vector<engine_detail::PageRange> apply_ranges_;
  engine_detail::VersionList apply_lists_;
  engine_detail::VersionList apply_replaced_;
  std::vector<engine_detail::PageRange> apply_written_;
};

}  // namespace wmd
