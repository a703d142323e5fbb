// Remote changes: applying patches and merging page states with the per-byte last-writer-wins
// rule, exporting page states, and growth.
#include <algorithm>
#include <cstring>

#include "engine/atomic_access.hpp"
#include "engine/engine_impl.hpp"
#include "engine/page_copy.hpp"
#include "engine/page_digest.hpp"
#include "engine/stamped_pages.hpp"

namespace wmd {

using engine_detail::PageRange;
using engine_detail::Stamp;
using engine_detail::VersionEntry;
using engine_detail::VersionList;
using engine_detail::VersionPool;

namespace {

// Checks everything about a patch that does not depend on engine state.
// On success *end_bytes is the end of its last run (0 when it has none).
Status validate_patch(const Patch& patch, std::uint64_t max_size_bytes, std::uint64_t* end_bytes) {
  if (!is_valid_peer_id(patch.origin)) return errc::invalid_peer_id;
  if (patch.lamport == 0 || patch.lamport > kMaxLamport || patch.seq == 0) return errc::malformed;
  std::uint64_t payload = 0;
  std::uint64_t previous_end = 0;
  for (const Run& run : patch.runs) {
    if (run.length == 0 || run.offset < previous_end) return errc::malformed;
    if (run.offset > max_size_bytes || run.length > max_size_bytes - run.offset) {
      return errc::beyond_max_size;
    }
    previous_end = run.offset + run.length;
    payload += run.length;  // bounded by runs * 2^32: cannot overflow
  }
  if (payload != patch.bytes.size()) return errc::malformed;
  *end_bytes = previous_end;
  return {};
}

}  // namespace

std::uint32_t Engine::Impl::ref_for_deciding(const std::string& id) {
  if (auto ref = peers_->find(id)) return *ref;
  const auto next = static_cast<std::uint32_t>(peers_->ref_count() + pending_names_.size());
  auto [it, added] = pending_refs_.try_emplace(id, next);
  if (added) pending_names_.push_back(id);
  return it->second;
}

void Engine::Impl::clear_pending_peers() {
  pending_names_.clear();
  pending_refs_.clear();
}

std::uint32_t Engine::Impl::ids_left_unowned(const VersionList& replaced,
                                             const VersionList& replacing) {
  run_delta_.clear();
  const std::uint32_t interned = peers_->ref_count();
  for (const VersionEntry& e : replaced) {
    if (e.ts.peer_ref > own_ref_ && e.ts.peer_ref < interned) --run_delta_[e.ts.peer_ref];
  }
  for (const VersionEntry& e : replacing) {
    if (e.ts.peer_ref > own_ref_ && e.ts.peer_ref < interned) ++run_delta_[e.ts.peer_ref];
  }
  std::uint32_t freed = 0;
  for (const auto& [ref, delta] : run_delta_) {
    if (delta < 0 && static_cast<std::int64_t>(runs_per_ref_[ref]) + delta == 0) ++freed;
  }
  return freed;
}

Status Engine::Impl::intern_pending_peers(VersionList& lists, std::uint32_t freed_ids) {
  if (pending_names_.empty()) return {};
  const std::uint32_t first_pending = peers_->ref_count();
  pending_new_refs_.assign(pending_names_.size(), 0);
  std::uint32_t needed = 0;
  for (const VersionEntry& e : lists) {
    if (e.ts.peer_ref < first_pending) continue;
    std::uint32_t& mark = pending_new_refs_[e.ts.peer_ref - first_pending];
    if (mark == 0) {
      mark = 1;
      ++needed;
    }
  }
  if (!peers_->has_room_for(needed) &&
      !(needed <= freed_ids && peers_->has_room_for(needed, /*use_reserve=*/true))) {
    return errc::peer_table_full;
  }
  for (std::size_t i = 0; i < pending_names_.size(); ++i) {
    if (pending_new_refs_[i] == 0) continue;
    auto ref = peers_->intern(pending_names_[i]);
    if (!ref) return ref.error();  // unreachable: room was checked
    pending_new_refs_[i] = *ref;
  }
  // Each id gets its own ref, so the renumbering is injective and keeps lists canonical.
  for (VersionEntry& e : lists) {
    if (e.ts.peer_ref >= first_pending) {
      e.ts.peer_ref = pending_new_refs_[e.ts.peer_ref - first_pending];
    }
  }
  clear_pending_peers();
  return {};
}

Status Engine::Impl::grow_to(std::uint64_t new_size_bytes) {
  if (new_size_bytes <= header_->size_bytes) return {};
  if (grow_) {
    auto grown = grow_(new_size_bytes);
    if (!grown) return grown.error();
    if (grown->size() < new_size_bytes) return errc::io_error;
    memory_ = *grown;
  } else if (memory_.size() < new_size_bytes) {
    return errc::io_error;
  }
  engine_detail::store_release(header_->size_bytes, new_size_bytes);
  if (growth_listener_) growth_listener_(new_size_bytes);
  return {};
}

Status Engine::Impl::resize(std::uint64_t new_size_bytes) {
  if (new_size_bytes > config_.max_size_bytes) return errc::beyond_max_size;
  const std::uint64_t rounded = (new_size_bytes + page_size_ - 1) / page_size_ * page_size_;
  return grow_to(rounded);
}

void Engine::Impl::decide_apply_page(ApplyPage& w, Stamp ts) {
  load_versions(w.page, old_list_);
  written_.clear();
  const std::span<const PageRange> ranges(apply_ranges_.data() + w.ranges_first, w.ranges_count);
  engine_detail::overlay(old_list_, ranges, ts, /*only_if_newer=*/true, order(), new_list_,
                         &written_);
  w.list_first = static_cast<std::uint32_t>(apply_lists_.size());
  w.list_count = static_cast<std::uint32_t>(new_list_.size());
  apply_lists_.insert(apply_lists_.end(), new_list_.begin(), new_list_.end());
  w.written_first = static_cast<std::uint32_t>(apply_written_.size());
  w.written_count = static_cast<std::uint32_t>(written_.size());
  apply_written_.insert(apply_written_.end(), written_.begin(), written_.end());
}

Result<ApplyStats> Engine::Impl::apply(const Patch& patch) {
  std::uint64_t end_bytes = 0;
  if (Status s = validate_patch(patch, config_.max_size_bytes, &end_bytes); !s) return s.error();
  if (!is_member(patch.origin)) return errc::not_a_member;
  if (Status s = check_remote_timestamp(patch.lamport, wall_now()); !s) return s.error();
  // A new origin is interned only if the patch stores a run (see ref_for_deciding).
  clear_pending_peers();
  const std::uint32_t origin = ref_for_deciding(patch.origin);
  ApplyStats stats;
  split_into_pages(patch);  // before growing: a refused patch changes nothing
  for (const ApplyPage& w : apply_pages_) {
    if (w.ranges_count > run_limit_) return errc::too_fragmented;
  }
  const std::uint64_t needed_size = (end_bytes + page_size_ - 1) / page_size_ * page_size_;
  if (needed_size > header_->size_bytes) {
    // Bytes past the current size were never written, so a new origin surely takes a slot:
    // refuse before growing when it cannot.
    if (!pending_names_.empty() && !peers_->has_room_for(1, /*use_reserve=*/true)) {
      return errc::peer_table_full;
    }
    if (Status s = grow_to(needed_size); !s) return s.error();
    stats.grew = true;
  }
  stats.pages_touched = apply_pages_.size();

  // Decide every page before touching any, so that pool exhaustion changes nothing.
  const Stamp ts{patch.lamport, origin};
  decide_apply_pages(ts);
  absorb_before_apply(ts, stats);
  if (apply_blocks_needed() > pool_->available()) return errc::pool_exhausted;
  // Last check: a new origin takes its slot now (a released one or a new one), and the lists
  // are renumbered to it. Nothing written if it fails.
  // Only the origin can gain runs in a patch: skip the exact count while even every new run
  // being its own would keep it within its share (the common case).
  const std::uint64_t origin_runs = origin < peers_->ref_count() ? runs_per_ref_[origin] : 0;
  if (origin_runs + apply_lists_.size() > peer_run_share_) {
    if (Status s = check_run_share(apply_replaced_lists(), apply_lists_); !s) return s.error();
  }
  if (Status s = intern_pending_peers(apply_lists_, apply_ids_freed()); !s) return s.error();

  // Seen before any byte carries it, so a kill mid-way never lets a later local round reuse it.
  note_lamport(patch.lamport);
  stats.bytes_written = write_apply_pages(patch);

  // A new origin whose patch stored nothing has no slot: its sequence number goes unrecorded.
  if (auto ref = peers_->find(patch.origin)) peers_->note_seq(*ref, patch.seq);
  if (patch.origin == config_.peer_id && patch.seq > header_->local_seq) {
    // Our own earlier patch came back (state lost and rebuilt): never reissue its seq.
    engine_detail::store_release(header_->local_seq, patch.seq);
  }
  return stats;
}

void Engine::Impl::split_into_pages(const Patch& patch) {
  // Arenas reused across calls: no allocation in the steady state.
  apply_pages_.clear();
  apply_ranges_.clear();
  std::uint64_t payload_pos = 0;
  for (const Run& run : patch.runs) {
    std::uint64_t offset = run.offset;
    std::uint64_t remaining = run.length;
    while (remaining > 0) {
      const std::uint64_t page = offset / page_size_;
      const auto start = static_cast<std::uint32_t>(offset % page_size_);
      const auto length =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(remaining, page_size_ - start));
      if (apply_pages_.empty() || apply_pages_.back().page != page) {
        apply_pages_.push_back(ApplyPage{page, static_cast<std::uint32_t>(apply_ranges_.size())});
      }
      apply_ranges_.push_back(PageRange{start, start + length, payload_pos});
      ++apply_pages_.back().ranges_count;
      payload_pos += length;
      offset += length;
      remaining -= length;
    }
  }
}

