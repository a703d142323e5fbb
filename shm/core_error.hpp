// sys_error: the one place errno becomes a wmd::Error and its text, for shm/ and every layer
// above it (no exceptions, so that libwmd can return codes through its C ABI). Also UniqueFd,
// the owner of a file descriptor.
// Thread-safety: value types; sys_error() is reentrant.
#pragma once

#include <string>
#include <utility>

#include "engine/errors.hpp"

namespace wmd::core {

// The one place errno becomes an Error: "ftruncate(/dev/shm/wasm0): No space left on device"
// ("call: message" when path is empty).
// ENOENT becomes not_found, EACCES/EPERM permission, ENOMEM out_of_memory, the rest io_error.
Error sys_error(const char* call, const std::string& path, int err);

// "/wasm0" -> "/dev/shm/wasm0", for messages.
std::string shm_path(const std::string& name);

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

}  // namespace wmd::core
