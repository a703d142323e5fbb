#include "shm/mapped_segment.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <thread>

namespace wmd::core {
namespace {

constexpr std::uint64_t kMaxPageSizeBytes = std::uint64_t{1} << 30;

bool is_power_of_two(std::uint64_t value) {
  return value != 0 && (value & (value - 1)) == 0;
}

// Rounds up to a multiple of page (a power of two); false on overflow.
bool round_up(std::uint64_t value, std::uint64_t page, std::uint64_t* out) {
  if (value > UINT64_MAX - (page - 1)) return false;
  *out = (value + page - 1) & ~(page - 1);
  return true;
}

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buffer[512];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof buffer, fmt, args);
  va_end(args);
  return buffer;
}

Error validate_name(const std::string& name) {
  const std::size_t longest_suffix = std::strlen(WMD_STATE_SUFFIX);
  if (name.size() < 2 || name[0] != '/' || name.find('/', 1) != std::string::npos ||
      name.size() + longest_suffix > NAME_MAX) {
    return make_error(
        Code::invalid_argument,
        "segment name '" + name + "' must be '/' followed by 1 to 248 characters other than '/'");
  }
  return {};
}

// Holds flock(LOCK_EX) on the data object: serialises growth between processes so that two
// growers can never shrink the object (stat and ftruncate are not atomic together).
class DataLock {
 public:
  DataLock(int fd, const std::string& path) : fd_(fd) {
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        error_ = sys_error("flock", path, errno);
        return;
      }
    }
    locked_ = true;
  }
  ~DataLock() {
    if (locked_) ::flock(fd_, LOCK_UN);
  }
  DataLock(const DataLock&) = delete;
  DataLock& operator=(const DataLock&) = delete;
  const Error& error() const noexcept { return error_; }

 private:
  int fd_;
  bool locked_ = false;
  Error error_;
};

// Refuses objects of other users, or writable by group/others beyond what `mode` grants.
Error check_ownership(int fd, const std::string& path, const OpenParams& params) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return sys_error("fstat", path, errno);
  if (params.allow_foreign) return {};
  if (st.st_uid != ::geteuid()) {
    return make_error(Code::permission,
                      format("%s is owned by uid %u, not by this process's uid %u; refused "
                             "(allow foreign objects to accept it)",
                             path.c_str(), unsigned(st.st_uid), unsigned(::geteuid())));
  }
  const mode_t widened = st.st_mode & (S_IWGRP | S_IWOTH) & ~mode_t(params.mode);
  if (widened != 0) {
    return make_error(Code::permission,
                      format("%s is writable by group or others (mode %04o); refused "
                             "(allow foreign-writable objects to accept it)",
                             path.c_str(), unsigned(st.st_mode & 07777)));
  }
  return {};
}

// Removes the objects this open() created unless it succeeded.
class CreationGuard {
 public:
  ~CreationGuard() {
    if (committed_) return;
    if (!ctl_name_.empty()) ::shm_unlink(ctl_name_.c_str());
    if (!data_name_.empty()) ::shm_unlink(data_name_.c_str());
  }
  void created_ctl(std::string name) { ctl_name_ = std::move(name); }
  void created_data(std::string name) { data_name_ = std::move(name); }
  void commit() { committed_ = true; }

 private:
  std::string ctl_name_;
  std::string data_name_;
  bool committed_ = false;
};

