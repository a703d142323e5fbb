#include "client/node/src/anonymous_mapping.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <system_error>
#include <utility>

namespace wmd::node {

AnonymousMapping::AnonymousMapping(std::uint64_t size_bytes) : size_bytes_(size_bytes) {
  if (size_bytes == 0) return;
  void* data = ::mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED)
    throw std::system_error(errno, std::generic_category(), "mmap(engine state)");
  data_ = static_cast<std::uint8_t*>(data);
}

AnonymousMapping::~AnonymousMapping() {
  if (data_ != nullptr) ::munmap(data_, size_bytes_);
}

AnonymousMapping::AnonymousMapping(AnonymousMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_bytes_(std::exchange(other.size_bytes_, 0)) {}

AnonymousMapping& AnonymousMapping::operator=(AnonymousMapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_bytes_);
    data_ = std::exchange(other.data_, nullptr);
    size_bytes_ = std::exchange(other.size_bytes_, 0);
  }
  return *this;
}

}  // namespace wmd::node
