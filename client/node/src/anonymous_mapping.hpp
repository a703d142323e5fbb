// wmd::node::AnonymousMapping: private, zero-filled memory reserved with mmap(MAP_NORESERVE),
// so that a large reservation (the engine's state is sized for the maximum memory size) costs
// only the pages that are touched. Unmapped on destruction.
//
// Thread-safety: a plain owner object; not shared.
#pragma once

#include <cstdint>
#include <span>

namespace wmd::node {

class AnonymousMapping {
 public:
  AnonymousMapping() = default;
  // Throws std::system_error when mmap fails.
  explicit AnonymousMapping(std::uint64_t size_bytes);
  ~AnonymousMapping();
  AnonymousMapping(AnonymousMapping&& other) noexcept;
  AnonymousMapping& operator=(AnonymousMapping&& other) noexcept;
  AnonymousMapping(const AnonymousMapping&) = delete;
  AnonymousMapping& operator=(const AnonymousMapping&) = delete;

  std::span<std::uint8_t> bytes() const noexcept { return {data_, size_bytes_}; }

 private:
  std::uint8_t* data_ = nullptr;
  std::uint64_t size_bytes_ = 0;
};

}  // namespace wmd::node
