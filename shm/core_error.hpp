// wmd::core::Error: how the code shared by libwmd and wmdd (client/src/*) reports failures,
// with no exceptions so that libwmd can return codes through its C ABI and the daemon can map
// them to wmd::errc. Also UniqueFd, the owner of a file descriptor.
// Thread-safety: value types; sys_error() is reentrant.
#pragma once

#include <string>
#include <utility>

namespace wmd::core {

enum class Code {
  ok = 0,
  invalid_argument,    // a bad name, size, page size or option
  not_found,           // the segment does not exist and creation was not asked for
  bad_magic,           // the control object is not ours (or was never initialised)
  bad_layout_version,  // the control object is from an incompatible libwmd
  page_size_mismatch,  // the segment has another page size than asked for
  beyond_max_size,     // a size past the maximum
  permission,          // owned by another user or writable by others, and not allowed
  io,                  // a system call failed; sys_errno says why
  timed_out,
  busy,       // a consistent copy could not be taken in bounded time
  no_daemon,  // no live daemon serves the segment
  no_slot,    // every writer registry slot is taken by a live process
};

struct Error {
  Code code = Code::ok;
  int sys_errno = 0;
  std::string text;  // names the call and the path when a system call failed

  explicit operator bool() const noexcept { return code != Code::ok; }
};

inline Error make_error(Code code, std::string text) {
  return Error{code, 0, std::move(text)};
}

// The one place errno becomes an Error: "ftruncate(/dev/shm/wasm0): No space left on device".
// ENOENT becomes not_found, EACCES/EPERM permission, everything else io.
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
