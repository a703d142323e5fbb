#include "daemon/segment/segment.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <limits>

#include <wmd/segment_layout.h>

#include "daemon/segment/bulk_write.hpp"
#include "daemon/segment/error_text.hpp"
#include "daemon/segment/truncation_guard.hpp"
#include "shm/doorbell.hpp"
#include "shm/mapped_segment.hpp"
#include "shm/process_liveness.hpp"
#include "shm/status_block.hpp"
#include "shm/writer_registry.hpp"

namespace wmd {

namespace segment_detail {

Error to_daemon_error(Error error) {
  const std::error_code code = error.code();
  if (code == errc::bad_magic || code == errc::bad_layout_version ||
      code == errc::page_size_mismatch || code == errc::beyond_max_size ||
      code == errc::invalid_config) {
    return error;
  }
  // Objects refused for their owner or mode are a configuration matter; the rest is I/O.
  const errc daemon_code = code == errc::permission ? errc::invalid_config : errc::io_error;
  return Error(daemon_code, error.detail());
}

}  // namespace segment_detail

namespace {

// Copies text into a fixed NUL-terminated field, truncating.
template <std::size_t N>
void copy_text(char (&field)[N], const std::string& text) {
  const std::size_t n = std::min(text.size(), N - 1);
  std::memcpy(field, text.data(), n);
  field[n] = '\0';
}

}  // namespace

class Segment::Impl {
 public:
  explicit Impl(std::unique_ptr<core::MappedSegment> mapped) : mapped_(std::move(mapped)) {}

  // Constant after construction (the mapping object itself changes only through grow()).
  std::unique_ptr<core::MappedSegment> mapped_;
  // Bumped by wake_flush_waiter(); any thread.
  mutable std::atomic<std::uint32_t> wake_epoch_{0};
  // Set by guard_against_truncation(); owner thread.
  bool guarded_ = false;
  // The registered writers' /proc/PID/stat, kept open between writers() calls; owner thread.
  core::ProcessLiveness writer_liveness_;

