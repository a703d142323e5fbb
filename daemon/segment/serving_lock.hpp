// wmd::ServingLock: at most one daemon serves a segment. The lock is flock(LOCK_EX) on the
// segment's private state object "/NAME.state" (created empty, mode 0600, when missing), held
// for the life of this object and released by the kernel when the process ends, however it
// ends: a pid written into the shared control object cannot fake it or leave it stale.
// Take it before opening anything else, so that only the holder creates, rebuilds or grows.
// Thread-safety: an owner-thread value; released by the destructor.
#pragma once

#include <memory>
#include <string>

#include "engine/result.hpp"
#include "shm/core_error.hpp"

namespace wmd {

class ServingLock {
 public:
  // errc::invalid_config when another process holds it (the error's detail names the
  // object), io_error when the object cannot be opened.
  static Result<std::unique_ptr<ServingLock>> acquire(const std::string& segment_name);
  ~ServingLock();  // removes the object again when this call created it and nothing used it
  ServingLock(const ServingLock&) = delete;
  ServingLock& operator=(const ServingLock&) = delete;

 private:
  ServingLock() = default;
  // Constant after acquire().
  core::UniqueFd fd_;
  std::string name_;
  bool created_ = false;
};

}  // namespace wmd