void Engine::Impl::decide_apply_pages(Stamp ts) {
  apply_lists_.clear();
  apply_written_.clear();
  for (ApplyPage& w : apply_pages_) decide_apply_page(w, ts);
}

void Engine::Impl::absorb_before_apply(Stamp ts, ApplyStats& stats) {
  // Remote bytes must never overwrite a local write nobody has seen yet. A page the patch
  // rewrites entirely, with a timestamp above any a local round could take now, needs no
  // check: a pending local write would lose every byte to it on every replica, so the outcome
  // is the same without reading the page (the bulk-sync case).
  const std::optional<std::uint64_t> local_stamp = next_local_stamp();
  const bool patch_beats_local = local_stamp && order().less(Stamp{*local_stamp, own_ref_}, ts);
  std::vector<std::uint64_t> candidates;
  for (const ApplyPage& w : apply_pages_) {
    const bool rewrites_page = w.written_count == 1 && apply_written_[w.written_first].start == 0 &&
                               apply_written_[w.written_first].end == page_size_;
    if (!(rewrites_page && patch_beats_local) && page_may_have_changed(w.page)) {
      candidates.push_back(w.page);
    }
  }
  if (candidates.empty()) return;
  auto absorbed = absorb_before_write(candidates, PageCheck::known_changed);
  stats.pages_absorbed = absorbed.pages_changed;
  stats.local_patches = std::move(absorbed.patches);
  // The absorbed round changed versions: decide every page again into emptied arenas, so that
  // they hold only the lists that will be stored (interning reads all of them: a stale list
  // could take a slot for an origin whose every byte lost to the absorbed write).
  decide_apply_pages(ts);
}

