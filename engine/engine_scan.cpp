// Local change rounds: finding changed pages, diffing them against the shadow, stamping the
// changed bytes with the round's timestamp and turning the round into patches.
#include <algorithm>
#include <cstring>

#include "engine/atomic_access.hpp"
#include "engine/engine_impl.hpp"
#include "engine/page_diff.hpp"
#include "engine/page_digest.hpp"

namespace wmd {

using engine_detail::PageRange;
using engine_detail::Stamp;
using engine_detail::VersionPool;

bool Engine::Impl::page_changed(std::uint64_t page) const {
  return engine_detail::hash_bytes(memory_page(page), page_size_) != stored_hash(page);
}

bool Engine::Impl::page_may_have_changed(std::uint64_t page) const {
  if (backing_probe_ && stored_zero(page) && !backing_probe_(page, page + 1).backed) return false;
  return page_changed(page);
}

std::vector<std::uint64_t> Engine::Impl::find_changed_pages(std::uint64_t first,
                                                            std::uint64_t end) const {
  std::vector<std::uint64_t> changed;
  end = std::min(end, page_count());
  // The probe is asked only at never-written pages, once per extent.
  BackingExtent extent{true, first};
  for (std::uint64_t page = first; page < end; ++page) {
    if (backing_probe_ && stored_zero(page)) {
      if (page >= extent.end_page) {
        extent = backing_probe_(page, end);
        extent.end_page = std::max(extent.end_page, page + 1);
      }
      if (!extent.backed) continue;
    }
    if (page_changed(page)) changed.push_back(page);
  }
  return changed;
}

bool Engine::Impl::absorb_page(LocalRound& round, std::uint64_t page, PageCheck check) {
  ++round.pages_checked;
  if (check == PageCheck::recheck && !page_may_have_changed(page)) return false;
  const std::uint8_t* current = memory_page(page);
  std::uint8_t* shadow = shadow_page(page);
  ranges_.clear();
  engine_detail::diff_page(current, shadow, page_size_, config_.max_merge_gap_bytes, ranges_);
  load_versions(page, old_list_);
  if (ranges_.empty()) {
    // Memory equals the shadow, only the stored hash was stale: nothing to send.
    refresh_record(page, old_list_);
    return false;
  }
  if (!round.started) {
    const std::optional<std::uint64_t> stamp = next_local_stamp();
    if (!stamp) {
      // The logical counter of this millisecond is spent: the change stays pending and the
      // next scan (a later millisecond) stamps it.
      ++round.pages_deferred;
      return false;
    }
    round.started = true;
    round.ts = Stamp{*stamp, own_ref_};
    // Stored before any byte carries it, so a restarted engine never reissues this lamport.
    note_lamport(round.ts.lamport);
  }
  engine_detail::overlay(old_list_, ranges_, round.ts, /*only_if_newer=*/false, order(), new_list_,
                         nullptr);
  if (pool_->available() < VersionPool::blocks_for(new_list_)) {
    ++round.pages_deferred;  // stays pending: memory still differs from the shadow
    return false;
  }

  // Snapshot the changed bytes first: a writer may keep writing memory, and the shadow must
  // hold exactly what the patch carries.
  page_scratch_.resize(page_size_);
  for (PageRange& r : ranges_) {
    std::memcpy(page_scratch_.data() + r.start, current + r.start, r.end - r.start);
  }
  // Versions are published before the shadow changes: a kill in between leaves new stamps
  // over old shadow bytes, and memory still differs from the shadow, so the next scan
  // re-absorbs the bytes rather than losing them.
  begin_update(page);
  const std::uint32_t old_head = publish_versions(page, new_list_);
  for (const PageRange& r : ranges_) {
    std::memcpy(shadow + r.start, page_scratch_.data() + r.start, r.end - r.start);
  }
  refresh_record(page, new_list_);
  end_update(page);
  pool_->release(old_head);
  const std::uint64_t page_offset = page * page_size_;
  for (const PageRange& r : ranges_) {
    add_run(round, page_offset + r.start, page_scratch_.data() + r.start, r.end - r.start);
  }
  ++round.pages_changed;
  return true;
}

void Engine::Impl::add_run(LocalRound& round, std::uint64_t offset, const std::uint8_t* bytes,
                           std::uint32_t length) {
  const std::uint64_t limit = config_.max_patch_bytes;
  round.payload_bytes += length;
  while (length > 0) {
    if (round.patches.empty() || round.patches.back().bytes.size() == limit) {
      // A round that fills one patch is a big one: give the next its full size up front
      // instead of growing it by copies.
      const bool big_round = !round.patches.empty();
      round.patches.emplace_back();
      if (big_round) round.patches.back().bytes.reserve(limit);
    }
    Patch& patch = round.patches.back();
    const auto take =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(length, limit - patch.bytes.size()));
    patch.runs.push_back(Run{offset, take});
    patch.bytes.insert(patch.bytes.end(), bytes, bytes + take);
    offset += take;
    bytes += take;
    length -= take;
  }
}

std::vector<Patch> Engine::Impl::finish_round(LocalRound& round, ScanStats* stats) {
  if (stats != nullptr) {
    stats->pages_checked += round.pages_checked;
    stats->pages_changed += round.pages_changed;
    stats->bytes_changed += round.payload_bytes;
    stats->pages_deferred += round.pages_deferred;
  }
  for (Patch& patch : round.patches) {
    patch.origin = config_.peer_id;
    patch.lamport = round.ts.lamport;
    patch.seq = header_->local_seq + 1;
    engine_detail::store_release(header_->local_seq, patch.seq);
    peers_->note_seq(own_ref_, patch.seq);
  }
  if (diff_listener_) {
    for (const Patch& patch : round.patches) diff_listener_(patch);
  }
  return std::move(round.patches);
}

std::vector<Patch> Engine::Impl::absorb_pages(std::span<const std::uint64_t> pages,
                                              ScanStats* stats, PageCheck check) {
  std::vector<std::uint64_t> sorted(pages.begin(), pages.end());
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  LocalRound round;
  const std::uint64_t count = page_count();
  for (std::uint64_t page : sorted) {
    if (page >= count) break;
    absorb_page(round, page, check);
  }
  return finish_round(round, stats);
}

Engine::Impl::AbsorbedRound Engine::Impl::absorb_before_write(std::span<const std::uint64_t> pages,
                                                              PageCheck check) {
  LocalRound round;
  for (std::uint64_t page : pages) absorb_page(round, page, check);
  const std::uint64_t pages_changed = round.pages_changed;
  return AbsorbedRound{finish_round(round, nullptr), pages_changed};
}

}  // namespace wmd
