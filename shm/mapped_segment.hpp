// wmd::core::MappedSegment: one process's mapping of a segment (data object /NAME and control
// object /NAME.ctl, see <wmd/segment_layout.h>), shared by libwmd and the daemon so that
// creation, validation and growth are written once.
//
// An address range of reserve_bytes is reserved once (PROT_NONE, no swap reserved) and the
// data object is mapped MAP_SHARED|MAP_FIXED over its start, so base() never moves: growth maps
// the new extent right after the old one, and whatever lies past the mapped size faults.
//
// Thread-safety: grow() and refresh() change the mapping and are for one thread at a time (the
// owner's). ctl() points at memory shared with other processes: access it atomically
// (see shared()).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <wmd/segment_layout.h>

#include "shm/core_error.hpp"

namespace wmd::core {

// Atomic access to a field of the shared control object.
template <typename T>
std::atomic_ref<T> shared(T& field) noexcept {
  return std::atomic_ref<T>(field);
}

struct OpenParams {
  std::string name;                  // "/wasm0"
  std::uint64_t size_bytes = 0;      // at least this size (rounded up to the page size)
  std::uint64_t max_size_bytes = 0;  // 0: the segment's own maximum (attach only)
  // Address range to reserve. 0: max(max size, guard_floor_bytes) + guard_bytes; otherwise
  // at least the max size.
  std::uint64_t reserve_bytes = 0;
  std::uint64_t guard_floor_bytes = 0;
  std::uint64_t guard_bytes = 0;
  std::uint32_t page_size_bytes = 0;  // 0: the segment's own page size (attach only)
  // Used instead of a 0 page size or maximum when this call creates the segment.
  std::uint32_t default_page_size_bytes = 0;
  std::uint64_t default_max_size_bytes = 0;
  std::uint32_t mode = 0600;     // for objects this call creates
  bool create = false;           // create the objects when missing
  bool allow_foreign = false;    // accept objects of other users or writable by others
  int attach_timeout_ms = 2000;  // how long to wait for a creator to finish initialising
  // The caller is the one daemon serving the segment (it holds the serving lock): an existing
  // control object that is shorter than its layout, was never initialised, or holds a wrong
  // magic or impossible sizes is rebuilt (page and maximum size from these parameters, the size
  // from the data object) instead of refused. A control object of another layout version is
  // still refused. repair_note() says what was rebuilt.
  bool rebuild_damaged_control = false;
};

class MappedSegment {
 public:
  // Creates (params.create) or attaches; grows the data object to params.size_bytes when
  // smaller. On error nothing that existed before was modified, and objects this call created
  // are removed again.
  static Error open(const OpenParams& params, std::unique_ptr<MappedSegment>* out);

  ~MappedSegment();  // unmaps the whole reservation and closes; never unlinks
  MappedSegment(const MappedSegment&) = delete;
  MappedSegment& operator=(const MappedSegment&) = delete;

  const std::string& name() const noexcept { return name_; }
  std::uint8_t* base() const noexcept { return base_; }
  std::uint64_t mapped_size_bytes() const noexcept { return mapped_bytes_; }
  std::uint64_t max_size_bytes() const noexcept { return max_size_bytes_; }
  std::uint64_t reserve_bytes() const noexcept { return reserve_bytes_; }
  std::uint32_t page_size_bytes() const noexcept { return page_size_bytes_; }
  bool created() const noexcept { return created_; }
  wmd_ctl* ctl() const noexcept { return ctl_; }
  int data_fd() const noexcept { return data_fd_.get(); }
  int control_fd() const noexcept { return ctl_fd_.get(); }
  // Why open() rebuilt the control object ("" when it did not).
  const std::string& repair_note() const noexcept { return repair_note_; }

  std::uint64_t control_size_bytes() const noexcept;
  std::uint64_t generation() const noexcept;

  // Grows the data object (never shrinking it) and this mapping to at least new_size_bytes
  // (rounded up to the page size), raises the control size and bumps the generation when the
  // control size changed. Idempotent.
  Error grow(std::uint64_t new_size_bytes);
  // Maps whatever another process added: up to the control size.
  Error refresh();
  // Rewrites the control object's header (magic, layout, page size, size, maximum) from this
  // mapping, after another process zeroed or truncated it. REQUIRES: the object is at least
  // sizeof(wmd_ctl) again; the caller serves the segment.
  void rewrite_control_header() noexcept;

 private:
  MappedSegment() = default;
  // open()'s steps. map_control: sizes a created control object, or waits for an attached
  // one's header (rebuilding a damaged one when params allow it: *rebuilt), and maps it
  // (REQUIRES: ctl_fd_ open).
  Error map_control(bool created, const OpenParams& params, bool* rebuilt);
  Error reserve_address_range(const OpenParams& params, long system_page);  // REQUIRES: max set
  // Under the data lock: ensure_data_size(size_bytes), then (the creator) the control object's
  // geometry, magic last.
  Error size_data_object(std::uint64_t size_bytes, bool publish_geometry);
  Error map_to(std::uint64_t size_bytes);
  Error ensure_data_size(std::uint64_t size_bytes);  // REQUIRES: data lock held

  // Constant after open().
  std::string name_;
  std::uint32_t page_size_bytes_ = 0;
  std::uint64_t max_size_bytes_ = 0;
  std::uint64_t reserve_bytes_ = 0;
  std::uint8_t* base_ = nullptr;
  wmd_ctl* ctl_ = nullptr;
  UniqueFd data_fd_;
  UniqueFd ctl_fd_;
  bool created_ = false;
  std::string repair_note_;
  // Changed by grow()/refresh() only.
  std::uint64_t mapped_bytes_ = 0;
};

}  // namespace wmd::core