std::uint64_t Engine::Impl::apply_blocks_needed() const {
  std::uint64_t blocks_needed = 0;
  for (const ApplyPage& w : apply_pages_) {
    if (w.written_count == 0) continue;
    blocks_needed += w.list_count == 1 && apply_lists_[w.list_first].ts == Stamp{}
                         ? 0
                         : VersionPool::blocks_for(w.list_count);
  }
  return blocks_needed;
}

Status Engine::Impl::check_run_share(const VersionList& replaced, const VersionList& replacing) {
  run_delta_.clear();
  for (const VersionEntry& e : replaced) {
    if (e.ts.peer_ref != 0 && e.ts.peer_ref != own_ref_) --run_delta_[e.ts.peer_ref];
  }
  for (const VersionEntry& e : replacing) {
    if (e.ts.peer_ref != 0 && e.ts.peer_ref != own_ref_) ++run_delta_[e.ts.peer_ref];
  }
  const std::uint32_t interned = peers_->ref_count();
  for (const auto& [ref, delta] : run_delta_) {
    if (delta <= 0) continue;
    const std::uint64_t now = ref < interned ? runs_per_ref_[ref] : 0;  // pending: none yet
    if (now + static_cast<std::uint64_t>(delta) > peer_run_share_) return errc::pool_share_exceeded;
  }
  return {};
}