// Waits (bounded) until an existing control object has a non-zero magic, then checks its
// header. Reads only; never modifies the object.
Error wait_for_header(int fd, const std::string& path, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  struct {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t page_size_bytes;
  } header{};
  for (;;) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return sys_error("fstat", path, errno);
    if (st.st_size >= static_cast<off_t>(sizeof header)) {
      const ssize_t n = ::pread(fd, &header, sizeof header, 0);
      if (n < 0) return sys_error("pread", path, errno);
      if (n == static_cast<ssize_t>(sizeof header) && header.magic != 0) {
        if (header.magic != WMD_CTL_MAGIC) {
          return make_error(Code::bad_magic,
                            format("%s has magic 0x%016" PRIx64 ", not a wmd control object",
                                   path.c_str(), header.magic));
        }
        if (header.layout_version != WMD_LAYOUT_VERSION) {
          return make_error(Code::bad_layout_version,
                            format("%s has layout version %u; this build reads version %u",
                                   path.c_str(), header.layout_version, WMD_LAYOUT_VERSION));
        }
        if (st.st_size < static_cast<off_t>(sizeof(wmd_ctl))) {
          return make_error(Code::bad_magic, format("%s is %lld bytes, shorter than its layout",
                                                    path.c_str(), (long long)st.st_size));
        }
        return {};
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return make_error(Code::bad_magic,
                        path + " was never initialised (its creator died?); remove it to recreate");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

Error MappedSegment::open(const OpenParams& params, std::unique_ptr<MappedSegment>* out) {
  if (Error e = validate_name(params.name)) return e;
  const long system_page = ::sysconf(_SC_PAGESIZE);
  for (const std::uint32_t page : {params.page_size_bytes, params.default_page_size_bytes}) {
    if (page != 0 && (!is_power_of_two(page) || page < system_page || page > kMaxPageSizeBytes)) {
      return make_error(
          Code::invalid_argument,
          format("page size %u must be a power of two from %ld to 1 GiB", page, system_page));
    }
  }

  std::unique_ptr<MappedSegment> segment(new MappedSegment());
  segment->name_ = params.name;
  const std::string ctl_name = params.name + WMD_CTL_SUFFIX;
  const std::string ctl_path = shm_path(ctl_name);
  const std::string data_path = shm_path(params.name);
  CreationGuard guard;

  // 1. The control object: create it exclusively, or attach to the existing one.
  bool created_ctl = false;
  int fd = -1;
  if (params.create) {
    fd = ::shm_open(ctl_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, params.mode);
    if (fd >= 0) {
      created_ctl = true;
      guard.created_ctl(ctl_name);
    } else if (errno != EEXIST) {
      return sys_error("shm_open", ctl_path, errno);
    }
  }
  if (fd < 0) {
    fd = ::shm_open(ctl_name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return sys_error("shm_open", ctl_path, errno);
  }
  segment->ctl_fd_ = UniqueFd(fd);

  if (created_ctl) {
    // The umask may have narrowed the mode; fchmod sets exactly what was asked.
    if (::fchmod(fd, params.mode) != 0) return sys_error("fchmod", ctl_path, errno);
    if (::ftruncate(fd, sizeof(wmd_ctl)) != 0) return sys_error("ftruncate", ctl_path, errno);
  } else {
    if (Error e = check_ownership(fd, ctl_path, params)) return e;
    if (Error e = wait_for_header(fd, ctl_path, params.attach_timeout_ms)) return e;
  }
  void* ctl_memory = ::mmap(nullptr, sizeof(wmd_ctl), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (ctl_memory == MAP_FAILED) return sys_error("mmap", ctl_path, errno);
  segment->ctl_ = static_cast<wmd_ctl*>(ctl_memory);
  wmd_ctl* ctl = segment->ctl_;

  // 2. Sizes: the segment's own (attach) or the caller's (create).
  std::uint32_t page = params.page_size_bytes;
  std::uint64_t max = params.max_size_bytes;
  std::uint64_t existing_size = 0;
  if (created_ctl) {
    if (page == 0) page = params.default_page_size_bytes;
    if (max == 0) max = params.default_max_size_bytes;
    if (page == 0 || max == 0) {
      // Checked only now: attaching to an existing segment needs neither.
      return make_error(Code::invalid_argument,
                        "creating " + params.name + " needs a page size and a maximum size");
    }
  } else {
    (void)shared(ctl->magic).load(std::memory_order_acquire);  // pairs with the creator
    const std::uint32_t stored_page = shared(ctl->page_size_bytes).load();
    if (page != 0 && stored_page != page) {
      return make_error(Code::page_size_mismatch,
                        format("%s has page size %u, not %u", ctl_path.c_str(), stored_page, page));
    }
    page = stored_page;
    if (!is_power_of_two(page) || page < system_page || page > kMaxPageSizeBytes) {
      return make_error(Code::bad_magic,
                        format("%s records an invalid page size %u", ctl_path.c_str(), page));
    }
    if (max == 0) max = shared(ctl->max_size_bytes).load();
    existing_size = shared(ctl->size_bytes).load();
  }
  if (max == 0 || max % page != 0) {
    return make_error(Code::invalid_argument,
                      format("maximum size %" PRIu64 " must be a non-zero multiple of the page "
                             "size %u",
                             max, page));
  }
  std::uint64_t wanted = 0;
  if (!round_up(params.size_bytes, page, &wanted) || wanted > max || existing_size > max) {
    return make_error(Code::beyond_max_size,
                      format("%s: size %" PRIu64 " (segment holds %" PRIu64
                             ") is beyond the maximum size %" PRIu64,
                             params.name.c_str(), params.size_bytes, existing_size, max));
  }
  segment->page_size_bytes_ = page;
  segment->max_size_bytes_ = max;
  if (params.reserve_bytes != 0) {
    segment->reserve_bytes_ = std::max(params.reserve_bytes, max);
  } else {
    const std::uint64_t floor = std::max(max, params.guard_floor_bytes);
    if (params.guard_bytes > UINT64_MAX / 2 || floor > UINT64_MAX / 2) {
      return make_error(Code::invalid_argument, "guard region too large");
    }
    segment->reserve_bytes_ = floor + params.guard_bytes;
  }
  if (segment->reserve_bytes_ % system_page != 0) {
    segment->reserve_bytes_ += system_page - segment->reserve_bytes_ % system_page;
  }

  // 3. Reserve the address range before changing anything, so a full address space fails early.
  void* reservation = ::mmap(nullptr, segment->reserve_bytes_, PROT_NONE,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (reservation == MAP_FAILED) return sys_error("mmap(reserve)", data_path, errno);
  segment->base_ = static_cast<std::uint8_t*>(reservation);

  // 4. The data object.
  bool created_data = false;
  fd = -1;
  if (params.create) {
    fd = ::shm_open(params.name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, params.mode);
    if (fd >= 0) {
      created_data = true;
      guard.created_data(params.name);
    } else if (errno != EEXIST) {
      return sys_error("shm_open", data_path, errno);
    }
  }
  if (fd < 0) {
    fd = ::shm_open(params.name.c_str(), O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) return sys_error("shm_open", data_path, errno);
  }
  segment->data_fd_ = UniqueFd(fd);
  if (created_data) {
    if (::fchmod(fd, params.mode) != 0) return sys_error("fchmod", data_path, errno);
  } else if (Error e = check_ownership(fd, data_path, params)) {
    return e;
  }

  // 5. Size the data object and publish (creator) or raise (attacher) the control size.
  const std::uint64_t target = wanted > existing_size ? wanted : existing_size;
  {
    DataLock lock(fd, data_path);
    if (lock.error()) return lock.error();
    if (Error e = segment->ensure_data_size(target)) return e;
    if (created_ctl) {
      shared(ctl->layout_version).store(WMD_LAYOUT_VERSION, std::memory_order_relaxed);
      shared(ctl->page_size_bytes).store(page, std::memory_order_relaxed);
      shared(ctl->size_bytes).store(target, std::memory_order_relaxed);
      shared(ctl->max_size_bytes).store(max, std::memory_order_relaxed);
      shared(ctl->ctl_size_bytes).store(sizeof(wmd_ctl), std::memory_order_relaxed);
      shared(ctl->magic).store(WMD_CTL_MAGIC, std::memory_order_release);  // last
    }
  }
  guard.commit();
  segment->created_ = created_ctl;
  if (!created_ctl) {
    if (Error e = segment->grow(target)) return e;
  }
  if (Error e = segment->map_to(segment->control_size_bytes())) return e;
  *out = std::move(segment);
  return {};
}

MappedSegment::~MappedSegment() {
  if (base_ != nullptr) ::munmap(base_, reserve_bytes_);
  if (ctl_ != nullptr) ::munmap(ctl_, sizeof(wmd_ctl));
}

std::uint64_t MappedSegment::control_size_bytes() const noexcept {
  return shared(ctl_->size_bytes).load(std::memory_order_acquire);
}

std::uint64_t MappedSegment::generation() const noexcept {
  return shared(ctl_->generation).load(std::memory_order_acquire);
}

Error MappedSegment::ensure_data_size(std::uint64_t size_bytes) {
  const std::string path = shm_path(name_);
  struct stat st {};
  if (::fstat(data_fd_.get(), &st) != 0) return sys_error("fstat", path, errno);
  if (static_cast<std::uint64_t>(st.st_size) >= size_bytes) return {};
  // tmpfs keeps the new range sparse: pages cost memory only once written.
  if (::ftruncate(data_fd_.get(), static_cast<off_t>(size_bytes)) != 0) {
    return sys_error("ftruncate", path, errno);
  }
  return {};
}

Error MappedSegment::grow(std::uint64_t new_size_bytes) {
  std::uint64_t wanted = 0;
  if (!round_up(new_size_bytes, page_size_bytes_, &wanted) || wanted > max_size_bytes_) {
    return make_error(Code::beyond_max_size,
                      format("%s: growth to %" PRIu64 " bytes is beyond the maximum size %" PRIu64,
                             name_.c_str(), new_size_bytes, max_size_bytes_));
  }
  if (wanted <= mapped_bytes_ && wanted <= control_size_bytes()) return {};
  {
    DataLock lock(data_fd_.get(), shm_path(name_));
    if (lock.error()) return lock.error();
    if (Error e = ensure_data_size(wanted)) return e;
    auto size = shared(ctl_->size_bytes);
    std::uint64_t current = size.load();
    bool raised = false;
    while (current < wanted) {
      if (size.compare_exchange_weak(current, wanted, std::memory_order_acq_rel)) {
        raised = true;
        break;
      }
    }
    if (raised) shared(ctl_->generation).fetch_add(1, std::memory_order_acq_rel);
  }
  return map_to(wanted);
}

Error MappedSegment::refresh() {
  const std::uint64_t size = control_size_bytes();
  if (size <= mapped_bytes_) return {};
  if (size > max_size_bytes_ || size % page_size_bytes_ != 0) {
    return make_error(Code::beyond_max_size,
                      format("%s: control size %" PRIu64
                             " is beyond this mapping's maximum %" PRIu64 " or not a page multiple",
                             name_.c_str(), size, max_size_bytes_));
  }
  {
    // The grower enlarged the object before raising the size; this only guards against a
    // control object that says more than the data object holds (mapping it would SIGBUS).
    DataLock lock(data_fd_.get(), shm_path(name_));
    if (lock.error()) return lock.error();
    if (Error e = ensure_data_size(size)) return e;
  }
  return map_to(size);
}

Error MappedSegment::map_to(std::uint64_t size_bytes) {
  if (size_bytes <= mapped_bytes_) return {};
  void* want = base_ + mapped_bytes_;
  void* got = ::mmap(want, size_bytes - mapped_bytes_, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_FIXED, data_fd_.get(), static_cast<off_t>(mapped_bytes_));
  if (got == MAP_FAILED) return sys_error("mmap", shm_path(name_), errno);
  mapped_bytes_ = size_bytes;
  return {};
}

}  // namespace wmd::core