  wmd_ctl* ctl() const noexcept { return mapped_->ctl(); }
};

Segment::Segment(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Segment::~Segment() = default;

Result<std::unique_ptr<Segment>> Segment::open(const SegmentConfig& config) {
  core::OpenParams params;
  params.name = config.name;
  params.size_bytes = config.size_bytes;
  params.max_size_bytes = config.max_size_bytes;
  params.reserve_bytes = 0;  // exactly the maximum size: no guard region
  params.page_size_bytes = config.page_size_bytes;
  params.mode = config.mode;
  params.create = config.size_bytes > 0;
  params.allow_foreign = config.allow_foreign_writable;
  params.rebuild_damaged_control = config.rebuild_damaged_control;
  std::unique_ptr<core::MappedSegment> mapped;
  if (Error error = core::MappedSegment::open(params, &mapped)) {
    return segment_detail::to_daemon_error(std::move(error));
  }
  return std::unique_ptr<Segment>(new Segment(std::make_unique<Impl>(std::move(mapped))));
}

const std::string& Segment::name() const noexcept {
  return impl_->mapped_->name();
}

std::span<std::uint8_t> Segment::bytes() noexcept {
  return {impl_->mapped_->base(), impl_->mapped_->mapped_size_bytes()};
}

std::uint64_t Segment::mapped_size_bytes() const noexcept {
  return impl_->mapped_->mapped_size_bytes();
}

std::uint64_t Segment::max_size_bytes() const noexcept {
  return impl_->mapped_->max_size_bytes();
}

std::uint32_t Segment::page_size_bytes() const noexcept {
  return impl_->mapped_->page_size_bytes();
}

const std::string& Segment::repair_note() const noexcept {
  return impl_->mapped_->repair_note();
}

void Segment::guard_against_truncation() {
  const core::MappedSegment& mapped = *impl_->mapped_;
  guard_mapping(GuardedObject::control, mapped.ctl(), sizeof(wmd_ctl), mapped.control_fd());
  guard_mapping(GuardedObject::data, mapped.base(), mapped.mapped_size_bytes(), mapped.data_fd());
  impl_->guarded_ = true;
}

void Segment::rewrite_control_header() noexcept {
  impl_->mapped_->rewrite_control_header();
}

DataExtent Segment::data_extent(std::uint64_t offset_bytes, std::uint64_t limit_bytes) const {
  const std::uint64_t page = impl_->mapped_->page_size_bytes();
  const int fd = impl_->mapped_->data_fd();
  const DataExtent one_page{true, offset_bytes + page};
  if (offset_bytes > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max())) return one_page;
  const off_t data = lseek(fd, static_cast<off_t>(offset_bytes), SEEK_DATA);
  if (data < 0) {
    // ENXIO: no data at or after the offset; anything else: we cannot tell.
    if (errno == ENXIO) return {false, std::numeric_limits<std::uint64_t>::max()};
    return one_page;
  }
  const auto data_bytes = static_cast<std::uint64_t>(data);
  if (data_bytes >= offset_bytes + page) {
    return {false, data_bytes / page * page};  // the page holding `data` is not a hole
  }
  if (limit_bytes <= offset_bytes + page) return one_page;
  const off_t hole = lseek(fd, data, SEEK_HOLE);
  if (hole < 0) return one_page;
  // A page holding any data counts as holding memory: round the end up.
  const auto hole_bytes = static_cast<std::uint64_t>(hole);
  return {true, std::max(offset_bytes + page, (hole_bytes + page - 1) / page * page)};
}

Status Segment::write_data(std::span<const StorageWrite> writes) const {
  return write_at(impl_->mapped_->data_fd(), impl_->mapped_->mapped_size_bytes(), writes);
}

std::uint64_t Segment::control_size_bytes() const noexcept {
  return impl_->mapped_->control_size_bytes();
}

Result<std::span<std::uint8_t>> Segment::grow(std::uint64_t new_size_bytes) {
  if (Error error = impl_->mapped_->grow(new_size_bytes)) {
    return segment_detail::to_daemon_error(std::move(error));
  }
  if (impl_->guarded_) {
    const core::MappedSegment& mapped = *impl_->mapped_;
    guard_mapping(GuardedObject::data, mapped.base(), mapped.mapped_size_bytes(), mapped.data_fd());
  }
  return bytes();
}

std::uint64_t Segment::generation() const noexcept {
  return impl_->mapped_->generation();
}

std::uint32_t Segment::flush_requested() const noexcept {
  return core::doorbell_load(&impl_->ctl()->flush_request);
}

void Segment::wait_flush_request(std::uint32_t seen, std::chrono::milliseconds timeout) const {
  std::uint32_t* word = &impl_->ctl()->flush_request;
  const std::uint32_t epoch = impl_->wake_epoch_.load(std::memory_order_acquire);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (core::doorbell_load(word) != seen) return;
    if (impl_->wake_epoch_.load(std::memory_order_acquire) != epoch) return;
    const auto remaining = deadline - std::chrono::steady_clock::now();
    if (remaining <= std::chrono::steady_clock::duration::zero()) return;
    core::futex_wait(word, seen, remaining);
  }
}

void Segment::wake_flush_waiter() const {
  impl_->wake_epoch_.fetch_add(1, std::memory_order_acq_rel);
  core::futex_wake_all(&impl_->ctl()->flush_request);
}

void Segment::flush_completed(std::uint32_t ticket, bool changes_pending) const {
  if (changes_pending) {
    std::atomic_ref<std::uint32_t>(impl_->ctl()->flush_pending)
        .store(ticket, std::memory_order_release);
  }
  std::atomic_ref<std::uint32_t> done(impl_->ctl()->flush_done);
  std::uint32_t current = done.load(std::memory_order_acquire);
  // Never move backwards (serial-number order), so a late completion cannot undo a newer one.
  while (!core::reached(current, ticket) &&
         !done.compare_exchange_weak(current, ticket, std::memory_order_acq_rel)) {
  }
  core::futex_wake_all(&impl_->ctl()->flush_done);
}