std::uint32_t Engine::Impl::apply_ids_freed() {
  // Only asked when a new origin meets a table down to its reserve: the origin may take a
  // reserved slot if the patch leaves at least one id without bytes (that slot comes back at
  // the end of the call).
  if (pending_names_.empty() || peers_->has_room_for(1)) return 0;
  return ids_left_unowned(apply_replaced_lists(), apply_lists_);
}

const VersionList& Engine::Impl::apply_replaced_lists() {
  apply_replaced_.clear();
  for (const ApplyPage& w : apply_pages_) {
    load_versions(w.page, old_list_);
    apply_replaced_.insert(apply_replaced_.end(), old_list_.begin(), old_list_.end());
  }
  return apply_replaced_;
}

std::uint64_t Engine::Impl::write_apply_pages(const Patch& patch) {
  std::uint64_t bytes_written = 0;
  for (const ApplyPage& w : apply_pages_) {
    if (w.written_count == 0) continue;
    std::uint8_t* memory = memory_page(w.page);
    std::uint8_t* shadow = shadow_page(w.page);
    std::uint32_t old_head = 0;
    begin_update(w.page);
    // Bytes before versions: a kill in between leaves the new bytes under older stamps, which
    // catch-up corrects (the peers hold the newer stamp), rather than new stamps on old bytes.
    new_list_.assign(apply_lists_.begin() + w.list_first,
                     apply_lists_.begin() + w.list_first + w.list_count);
    const PageRange& first = apply_written_[w.written_first];
    if (w.written_count == 1 && first.start == 0 && first.end == page_size_) {
      // The whole page: stream the payload to both copies, hashing it on the way (the new
      // shadow's hash is the payload's), so the page is read once and never re-read.
      const std::uint8_t* from = patch.bytes.data() + first.payload_offset;
      const std::uint64_t hash =
          engine_detail::copy_to_both_hashed(memory, shadow, from, page_size_);
      bytes_written += page_size_;
      old_head = publish_versions(w.page, new_list_);
      set_record(w.page, hash, new_list_);
    } else {
      for (std::uint32_t k = 0; k < w.written_count; ++k) {
        const PageRange& r = apply_written_[w.written_first + k];
        const std::uint8_t* from = patch.bytes.data() + r.payload_offset;
        std::memcpy(memory + r.start, from, r.end - r.start);
        std::memcpy(shadow + r.start, from, r.end - r.start);
        bytes_written += r.end - r.start;
      }
      old_head = publish_versions(w.page, new_list_);
      refresh_record(w.page, new_list_);
    }
    end_update(w.page);
    pool_->release(old_head);
  }
  engine_detail::copy_fence();  // streamed stores visible before we return to the caller
  return bytes_written;
}

Status Engine::Impl::check_stamp(const Timestamp& ts) {
  if (ts.lamport == 0) return errc::malformed;  // the zero timestamp is stamp 0, never listed
  if (!is_valid_peer_id(ts.peer)) return errc::invalid_peer_id;
  if (!is_member(ts.peer.str())) return errc::not_a_member;
  if (ts.lamport > kMaxLamport) return errc::malformed;
  return {};
}

std::uint32_t Engine::Impl::stamp_ref(const StampedPageStates& batch, std::uint32_t stamp) {
  if (stamp == 0) return 0;
  if (stamp_refs_[stamp - 1] != 0) return stamp_refs_[stamp - 1];
  const std::uint32_t ref = ref_for_deciding(batch.stamps[stamp - 1].peer.str());
  // A table ref holds for the whole call (the table never renumbers, and ids are released
  // only after it); a pending one only for this page.
  if (ref < peers_->ref_count()) stamp_refs_[stamp - 1] = ref;
  return ref;
}

