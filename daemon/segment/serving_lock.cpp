#include "daemon/segment/serving_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cerrno>

#include <wmd/segment_layout.h>

#include "daemon/segment/error_text.hpp"

namespace wmd {

Result<std::unique_ptr<ServingLock>> ServingLock::acquire(const std::string& segment_name) {
  std::unique_ptr<ServingLock> lock(new ServingLock());
  lock->name_ = segment_name + WMD_STATE_SUFFIX;
  const std::string path = core::shm_path(lock->name_);
  int fd = ::shm_open(lock->name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    lock->created_ = true;
  } else if (errno == EEXIST) {
    fd = ::shm_open(lock->name_.c_str(), O_RDWR | O_CLOEXEC, 0);
  }
  if (fd < 0) return segment_detail::to_daemon_error(core::sys_error("shm_open", path, errno));
  lock->fd_ = core::UniqueFd(fd);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Error(errc::invalid_config, "another wmdd serves segment " + segment_name +
                                             " (it holds the lock on " + path + ")");
    }
    return segment_detail::to_daemon_error(core::sys_error("flock", path, errno));
  }
  return lock;
}

ServingLock::~ServingLock() {
  if (!created_ || !fd_.valid()) return;
  struct stat st {};
  // Still empty: the daemon stopped before opening its state; leave no trace of it.
  if (::fstat(fd_.get(), &st) == 0 && st.st_size == 0) ::shm_unlink(name_.c_str());
}

}  // namespace wmd
