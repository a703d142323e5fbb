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
#include <vector>

#include "engine/engine.hpp"
#include "engine/peer_table.hpp"
#include "engine/state_layout.hpp"
#include "engine/version_list.hpp"
#include "engine/version_pool.hpp"

namespace wmd {

// Lamports above this are refused, so that max(seen) + 1 can never overflow.
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
  Result<MergeStats> merge_one(const PageState& state);
  Result<MergeStats> merge_pages(std::span<const PageState> states);
  Result<ExportedPage> export_page(std::uint64_t page);
  Status resize(std::uint64_t new_size_bytes);
  Status grow_to(std::uint64_t new_size_bytes);  // REQUIRES: page multiple <= max
  void note_lamport(std::uint64_t lamport);

  // --- engine_bulk_merge.cpp: never-written pages merged through the bulk page writer
  // The page was never written (zero record) and the backing probe reports it unbacked; the
  // answers are cached for the span of one merge_pages() call.
  bool is_unbacked_hole(std::uint64_t page);
  // Decides a never-written page against the remote versions (remote_list_) and queues its new
  // bytes for flush_hole_pages(), the page's update counter left odd until then.
  Result<MergeStats> queue_hole_page(const PageState& state, std::uint64_t max_lamport,
                                     MergeStats stats);
  // Writes the queued pages' bytes (memory and shadow) through the bulk writer, or through the
  // mappings when it fails, then publishes their records and closes their updates.
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
  std::vector<StorageWrite> hole_writes_;
  std::uint64_t hole_cache_first_ = 0, hole_cache_end_ = 0;  // unbacked pages, this call
  BulkPageWriter bulk_writer_;

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
  // they got. Errors: peer_table_full, with nothing interned.
  Status intern_pending_peers(engine_detail::VersionList& lists);

  EngineConfig config_;
  std::uint32_t page_size_ = 0;
  std::uint64_t max_pages_ = 0;
  engine_detail::StateHeader* header_ = nullptr;
  engine_detail::PageRecord* records_ = nullptr;
  std::uint8_t* shadow_ = nullptr;
  std::optional<engine_detail::VersionPool> pool_;
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

  // Scratch buffers reused across calls (owner thread only).
  engine_detail::VersionList old_list_;
  engine_detail::VersionList new_list_;
  std::vector<engine_detail::PageRange> ranges_;
  std::vector<engine_detail::PageRange> written_;
  std::vector<std::uint8_t> page_scratch_;  // one page
  engine_detail::VersionList
      remote_list_;  // merge_page(): the remote versions (table or pending refs)
  std::vector<std::string> pending_names_;  // index = pending ref - peers_->ref_count()
  std::unordered_map<std::string, std::uint32_t> pending_refs_;
  std::vector<std::uint32_t> pending_new_refs_;  // intern_pending_peers(): index as above
  // merge_page(): the last peer id it found in the table (valid) and its ref (0: none yet).
  std::string merge_peer_id_;
  std::uint32_t merge_peer_ref_ = 0;
  bool is_merge_peer(const std::string& id) const {
    return merge_peer_ref_ != 0 && id == merge_peer_id_;
  }

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
  std::vector<engine_detail::PageRange> apply_written_;
};

}  // namespace wmd
