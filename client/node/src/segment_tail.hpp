// wmd::node::SegmentTail: whether a segment holds data beyond the end of a module's memory.
// The mirror grows a module's memory only for that: a segment made larger than the module
// (`wmdd --size 64M` for a 16 MiB module) whose tail is zero leaves the memory alone, because
// growing it behind the module's runtime (emscripten caches views of its heap) breaks it.
// Never-written parts of /dev/shm/NAME are holes, found with SEEK_DATA without reading them;
// only the parts that hold pages are read.
//
// Thread-safety: not thread-safe; one owner. all_zero is pure and reentrant.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace wmd::node {

// True when every byte is zero (an empty span included).
bool all_zero(std::span<const std::uint8_t> bytes) noexcept;

class SegmentTail {
 public:
  // Opens the data object of segment `name` ("/wasm0") read-only, for its holes. When that
  // fails, holds_data reads the whole tail instead (correct, slower).
  explicit SegmentTail(const std::string& name);
  ~SegmentTail();
  SegmentTail(const SegmentTail&) = delete;
  SegmentTail& operator=(const SegmentTail&) = delete;

  // True when segment[from, segment.size()) holds a non-zero byte. REQUIRES: segment is the
  // mapping of the segment named at construction.
  bool holds_data(std::span<const std::uint8_t> segment, std::uint64_t from) const;

 private:
  int fd_ = -1;
};

}  // namespace wmd::node
