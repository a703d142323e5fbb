// Remote changes: applying patches and merging page states with the per-byte last-writer-wins
// rule, exporting page states, and growth.
#include <algorithm>
#include <atomic>
#include <cstring>

#include "daemon/engine/engine_impl.hpp"
#include "daemon/engine/page_digest.hpp"

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

// One touched page of a patch: its page-local ranges (payload offsets into patch.bytes).
struct PageWork {
  std::uint64_t page = 0;
  std::vector<PageRange> ranges;
  VersionList new_list;
  std::vector<PageRange> written;
};

}  // namespace

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
  std::atomic_ref<std::uint64_t>(header_->size_bytes)
      .store(new_size_bytes, std::memory_order_release);
  if (growth_listener_) growth_listener_(new_size_bytes);
  return {};
}

Status Engine::Impl::resize(std::uint64_t new_size_bytes) {
  if (new_size_bytes > config_.max_size_bytes) return errc::beyond_max_size;
  const std::uint64_t rounded = (new_size_bytes + page_size_ - 1) / page_size_ * page_size_;
  return grow_to(rounded);
}

Result<ApplyStats> Engine::Impl::apply(const Patch& patch) {
  std::uint64_t end_bytes = 0;
  if (Status s = validate_patch(patch, config_.max_size_bytes, &end_bytes); !s) return s.error();
  auto origin = peers_->intern(patch.origin);
  if (!origin) return origin.error();
  ApplyStats stats;
  const std::uint64_t needed_size = (end_bytes + page_size_ - 1) / page_size_ * page_size_;
  if (needed_size > header_->size_bytes) {
    if (Status s = grow_to(needed_size); !s) return s.error();
    stats.grew = true;
  }

  // Split the runs into page-local ranges.
  std::vector<PageWork> work;
  std::uint64_t payload_pos = 0;
  for (const Run& run : patch.runs) {
    std::uint64_t offset = run.offset;
    std::uint64_t remaining = run.length;
    while (remaining > 0) {
      const std::uint64_t page = offset / page_size_;
      const auto start = static_cast<std::uint32_t>(offset % page_size_);
      const auto length =
          static_cast<std::uint32_t>(std::min<std::uint64_t>(remaining, page_size_ - start));
      if (work.empty() || work.back().page != page) work.push_back(PageWork{page, {}, {}, {}});
      work.back().ranges.push_back(PageRange{start, start + length, payload_pos});
      payload_pos += length;
      offset += length;
      remaining -= length;
    }
  }
  stats.pages_touched = work.size();

  // Absorb first: remote bytes must never overwrite a local write nobody has seen yet.
  {
    std::vector<std::uint64_t> pages;
    pages.reserve(work.size());
    for (const PageWork& w : work) pages.push_back(w.page);
    stats.pages_absorbed = absorb_before_write(pages);
  }

  // Decide every page before touching any, so that pool exhaustion changes nothing.
  const Stamp ts{patch.lamport, *origin};
  std::uint64_t blocks_needed = 0;
  for (PageWork& w : work) {
    load_versions(w.page, old_list_);
    engine_detail::overlay(old_list_, w.ranges, ts, /*only_if_newer=*/true, order(), w.new_list,
                           &w.written);
    if (!w.written.empty()) blocks_needed += VersionPool::blocks_for(w.new_list);
  }
  if (blocks_needed > pool_->available()) return errc::pool_exhausted;

  for (PageWork& w : work) {
    if (w.written.empty()) continue;
    std::uint8_t* memory = memory_page(w.page);
    std::uint8_t* shadow = shadow_page(w.page);
    const std::uint32_t old_head = records_[w.page].version_head;
    begin_update(w.page);
    // Bytes before versions: a kill in between leaves the new bytes under older stamps, which
    // catch-up corrects (the peers hold the newer stamp), rather than new stamps on old bytes.
    for (const PageRange& r : w.written) {
      const std::uint8_t* from = patch.bytes.data() + r.payload_offset;
      std::memcpy(memory + r.start, from, r.end - r.start);
      std::memcpy(shadow + r.start, from, r.end - r.start);
      stats.bytes_written += r.end - r.start;
    }
    publish_head(w.page, pool_->store(w.new_list));
    refresh_record(w.page, w.new_list);
    end_update(w.page);
    pool_->release(old_head);
  }

  note_lamport(patch.lamport);
  peers_->note_seq(*origin, patch.seq);
  if (*origin == own_ref_ && patch.seq > header_->local_seq) {
    // Our own earlier patch came back (state lost and rebuilt): never reissue its seq.
    std::atomic_ref<std::uint64_t>(header_->local_seq).store(patch.seq, std::memory_order_release);
  }
  return stats;
}

