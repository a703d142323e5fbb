// Test helpers for shared-memory objects: unique names that are unlinked at the end of the
// test, and raw access to /dev/shm files the way an outside tool sees them.
// Thread-safety: test-only; one fixture per test.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <wmd/segment_layout.h>

namespace wmd::testing {

// A segment name unique to this process and test; unlinks /NAME, /NAME.ctl and /NAME.state
// when constructed (stale leftovers) and destroyed.
class ShmName {
 public:
  ShmName() {
    static std::atomic<int> counter{0};
    name_ = "/wmd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    unlink_all();
  }
  ~ShmName() { unlink_all(); }
  ShmName(const ShmName&) = delete;
  ShmName& operator=(const ShmName&) = delete;

  const std::string& str() const { return name_; }
  std::string ctl() const { return name_ + WMD_CTL_SUFFIX; }
  std::string data_path() const { return "/dev/shm" + name_; }
  std::string ctl_path() const { return "/dev/shm" + ctl(); }
  std::string state_path() const { return "/dev/shm" + name_ + WMD_STATE_SUFFIX; }

 private:
  void unlink_all() {
    ::shm_unlink(name_.c_str());
    ::shm_unlink(ctl().c_str());
    ::shm_unlink((name_ + WMD_STATE_SUFFIX).c_str());
  }
  std::string name_;
};

// The whole file, read with read(2) as any tool would.
inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::vector<std::uint8_t> bytes;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return bytes;
  std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  ::close(fd);
  return bytes;
}

inline std::uint64_t file_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

inline unsigned file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

// A second, independent mapping of the control object, as a client process would have it.
class CtlView {
 public:
  explicit CtlView(const std::string& ctl_name) {
    const int fd = ::shm_open(ctl_name.c_str(), O_RDWR, 0);
    if (fd < 0) return;
    void* memory = ::mmap(nullptr, sizeof(wmd_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (memory != MAP_FAILED) ctl_ = static_cast<wmd_ctl*>(memory);
  }
  ~CtlView() {
    if (ctl_ != nullptr) ::munmap(ctl_, sizeof(wmd_ctl));
  }
  CtlView(const CtlView&) = delete;
  CtlView& operator=(const CtlView&) = delete;

  wmd_ctl* operator->() const { return ctl_; }
  wmd_ctl* get() const { return ctl_; }

 private:
  wmd_ctl* ctl_ = nullptr;
};

}  // namespace wmd::testing
