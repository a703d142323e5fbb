#include "shm/core_error.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wmd::core {

Error sys_error(const char* call, const std::string& path, int err) {
  errc code = errc::io_error;
  if (err == ENOENT) code = errc::not_found;
  if (err == EACCES || err == EPERM) code = errc::permission;
  if (err == ENOMEM) code = errc::out_of_memory;
  char buffer[128];
  // GNU strerror_r returns the message (possibly not in buffer).
  const char* message = strerror_r(err, buffer, sizeof buffer);
  std::string text = call;
  if (!path.empty()) {
    text += "(";
    text += path;
    text += ")";
  }
  text += ": ";
  text += message;
  return Error(code, std::move(text));
}

std::string shm_path(const std::string& name) {
  return "/dev/shm" + name;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) ::close(fd_);
}

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

}  // namespace wmd::core