void Segment::notify_remote_applied() const {
  core::doorbell_ring(&impl_->ctl()->remote_applied);
}

void Segment::set_daemon_pid(std::int32_t pid) {
  wmd_ctl* ctl = impl_->ctl();
  const std::uint64_t start = pid > 0 ? core::process_start_time_ticks(pid) : 0;
  core::shared(ctl->daemon_pid).store(0, std::memory_order_release);
  core::shared(ctl->daemon_start_time_ticks).store(start, std::memory_order_release);
  core::shared(ctl->daemon_pid).store(pid, std::memory_order_release);
}

std::int32_t Segment::serving_daemon_pid() const noexcept {
  wmd_ctl* ctl = impl_->ctl();
  const std::int32_t pid = core::shared(ctl->daemon_pid).load(std::memory_order_acquire);
  if (pid <= 0) return 0;
  const std::uint64_t start =
      core::shared(ctl->daemon_start_time_ticks).load(std::memory_order_acquire);
  return core::process_alive(pid, start) ? pid : 0;
}

void Segment::publish_status(const SegmentStatus& status) {
  wmd_ctl_status block{};
  block.lamport = status.lamport;
  block.pending_pages = status.pending_pages;
  block.local_seq = status.local_seq;
  block.last_sync_unix_ms = status.last_sync_unix_ms;
  block.errors = status.errors;
  copy_text(block.tracking_mode, status.tracking_mode);
  copy_text(block.last_error, status.last_error);
  const std::size_t peers = std::min<std::size_t>(status.peers.size(), WMD_MAX_PEERS);
  block.peer_count = static_cast<std::uint32_t>(peers);
  for (std::size_t i = 0; i < peers; ++i) {
    const SegmentPeerStatus& from = status.peers[i];
    wmd_ctl_peer& to = block.peers[i];
    copy_text(to.peer_id, from.peer_id);
    to.connected = from.connected ? 1 : 0;
    to.rtt_us = from.rtt_us;
    to.queue_bytes = from.queue_bytes;
    to.last_catchup_unix_ms = from.last_catchup_unix_ms;
    to.patches_sent = from.patches_sent;
    to.patches_received = from.patches_received;
  }
  core::write_status(&impl_->ctl()->status, block);
  wmd_ctl_counters& counters = impl_->ctl()->counters;
  const auto store = [](std::uint64_t& word, std::uint64_t value) {
    core::shared(word).store(value, std::memory_order_relaxed);
  };
  store(counters.scans, status.counters.scans);
  store(counters.pages_changed, status.counters.pages_changed);
  store(counters.bytes_changed, status.counters.bytes_changed);
  store(counters.patches_applied, status.counters.patches_applied);
  store(counters.catchups, status.counters.catchups);
  store(counters.connection_errors, status.counters.connection_errors);
}

std::vector<WriterRecord> Segment::writers() const {
  const std::vector<core::WriterSlot> slots = core::list_writers(impl_->ctl());
  std::vector<core::ProcessLiveness::Process> processes;
  processes.reserve(slots.size());
  for (const core::WriterSlot& slot : slots) {
    processes.push_back({slot.record.pid, slot.record.start_time_ticks});
  }
  const std::vector<bool> alive = impl_->writer_liveness_.alive(processes);
  std::vector<WriterRecord> result;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    // A dead writer's pages are found by the hash scan; its slot is reclaimed by the next
    // registration.
    if (!alive[i]) continue;
    const core::WriterSlot& slot = slots[i];
    WriterRecord record;
    record.slot = static_cast<std::uint32_t>(slot.slot);
    record.pid = slot.record.pid;
    record.start_time_ticks = slot.record.start_time_ticks;
    record.address = slot.record.address;
    record.length_bytes = slot.record.length_bytes;
    record.kernel_tracking = (slot.record.flags & WMD_WRITER_KERNEL_TRACKING) != 0;
    result.push_back(record);
  }
  return result;
}

}  // namespace wmd