Result<MergeStats> Engine::Impl::merge_page(const PageState& state) {
  if (state.page_index >= max_pages_) return errc::beyond_max_size;
  if (state.bytes.size() != page_size_ || state.versions.empty()) return errc::malformed;
  std::uint64_t max_lamport = 0;
  for (std::size_t i = 0; i < state.versions.size(); ++i) {
    const VersionRun& v = state.versions[i];
    if (v.start >= v.end || v.end > page_size_) return errc::malformed;
    if (i == 0 ? v.start != 0
               : (v.start != state.versions[i - 1].end || v.ts == state.versions[i - 1].ts)) {
      return errc::malformed;
    }
    if (v.ts.lamport == 0) {
      if (!v.ts.peer.empty()) return errc::malformed;
    } else {
      if (!is_valid_peer_id(v.ts.peer)) return errc::invalid_peer_id;
      if (v.ts.lamport > kMaxLamport) return errc::malformed;
    }
    max_lamport = std::max(max_lamport, v.ts.lamport);
  }
  if (state.versions.back().end != page_size_) return errc::malformed;

  VersionList remote;
  remote.reserve(state.versions.size());
  for (const VersionRun& v : state.versions) {
    std::uint32_t ref = 0;
    if (v.ts.lamport != 0) {
      auto r = peers_->intern(v.ts.peer);
      if (!r) return r.error();
      ref = *r;
    }
    remote.push_back(VersionEntry{v.start, v.end, Stamp{v.ts.lamport, ref}});
  }

  MergeStats stats;
  const std::uint64_t page = state.page_index;
  if (page >= page_count()) {
    if (Status s = grow_to((page + 1) * page_size_); !s) return s.error();
    stats.grew = true;
  }
  const std::uint64_t pages[] = {page};
  stats.absorbed_local = absorb_before_write(pages) > 0;

  load_versions(page, old_list_);
  written_.clear();
  engine_detail::merge_max(old_list_, remote, order(), new_list_, written_);
  if (!written_.empty()) {
    if (VersionPool::blocks_for(new_list_) > pool_->available()) return errc::pool_exhausted;
    std::uint8_t* memory = memory_page(page);
    std::uint8_t* shadow = shadow_page(page);
    const std::uint32_t old_head = records_[page].version_head;
    begin_update(page);
    for (const PageRange& r : written_) {
      std::memcpy(memory + r.start, state.bytes.data() + r.start, r.end - r.start);
      std::memcpy(shadow + r.start, state.bytes.data() + r.start, r.end - r.start);
      stats.bytes_taken += r.end - r.start;
    }
    publish_head(page, pool_->store(new_list_));
    refresh_record(page, new_list_);
    end_update(page);
    pool_->release(old_head);
  }
  note_lamport(max_lamport);
  return stats;
}

Result<PageState> Engine::Impl::export_page(std::uint64_t page) {
  if (page >= page_count()) return errc::out_of_range;
  const std::uint64_t pages[] = {page};
  absorb_before_write(pages);
  PageState state;
  state.page_index = page;
  const std::uint8_t* shadow = shadow_page(page);
  state.bytes.assign(shadow, shadow + page_size_);
  load_versions(page, old_list_);
  state.versions = to_version_runs(old_list_);
  return state;
}

}  // namespace wmd