Result<MergeStats> Engine::Impl::merge_one(const StampedPageStates& batch,
                                           const StampedPage& state) {
  if (state.page_index >= max_pages_) return errc::beyond_max_size;
  if (state.bytes.size() != page_size_ || state.run_count == 0 ||
      state.first_run > batch.runs.size() ||
      state.run_count > batch.runs.size() - state.first_run) {
    return errc::malformed;
  }
  if (state.run_count > run_limit_) return errc::too_fragmented;
  const std::span<const StampedRun> runs(batch.runs.data() + state.first_run, state.run_count);
  std::uint64_t max_lamport = 0;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const StampedRun& v = runs[i];
    if (v.start >= v.end || v.end > page_size_) return errc::malformed;
    if (i == 0 ? v.start != 0 : (v.start != runs[i - 1].end || v.stamp == runs[i - 1].stamp)) {
      return errc::malformed;
    }
    if (v.stamp == 0) continue;
    if (v.stamp > batch.stamps.size()) return errc::malformed;
    // Each table entry is checked once a call, when a page first names it: a bad one fails
    // that page, the pages before it merged (as for page states one by one).
    if (stamp_checked_[v.stamp - 1] == 0) {
      if (Status s = check_stamp(batch.stamps[v.stamp - 1]); !s) return s.error();
      stamp_checked_[v.stamp - 1] = 1;
    }
    max_lamport = std::max(max_lamport, batch.stamps[v.stamp - 1].lamport);
  }
  if (runs.back().end != page_size_) return errc::malformed;
  if (Status s = check_remote_timestamp(max_lamport, wall_now()); !s) return s.error();

  // New peer ids are interned only for the runs that win bytes (see ref_for_deciding).
  VersionList& remote = remote_list_;
  remote.clear();
  clear_pending_peers();
  for (const StampedRun& v : runs) {
    const std::uint32_t stamp = v.stamp;
    const std::uint64_t lamport = stamp == 0 ? 0 : batch.stamps[stamp - 1].lamport;
    remote.push_back(VersionEntry{v.start, v.end, Stamp{lamport, stamp_ref(batch, stamp)}});
  }

  MergeStats stats;
  const std::uint64_t page = state.page_index;
  if (page >= page_count()) {
    // A page past the current size was never written: every new id wins bytes there and needs
    // a slot. Refuse before growing when they cannot all have one.
    if (!peers_->has_room_for(static_cast<std::uint32_t>(pending_names_.size()),
                              /*use_reserve=*/true)) {
      return errc::peer_table_full;
    }
    if (Status s = grow_to((page + 1) * page_size_); !s) return s.error();
    stats.grew = true;
  }
  // Queued earlier in this merge_pages() call: its bytes must land before it is merged again.
  if ((records_[page].update_counter & 1u) != 0) flush_hole_pages();
  if (bulk_writer_ && is_unbacked_hole(page)) {
    return queue_hole_page(page, state.bytes, max_lamport, stats);
  }
  const std::uint64_t pages[] = {page};
  auto absorbed = absorb_before_write(pages, PageCheck::recheck);
  stats.absorbed_local = absorbed.pages_changed > 0;
  stats.local_patches = std::move(absorbed.patches);

  load_versions(page, old_list_);
  written_.clear();
  engine_detail::merge_max(old_list_, remote, order(), new_list_, written_);
  if (!written_.empty()) {
    if (VersionPool::blocks_for(new_list_) > pool_->available()) return errc::pool_exhausted;
    if (Status s = check_run_share(old_list_, new_list_); !s) return s.error();
    const std::uint32_t freed_ids = pending_names_.empty() || peers_->has_room_for(1)
                                        ? 0
                                        : ids_left_unowned(old_list_, new_list_);
    if (Status s = intern_pending_peers(new_list_, freed_ids); !s) return s.error();
    note_lamport(max_lamport);  // before any byte carries it (see apply)
    std::uint8_t* memory = memory_page(page);
    std::uint8_t* shadow = shadow_page(page);
    std::uint32_t old_head = 0;
    begin_update(page);
    if (written_.size() == 1 && written_[0].start == 0 && written_[0].end == page_size_) {
      // The remote wins every byte (the initial-sync case): one pass over the payload writes
      // both copies and yields the new shadow's hash, as apply() does for whole pages.
      const std::uint64_t hash =
          engine_detail::copy_to_both_hashed(memory, shadow, state.bytes.data(), page_size_);
      stats.bytes_taken += page_size_;
      old_head = publish_versions(page, new_list_);
      set_record(page, hash, new_list_);
      engine_detail::copy_fence();  // streamed stores visible before we return
    } else {
      for (const PageRange& r : written_) {
        std::memcpy(memory + r.start, state.bytes.data() + r.start, r.end - r.start);
        std::memcpy(shadow + r.start, state.bytes.data() + r.start, r.end - r.start);
        stats.bytes_taken += r.end - r.start;
      }
      old_head = publish_versions(page, new_list_);
      refresh_record(page, new_list_);
    }
    end_update(page);
    pool_->release(old_head);
  }
  note_lamport(max_lamport);
  return stats;
}

