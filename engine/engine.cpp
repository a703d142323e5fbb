#include "engine/engine.hpp"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstring>
#include <iterator>

#include "engine/atomic_access.hpp"
#include "engine/engine_impl.hpp"
#include "engine/hlc.hpp"
#include "engine/page_digest.hpp"
#include "engine/stamped_pages.hpp"

namespace wmd {

using engine_detail::kBlockInUse;
using engine_detail::PageRecord;
using engine_detail::PeerSlot;
using engine_detail::StateHeader;
using engine_detail::StateLayout;
using engine_detail::VersionBlock;
using engine_detail::VersionList;

namespace {

std::uint64_t max_pages_of(const EngineConfig& config) {
  return (config.max_size_bytes + config.page_size_bytes - 1) / config.page_size_bytes;
}

std::uint64_t pool_blocks_of(const EngineConfig& config) {
  if (config.version_pool_blocks != 0) return config.version_pool_blocks;
  return std::max<std::uint64_t>(1024, max_pages_of(config) * config.page_size_bytes / 512);
}

std::uint32_t run_limit_of(const EngineConfig& config) {
  return config.max_runs_per_page != 0 ? config.max_runs_per_page : config.page_size_bytes;
}

// EngineConfig::max_runs_per_peer, or automatic: a quarter of the pool's entries.
std::uint64_t peer_run_share_of(const EngineConfig& config) {
  if (config.max_runs_per_peer != 0) return config.max_runs_per_peer;
  return pool_blocks_of(config) * engine_detail::kEntriesPerBlock / 4;
}

}  // namespace

Status validate(const EngineConfig& config) {
  const std::uint32_t ps = config.page_size_bytes;
  if (ps < kMinPageSize || ps > kMaxPageSize || !std::has_single_bit(ps)) {
    return errc::invalid_page_size;
  }
  if (!is_valid_peer_id(config.peer_id)) return errc::invalid_peer_id;
  if (config.max_size_bytes == 0 || config.max_size_bytes > (std::uint64_t{1} << 48)) {
    return errc::invalid_config;
  }
  if (config.max_runs_per_page == 1) return errc::invalid_config;
  if (config.max_patch_bytes == 0 || config.max_peers == 0 || config.max_peers > (1u << 20)) {
    return errc::invalid_config;
  }
  if (pool_blocks_of(config) >= std::uint64_t{0xffffffffu}) return errc::invalid_config;
  for (const std::string& member : config.members) {
    if (!is_valid_peer_id(member)) return errc::invalid_peer_id;
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Impl: creation and recovery

Result<std::unique_ptr<Engine::Impl>> Engine::Impl::create(const EngineConfig& config,
                                                           std::span<std::uint8_t> memory,
                                                           std::span<std::uint8_t> state,
                                                           GrowFn grow) {
  if (Status s = validate(config); !s) return s.error();
  auto impl = std::make_unique<Impl>();
  impl->config_ = config;
  if (!config.members.empty()) {
    impl->members_.insert(config.members.begin(), config.members.end());
    impl->members_.insert(config.peer_id);
  }
  impl->page_size_ = config.page_size_bytes;
  impl->max_pages_ = max_pages_of(config);
  impl->config_.max_size_bytes = impl->max_pages_ * impl->page_size_;
  const auto pool_blocks = static_cast<std::uint32_t>(pool_blocks_of(config));
  const StateLayout layout =
      StateLayout::compute(impl->max_pages_, impl->page_size_, config.max_peers, pool_blocks);
  if (state.size() < layout.total_bytes) return errc::state_too_small;
  if (reinterpret_cast<std::uintptr_t>(state.data()) % alignof(VersionBlock) != 0) {
    return errc::invalid_config;
  }
  std::uint8_t* base = state.data();
  impl->header_ = reinterpret_cast<StateHeader*>(base);
  impl->records_ = reinterpret_cast<PageRecord*>(base + layout.records_offset);
  impl->shadow_ = base + layout.shadow_offset;
  impl->memory_ = memory;
  impl->grow_ = std::move(grow);
  StateHeader& h = *impl->header_;

  // Constants of the never-written page, so that zero records mean exactly that page.
  {
    std::vector<std::uint8_t> zeros(impl->page_size_, 0);
    impl->zero_hash_ = engine_detail::hash_bytes(zeros.data(), zeros.size());
    const std::uint64_t empty_peer_hash = engine_detail::hash_peer_id("");
    impl->zero_digest_ = engine_detail::page_digest(
        impl->zero_hash_, engine_detail::zero_version_list(impl->page_size_),
        std::span<const std::uint64_t>(&empty_peer_hash, 1));
  }

  if (h.magic == 0) {
    const std::uint64_t size = memory.size() / impl->page_size_ * impl->page_size_;
    if (size > impl->config_.max_size_bytes) return errc::beyond_max_size;
    std::memset(&h, 0, sizeof h);
    h.layout_version = engine_detail::kLayoutVersion;
    h.page_size_bytes = impl->page_size_;
    h.max_size_bytes = impl->config_.max_size_bytes;
    h.size_bytes = size;
    h.max_peers = config.max_peers;
    h.pool_blocks = pool_blocks;
    h.pool_high_water = 1;
    h.own_id_length = static_cast<std::uint32_t>(config.peer_id.size());
    std::memcpy(h.own_id, config.peer_id.data(), config.peer_id.size());
    impl->peers_.emplace(impl->header_, reinterpret_cast<PeerSlot*>(base + layout.peers_offset));
    if (auto ref = impl->peers_->intern(config.peer_id); !ref) return ref.error();
    // The magic goes last: a kill during formatting leaves storage that formats again.
    engine_detail::store_release(h.magic, engine_detail::kStateMagic);
  } else {
    if (h.magic != engine_detail::kStateMagic) return errc::bad_magic;
    if (h.layout_version != engine_detail::kLayoutVersion) return errc::bad_layout_version;
    if (h.page_size_bytes != impl->page_size_) return errc::page_size_mismatch;
    if (h.max_size_bytes != impl->config_.max_size_bytes || h.max_peers != config.max_peers ||
        h.pool_blocks != pool_blocks ||
        std::string_view(h.own_id, std::min<std::size_t>(h.own_id_length, sizeof h.own_id)) !=
            config.peer_id) {
      return errc::invalid_config;
    }
    if (h.size_bytes % impl->page_size_ != 0 || h.size_bytes > h.max_size_bytes ||
        h.pool_high_water > pool_blocks + 1 || h.lamport > kMaxLamport) {
      return errc::state_corrupt;
    }
    impl->peers_.emplace(impl->header_, reinterpret_cast<PeerSlot*>(base + layout.peers_offset));
    if (!impl->peers_->load() || impl->peers_->ref_count() < 2 ||
        impl->peers_->names()[1] != config.peer_id) {
      return errc::state_corrupt;
    }
    if (impl->memory_.size() < h.size_bytes) {
      if (!impl->grow_) return errc::state_too_small;
      auto grown = impl->grow_(h.size_bytes);
      if (!grown) return grown.error();
      if (grown->size() < h.size_bytes) return errc::state_too_small;
      impl->memory_ = *grown;
    }
    impl->recovery_.resumed = true;
    impl->recovery_.clean_shutdown = h.clean_shutdown == 1;
  }
  impl->pool_.emplace(reinterpret_cast<VersionBlock*>(base + layout.pool_offset), pool_blocks,
                      &h.pool_high_water);
  impl->pool_offset_bytes_ = layout.pool_offset;
  impl->runs_per_ref_.assign(std::uint64_t{config.max_peers} + 1, 0);
  impl->run_limit_ = run_limit_of(config);
  impl->peer_run_share_ = peer_run_share_of(config);
  if (impl->recovery_.resumed) impl->recover();
  h.clean_shutdown = 0;
  return impl;
}

void Engine::Impl::recover() {
  std::vector<bool> in_use(std::uint64_t{pool_->capacity()} + 1, false);
  VersionList list;
  for (std::uint64_t page = 0; page < page_count(); ++page) {
    PageRecord& record = records_[page];
    const bool torn = (record.update_counter & 1u) != 0;
    const bool readable =
        pool_->load(record.version_head, page_size_, peers_->ref_count(), list) &&
        std::none_of(list.begin(), list.end(),
                     [&](const auto& e) { return peers_->is_free(e.ts.peer_ref); }) &&
        pool_->mark_chain(record.version_head, in_use);
    if (readable) count_runs(list, /*add=*/true);
    if (!readable) {
      // The list cannot be trusted: forget the page (never-written state with a zero shadow).
      // Its bytes in memory then differ from the shadow, so the next scan re-absorbs them as
      // a local write, and catch-up brings back whatever the peers hold that is newer.
      begin_update(page);
      publish_head(page, 0);
      std::memset(shadow_page(page), 0, page_size_);
      refresh_record(page, engine_detail::zero_version_list(page_size_));
      end_update(page);
      ++recovery_.corrupt_pages;
    } else if (torn) {
      refresh_record(page, list);
      engine_detail::store_release(record.update_counter, record.update_counter + 1);
      ++recovery_.torn_pages;
    }
  }
  recovery_.leaked_blocks = pool_->rebuild_free_list(in_use);
  // Ids that own no byte (their last run went just before a kill, or they were interned and
  // the kill came before their bytes were stored) give their slots back.
  for (std::uint32_t ref = 2; ref < peers_->ref_count(); ++ref) {
    if (runs_per_ref_[ref] == 0) unowned_refs_.push_back(ref);
  }
  release_unowned_peers();
}

Engine::Impl::~Impl() {
  if (header_ != nullptr) header_->clean_shutdown = 1;
}

// ---------------------------------------------------------------------------------------------
// Impl: page record helpers

void Engine::Impl::load_versions(std::uint64_t page, VersionList& out) const {
  const bool ok = pool_->load(records_[page].version_head, page_size_, peers_->ref_count(), out);
  if (!ok) out = engine_detail::zero_version_list(page_size_);  // unreachable after recover()
}

// Crash safety here is against the process dying (SIGKILL), not the machine: every store the
// process executed reaches the shared mapping even if it dies right after, so program order is
// all that matters and compiler barriers suffice (no CPU fences in the hot path).
void Engine::Impl::begin_update(std::uint64_t page) {
  std::uint32_t& counter = records_[page].update_counter;
  engine_detail::store_relaxed(counter, engine_detail::load_relaxed(counter) | 1u);
  std::atomic_signal_fence(std::memory_order_seq_cst);
}

void Engine::Impl::end_update(std::uint64_t page) {
  std::atomic_signal_fence(std::memory_order_seq_cst);
  std::uint32_t& counter = records_[page].update_counter;
  engine_detail::store_relaxed(counter, engine_detail::load_relaxed(counter) + 1);
}

void Engine::Impl::publish_head(std::uint64_t page, std::uint32_t head) {
  engine_detail::store_release(records_[page].version_head, head);
}

std::uint32_t Engine::Impl::publish_versions(std::uint64_t page, const VersionList& list) {
  const std::uint32_t old_head = records_[page].version_head;
  load_versions(page, replaced_list_);
  count_runs(list, /*add=*/true);  // before the old list's: a kept id never reaches zero
  count_runs(replaced_list_, /*add=*/false);
  publish_head(page, pool_->store(list));
  return old_head;
}

void Engine::Impl::count_runs(const VersionList& list, bool add) {
  for (const auto& e : list) {
    if (e.ts.peer_ref == 0) continue;
    std::uint64_t& count = runs_per_ref_[e.ts.peer_ref];
    if (add) {
      ++count;
    } else if (--count == 0) {
      unowned_refs_.push_back(e.ts.peer_ref);
    }
  }
}

void Engine::Impl::release_unowned_peers() {
  for (std::uint32_t ref : unowned_refs_) {
    if (ref < 2 || runs_per_ref_[ref] != 0 || peers_->is_free(ref)) continue;
    peers_->release(ref);
  }
  unowned_refs_.clear();
}

void Engine::Impl::refresh_record(std::uint64_t page, const VersionList& versions) {
  set_record(page, engine_detail::hash_bytes(shadow_page(page), page_size_), versions);
}

void Engine::Impl::set_record(std::uint64_t page, std::uint64_t hash, const VersionList& versions) {
  const std::uint64_t digest = engine_detail::page_digest(hash, versions, peers_->hashes());
  records_[page].hash_x = hash ^ zero_hash_;
  records_[page].digest_x = digest ^ zero_digest_;
}

std::vector<VersionRun> Engine::Impl::to_version_runs(const VersionList& list) const {
  std::vector<VersionRun> runs;
  runs.reserve(list.size());
  for (const auto& e : list) {
    runs.push_back(
        VersionRun{e.start, e.end, Timestamp{e.ts.lamport, peers_->names()[e.ts.peer_ref]}});
  }
  return runs;
}

void Engine::Impl::note_lamport(std::uint64_t lamport) {
  if (lamport > header_->lamport) {
    engine_detail::store_release(header_->lamport, lamport);
  }
}

Status Engine::Impl::check_remote_timestamp(std::uint64_t hlc, std::uint64_t now_ms) const {
  if (!config_.wall_clock_ms) return {};  // no clock, no bound (see EngineConfig)
  const std::uint64_t ahead_ms = hlc_ahead_ms(hlc, now_ms);
  if (ahead_ms > config_.max_clock_offset_ms) return errc::clock_skew;
  if (ahead_ms > 0 && hlc_logical(hlc) > kHlcMaxAheadLogical) return errc::clock_skew;
  return {};
}

std::optional<std::uint64_t> Engine::Impl::next_local_stamp() const {
  if (header_->lamport >= kMaxLamport) return std::nullopt;  // only a corrupt state gets here
  if (!config_.wall_clock_ms) return header_->lamport + 1;   // a plain Lamport counter
  return next_hlc(header_->lamport, wall_now());
}

// ---------------------------------------------------------------------------------------------
// Engine: public surface

Result<std::uint64_t> Engine::state_bytes_required(const EngineConfig& config) {
  if (Status s = validate(config); !s) return s.error();
  return StateLayout::compute(max_pages_of(config), config.page_size_bytes, config.max_peers,
                              static_cast<std::uint32_t>(pool_blocks_of(config)))
      .total_bytes;
}

Result<std::unique_ptr<Engine>> Engine::create(const EngineConfig& config,
                                               std::span<std::uint8_t> memory,
                                               std::span<std::uint8_t> state, GrowFn grow) {
  auto impl = Impl::create(config, memory, state, std::move(grow));
  if (!impl) return impl.error();
  return std::unique_ptr<Engine>(new Engine(std::move(impl).value()));
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

void Engine::on_diff(std::function<void(const Patch&)> listener) {
  impl_->diff_listener_ = std::move(listener);
}
void Engine::on_growth(std::function<void(std::uint64_t)> listener) {
  impl_->growth_listener_ = std::move(listener);
}
void Engine::set_backing_probe(BackingProbe probe) {
  impl_->backing_probe_ = std::move(probe);
}
void Engine::set_bulk_page_writer(BulkPageWriter writer) {
  impl_->bulk_writer_ = std::move(writer);
}
void Engine::set_page_reader(PageReader reader) {
  impl_->page_reader_ = std::move(reader);
}

std::vector<Patch> Engine::scan(ScanStats* stats) {
  const auto changed = impl_->find_changed_pages(0, impl_->page_count());
  auto patches = impl_->absorb_pages(changed, stats, PageCheck::known_changed);
  if (stats != nullptr) stats->pages_checked = impl_->page_count();
  impl_->release_unowned_peers();
  return patches;
}

std::vector<std::uint64_t> Engine::find_changed_pages(std::uint64_t first_page,
                                                      std::uint64_t end_page) const {
  return impl_->find_changed_pages(first_page, end_page);
}

std::vector<Patch> Engine::absorb_pages(std::span<const std::uint64_t> pages, ScanStats* stats,
                                        PageCheck check) {
  auto patches = impl_->absorb_pages(pages, stats, check);
  impl_->release_unowned_peers();
  return patches;
}

Result<ApplyStats> Engine::apply(const Patch& patch) {
  auto stats = impl_->apply(patch);
  impl_->release_unowned_peers();
  return stats;
}

Result<ApplyStats> Engine::apply_patches(std::span<const Patch> patches) {
  ApplyStats total;
  for (const Patch& patch : patches) {
    auto r = apply(patch);
    if (!r) return r.error();
    total.bytes_written += r->bytes_written;
    total.pages_touched += r->pages_touched;
    total.pages_absorbed += r->pages_absorbed;
    total.grew = total.grew || r->grew;
    std::move(r->local_patches.begin(), r->local_patches.end(),
              std::back_inserter(total.local_patches));
  }
  return total;
}

VectorClock Engine::vector_clock() const {
  return impl_->peers_->vector_clock();
}

Status Engine::resize(std::uint64_t new_size_bytes) {
  return impl_->resize(new_size_bytes);
}

std::uint64_t Engine::zero_page_digest() const noexcept {
  return impl_->zero_digest_;
}

std::uint64_t Engine::page_digest(std::uint64_t page) const {
  return impl_->records_[page].digest_x ^ impl_->zero_digest_;
}

std::vector<PageDigest> Engine::nonzero_digests() const {
  std::vector<PageDigest> out;
  const std::uint64_t count = impl_->page_count();
  for (std::uint64_t page = 0; page < count; ++page) {
    const std::uint64_t x = impl_->records_[page].digest_x;
    if (x != 0) out.push_back(PageDigest{page, x ^ impl_->zero_digest_});
  }
  return out;
}

Result<PageState> Engine::export_page(std::uint64_t page) {
  auto exported = impl_->export_page(page);
  impl_->release_unowned_peers();
  if (!exported) return exported.error();
  return std::move(exported->state);
}

Result<ExportedPage> Engine::export_page_and_patches(std::uint64_t page) {
  auto exported = impl_->export_page(page);
  impl_->release_unowned_peers();
  return exported;
}

Result<PageState> Engine::replicated_page_state(std::uint64_t page) {
  const std::uint64_t pages[] = {page};
  return std::move(impl_->replicated_page_states(pages).front());
}

std::vector<Result<PageState>> Engine::replicated_page_states(
    std::span<const std::uint64_t> pages) {
  return impl_->replicated_page_states(pages);
}

StampedPageStates Engine::replicated_stamped_states(std::span<const std::uint64_t> pages) {
  return impl_->replicated_stamped_states(pages);
}

Result<MergeStats> Engine::merge_page(const PageState& state) {
  return merge_pages(std::span<const PageState>(&state, 1));
}

Result<MergeStats> Engine::merge_pages(std::span<const PageState> states) {
  return merge_pages(to_stamped(states));
}

Result<MergeStats> Engine::merge_pages(const StampedPageStates& batch) {
  auto stats = impl_->merge_pages(batch);
  impl_->release_unowned_peers();
  return stats;
}

const std::string& Engine::peer_id() const noexcept {
  return impl_->config_.peer_id;
}
std::uint32_t Engine::page_size() const noexcept {
  return impl_->page_size_;
}
std::uint64_t Engine::size_bytes() const noexcept {
  return impl_->header_->size_bytes;
}
std::uint64_t Engine::max_size_bytes() const noexcept {
  return impl_->config_.max_size_bytes;
}
std::uint64_t Engine::page_count() const noexcept {
  return impl_->page_count();
}
std::uint64_t Engine::lamport() const noexcept {
  return impl_->header_->lamport;
}
std::uint64_t Engine::wall_clock_ms() const {
  return impl_->wall_now();
}
Status Engine::check_remote_timestamp(std::uint64_t hlc) const {
  return impl_->check_remote_timestamp(hlc, impl_->wall_now());
}
std::uint64_t Engine::local_seq() const noexcept {
  return impl_->header_->local_seq;
}
bool Engine::knows_peer(const std::string& id) const {
  return impl_->peers_->find(id).has_value();
}
const RecoveryStats& Engine::recovery_stats() const noexcept {
  return impl_->recovery_;
}

std::vector<VersionRun> Engine::page_versions(std::uint64_t page) const {
  VersionList list;
  impl_->load_versions(page, list);
  return impl_->to_version_runs(list);
}

}  // namespace wmd