Result<ExportedPage> Engine::Impl::export_page(std::uint64_t page) {
  if (page >= page_count()) return errc::out_of_range;
  const std::uint64_t pages[] = {page};
  ExportedPage exported;
  exported.local_patches = absorb_before_write(pages, PageCheck::recheck).patches;
  auto state = std::move(replicated_page_states(pages).front());
  if (!state) return state.error();
  exported.state = std::move(*state);
  return exported;
}

std::vector<Result<PageState>> Engine::Impl::replicated_page_states(
    std::span<const std::uint64_t> pages) {
  const StampedPageStates batch = replicated_stamped_states(pages);
  std::vector<Result<PageState>> out;
  out.reserve(pages.size());
  std::size_t next = 0;  // the batch holds the pages in range, in order
  for (const std::uint64_t page : pages) {
    if (next < batch.pages.size() && batch.pages[next].page_index == page) {
      out.emplace_back(to_page_state(batch, next++));
    } else {
      out.emplace_back(errc::out_of_range);
    }
  }
  return out;
}

StampedPageStates Engine::Impl::replicated_stamped_states(std::span<const std::uint64_t> pages) {
  StampedPageStates batch;
  batch.pages.reserve(pages.size());
  page_reads_.clear();
  const auto shadow_offset = [this](std::uint64_t page) {
    return static_cast<std::uint64_t>(shadow_page(page) -
                                      reinterpret_cast<const std::uint8_t*>(header_));
  };
  for (const std::uint64_t page : pages) {
    if (page >= page_count()) continue;
    StampedPage& state = batch.pages.emplace_back();
    state.page_index = page;
    state.bytes.resize(page_size_);
    // The bytes' buffer stays where it is when the vector of pages grows.
    page_reads_.push_back(StorageRead{shadow_offset(page), state.bytes});
  }
  // One reader call for the batch: a call per page cost more than the copy itself.
  const bool read = page_reader_ && page_reader_(Storage::state, page_reads_);
  // The table in the order entries are met (sorted at the end): a page's runs mostly alternate
  // between the zero timestamp and one other, so the last entry found is checked first.
  std::uint32_t last_stamp = 0;
  Stamp last_key{};
  for (StampedPage& state : batch.pages) {
    if (!read) std::memcpy(state.bytes.data(), shadow_page(state.page_index), page_size_);
    load_versions(state.page_index, old_list_);
    state.first_run = static_cast<std::uint32_t>(batch.runs.size());
    state.run_count = static_cast<std::uint32_t>(old_list_.size());
    for (const VersionEntry& e : old_list_) {
      std::uint32_t stamp = 0;
      if (e.ts.lamport != 0) {
        if (last_stamp == 0 || !(e.ts == last_key)) {
          last_stamp = stamp_in_table(batch, e.ts);
          last_key = e.ts;
        }
        stamp = last_stamp;
      }
      batch.runs.push_back(StampedRun{e.start, e.end, stamp});
    }
  }
  export_stamps_.clear();
  sort_stamp_table(batch);
  return batch;
}

std::uint32_t Engine::Impl::stamp_in_table(StampedPageStates& batch, const Stamp& key) {
  const auto [it, added] =
      export_stamps_.try_emplace(key, static_cast<std::uint32_t>(batch.stamps.size()) + 1);
  if (added) batch.stamps.push_back(Timestamp{key.lamport, peers_->names()[key.peer_ref]});
  return it->second;
}

}  // namespace wmd
